"""Run several worker processes at once (used by the race tests of versioning and registry)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

WORKERS = Path(__file__).with_name("_workers.py")


def run_workers(commands: list[list[str]], *, lead: float = 1.5, timeout: float = 120) -> list[Any]:
    """Start one process per argument list; they all begin ``lead`` seconds from now."""
    start_at = str(time.time() + lead)
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKERS), *cmd, start_at],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cmd in commands
    ]
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, stderr
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out
