"""Subprocess bodies for the reliability tests: ``python _workers.py <job> <args…>``."""

from __future__ import annotations

import os
import sys
import time


def cold_start(root: str, rank: str) -> None:
    """Open a fresh workspace, start a run, log 20 points, end it."""
    import mlopskit as mk

    with mk.Workspace(root), mk.start_run("cold", name=f"rank{rank}", capture_env=False):
        for i in range(20):
            mk.log_metric("x", float(i))
    print("ok", flush=True)


def log_forever(root: str, run_id: str) -> None:
    """Log one point every millisecond; print how many were flushed so far."""
    import mlopskit as mk

    with mk.Workspace(root), mk.start_run("killed", run_id=run_id, capture_env=False):
        mk.flush()
        print("started", flush=True)
        i = 0
        while True:
            mk.log_metric("x", float(i), step=i)
            i += 1
            if i == 500:
                mk.flush()
                print("flushed 500", flush=True)
            time.sleep(0.001)


def many_points(root: str, rank: str, n: str, run_id: str) -> None:
    """Log ``n`` points into a run (shared when run_id is given, else a new one)."""
    import mlopskit as mk

    r = int(rank)
    with (
        mk.Workspace(root),
        mk.start_run("many", run_id=run_id or None, capture_env=False, name=f"rank{r}"),
    ):
        for i in range(int(n)):
            mk.log_metric(f"rank{r}", float(i), step=i)
    print("ok", flush=True)


def exit_open(root: str, run_id: str, how: str) -> None:
    """Start a run without `with` and leave the interpreter: normally or by an exception."""
    import mlopskit as mk

    mk.set_workspace(root)
    mk.start_run("exit", run_id=run_id, capture_env=False)
    mk.log_metric("x", 1.0)
    if how == "raise":
        raise RuntimeError("uncaught")


if __name__ == "__main__":
    os.environ.setdefault("MLOPSKIT_HEARTBEAT_INTERVAL", "0.2")
    jobs = {
        "cold_start": cold_start,
        "log_forever": log_forever,
        "many_points": many_points,
        "exit_open": exit_open,
    }
    jobs[sys.argv[1]](*sys.argv[2:])
