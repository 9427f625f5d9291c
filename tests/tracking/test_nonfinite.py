"""NaN and ±infinity metric values: stored as logged on both backends, as MLflow stores them."""

from __future__ import annotations

import json
import math
import sqlite3
import struct
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlopskit.tracking import ObjectStoreBackend, SQLiteBackend, Tracker, import_mlflow
from mlopskit.tracking._sqlite import SCHEMA, SCHEMA_VERSION

# Hypothesis examples cannot use tmp_path: their workspaces go here, removed at exit.
_SCRATCH = tempfile.TemporaryDirectory(prefix="mlopskit-test-")

_ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)


def _same(a: float, b: float) -> bool:
    """Equal as stored values: NaN is NaN (any payload), otherwise the same float64 bits."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return struct.pack("<d", a) == struct.pack("<d", b)


def _trackers() -> list[Tracker]:
    root = tempfile.mkdtemp(dir=_SCRATCH.name)
    mem = f"memory://nonfinite-{uuid.uuid4().hex[:8]}"
    return [
        Tracker(root, SQLiteBackend(f"{root}/tracking.sqlite")),
        Tracker(mem, ObjectStoreBackend(mem)),
    ]


@given(
    singles=st.lists(_ANY_FLOAT, min_size=1, max_size=6), batch=st.lists(_ANY_FLOAT, max_size=20)
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_float_round_trips_on_both_backends(singles: list[float], batch: list[float]) -> None:
    """Any float64 — NaN, ±infinity, -0.0, subnormals — logged with log_metric or
    log_batch comes back from metric_history as logged, and the latest value is the last."""
    for tracker in _trackers():
        with tracker.start_run("any", capture_env=False) as run:
            for value in singles:
                run.log_metric("one", value)
            run.log_batch("many", batch)
        one = tracker.backend.metric_history(run.run_id, "one")
        many = tracker.backend.metric_history(run.run_id, "many")
        assert [s for s, _, _ in one] == list(range(len(singles)))
        assert all(map(_same, [v for _, v, _ in one], singles)), tracker.backend
        assert len(many) == len(batch)
        assert all(map(_same, [v for _, v, _ in many], batch)), tracker.backend
        latest = tracker.get_run(run.run_id).metrics["one"]
        assert latest == singles[-1] or (math.isnan(latest) and math.isnan(singles[-1]))


def _old_schema(path: Path, version: int) -> None:
    """A tracking.sqlite as schema 3 left it: ``latest_metrics.value`` NOT NULL."""
    old = SCHEMA.replace(
        "value REAL, timestamp REAL NOT NULL", "value REAL NOT NULL, timestamp REAL NOT NULL"
    )
    assert old != SCHEMA
    with sqlite3.connect(path) as conn:
        for statement in old.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(
            "CREATE TABLE lifecycle (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, "
            "name TEXT NOT NULL, state TEXT NOT NULL, time REAL NOT NULL, user TEXT NOT NULL, "
            "reason TEXT NOT NULL, via TEXT NOT NULL DEFAULT '')"
        )
        conn.execute(
            "INSERT INTO runs VALUES ('r1', 'old', 'before', 'FINISHED', 1700000000, "
            "1700000001, NULL, 'me', 'host')"
        )
        conn.execute("INSERT INTO experiments VALUES ('old', 1700000000)")
        conn.execute("INSERT INTO latest_metrics VALUES ('r1', 'acc', 3, 0.75, 1700000000.5)")
        conn.execute(f"PRAGMA user_version = {version}")


def test_schema_3_file_migrates_and_then_stores_nan(tmp_path: Path) -> None:
    """A schema-3 workspace opens as schema 4, keeps its latest values, and a NaN logged
    afterwards reads back NaN (it could not be stored in the old NOT NULL column)."""
    path = tmp_path / "tracking.sqlite"
    _old_schema(path, 3)
    tracker = Tracker(str(tmp_path), SQLiteBackend(path))
    assert tracker.get_run("r1").metrics == {"acc": 0.75}
    with tracker.start_run("old", run_id="r1", resume=True, capture_env=False) as run:
        run.log_metric("loss", math.nan, step=0)
    assert math.isnan(tracker.get_run("r1").metrics["loss"])
    assert tracker.get_run("r1").metrics["acc"] == 0.75
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
        (notnull,) = [
            r[3] for r in conn.execute("PRAGMA table_info(latest_metrics)") if r[1] == "value"
        ]
        assert notnull == 0


def test_nan_only_metric_is_not_a_typo(tmp_path: Path) -> None:
    """A filter on a metric whose only values are NaN or -inf matches nothing, and is not
    mistaken for an unknown metric (no "did you mean" error)."""
    for tracker in _trackers():
        with tracker.start_run("typo", capture_env=False) as run:
            run.log_metric("nanm", math.nan)
            run.log_metric("ninf", -math.inf)
        assert tracker.search_runs("typo", filter="metrics.nanm > 0").empty
        assert tracker.search_runs("typo", filter="metrics.ninf > 0").empty
        assert tracker.search_runs("typo", filter="metrics.nanm is not null")[
            "run_id"
        ].tolist() == [run.run_id]


def _segments(root: str) -> list[Path]:
    return sorted(Path(root, "tracking", "experiments").rglob("*.jsonl"))


def test_segments_hold_strict_json(tmp_path: Path) -> None:
    """Non-finite values are written as strings, so every JSON reader (not only Python's)
    can parse a segment."""
    root = str(tmp_path / "ws")
    tracker = Tracker(root, ObjectStoreBackend(root))
    with tracker.start_run("strict", capture_env=False) as run:
        run.log_batch("m", [math.nan, math.inf, -math.inf, 1.5])

    def refuse(token: str) -> float:
        raise AssertionError(f"non-standard JSON token {token}")

    values = []
    for path in _segments(root):
        for line in path.read_text(encoding="utf-8").splitlines():
            event = json.loads(line, parse_constant=refuse)
            if event.get("e") == "metrics":
                values += event["values"]
    assert values == ["NaN", "Infinity", "-Infinity", 1.5]
    history = [v for _, v, _ in tracker.backend.metric_history(run.run_id, "m")]
    assert repr(history) == "[nan, inf, -inf, 1.5]"


@pytest.mark.parametrize(
    "bad", ['"nan"', '"1.0"', "NaN", "Infinity", "null", "true", "1e999", "1" + "0" * 400]
)
def test_a_segment_with_a_bad_value_is_skipped_and_reported(tmp_path: Path, bad: str) -> None:
    """A metric value that is neither a number nor one of the three strings mlopskit writes
    makes the segment damaged: skipped with a warning naming it, never a wrong value."""
    root = str(tmp_path / "ws")
    tracker = Tracker(root, ObjectStoreBackend(root))
    with tracker.start_run("bad", capture_env=False) as run:
        run.log_metric("m", 1.0, step=0)
    with tracker.start_run("bad", run_id=run.run_id, resume=True, capture_env=False) as again:
        again.log_metric("m", math.nan, step=1)
    (path,) = [p for p in _segments(root) if '"NaN"' in p.read_text(encoding="utf-8")]
    path.write_text(path.read_text(encoding="utf-8").replace('"NaN"', bad), encoding="utf-8")
    reader = Tracker(root, ObjectStoreBackend(root))
    with pytest.warns(RuntimeWarning, match="damaged"):
        metrics = reader.get_run(run.run_id).metrics
    assert metrics == {"m": 1.0}
    assert any(path.name in p for p in reader.backend.damaged)


def _file_store(root: Path, lines: dict[str, str]) -> str:
    run_id = "abcd" * 8
    exp = root / "mlruns" / "1"
    exp.mkdir(parents=True)
    (exp / "meta.yaml").write_text("experiment_id: '1'\nlifecycle_stage: active\nname: e\n")
    run = exp / run_id
    (run / "metrics").mkdir(parents=True)
    (run / "meta.yaml").write_text(
        f"run_id: {run_id}\nrun_name: r\nstatus: 3\nstart_time: 1700000000000\n"
        "end_time: 1700000060000\nuser_id: a\nlifecycle_stage: active\nexperiment_id: '1'\n"
    )
    for key, text in lines.items():
        (run / "metrics" / key).write_text(text)
    return run_id


def test_import_reads_latest_values_as_mlflow_file_store_does(tmp_path: Path) -> None:
    """Of points at one step and time MLflow's file store reads max(step, time, value) in
    file order (a NaN compares false); the import reproduces each answer, NaN included,
    and keeps every point."""
    t = "1700000000000"
    cases = {
        "nan_first": (f"{t} nan 0\n{t} 1.0 0\n", "nan"),  # 1.0 > nan is false: NaN stays
        "nan_second": (f"{t} 1.0 0\n{t} nan 0\n", "1.0"),
        "inf": (f"{t} inf 0\n{t} 5.0 0\n", "inf"),
        "ninf_later": (f"{t} 5.0 0\n1700000001000 -inf 0\n", "-inf"),
        "nan_step": (f"{t} 1.0 0\n{t} nan 1\n", "nan"),
    }
    run_id = _file_store(tmp_path, {k: v for k, (v, _) in cases.items()})
    for tracker in _trackers():
        report = import_mlflow(tmp_path / "mlruns", tracker=tracker)
        assert (report.metric_points, report.skipped_points) == (10, 0)
        metrics = tracker.get_run(run_id).metrics
        assert {k: repr(metrics[k]) for k in cases} == {k: w for k, (_, w) in cases.items()}
        history = tracker.backend.metric_history(run_id, "inf")
        assert sorted(repr(v) for _, v, _ in history) == ["5.0", "inf"]


def test_order_puts_nan_where_mlflow_puts_it() -> None:
    """Ordering by a metric puts ±infinity among the numbers and NaN after every number,
    ascending or descending (MLflow's SQL store: is_nan sorts after values), missing last."""
    values = [("a", 1.0), ("n1", math.nan), ("b", 3.0), ("inf", math.inf), ("c", 2.0)]
    values += [("ninf", -math.inf)]
    for tracker in _trackers():
        for name, value in values:
            with tracker.start_run("order", name=name, capture_env=False) as run:
                run.log_metric("m", value)
        with tracker.start_run("order", name="missing", capture_env=False):
            pass
        up = tracker.search_runs("order", order_by="metrics.m")["name"].tolist()
        down = tracker.search_runs("order", order_by="metrics.m DESC")["name"].tolist()
        assert up == ["ninf", "a", "c", "b", "inf", "n1", "missing"]
        assert down == ["inf", "b", "c", "a", "ninf", "n1", "missing"]
