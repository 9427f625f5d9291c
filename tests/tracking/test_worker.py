"""The tracking worker thread (age-based flushes, heartbeats) and the end of a run."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from mlopskit.tracking import SQLiteBackend, Tracker


class _SlowHeartbeat(SQLiteBackend):
    """A real SQLite backend whose heartbeat can be held open, and which counts them."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.entered = threading.Event()
        self.release = threading.Event()
        self.beats = 0

    def heartbeat(self) -> None:
        self.beats += 1
        self.entered.set()
        self.release.wait(10)
        super().heartbeat()


def test_end_waits_for_a_heartbeat_in_flight_and_none_follows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once ``end()`` returns, the worker no longer writes to the run's backend.

    A heartbeat that had started before ``end()`` finishes first (``end`` waits for it),
    and none starts after: closing the backend and deleting the workspace right after
    ``end()`` is safe (before, a heartbeat taken from a stale list reopened the closed
    database while the directory was being removed).
    """
    monkeypatch.setenv("MLOPSKIT_HEARTBEAT_INTERVAL", "0")  # a heartbeat every round
    root = tmp_path / "ws"
    root.mkdir()
    backend = _SlowHeartbeat(root / "tracking.sqlite")
    run = Tracker(str(root), backend).start_run("e", capture_env=False)
    assert backend.entered.wait(10), "the worker never sent a heartbeat"

    opened = threading.Timer(0.5, backend.release.set)  # the heartbeat ends in 0.5 s
    opened.start()
    started = time.monotonic()
    run.end()
    took = time.monotonic() - started
    opened.join()
    assert took >= 0.45, f"end() returned after {took:.3f} s, while a heartbeat was writing"

    beats = backend.beats
    backend.close()
    shutil.rmtree(root)
    time.sleep(0.6)  # more than two rounds of the worker (a round waits <= 0.25 s)
    assert backend.beats == beats, "the worker sent a heartbeat after end()"
    assert not root.exists(), "the worker wrote into the deleted workspace"
