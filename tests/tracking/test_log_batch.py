"""log_batch: whole series kept as columns, validated like log_metric, on both backends."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlopskit.errors import InvalidInputError, StorageError
from mlopskit.tracking import ObjectStoreBackend, SQLiteBackend, Tracker
from mlopskit.tracking._buffer import MetricBatch, Series, metric_columns


def _tracker(kind: str, tmp_path: Path) -> Tracker:
    if kind == "sqlite":
        local = tmp_path / f"ws-{uuid.uuid4().hex[:8]}"
        return Tracker(str(local), SQLiteBackend(local / "tracking.sqlite"))
    root = f"memory://batch-{uuid.uuid4().hex[:8]}"
    return Tracker(root, ObjectStoreBackend(root))


# one call: ("metric", key, value, step, time) or ("batch", key, values, steps, times)
_value = st.floats(-1e6, 1e6, allow_nan=False)
_step = st.integers(-3, 3)
_time = st.sampled_from([1000.0, 1001.0, 1002.0])
_call = st.one_of(
    st.tuples(st.just("metric"), st.sampled_from("ab"), _value, _step, _time),
    st.integers(0, 6).flatmap(
        lambda n: st.tuples(
            st.just("batch"),
            st.sampled_from("ab"),
            st.lists(_value, min_size=n, max_size=n),
            st.lists(_step, min_size=n, max_size=n),
            st.lists(_time, min_size=n, max_size=n),
        )
    ),
)


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
@given(calls=st.lists(_call, max_size=8), flush_every=st.integers(1, 4))
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_interleaved_points_and_series_round_trip(
    kind: str, calls: list[Any], flush_every: int, tmp_path: Path
) -> None:
    """Any mix of log_metric and log_batch reads back every point, and the latest value is the
    highest step, then the latest time, then the last logged."""
    tracker = _tracker(kind, tmp_path)
    run = tracker.start_run("e", capture_env=False)
    logged: dict[str, list[tuple[int, float, float]]] = {"a": [], "b": []}
    for i, (how, key, value, step, ts) in enumerate(calls):
        if how == "metric":
            run.log_metric(key, value, step=step, timestamp=ts)
            logged[key].append((step, value, ts))
        else:
            run.log_batch(key, value, steps=step, timestamps=ts)
            logged[key].extend(zip(step, value, ts))
        if i % flush_every == 0:
            run.flush()
    run.end()
    for key, points in logged.items():
        frame = run.metric_history(key)
        got = list(
            zip(frame["step"].tolist(), frame["value"].tolist(), frame["timestamp"].tolist())
        )
        want = sorted(points, key=lambda p: (p[0], p[2]))
        assert [(s, v, t.timestamp()) for s, v, t in got] == want
        if points:
            best = max(range(len(points)), key=lambda j: (points[j][0], points[j][2], j))
            assert run.metrics[key] == points[best][1]
        else:
            assert key not in run.metrics


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_numpy_arrays_store_the_same_points_as_lists(kind: str, tmp_path: Path) -> None:
    """A float32, int64 or pandas series is logged exactly as the equivalent list of floats."""
    import pandas as pd

    tracker = _tracker(kind, tmp_path)
    with tracker.start_run("e", capture_env=False) as run:
        run.log_batch("f32", np.array([0.5, 0.25, 1.5], dtype=np.float32))
        run.log_batch("i64", np.arange(3, dtype=np.int64), steps=np.arange(10, 13))
        run.log_batch("pd", pd.Series([1.0, 2.0]), timestamps=np.array([5.0, 6.0]))
    assert run.metric_history("f32")["value"].tolist() == [0.5, 0.25, 1.5]
    assert run.metric_history("i64")["step"].tolist() == [10, 11, 12]
    assert run.metric_history("i64")["value"].tolist() == [0.0, 1.0, 2.0]
    stamps = run.metric_history("pd")["timestamp"]
    assert [t.timestamp() for t in stamps] == [5.0, 6.0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"values": [1.0, True]}, "real number"),
        ({"values": [1.0, "2"]}, "real number"),
        ({"values": [2**2000]}, "real number"),
        ({"values": [1.0], "steps": [2**63]}, "64-bit"),
        ({"values": [1.0], "steps": [1.5]}, "integer"),
        ({"values": [1.0], "steps": [True]}, "integer"),
        ({"values": [1.0], "timestamps": [datetime(2024, 1, 1)]}, "naive"),
        ({"values": [1.0], "timestamps": [math.nan]}, "epoch seconds"),
        ({"values": [1.0], "timestamps": [1e20]}, "epoch seconds"),
        ({"values": [1.0, 2.0], "steps": [1]}, "2 values, 1 steps"),
        ({"values": [1.0, 2.0], "timestamps": [1.0, 2.0, 3.0]}, "3 timestamps"),
    ],
)
def test_bad_series_is_refused_and_changes_nothing(
    kwargs: dict[str, Any], match: str, tmp_path: Path
) -> None:
    """A bad value, step or timestamp anywhere in a series refuses the whole series: nothing is
    buffered and the next automatic step is unchanged."""
    tracker = _tracker("sqlite", tmp_path)
    run = tracker.start_run("e", capture_env=False)
    run.log_batch("x", [0.0, 1.0])
    with pytest.raises(InvalidInputError, match=match):
        run.log_batch("x", **kwargs)
    run.log_metric("x", 2.0)
    run.end()
    assert run.metric_history("x")["step"].tolist() == [0, 1, 2]
    assert run.metric_history("x")["value"].tolist() == [0.0, 1.0, 2.0]


def test_auto_steps_past_int64_are_refused(tmp_path: Path) -> None:
    """Automatic steps that would run past a 64-bit integer are an error, not a wrap-around."""
    tracker = _tracker("sqlite", tmp_path)
    with tracker.start_run("e", capture_env=False) as run:
        run.log_batch("x", [1.0], steps=[2**63 - 2])
        with pytest.raises(InvalidInputError, match="64-bit"):
            run.log_batch("x", [1.0, 2.0])
    assert run.metric_history("x")["step"].tolist() == [2**63 - 2]


def test_failed_write_keeps_the_series_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flush that fails keeps a buffered series (and points logged after it) and writes them
    all, in logging order, on the next flush."""
    tracker = _tracker("sqlite", tmp_path)
    backend = tracker.backend
    real = backend.log_metrics
    fails = {"n": 1}

    def failing(run_id: str, points: Any) -> None:
        if fails["n"]:
            fails["n"] -= 1
            raise StorageError("disk full (injected)")
        real(run_id, points)

    monkeypatch.setattr(backend, "log_metrics", failing)
    run = tracker.start_run("e", capture_env=False)
    run.log_metric("x", 0.0)
    run.log_batch("x", [1.0, 2.0])
    with pytest.raises(StorageError, match="injected"):
        run.flush()
    run.log_metric("x", 3.0)
    run.log_batch("x", [4.0])
    assert run._buffer is not None and len(run._buffer) == 5
    run.end()
    assert run.metric_history("x")["value"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert run.metrics["x"] == 4.0


def test_batch_is_a_sequence_of_points_in_logging_order() -> None:
    """A buffered batch iterates, indexes and splits into columns in the order it was logged."""
    from array import array

    series = Series("b", array("d", [1.0, 2.0]), array("q", [0, 1]), array("d", [9.0, 9.0]))
    batch = MetricBatch([[("a", 0.5, 0, 8.0)], series, [("b", 3.0, 2, 9.5)]])
    points = [("a", 0.5, 0, 8.0), ("b", 1.0, 0, 9.0), ("b", 2.0, 1, 9.0), ("b", 3.0, 2, 9.5)]
    assert len(batch) == 4
    assert list(batch) == points
    assert batch[1] == points[1] and batch[-1] == points[-1]
    cols = metric_columns(batch)
    assert [c.tolist() for c in cols["b"]] == [[0, 1, 2], [1.0, 2.0, 3.0], [9.0, 9.0, 9.5]]
    assert series.steps.tolist() == [0, 1]  # the buffered series itself is not changed
    assert {k: [c.tolist() for c in v] for k, v in metric_columns(points).items()} == {
        k: [c.tolist() for c in v] for k, v in cols.items()
    }
