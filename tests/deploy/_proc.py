"""Server processes for the deploy tests (mlopskit's own server, ``_servers.py``) and the
adapter proofs (the engines): started on 127.0.0.1, waited for over real HTTP, stopped by
pid (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any


def free_port() -> int:
    """An ephemeral loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """A server subprocess with its ``url``; ``stop()`` signals its pid."""

    def __init__(self, proc: subprocess.Popen[str], url: str, log: Path) -> None:
        self.proc, self.url, self.log, self.pid = proc, url, log, proc.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Signal the process by pid and wait for it to exit; returns its exit code."""
        if self.proc.poll() is None:
            os.kill(self.pid, sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return int(self.proc.returncode)

    def stderr(self) -> str:
        """What the process wrote to its log (stderr) so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def __enter__(self) -> Proc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    cmd: list[str],
    log: Path,
    *,
    ready: str | None,
    url: str | None = None,
    timeout: float = 120.0,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Proc:
    """Run ``cmd``; the URL is ``url`` or read from a ``URL <url>`` stdout line; return
    once ``GET <url><ready>`` answers 200 (at once when ``ready`` is None)."""
    full_env = dict(os.environ)
    full_env.pop("MLOPSKIT_HOME", None)
    full_env.update(env or {})
    with open(log, "w") as err:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=full_env, cwd=cwd
        )
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while url is None:
        got, _, _ = select.select([proc.stdout], [], [], 0.2)
        if got:
            line = proc.stdout.readline()
            if line.startswith("URL "):
                url = line.split()[1]
        if url is None and (proc.poll() is not None or time.monotonic() > deadline):
            Proc(proc, "", log).stop()
            raise RuntimeError(f"{cmd[:3]} did not start:\n{log.read_text()[-3000:]}")
    p = Proc(proc, url, log)
    while ready is not None:
        try:
            with urllib.request.urlopen(f"{url}{ready}", timeout=2) as r:
                if r.status == 200:
                    return p
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            p.stop()
            raise RuntimeError(f"{cmd[:3]} did not become ready:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    return p


def post(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, Any]:
    """POST ``body``; returns (status, parsed JSON body or text)."""
    import json
    import urllib.error

    req = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")
