"""The conformance suite every tracking backend passes (SQLite, object store, S3).

Subclass :class:`TrackerConformance` and provide a ``tracker_factory`` fixture: a
callable returning a *new* :class:`~mlopskit.tracking.Tracker` (a new writer) over the
same workspace each time it is called.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from mlopskit.errors import InvalidInputError, NotFoundError
from mlopskit.store import ArtifactRef
from mlopskit.tracking import Tracker

__all__ = ["RunNamingConformance", "TrackerConformance"]


class _Versioned:
    """Stands in for a dataset version: anything with ``name``, ``number``, ``digest``."""

    def __init__(self, digest: str) -> None:
        self.name = "iris"
        self.number = 3
        self.digest = digest


_REFUSED_POINTS: list[dict[str, Any]] = [
    {"timestamp": math.nan},
    {"timestamp": math.inf},
    {"timestamp": -math.inf},
    {"timestamp": 1e20},
    {"timestamp": "2026-01-01"},
    {"timestamp": datetime(2026, 1, 1)},  # naive: which timezone?
    {"step": 2**63},
    {"step": -(2**63) - 1},
    {"step": math.nan},
    {"step": 1.5},
    {"step": "3"},
    {"value": 2**1024},  # an int too large for a float
]
_REFUSED_TEXT = ["lone \ud800 surrogate", "nul \x00 byte"]


class RunNamingConformance:
    """Renaming and resuming runs: what every backend records (a block of the suite;
    :class:`TrackerConformance` includes it, with its ``tracker_factory`` fixture)."""

    def test_rename_is_recorded_and_searchable(
        self, tracker_factory: Callable[[], Tracker]
    ) -> None:
        """run.rename() chains, another writer reads the new name, search finds the run by
        it (not by the old one), and the old name is kept as mlopskit.previous_name."""
        tracker = tracker_factory()
        with tracker.start_run("exp", name="first", capture_env=False) as run:
            assert run.rename("second") is run
            assert run.name == "second"
        other = tracker_factory()
        rec = other.get_run(run.run_id).record()
        assert (rec.name, rec.tags["mlopskit.previous_name"]) == ("second", "first")
        found = other.search_runs("exp", filter="attributes.name = 'second'")
        assert found["run_id"].tolist() == [run.run_id]
        assert other.search_runs("exp", filter="attributes.name = 'first'").empty
        other.get_run(run.run_id).rename("third")
        assert tracker_factory().get_run(run.run_id).name == "third"

    @pytest.mark.parametrize("bad", ["", " padded", "tab\there", "x" * 251, 7])
    def test_a_bad_name_is_refused_and_changes_nothing(
        self, tracker_factory: Callable[[], Tracker], bad: Any
    ) -> None:
        """An empty, padded, unprintable, over-long or non-string name is an
        InvalidInputError that says what a name is; the run keeps its name."""
        tracker = tracker_factory()
        with (
            tracker.start_run("exp", name="kept", capture_env=False) as run,
            pytest.raises(InvalidInputError, match="printable characters"),
        ):
            run.rename(bad)
        assert tracker_factory().get_run(run.run_id).name == "kept"

    def test_resume_keeps_provenance_and_records_the_resume(
        self, tracker_factory: Callable[[], Tracker], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Resumed from another command, a run keeps its command, start time and
        environment tags; the resume is an event (mlopskit.resume.1) naming the new
        command; user tags given on resume are set."""
        monkeypatch.setattr("sys.argv", ["train.py", "--epochs", "1"])
        with tracker_factory().start_run("exp", run_id="resumed-prov", git=False) as run:
            pass
        before = tracker_factory().get_run(run.run_id).record()
        monkeypatch.setattr("sys.argv", ["train.py", "--resume"])
        with tracker_factory().start_run(run_id="resumed-prov", tags={"stage": "2"}, git=False):
            pass
        after = tracker_factory().get_run(run.run_id).record()
        assert after.start_time == before.start_time
        assert after.tags["mlopskit.command"] == "train.py --epochs 1"
        assert after.tags["mlopskit.pid"] == before.tags["mlopskit.pid"]
        assert after.tags["stage"] == "2"
        event = json.loads(after.tags["mlopskit.resume.1"])
        assert event["command"] == "train.py --resume"
        assert event["paused"] >= 0
        assert "mlopskit.resume.2" not in after.tags

    def test_duration_counts_active_time_only(self, tracker_factory: Callable[[], Tracker]) -> None:
        """The time a run spends ended before a resume is not in its duration (search
        reads the same duration, also when it narrows what it loads)."""
        with tracker_factory().start_run("exp", run_id="resumed-dur", capture_env=False):
            pass
        first = tracker_factory().get_run("resumed-dur").record()
        assert first.duration is not None
        time.sleep(0.3)  # a pause between two sessions, not a speed check
        for number in (1, 2):
            with tracker_factory().start_run(run_id="resumed-dur", capture_env=False):
                pass
            assert f"mlopskit.resume.{number}" in tracker_factory().get_run("resumed-dur").tags
        rec = tracker_factory().get_run("resumed-dur").record()
        assert rec.end_time is not None
        wall = (rec.end_time - rec.start_time).total_seconds()
        assert 0 <= rec.duration <= wall - 0.25  # type: ignore[operator]
        assert float(rec.tags["mlopskit.paused"]) >= 0.3
        frame = tracker_factory().search_runs("exp", filter="attributes.duration < 0.25")
        assert "resumed-dur" in frame["run_id"].tolist()


class TrackerConformance(RunNamingConformance):
    """Behaviour every backend must show, through the public Tracker and Run API."""

    @pytest.fixture
    def tracker_factory(self) -> Callable[[], Tracker]:  # pragma: no cover - overridden
        raise NotImplementedError("provide a tracker_factory fixture")

    @pytest.fixture
    def tracker(self, tracker_factory: Callable[[], Tracker]) -> Tracker:
        """A tracker over the backend under test."""
        return tracker_factory()

    def test_run_round_trip(self, tracker: Tracker) -> None:
        """Params, tags, metrics and status written by a run read back the same."""
        with tracker.start_run("exp", params={"lr": 0.1, "opt": "adam"}, tags={"t": "x"}) as run:
            run.log_metric("loss", 0.5)
            run.log_metrics({"acc": 0.75, "f1": 0.5}, step=3)
        rec = tracker.get_run(run.run_id).record()
        assert (rec.status, rec.experiment) == ("FINISHED", "exp")
        assert rec.params == {"lr": "0.1", "opt": "adam"}
        assert rec.tags["t"] == "x"
        assert rec.metrics == {"loss": 0.5, "acc": 0.75, "f1": 0.5}
        assert rec.end_time is not None
        assert rec.end_time >= rec.start_time

    def test_nested_run_records_its_parent(self, tracker: Tracker) -> None:
        """A run started inside another records the outer one as parent and experiment."""
        with tracker.start_run("outer") as parent, tracker.start_run() as child:
            pass
        rec = tracker.get_run(child.run_id).record()
        assert (rec.parent_id, rec.experiment) == (parent.run_id, "outer")

    def test_params_are_immutable_across_writers(
        self, tracker: Tracker, tracker_factory: Callable[[], Tracker]
    ) -> None:
        """Re-logging a param's value is fine; another value fails, also from another writer."""
        with tracker.start_run("exp", params={"lr": 0.1}) as run:
            run.log_param("lr", 0.1)
            with pytest.raises(InvalidInputError, match="immutable"):
                run.log_param("lr", 0.2)
            other = tracker_factory().get_run(run.run_id)
            with pytest.raises(InvalidInputError, match="immutable"):
                other.log_param("lr", 0.3)
        assert tracker.get_run(run.run_id).params == {"lr": "0.1"}

    def test_latest_metric_is_highest_step(self, tracker: Tracker) -> None:
        """The latest value of a metric is the one at the highest step, not the last logged."""
        with tracker.start_run("exp") as run:
            run.log_metric("m", 3.0, step=10)
            run.log_metric("m", 1.0, step=2)
        assert tracker.get_run(run.run_id).metrics["m"] == 3.0

    def test_metric_history_has_every_point(self, tracker: Tracker) -> None:
        """metric_history returns every point, ordered by step, with UTC timestamps."""
        with tracker.start_run("exp") as run:
            for i in range(25):
                run.log_metric("loss", 1.0 / (i + 1))
            run.log_batch("curve", [0.1, 0.2, 0.3])
        frame = run.metric_history("loss")
        assert list(frame["step"]) == list(range(25))
        assert frame["value"].iloc[-1] == pytest.approx(1 / 25)
        assert str(frame["timestamp"].dt.tz) == "UTC"
        assert list(run.metric_history("curve")["value"]) == [0.1, 0.2, 0.3]

    def test_failed_run_keeps_metrics_and_error(self, tracker: Tracker) -> None:
        """An exception in the block ends the run FAILED with the error, metrics kept."""
        run = None

        def fail() -> None:
            nonlocal run
            with tracker.start_run("exp") as run:
                run.log_metric("before", 1.0)
                _ = 1 / 0

        with pytest.raises(ZeroDivisionError):
            fail()
        assert run is not None
        rec = tracker.get_run(run.run_id).record()
        assert rec.status == "FAILED"
        assert rec.metrics == {"before": 1.0}
        assert rec.tags["mlopskit.error.type"] == "builtins.ZeroDivisionError"
        assert "division by zero" in rec.tags["mlopskit.error.traceback"]

    def test_resume_continues_a_run(self, tracker: Tracker) -> None:
        """start_run with an existing run id resumes it: RUNNING again, then ended again."""
        with tracker.start_run("exp", run_id="resumable-1") as run:
            run.log_metric("m", 1.0, step=0)
        with tracker.start_run(run_id="resumable-1", resume=True) as again:
            assert again.experiment == "exp"
            assert tracker.get_run("resumable-1").status == "RUNNING"
            again.log_metric("m", 2.0, step=1)
        rec = tracker.get_run("resumable-1").record()
        assert (rec.status, rec.metrics["m"]) == ("FINISHED", 2.0)

    def test_resume_flags_are_checked(self, tracker: Tracker) -> None:
        """resume=True needs the run to exist; resume=False needs it not to."""
        with pytest.raises(NotFoundError):
            tracker.start_run(run_id="never-created", resume=True)
        with tracker.start_run("exp", run_id="exists-1"):
            pass
        with pytest.raises(InvalidInputError, match="exists already"):
            tracker.start_run(run_id="exists-1", resume=False)

    def test_get_run_of_unknown_id_is_not_found(self, tracker: Tracker) -> None:
        """An unknown run id raises NotFoundError (a KeyError)."""
        with pytest.raises(KeyError):
            tracker.get_run("0" * 32)

    # -- deleting and restoring -------------------------------------------------------

    def test_deleted_run_is_hidden_until_restored(
        self, tracker: Tracker, tracker_factory: Callable[[], Tracker]
    ) -> None:
        """A deleted run leaves default searches, shows under run_view deleted/all (both
        spellings) with who and why, and comes back when restored, for every reader."""
        with tracker.start_run("life") as keep:
            keep.log_metric("acc", 1.0)
        with tracker.start_run("life") as gone:
            gone.log_metric("acc", 0.5)
        event = tracker.delete_run(gone.run_id, reason="bad labels")
        assert event is not None and (event.state, event.reason) == ("deleted", "bad labels")
        other = tracker_factory()
        for reader in (tracker, other):
            assert list(reader.search_runs("life")["run_id"]) == [keep.run_id]
            for view in ("deleted", "DELETED_ONLY"):
                frame = reader.search_runs("life", run_view=view)
                assert list(frame["run_id"]) == [gone.run_id]
                assert list(frame["lifecycle"]) == ["deleted"]
            for view in ("all", "ALL"):
                assert len(reader.search_runs("life", run_view=view)) == 2
            rec = reader.record(gone.run_id)
            assert rec.lifecycle == "deleted"
            assert rec.deletion is not None and rec.deletion.reason == "bad labels"
            assert rec.deletion.user == event.user and rec.metrics == {"acc": 0.5}
        assert tracker.delete_run(gone.run_id) is None, "deleting twice writes nothing"
        assert other.restore_run(gone.run_id) is not None
        assert other.restore_run(gone.run_id) is None, "restoring an active run writes nothing"
        assert set(tracker.search_runs("life")["run_id"]) == {keep.run_id, gone.run_id}
        assert tracker.record(gone.run_id).lifecycle == "active"

    def test_deleting_is_checked(self, tracker: Tracker) -> None:
        """Unknown runs and experiments are NotFoundError, a bad run_view InvalidInputError,
        and a deleted run cannot be resumed until restored."""
        with tracker.start_run("checked") as run:
            pass
        with pytest.raises(NotFoundError):
            tracker.delete_run("0" * 32)
        with pytest.raises(NotFoundError, match="did you mean 'checked'"):
            tracker.delete_experiment("chekced")
        with pytest.raises(InvalidInputError, match="run_view"):
            tracker.search_runs("checked", run_view="gone")
        for reason in ("nul \x00 byte", 42):
            with pytest.raises(InvalidInputError, match="reason"):
                tracker.delete_run(run.run_id, reason=reason)  # type: ignore[arg-type]
        assert tracker.record(run.run_id).lifecycle == "active", "a refused delete writes nothing"
        tracker.delete_run(run.run_id)
        with pytest.raises(InvalidInputError, match="is deleted; restore it first"):
            tracker.start_run(run_id=run.run_id, resume=True)
        tracker.restore_run(run.run_id)
        tracker.start_run(run_id=run.run_id, resume=True).end()

    def test_experiment_delete_and_restore_take_their_runs(self, tracker: Tracker) -> None:
        """Deleting an experiment deletes its runs; restoring it restores exactly the runs
        deleted with it (a run deleted on its own stays deleted)."""
        runs = []
        for _ in range(3):
            with tracker.start_run("whole") as run:
                runs.append(run.run_id)
        with tracker.start_run("other") as bystander:
            pass
        tracker.delete_run(runs[0], reason="own")
        assert tracker.delete_experiment("whole", reason="obsolete") is not None
        assert tracker.delete_experiment("whole") is None
        assert tracker.search_runs("whole").empty
        assert tracker.experiment_lifecycle()["whole"].reason == "obsolete"
        assert list(tracker.search_runs()["run_id"]) == [bystander.run_id]
        tracker.restore_experiment("whole")
        assert set(tracker.search_runs("whole")["run_id"]) == set(runs[1:])
        assert tracker.record(runs[0]).deletion.reason == "own"  # type: ignore[union-attr]
        assert tracker.experiment_lifecycle()["whole"].state == "active"

    def test_racing_delete_and_restore_end_in_one_state(
        self, tracker_factory: Callable[[], Tracker]
    ) -> None:
        """Writers deleting and restoring one run at once leave one state that every
        reader agrees on: the newest event's."""
        first = tracker_factory()
        with first.start_run("race") as run:
            pass
        errors: list[BaseException] = []

        def flip(rank: int) -> None:
            mine = tracker_factory()
            try:
                for i in range(4):
                    if (rank + i) % 2:
                        mine.delete_run(run.run_id, reason=f"w{rank}")
                    else:
                        mine.restore_run(run.run_id, reason=f"w{rank}")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=flip, args=(r,)) for r in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, [repr(e) for e in errors]
        states = {tracker_factory().record(run.run_id).lifecycle for _ in range(3)}
        assert len(states) == 1
        events = first.backend.lifecycle_events("run", run.run_id)
        newest = max(enumerate(events), key=lambda p: (p[1].time, p[0]))[1]
        assert states == {newest.state}

    def test_deletion_survives_compaction(self, tracker: Tracker) -> None:
        """A run deleted before or after compaction stays hidden, and restores after it."""
        runs = []
        for _ in range(3):
            with tracker.start_run("packed") as run:
                runs.append(run.run_id)
        tracker.delete_run(runs[0])
        compact = getattr(tracker.backend, "compact", None)
        if compact is not None:
            compact(["packed"])
        tracker.delete_run(runs[1])
        assert list(tracker.search_runs("packed")["run_id"]) == [runs[2]]
        tracker.restore_run(runs[0])
        assert set(tracker.search_runs("packed")["run_id"]) == {runs[0], runs[2]}

    def test_gc_purges_only_old_deletions_and_keeps_what_is_reachable(
        self, tracker: Tracker
    ) -> None:
        """gc purges runs deleted longer ago than the grace period (a dry run by default);
        a purged run's artifacts go with store.gc unless a ref still reaches them."""
        with tracker.start_run("gc") as kept:
            kept.log_artifact(b"kept weights", name="w.bin")
        with tracker.start_run("gc") as old:
            only = old.log_artifact(b"only this run", name="a.bin")
            shared = old.log_artifact(b"registered model", name="model.bin")
        tracker.store.refs.set("models/m/v/1", shared)  # e.g. a model version from it
        tracker.delete_run(old.run_id)
        young = tracker.gc(dry_run=False)  # default grace: 30 days
        assert young.purged_runs == [] and young.kept_young == [old.run_id]
        dry = tracker.gc(older_than=timedelta(0))
        assert dry.dry_run and dry.purged_runs == [old.run_id]
        assert tracker.record(old.run_id).lifecycle == "deleted"
        done = tracker.gc(older_than=timedelta(0), dry_run=False)
        assert done.purged_runs == [old.run_id]
        with pytest.raises(NotFoundError):
            tracker.get_run(old.run_id)
        assert tracker.search_runs("gc", run_view="all")["run_id"].tolist() == [kept.run_id]
        tracker.store.gc(dry_run=False, grace=timedelta(0))
        assert tracker.store.get_bytes(shared) == b"registered model"
        assert not tracker.store.exists(only)
        assert tracker.get_run(kept.run_id).load_artifact("w.bin") == b"kept weights"

    def test_gc_forgets_a_deleted_experiment_once_empty(self, tracker: Tracker) -> None:
        """An experiment deleted with its runs disappears after gc; its name can be reused."""
        with tracker.start_run("temp"):
            pass
        tracker.delete_experiment("temp")
        report = tracker.gc(older_than=timedelta(0), dry_run=False)
        assert report.purged_experiments == ["temp"]
        assert "temp" not in tracker.experiments()
        assert "temp" not in tracker.experiment_lifecycle()
        with tracker.start_run("temp") as again:
            pass
        assert list(tracker.search_runs("temp")["run_id"]) == [again.run_id]

    def test_artifacts_are_deduplicated_and_survive_gc(self, tracker: Tracker) -> None:
        """The same content logged by two runs is one object, and gc keeps it."""
        with tracker.start_run("exp") as a:
            ref_a = a.log_artifact(b"weights", name="model.bin")
            a.log_dict({"k": 1}, "config.json")
        with tracker.start_run("exp") as b:
            ref_b = b.log_artifact(b"weights", name="model.bin")
        assert ref_a.digest == ref_b.digest
        store = tracker.store
        store.gc(dry_run=False, grace=timedelta(0))
        assert store.get_bytes(ref_a) == b"weights"
        assert tracker.get_run(a.run_id).load_artifact("config.json") is not None
        assert {"model.bin", "config.json"} <= set(tracker.get_run(a.run_id).artifacts)

    def test_inputs_are_recorded_by_digest(self, tracker: Tracker) -> None:
        """log_input takes refs, digests and objects with a digest; lineage reads them back."""
        ref = tracker.store.put_bytes(b"training data")
        with tracker.start_run("exp") as run:
            run.log_input(ref, context="train")
            run.log_input(_Versioned(tracker.store.put_bytes(b"iris").digest))
            with pytest.raises(InvalidInputError):
                run.log_input(object())
        inputs = {i.digest: i for i in tracker.get_run(run.run_id).inputs}
        assert inputs[ref.digest].context == "train"
        assert "iris@3" in {i.name for i in inputs.values()}
        assert isinstance(tracker.get_run(run.run_id).artifacts, dict)

    def test_search_filters_orders_and_limits(self, tracker: Tracker) -> None:
        """search_runs applies the filter, the order (missing last) and the limit."""
        for i in range(6):
            with tracker.start_run("search", params={"lr": i / 10, "opt": "sgd"}) as run:
                run.log_metric("acc", i / 5)
        with tracker.start_run("search"):
            pass
        frame = tracker.search_runs(
            "search", filter="metrics.acc >= 0.4 and params.lr < 0.5", order_by="metrics.acc DESC"
        )
        assert list(frame["metrics.acc"]) == [0.8, 0.6, 0.4]
        ordered = tracker.search_runs("search", order_by=["metrics.acc"], limit=7)
        assert ordered["metrics.acc"].isna().tolist()[-1]
        assert len(tracker.search_runs("search", limit=2)) == 2
        assert len(tracker.search_runs("search", status="FAILED")) == 0

    def test_search_is_the_same_after_compaction(self, tracker: Tracker) -> None:
        """A backend that compacts (``backend.compact()``) answers searches the same after."""
        compact = getattr(tracker.backend, "compact", None)
        if compact is None:
            pytest.skip(f"{tracker.backend!r} has no compact()")
        for i in range(4):
            with tracker.start_run("compacted", params={"lr": i}, tags={"t": str(i % 2)}) as run:
                run.log_metric("acc", i / 4)
        before = tracker.search_runs("compacted", order_by="metrics.acc")
        compact(["compacted"])
        with tracker.start_run("compacted", params={"lr": 9}) as late:
            late.log_metric("acc", 2.0)
        after = tracker.search_runs("compacted", order_by="metrics.acc")
        assert list(after["run_id"]) == [*before["run_id"], late.run_id]
        cols = ["run_id", "status", "params.lr", "tags.t", "metrics.acc"]
        assert after[cols].iloc[:4].equals(before[cols])

    def test_non_finite_values_are_stored_and_compare_false(self, tracker: Tracker) -> None:
        """NaN and ±infinity are stored as logged (history, latest value, search frame, also
        after compaction); a comparison with a NaN latest value is false, as in SQL."""
        values = {"nan": math.nan, "inf": math.inf, "ninf": -math.inf}
        ids = {}
        for name, value in values.items():
            with tracker.start_run("nonfinite", name=name, capture_env=False) as run:
                run.log_metric("m", 1.0, step=0, timestamp=1.0)
                run.log_metric("m", value, step=1, timestamp=2.0)
                run.log_batch("b", [value, 0.5, value], steps=[0, 1, 2])
            ids[name] = run.run_id
        compact = getattr(tracker.backend, "compact", None)
        for stage in ("logged", "compacted"):
            for name, value in values.items():
                history = tracker.backend.metric_history(ids[name], "m")
                assert [(s, repr(v), t) for s, v, t in history] == [
                    (0, "1.0", 1.0),
                    (1, repr(value), 2.0),
                ], stage
                batch = [v for _, v, _ in tracker.backend.metric_history(ids[name], "b")]
                assert [repr(v) for v in batch] == [repr(value), "0.5", repr(value)], stage
                latest = tracker.get_run(ids[name]).record().metrics
                assert (repr(latest["m"]), repr(latest["b"])) == (repr(value), repr(value)), stage
            frame = tracker.search_runs("nonfinite").set_index("name")
            assert [repr(float(frame.loc[n, "metrics.m"])) for n in values] == [
                "nan",
                "inf",
                "-inf",
            ], stage
            found = {
                f: set(tracker.search_runs("nonfinite", filter=f)["name"])
                for f in (
                    "metrics.m > 0",
                    "metrics.m < 0",
                    "metrics.m = 0",
                    "metrics.m >= -1e308",
                    "metrics.m > 1e308",
                )
            }
            assert found == {
                "metrics.m > 0": {"inf"},
                "metrics.m < 0": {"ninf"},
                "metrics.m = 0": set(),
                "metrics.m >= -1e308": {"inf"},
                "metrics.m > 1e308": {"inf"},
            }, stage
            if compact is None:
                break
            compact(["nonfinite"])

    def test_values_round_trip_exactly(self, tracker: Tracker) -> None:
        """Metric values and times come back bit for bit, in records and in frames."""
        value = 1 / 3 * 1e-7
        with tracker.start_run("exact", params={"s": "ünïcode ' \" \\"}) as run:
            run.log_metric("m", value, timestamp=1764179000.123456789)
        frame = tracker.search_runs("exact")
        assert frame["metrics.m"].iloc[0] == value
        assert frame["params.s"].iloc[0] == "ünïcode ' \" \\"
        assert tracker.backend.metric_history(run.run_id, "m") == [(0, value, 1764179000.123456789)]
        assert tracker.get_run(run.run_id).record().start_time == run.start_time

    def test_experiments_are_listed(self, tracker: Tracker) -> None:
        """Every experiment with a run is listed."""
        for name in ("e1", "e2"):
            with tracker.start_run(name):
                pass
        assert {"e1", "e2"} <= set(tracker.experiments())

    def test_writers_in_threads_lose_nothing(
        self, tracker: Tracker, tracker_factory: Callable[[], Tracker]
    ) -> None:
        """Four writers logging into one run from four threads lose no point."""
        with tracker.start_run("exp", run_id="shared-run"):
            pass

        def write(rank: int) -> None:
            other = tracker_factory()
            with other.start_run(run_id="shared-run", parent=None) as run:
                run.log_batch("x", [float(rank * 1000 + i) for i in range(200)])
                run.log_metric("y", float(rank), step=rank)

        threads = [threading.Thread(target=write, args=(r,)) for r in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        history = tracker.get_run("shared-run").metric_history("x")
        expected = sorted(float(r * 1000 + i) for r in range(4) for i in range(200))
        assert sorted(history["value"]) == expected
        assert tracker.get_run("shared-run").record().status == "FINISHED"

    def test_to_dict_is_json_able(self, tracker: Tracker) -> None:
        """A run's dict form holds plain JSON values."""
        import json

        with tracker.start_run("exp", params={"a": 1}) as run:
            run.log_artifact(b"x", name="x.bin")
        data: dict[str, Any] = run.to_dict()
        assert json.loads(json.dumps(data))["params"] == {"a": "1"}
        assert isinstance(ArtifactRef.model_validate(data["artifacts"]["x.bin"]), ArtifactRef)

    @pytest.mark.parametrize("bad", _REFUSED_POINTS, ids=repr)
    def test_out_of_range_points_are_refused_at_the_call(
        self, tracker: Tracker, bad: dict[str, Any]
    ) -> None:
        """A point no backend can store fails at log time; the run's other points survive."""
        with tracker.start_run("exp", capture_env=False) as run:
            run.log_metric("m", 1.0, step=0)
            point: dict[str, Any] = {"value": 2.0, "step": 1, **bad}
            with pytest.raises(InvalidInputError):
                run.log_metric(
                    "m", point["value"], step=point["step"], timestamp=point.get("timestamp")
                )
            with pytest.raises(InvalidInputError):
                run.log_batch(
                    "m",
                    [point["value"]],
                    steps=[point["step"]],
                    timestamps=None if "timestamp" not in bad else [bad["timestamp"]],
                )
        rec = tracker.get_run(run.run_id).record()
        assert (rec.status, rec.metrics) == ("FINISHED", {"m": 1.0})

    def test_extreme_points_round_trip(self, tracker: Tracker) -> None:
        """The widest steps and times every backend accepts come back exactly."""
        aware = datetime(2001, 2, 3, 4, 5, 6, 789000, tzinfo=timezone.utc)
        with tracker.start_run("exp", capture_env=False) as run:
            run.log_metric("m", 1.0, step=-(2**63), timestamp=0.0)
            run.log_metric("m", 2.0, step=2**63 - 1, timestamp=aware)
            run.log_metric("huge", 1e300)
        assert tracker.get_run(run.run_id).metrics["huge"] == 1e300
        assert tracker.backend.metric_history(run.run_id, "m") == [
            (-(2**63), 1.0, 0.0),
            (2**63 - 1, 2.0, aware.timestamp()),
        ]

    @pytest.mark.parametrize("text", _REFUSED_TEXT)
    def test_text_no_backend_can_store_is_refused(self, tracker: Tracker, text: str) -> None:
        """Params and tags that are not storable text fail at the call, writing nothing."""
        with tracker.start_run("exp", capture_env=False) as run:
            with pytest.raises(InvalidInputError):
                run.log_param("p", text)
            with pytest.raises(InvalidInputError):
                run.set_tag("t", text)
        rec = tracker.get_run(run.run_id).record()
        assert "p" not in rec.params
        assert "t" not in rec.tags
