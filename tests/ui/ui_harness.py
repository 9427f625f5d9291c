"""Helpers of the UI tests: the UI server in a subprocess, Chromium, a watched page."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from typing import Any

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """The Chromium binary to drive, or None."""
    for candidate in (
        os.environ.get("MLOPSKIT_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
    ):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


class UIProcess:
    """The UI served by a subprocess: ``url``, ``proc``; ``stop()`` ends it by pid."""

    def __init__(self, workspace: str, env: dict[str, str] | None = None) -> None:
        code = (
            "import sys; from mlopskit.ui import serve_ui; "
            "serve_ui(sys.argv[1], host='127.0.0.1', port=0)"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, workspace],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "http://" not in line:
            self.stop()
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"the UI did not start: {line!r} {err[-2000:]}")
        self.url = line.split(" at ", 1)[1].split()[0]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


class PageWatch:
    """A browser page that records console errors and failed requests."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))
