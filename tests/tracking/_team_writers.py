"""A team of writer processes on one S3 experiment, with searches in fresh processes meanwhile.

``python _team_writers.py <url> <writers> <parallel>`` imports mlopskit once, then forks
``<writers>`` writer processes, at most ``<parallel>`` at a time (one process per writer:
``maxtasksperchild=1``). Each writer starts a run in experiment ``team``, logs
``STEPS`` points of metric ``x`` in ``FLUSHES`` flushed batches and ends the run. While
they write, whenever another quarter of the writers has ended, a search process is
forked (a process that has read nothing yet) with the ids of the runs ended so far; it
searches the experiment (compacting when it meets more than a few new segments) and
reports what it saw. The last line printed is a JSON report: ``{"ended": {run_id:
[rank, time ended]}, "searches": [{"started", "ended_before": [...], "seen": {run_id:
[status, x]}}]}``.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import threading
import time
from typing import Any

STEPS = 12
FLUSHES = 3


def value(rank: int, step: int) -> float:
    """The point writer ``rank`` logs at ``step`` (unique per writer and step)."""
    return float(rank * 1000 + step)


def write(url: str, rank: int) -> tuple[int, str, float]:
    """One writer process: a run with STEPS points in FLUSHES segments, then end()."""
    from mlopskit.tracking import ObjectStoreBackend, Tracker

    tracker = Tracker(url, ObjectStoreBackend(url, compact_after=None))
    run = tracker.start_run("team", params={"rank": rank}, capture_env=False, git=False)
    per = STEPS // FLUSHES
    for start in range(0, STEPS, per):
        for step in range(start, start + per):
            run.log_metric("x", value(rank, step), step=step)
        run.flush()
    run.end()
    return rank, run.run_id, time.time()


def search(url: str, ended_before: list[str]) -> dict[str, Any]:
    """A search by a process that has read nothing: what it sees of each run."""
    started = time.time()
    from mlopskit.tracking import ObjectStoreBackend, Tracker

    tracker = Tracker(url, ObjectStoreBackend(url, compact_after=8))
    frame = tracker.search_runs("team")
    seen = {
        str(r["run_id"]): [str(r["status"]), float(r.get("metrics.x", float("nan")))]
        for _, r in frame.iterrows()
    }
    return {"started": started, "ended_before": ended_before, "seen": seen}


def main() -> None:
    url, writers, parallel = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    # imported once, before forking: each writer then costs its requests, not imports
    import pandas  # noqa: F401
    import s3fs  # noqa: F401

    import mlopskit.tracking  # noqa: F401

    ctx = multiprocessing.get_context("fork")
    ended: dict[str, tuple[int, float]] = {}
    lock = threading.Lock()
    searches: list[Any] = []
    with (
        ctx.Pool(parallel, maxtasksperchild=1) as pool,
        ctx.Pool(1, maxtasksperchild=1) as searcher,
    ):

        def done(result: tuple[int, str, float]) -> None:
            rank, run_id, at = result
            with lock:
                ended[run_id] = (rank, at)
                if len(ended) % max(1, writers // 4) == 0 and len(ended) < writers:
                    snapshot = sorted(ended)  # every run ended before the search starts
                    searches.append(searcher.apply_async(search, (url, snapshot)))

        jobs = [pool.apply_async(write, (url, rank), callback=done) for rank in range(writers)]
        for job in jobs:
            job.get(timeout=300)
        reports = [s.get(timeout=300) for s in list(searches)]
    print(json.dumps({"ended": ended, "searches": reports}), flush=True)


if __name__ == "__main__":
    main()
