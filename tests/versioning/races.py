"""Run several worker processes at once (used by the race tests of versioning and registry)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WORKERS = Path(__file__).with_name("_workers.py")


def run_workers(commands: list[list[str]], *, timeout: float = 120) -> list[Any]:
    """Start one process per argument list and release them together once all are ready.

    Readiness is polled under a deadline (no fixed head start): each worker writes a
    ``ready-<pid>`` file in a barrier directory, then waits for the ``go`` file.
    """
    barrier = Path(tempfile.mkdtemp(prefix="mlopskit-race-"))
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKERS), *cmd, str(barrier)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cmd in commands
    ]
    try:
        deadline = time.monotonic() + timeout
        while len(list(barrier.glob("ready-*"))) < len(procs):
            failed = [p for p in procs if p.poll() is not None]
            if failed or time.monotonic() > deadline:
                for p in procs:
                    p.kill()
                stderr = failed[0].communicate()[1] if failed else "timed out"
                raise AssertionError(f"a race worker did not get ready: {stderr}")
            time.sleep(0.01)
        (barrier / "go").touch()
        out = []
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, stderr
            out.append(json.loads(stdout.strip().splitlines()[-1]))
        return out
    finally:
        shutil.rmtree(barrier, ignore_errors=True)
