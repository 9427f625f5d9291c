"""An object-store search over a settled run index builds its frame from the index's
columns exactly as from the runs' segments (tests/tracking/test_sql_frame.py holds the
SQLite twin of this)."""

from __future__ import annotations

import math
import time
import uuid
import warnings
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from run_specs import write_runs

from mlopskit.errors import NotFoundError
from mlopskit.tracking import ObjectStoreBackend, Tracker
from mlopskit.tracking._search import _search_columns

MARGIN = 30.0  # seconds a search lists before the watermark (300 by default)
LAG = 120.0  # the writers' clock lags by more: their files are settled in the index
TEXTS = ["", "a", "B", "é", "10", "9.5", "a'b"]
NUMBERS = [-math.inf, -1.5, 0.0, 0.5, 1e300, math.inf, math.nan]
#: start times with bits below the microsecond a datetime keeps
STARTS = [1.7e9 + 0.1234567, 1.7e9 + 10.9999996, 1.7e9 + 5.5]

RUN = st.fixed_dictionaries(
    {
        "experiment": st.sampled_from(["a", "b"]),
        "name": st.sampled_from(["", "r", "é"]),
        "start": st.sampled_from(STARTS),
        # RUNNING (None) and deleted runs are rarer: a search of only finished, active
        # runs is the one the index's columns answer
        "length": st.sampled_from([None, 0.0, 1.0000003, 3600.5, 2.0, 60.0]),
        "status": st.sampled_from(["FINISHED", "FAILED", "KILLED"]),
        "p": st.one_of(st.none(), st.sampled_from(TEXTS)),
        "q": st.one_of(st.none(), st.sampled_from(TEXTS)),
        "t": st.one_of(st.none(), st.sampled_from(TEXTS)),
        "paused": st.one_of(st.none(), st.sampled_from(["2.5", "abc"])),
        "m": st.one_of(st.none(), st.sampled_from(NUMBERS)),
        "n": st.one_of(st.none(), st.sampled_from(NUMBERS)),
        "deleted": st.sampled_from([False, False, False, False, True]),
        "parent": st.booleans(),
    }
)
SEARCHES = st.fixed_dictionaries(
    {
        "experiment": st.sampled_from([None, "a", ["a", "b"]]),
        "filter": st.sampled_from(
            [
                None,
                "metrics.m > 0.5 and params.p = 'a'",
                "params.p < 'b' or metrics.n is null",
                "tags.t is not null and tags.mlopskit.paused != 'abc'",
                "duration > 1 and status != 'FAILED'",
                "end_time is null or start_time < 1e9",
                "parent_id is not null and name != ''",
                "metrics.nosuch > 1",
            ]
        ),
        "order_by": st.sampled_from([None, "metrics.m DESC", ["params.p", "metrics.n"]]),
        "limit": st.sampled_from([None, 0, 2]),
        "status": st.sampled_from([None, "FINISHED", ["RUNNING", "KILLED"]]),
    }
)


def _backend(url: str, lag: float = 0.0) -> ObjectStoreBackend:
    backend = ObjectStoreBackend(url, compact_after=None)
    backend.margin = MARGIN
    if lag:
        backend.clock = lambda: time.time() - lag
    return backend


def _fill(url: str, runs: list[dict[str, Any]]) -> None:
    """``runs`` written by writers whose clock lags (RUNNING where ``length`` is None)."""
    write_runs(Tracker(url, _backend(url, LAG)), runs)


def _search(url: str, search: dict[str, Any]) -> Any:
    """A new process's search (a new backend: nothing cached), or its NotFoundError."""
    tracker = Tracker(url, _backend(url))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return tracker.search_runs(**search)
    except NotFoundError as exc:
        return ("NotFoundError", str(exc))


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(runs=st.lists(RUN, min_size=1, max_size=6), search=SEARCHES)
def test_frame_from_a_settled_index_equals_frame_from_the_segments(
    runs: list[dict[str, Any]], search: dict[str, Any]
) -> None:
    """Whatever the runs (NaN and infinite metrics, missing keys, RUNNING, deleted,
    paused, sub-microsecond times, two experiments) and the search, the frame read from
    a settled index has the rows, columns, values and dtypes of the frame read from the
    runs' segments before the index existed, and a typo is the same error."""
    url = f"memory://index-frame-{uuid.uuid4().hex[:8]}"
    _fill(url, runs)
    from_segments = _search(url, search)
    _backend(url).compact()
    from_index = _search(url, search)
    if isinstance(from_segments, tuple):
        assert from_index == from_segments
        return
    pd.testing.assert_frame_equal(from_index, from_segments)


def _settled(url: str, runs: int, *, live: bool = False) -> Tracker:
    """``runs`` finished runs (and a RUNNING one named ``live``) in a settled index."""
    specs = [_finished(i) for i in range(runs)]
    if live:
        specs.append({**_finished(runs), "name": "live", "length": None})
    _fill(url, specs)
    _backend(url).compact()
    return Tracker(url, _backend(url))


def _finished(i: int) -> dict[str, Any]:
    return {
        "experiment": "a",
        "name": f"r{i}",
        "start": 1.7e9 + i,
        "length": 1.0,
        "status": "FINISHED",
        "p": str(i),
        "q": None,
        "t": None,
        "paused": None,
        "m": i / 10,
        "n": None,
        "deleted": False,
        "parent": False,
    }


def test_a_settled_index_answers_from_its_columns() -> None:
    """Finished runs all in a settled index: the search reads the index's columns (no
    record per run), newest first."""
    tracker = _settled(f"memory://index-columns-{uuid.uuid4().hex[:8]}", 5)
    frame = _search_columns(tracker, "a", None, None, None, None, "active")
    assert isinstance(frame, pd.DataFrame)
    assert frame["name"].tolist() == ["r4", "r3", "r2", "r1", "r0"]
    assert frame["metrics.m"].tolist() == [0.4, 0.3, 0.2, 0.1, 0.0]


@pytest.mark.parametrize("change", ["running", "deleted", "new file"])
def test_runs_the_index_does_not_hold_whole_are_read_as_records(change: str) -> None:
    """A RUNNING run, a deleted run or a file written after the index: the search lists
    once and answers from the records (the index alone would miss the change)."""
    url = f"memory://index-records-{uuid.uuid4().hex[:8]}"
    tracker = _settled(url, 3, live=change == "running")
    writer = Tracker(url, _backend(url))
    run_id = tracker.search_runs("a")["run_id"].iloc[-1]
    if change == "deleted":
        writer.delete_run(run_id)
    elif change == "new file":
        writer.backend.set_tags(run_id, {"late": "yes"})
    reader = Tracker(url, _backend(url))
    listed = _search_columns(reader, "a", None, None, None, None, "active")
    assert isinstance(listed, list)  # the records, listed once
    frame = reader.search_runs("a")
    if change == "running":  # its status is its writer's to say (alive or not)
        assert "live" in frame["name"].tolist()
    elif change == "deleted":
        assert run_id not in frame["run_id"].tolist()
    else:
        assert frame.set_index("run_id").loc[run_id, "tags.late"] == "yes"
