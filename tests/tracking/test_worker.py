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

    ender = threading.Thread(target=run.end)
    ender.start()
    time.sleep(0.3)
    assert ender.is_alive(), "end() returned while a heartbeat was still writing"
    backend.release.set()
    ender.join(10)
    assert not ender.is_alive()

    beats = backend.beats
    backend.close()
    shutil.rmtree(root)
    time.sleep(0.6)  # more than two rounds of the worker (a round waits <= 0.25 s)
    assert backend.beats == beats, "the worker sent a heartbeat after end()"
    assert not root.exists(), "the worker wrote into the deleted workspace"
