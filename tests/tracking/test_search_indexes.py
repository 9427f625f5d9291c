"""Filtered search on SQLite gives one answer with or without the (key, value) indexes."""

from __future__ import annotations

import sqlite3
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mlopskit.tracking import RunRecord, SQLiteBackend, Tracker

VALUES = ["a", "b", "c"]


def _fill(root: Path, runs: list[tuple[str, str, float]]) -> Tracker:
    backend = SQLiteBackend(root / "tracking.sqlite")
    now = time.time()
    for i, (param, tag, metric) in enumerate(runs):
        rec = RunRecord(
            run_id=uuid.uuid4().hex,
            experiment="e",
            name=f"r{i}",
            status="RUNNING",
            start_time=datetime.fromtimestamp(now + i, timezone.utc),
            params={"p": param},
            tags={"t": tag},
        )
        backend.create_run(rec)
        backend.log_metrics(rec.run_id, [("m", metric, 0, now)])
        backend.finish(rec.run_id, "FINISHED", now + i + 1)
    return Tracker(str(root), backend)


RUNS = st.lists(
    st.tuples(
        st.sampled_from(VALUES),
        st.sampled_from(VALUES),
        st.floats(-1, 1, allow_nan=False),
    ),
    min_size=1,
    max_size=12,
)
FILTERS = st.sampled_from(
    [
        "params.p = 'a'",
        "tags.t = 'b' and metrics.m > 0",
        "params.p = 'a' and tags.t = 'c'",
        "metrics.m <= 0.5 and params.p = 'b'",
        "params.p = 'c' or metrics.m > 0.25",
    ]
)


@settings(max_examples=20, deadline=None)
@given(runs=RUNS, filter_=FILTERS)
def test_a_database_without_the_indexes_answers_the_same(
    tmp_path_factory: object, runs: list[tuple[str, str, float]], filter_: str
) -> None:
    """A workspace created before the (key, value) indexes returns the same runs, in the
    same order, as one that has them (the indexes change speed, never answers)."""
    root = tmp_path_factory.mktemp("ws")  # type: ignore[attr-defined]
    tracker = _fill(root, runs)
    with_indexes = tracker.search_runs("e", filter=filter_)
    tracker.backend.close()
    with sqlite3.connect(root / "tracking.sqlite") as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"params_key_value", "tags_key_value"} <= names
        conn.execute("DROP INDEX params_key_value")
        conn.execute("DROP INDEX tags_key_value")
    without = Tracker(str(root), SQLiteBackend(root / "tracking.sqlite")).search_runs(
        "e", filter=filter_
    )
    pd.testing.assert_frame_equal(with_indexes, without)
    expected = {f"r{i}" for i, (p, t, m) in enumerate(runs) if _matches(filter_, p, t, m)}
    assert set(without["name"]) == expected


def _matches(filter_: str, p: str, t: str, m: float) -> bool:
    return {
        "params.p = 'a'": p == "a",
        "tags.t = 'b' and metrics.m > 0": t == "b" and m > 0,
        "params.p = 'a' and tags.t = 'c'": p == "a" and t == "c",
        "metrics.m <= 0.5 and params.p = 'b'": m <= 0.5 and p == "b",
        "params.p = 'c' or metrics.m > 0.25": p == "c" or m > 0.25,
    }[filter_]
