"""Reliability: concurrent cold starts, killed processes, SIGTERM, heavy concurrent logging,
and a filesystem that fails some writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mlopskit.errors import StorageError
from mlopskit.tracking import (
    ObjectStoreBackend,
    RunRecord,
    SQLiteBackend,
    Tracker,
    WriterInfo,
    effective_status,
)

WORKERS = str(Path(__file__).with_name("_workers.py"))
ROOT = str(Path(__file__).parents[2] / "src")


def _spawn(*args: str, backend: str = "auto") -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": ROOT, "MLOPSKIT_TRACKING_BACKEND": backend}
    return subprocess.Popen(
        [sys.executable, WORKERS, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for(proc: subprocess.Popen[str], line: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        got = proc.stdout.readline()
        if got.strip() == line:
            return
        if not got and proc.poll() is not None:
            raise AssertionError(f"worker died: {proc.stderr.read() if proc.stderr else ''}")
    raise AssertionError(f"worker never printed {line!r}")


def _poll(ready: Callable[[], bool], *, what: str, timeout: float = 60.0) -> None:
    """Wait until ``ready()`` holds, checking every 50 ms, failing after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def _finish(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        assert out.strip().endswith("ok")


class TestConcurrentProcesses:
    @pytest.mark.slow
    def test_eight_processes_cold_start_one_fresh_workspace(self, tmp_path: Path) -> None:
        """Eight processes opening the same new workspace at once all succeed."""
        root = str(tmp_path / "ws")
        procs = [_spawn("cold_start", root, str(r)) for r in range(8)]
        _finish(procs)
        frame = Tracker(root).search_runs("cold")
        assert len(frame) == 8
        assert set(frame["status"]) == {"FINISHED"}
        assert set(frame["metrics.x"]) == {19.0}

    @pytest.mark.slow
    def test_four_processes_50k_points_into_one_experiment_sqlite(self, tmp_path: Path) -> None:
        """4 processes × 50,000 points into one SQLite experiment lose nothing."""
        root = str(tmp_path / "ws")
        procs = [_spawn("many_points", root, str(r), "50000", "") for r in range(4)]
        _finish(procs)
        tracker = Tracker(root)
        frame = tracker.search_runs("many")
        assert len(frame) == 4
        for run_id, name in zip(frame["run_id"], frame["name"]):
            hist = tracker.get_run(run_id).metric_history(name)
            assert len(hist) == 50_000
            assert hist["value"].tolist() == [float(i) for i in range(50_000)]

    @pytest.mark.s3
    @pytest.mark.slow
    def test_four_processes_50k_points_into_one_run_on_s3(self, s3_url: str) -> None:
        """4 processes × 50,000 points into one run on the S3 server lose nothing."""
        run_id = uuid.uuid4().hex
        procs = [_spawn("many_points", s3_url, str(r), "50000", run_id) for r in range(4)]
        _finish(procs)
        tracker = Tracker(s3_url, ObjectStoreBackend(s3_url))
        run = tracker.get_run(run_id)
        assert run.status == "FINISHED"
        for r in range(4):
            hist = run.metric_history(f"rank{r}")
            assert hist["value"].tolist() == [float(i) for i in range(50_000)]


class TestDeadProcesses:
    @pytest.mark.parametrize("backend", ["sqlite", "objectstore"])
    def test_sigkill_loses_at_most_the_unflushed_window(self, tmp_path: Path, backend: str) -> None:
        """A SIGKILLed run reads KILLED, keeps every flushed point, and the store stays readable."""
        root = str(tmp_path / "ws")
        run_id = uuid.uuid4().hex
        proc = _spawn("log_forever", root, run_id, backend=backend)
        _wait_for(proc, "flushed 500")
        be = (
            SQLiteBackend(f"{root}/tracking.sqlite")
            if backend == "sqlite"
            else (ObjectStoreBackend(root))
        )
        # the age-based background flush writes more points (within the 1 s age limit)
        _poll(lambda: len(be.metric_history(run_id, "x")) > 500, what="an age-based flush")
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        run = Tracker(root, be).get_run(run_id)
        assert run.status == "KILLED"
        values = run.metric_history("x")["value"].tolist()
        assert values[:500] == [float(i) for i in range(500)]
        assert len(values) > 500  # the age-based flush wrote more before the kill
        assert values == [float(i) for i in range(len(values))]  # a prefix, no holes

    def test_sigterm_flushes_and_marks_killed(self, tmp_path: Path) -> None:
        """SIGTERM writes the buffered points, ends the run KILLED, then the process dies."""
        root = str(tmp_path / "ws")
        run_id = uuid.uuid4().hex
        proc = _spawn("log_forever", root, run_id)
        _wait_for(proc, "flushed 500")
        time.sleep(0.3)  # well within the 1 s age limit: these points are only buffered
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGTERM
        run = Tracker(root).get_run(run_id)
        record = run.record()
        assert record.stored_status == "KILLED"
        assert record.end_time is not None
        assert len(run.metric_history("x")) > 500

    @pytest.mark.parametrize(("how", "status"), [("return", "FINISHED"), ("raise", "FAILED")])
    def test_open_run_at_exit(self, tmp_path: Path, how: str, status: str) -> None:
        """A run left open ends FINISHED at a normal exit, FAILED after an uncaught error."""
        root = str(tmp_path / "ws")
        run_id = uuid.uuid4().hex
        proc = _spawn("exit_open", root, run_id, how)
        _, err = proc.communicate(timeout=60)
        assert (proc.returncode != 0) == (how == "raise"), err
        run = Tracker(root).get_run(run_id)
        assert run.status == status
        assert run.metrics == {"x": 1.0}
        if how == "raise":
            assert run.tags["mlopskit.error.message"] == "uncaught"

    def test_stale_heartbeat_of_another_host_reads_killed(self) -> None:
        """A run whose only writer is on another host and silent for too long is KILLED."""
        now = time.time()
        rec = RunRecord(
            run_id="r",
            experiment="e",
            name="n",
            status="RUNNING",
            start_time=now - 600,
            stored_status="RUNNING",
        )
        rec.writers = [WriterInfo(writer_id="w", host="elsewhere", pid=123, heartbeat=now - 5)]
        assert effective_status(rec, now=now, timeout=60) == "RUNNING"
        rec.writers = [WriterInfo(writer_id="w", host="elsewhere", pid=123, heartbeat=now - 120)]
        assert effective_status(rec, now=now, timeout=60) == "KILLED"
        rec.writers = [
            WriterInfo(writer_id="w", host="elsewhere", pid=123, heartbeat=now - 5, active=False)
        ]
        assert effective_status(rec, now=now, timeout=60) == "KILLED"

    def test_reused_pid_on_this_host_does_not_revive_a_killed_run(self) -> None:
        """A writer on this host whose PID is alive again but whose heartbeat is stale is dead."""
        import socket

        now = time.time()
        rec = RunRecord(
            run_id="r",
            experiment="e",
            name="n",
            status="RUNNING",
            start_time=now - 600,
            stored_status="RUNNING",
        )
        alive = os.getpid()  # stands in for an unrelated process that got the PID
        rec.writers = [
            WriterInfo(writer_id="w", host=socket.gethostname(), pid=alive, heartbeat=now - 120)
        ]
        assert effective_status(rec, now=now, timeout=60) == "KILLED"
        rec.writers = [
            WriterInfo(writer_id="w", host=socket.gethostname(), pid=alive, heartbeat=now - 5)
        ]
        assert effective_status(rec, now=now, timeout=60) == "RUNNING"
        rec.writers = [
            WriterInfo(
                writer_id="w", host=socket.gethostname(), pid=2**22 + 12345, heartbeat=now - 5
            )
        ]
        assert effective_status(rec, now=now, timeout=60) == "KILLED"  # no such process

    def test_live_writer_in_this_process_reads_running(self, tmp_path: Path) -> None:
        """An open run of a live process reads RUNNING, also through search_runs."""
        tracker = Tracker(str(tmp_path / "ws"))
        with tracker.start_run("e", capture_env=False) as run:
            assert tracker.get_run(run.run_id).status == "RUNNING"
            assert list(tracker.search_runs("e", status="RUNNING")["run_id"]) == [run.run_id]


class _FlakyFS:
    """Wraps an fsspec filesystem; every ``every``-th write raises OSError."""

    def __init__(self, fs: Any, every: int) -> None:
        self._fs = fs
        self.every = every
        self.calls = 0
        self.failures = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fs, name)

    def pipe_file(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.every and self.calls % self.every == 0:
            self.failures += 1
            raise OSError("injected write failure")
        return self._fs.pipe_file(*args, **kwargs)


class TestFlakyStorage:
    def _tracker(self, every: int) -> tuple[Tracker, _FlakyFS]:
        root = f"memory://flaky-{uuid.uuid4().hex[:8]}"
        backend = ObjectStoreBackend(root, retry_delay=0.001)
        flaky = _FlakyFS(backend.files.fs, every)
        backend.files.fs = flaky
        return Tracker(root, backend, max_points=100), flaky

    def test_injected_failures_are_retried_and_nothing_is_lost(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Every third write fails once; retries write everything, and each retry is logged."""
        tracker, flaky = self._tracker(every=3)
        with tracker.start_run("e", capture_env=False) as run:
            for i in range(1000):
                run.log_metric("x", float(i))
        assert flaky.failures > 5
        assert run.metric_history("x")["value"].tolist() == [float(i) for i in range(1000)]
        # retried by the tracker or, for create-only segment writes, by the store layer
        assert any(
            "tracking_write_retry" in r.getMessage() or "retrying" in r.getMessage()
            for r in caplog.records
        )

    def test_persistent_failure_is_reported_and_points_kept(self) -> None:
        """When writes keep failing, flush raises StorageError and keeps the points."""
        tracker, flaky = self._tracker(every=0)
        run = tracker.start_run("e", capture_env=False)
        run.log_metric("x", 1.0)
        flaky.every = 1  # from now on every write fails
        with pytest.raises(StorageError, match="injected"):
            run.flush()
        assert run._buffer is not None
        assert len(run._buffer) == 1
        flaky.every = 0
        run.end()
        assert run.metric_history("x")["value"].tolist() == [1.0]

    def test_sqlite_transient_errors_are_retried(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A locked database is retried; a write that never succeeds raises StorageError."""
        import sqlite3

        backend = SQLiteBackend(tmp_path / "t.sqlite", attempts=3)
        tracker = Tracker(str(tmp_path), backend)
        run = tracker.start_run("e", capture_env=False)
        real = backend._write
        fails = {"n": 1}

        def flaky(what: str, fn: Any) -> Any:
            def wrapped(conn: Any) -> Any:
                if fails["n"] > 0:
                    fails["n"] -= 1
                    raise sqlite3.OperationalError("database is locked")
                return fn(conn)

            return real(what, wrapped)

        monkeypatch.setattr(backend, "_write", flaky)
        run.log_metric("x", 1.0)
        run.flush()
        fails["n"] = 100
        run.log_metric("x", 2.0)
        with pytest.raises(StorageError, match="after 3 attempt"):
            run.flush()
        fails["n"] = 0
        run.end()
        assert run.metric_history("x")["value"].tolist() == [1.0, 2.0]


class TestOneRetry:
    """Storage calls are retried once, at the backend's storage boundary, as configured."""

    def test_failing_segment_write_is_tried_exactly_attempts_times(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A segment write that keeps failing costs `attempts` tries and the configured waits."""
        from mlopskit import _retry

        sleeps: list[float] = []
        monkeypatch.setattr(_retry, "time", SimpleNamespace(sleep=sleeps.append))
        root = f"memory://once-{uuid.uuid4().hex[:8]}"
        backend = ObjectStoreBackend(root, attempts=3, retry_delay=0.25)
        tracker = Tracker(root, backend, max_age=3600)
        run = tracker.start_run("e", capture_env=False)
        run.log_metric("x", 1.0)
        failing = _FlakyFS(backend.files.fs, every=1)
        backend.files.fs = failing
        with pytest.raises(StorageError, match="after 3 attempt"):
            run.flush()
        assert failing.calls == 3
        assert sleeps == [0.25, 1.0]
        backend.files.fs = failing._fs
        run.end()
        assert run.metric_history("x")["value"].tolist() == [1.0]

    def test_locked_sqlite_is_tried_exactly_attempts_times(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A database locked by another process's writer costs `attempts` tries, then StorageError."""
        import sqlite3

        from mlopskit import _retry

        sleeps: list[float] = []
        monkeypatch.setattr(_retry, "time", SimpleNamespace(sleep=sleeps.append))
        path = tmp_path / "t.sqlite"
        backend = SQLiteBackend(path, attempts=3, retry_delay=0.1, busy_timeout=0.0)
        tracker = Tracker(str(tmp_path), backend, max_age=3600)
        run = tracker.start_run("e", capture_env=False)
        run.log_metric("x", 1.0)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # holds the write lock
        try:
            with pytest.raises(StorageError, match="after 3 attempt"):
                run.flush()
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert sleeps == [0.1, pytest.approx(0.4)]
        run.end()
        assert run.metric_history("x")["value"].tolist() == [1.0]
