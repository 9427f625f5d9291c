"""Deleting and restoring runs beyond the conformance suite: damaged events, migration,
the fold as a property, reachability through gc, and the module-level functions."""

from __future__ import annotations

import sqlite3
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlopskit as mk
from mlopskit.registry import Registry
from mlopskit.tracking import ObjectStoreBackend, SQLiteBackend, Tracker
from mlopskit.tracking._report import build_report
from mlopskit.tracking._sqlite import SCHEMA, SCHEMA_VERSION

# Hypothesis examples cannot use tmp_path: their workspaces go here, removed at exit.
_SCRATCH = tempfile.TemporaryDirectory(prefix="mlopskit-test-")


def _sqlite(root: Path) -> Tracker:
    return Tracker(str(root), SQLiteBackend(root / "tracking.sqlite"))


def _memory() -> Tracker:
    url = f"memory://deleting-{uuid.uuid4().hex[:8]}"
    return Tracker(url, ObjectStoreBackend(url))


def _run(tracker: Tracker, experiment: str = "exp") -> str:
    with tracker.start_run(experiment, capture_env=False) as run:
        run.log_metric("acc", 0.5)
    return run.run_id


class TestDamagedEvents:
    def test_a_damaged_event_file_is_skipped_and_named(self, tmp_path: Path) -> None:
        """A lifecycle event file that does not parse is skipped with a RuntimeWarning naming
        it; the run's state comes from the events that do."""
        tracker = Tracker(str(tmp_path), ObjectStoreBackend(str(tmp_path)))
        run_id = _run(tracker)
        tracker.delete_run(run_id, reason="real")
        folder = tmp_path / "tracking" / "experiments" / "exp" / "segments"
        (folder / f"{'9' * 20}-planted-00000001.{run_id}.json").write_text('{"format": "nope"}')
        fresh = Tracker(str(tmp_path), ObjectStoreBackend(str(tmp_path)))
        with pytest.warns(RuntimeWarning, match="planted"):
            rec = fresh.record(run_id)
        assert rec.lifecycle == "deleted" and rec.deletion is not None
        assert rec.deletion.reason == "real"

    @pytest.mark.parametrize(
        "body",
        [
            '{"format": "mlopskit.tracking.lifecycle/1", "kind": "run", "name": "../x",'
            ' "state": "deleted", "time": 1.0}',
            '{"format": "mlopskit.tracking.lifecycle/1", "kind": "run", "name": "%s",'
            ' "state": "gone", "time": 1700000000.0}',
            '{"format": "mlopskit.tracking.lifecycle/1", "kind": "run", "name": "%s",'
            ' "state": "deleted", "time": "yesterday"}',
            "\xff\xfe not json",
        ],
    )
    def test_planted_events_never_change_a_state(self, tmp_path: Path, body: str) -> None:
        """Events with a bad name, state or time, or no JSON at all, are refused as damaged:
        the run stays active."""
        tracker = Tracker(str(tmp_path), ObjectStoreBackend(str(tmp_path)))
        run_id = _run(tracker)
        folder = tmp_path / "tracking" / "experiments" / "exp" / "segments"
        text = body % run_id if "%s" in body else body
        (folder / f"{'1' * 20}-w-00000001.{run_id}.json").write_bytes(
            text.encode("utf-8", "surrogatepass")
        )
        fresh = Tracker(str(tmp_path), ObjectStoreBackend(str(tmp_path)))
        with pytest.warns(RuntimeWarning, match="lifecycle event"):
            assert fresh.record(run_id).lifecycle == "active"

    def test_a_damaged_sqlite_row_is_skipped_and_reported(self, tmp_path: Path) -> None:
        """A lifecycle row with an unknown state is skipped with a warning, not trusted."""
        tracker = _sqlite(tmp_path)
        run_id = _run(tracker)
        tracker.delete_run(run_id)
        with sqlite3.connect(tmp_path / "tracking.sqlite") as conn:
            conn.execute("UPDATE lifecycle SET state = 'zombie'")
        with pytest.warns(RuntimeWarning, match="zombie"):
            assert _sqlite(tmp_path).record(run_id).lifecycle == "active"


def test_a_schema_2_database_gains_the_lifecycle_table(tmp_path: Path) -> None:
    """A tracking.sqlite written before deletions existed opens, keeps its runs, and
    records deletions."""
    path = tmp_path / "tracking.sqlite"
    with sqlite3.connect(path) as conn:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(
            "INSERT INTO runs VALUES ('r1', 'old', 'before', 'FINISHED', 1700000000, "
            "1700000001, NULL, 'me', 'host')"
        )
        conn.execute("INSERT INTO experiments VALUES ('old', 1700000000)")
        conn.execute("PRAGMA user_version = 2")
    tracker = _sqlite(tmp_path)
    assert list(tracker.search_runs("old")["run_id"]) == ["r1"]
    tracker.delete_run("r1", reason="migrated")
    assert tracker.search_runs("old").empty
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION  # the newest


_OPS = st.lists(st.sampled_from(["delete", "restore"]), min_size=1, max_size=8)


@given(ops=_OPS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_sequence_of_deletes_and_restores_ends_in_the_last_ones_state(
    ops: list[str],
) -> None:
    """Both backends agree on the state after any sequence, and it is the last call's; a
    call that changes nothing writes no event."""

    root = Path(tempfile.mkdtemp(dir=_SCRATCH.name))
    for tracker in (_sqlite(root), _memory()):
        run_id = _run(tracker)
        changes = 0
        state = "active"
        for op in ops:
            event = getattr(tracker, f"{op}_run")(run_id)
            wanted = "deleted" if op == "delete" else "active"
            assert (event is not None) == (wanted != state)
            changes += event is not None
            state = wanted
        assert tracker.record(run_id).lifecycle == state
        assert len(tracker.backend.lifecycle_events("run", run_id)) == changes


def test_an_artifact_a_model_shares_survives_gc_of_its_deleted_run(tmp_path: Path) -> None:
    """A run's artifact that a registered model version holds too (same bytes: one object)
    stays loadable after the run is purged and the store swept; the run's other artifact
    goes."""
    tracker = _sqlite(tmp_path)
    with tracker.start_run("train", capture_env=False) as run:
        weights = run.log_artifact({"w": [1.0, 2.0]}, name="model.json")
        scratch = run.log_artifact(b"scratch only", name="scratch.bin")
    registry = Registry(tracker.store)
    mv = registry.register("clf", {"w": [1.0, 2.0]})
    assert mv.model.digest == weights.digest
    tracker.delete_run(run.run_id, reason="superseded")
    assert tracker.gc(older_than=timedelta(0), dry_run=False).purged_runs == [run.run_id]
    tracker.store.gc(dry_run=False, grace=timedelta(0))
    assert registry.load("clf/1") == {"w": [1.0, 2.0]}
    assert not tracker.store.exists(scratch)


def test_module_functions_and_the_report_use_the_current_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mk.delete_run / restore_run / delete_experiment / restore_experiment act on the
    current workspace, and the runs report leaves deleted runs out."""
    monkeypatch.setenv("MLOPSKIT_CACHE_DIR", str(tmp_path / "cache"))
    with mk.Workspace(tmp_path / "ws"):
        with mk.start_run("fluent") as a:
            mk.log_metric("acc", 1.0)
        with mk.start_run("fluent") as b:
            mk.log_metric("acc", 0.0)
        assert mk.delete_run(b.run_id, reason="r") is not None
        report = build_report(mk.tracking.current_tracker(), "fluent")
        assert [r.run_id for r in report.runs] == [a.run_id]
        assert mk.restore_run(b.run_id) is not None
        assert mk.delete_experiment("fluent") is not None
        assert mk.search_runs("fluent").empty
        assert mk.restore_experiment("fluent") is not None
        assert len(mk.search_runs("fluent", run_view="ACTIVE_ONLY")) == 2
