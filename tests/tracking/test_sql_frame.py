"""A SQLite search builds its frame from plain SQL rows exactly as from records."""

from __future__ import annotations

import math
import os
import uuid
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from run_specs import write_runs

from mlopskit.errors import IntegrityError, NotFoundError
from mlopskit.tracking import RunRecord, SQLiteBackend, Tracker
from mlopskit.tracking._search import _search_columns, _search_records, _text, select_runs

TEXTS = ["", "a", "B", "é", "10", "9.5", "1e3", "a'b"]
NUMBERS = [-math.inf, -1.5, 0.0, 0.5, 1.0, 1e300, math.inf]
PAUSES = ["2.5", "abc", "-1", "1e12", "nan"]
#: start times with bits below the microsecond a datetime keeps
STARTS = [1.7e9 + 0.1234567, 1.7e9 + 10.9999996, 1.7e9 + 5.5, 0.3333333]

RUN = st.fixed_dictionaries(
    {
        "experiment": st.sampled_from(["a", "b"]),
        "name": st.sampled_from(["", "r", "é"]),
        "user": st.sampled_from(["", "u"]),
        "start": st.sampled_from(STARTS),
        "length": st.one_of(st.none(), st.sampled_from([0.0, 1.0000003, 3600.5])),
        "status": st.sampled_from(["FINISHED", "FAILED", "KILLED"]),
        "p": st.one_of(st.none(), st.sampled_from(TEXTS)),
        "q": st.one_of(st.none(), st.sampled_from(TEXTS)),
        "t": st.one_of(st.none(), st.sampled_from(TEXTS)),
        "paused": st.one_of(st.none(), st.sampled_from(PAUSES)),
        "m": st.one_of(st.none(), st.just(math.nan), st.sampled_from(NUMBERS)),
        "n": st.one_of(st.none(), st.sampled_from(NUMBERS)),
        "deleted": st.booleans(),
        "parent": st.booleans(),
    }
)
FILTERS = st.sampled_from(
    [
        None,
        "metrics.m > 0.5 and params.p = 'a'",
        "metrics.m != 0.5",
        "metrics.m >= -1e999 or tags.t = 'B'",
        "params.p < 'b' and params.q IN ('a', '10')",
        "params.p > 9 and metrics.n is null",
        "params.q like '%a%' or not metrics.m < 1",
        "tags.t is not null and tags.mlopskit.paused != 'abc'",
        "duration > 1 and status != 'FAILED'",
        "end_time is null or start_time < 1e9",
        "user = 'u' and host is not null and name != ''",
        "parent_id is not null",
        "experiment = 'b' and run_id like '%'",
        "metrics.nosuch > 1",
    ]
)
ORDERS = st.sampled_from(
    [None, "metrics.m DESC", ["params.p", "metrics.n"], "duration", "start_time", "user"]
)


def _fill(root: Path, runs: list[dict[str, Any]]) -> Tracker:
    """A SQLite workspace holding ``runs`` (RUNNING where ``length`` is None)."""
    tracker = Tracker(str(root), SQLiteBackend(root / "tracking.sqlite"))
    write_runs(tracker, runs)
    return tracker


def _answer(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except NotFoundError as exc:
        return ("NotFoundError", str(exc))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    runs=st.lists(RUN, max_size=6),
    experiment=st.sampled_from([None, "a", ["a", "b"]]),
    filter=FILTERS,
    order_by=ORDERS,
    limit=st.sampled_from([None, 0, 2]),
    status=st.sampled_from([None, "FINISHED", ["RUNNING", "KILLED"]]),
    run_view=st.sampled_from(["active", "active", "all", "deleted"]),
    deletes=st.booleans(),
)
def test_frame_from_rows_equals_frame_from_records(
    tmp_path_factory: pytest.TempPathFactory,
    runs: list[dict[str, Any]],
    experiment: Any,
    filter: str | None,
    order_by: Any,
    limit: int | None,
    status: Any,
    run_view: str,
    deletes: bool,
) -> None:
    """Whatever the runs (NaN, missing keys, deleted, RUNNING, sub-microsecond times)
    and the search, the frame a user gets has the same rows, columns, values and dtypes
    as the record path's, and a typo in a filter is the same error."""
    if not deletes:
        runs = [{**r, "deleted": False} for r in runs]
    tracker = _fill(tmp_path_factory.mktemp("frame"), runs)
    args = (tracker, experiment, filter, order_by, limit, status, run_view)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        old = _answer(_search_records, *args)
        new = _answer(_search_columns, *args)
        public = _answer(tracker.search_runs, experiment, **_kw(args))
    if isinstance(old, tuple):
        assert new == old or new is None
        assert public == old
        return
    pd.testing.assert_frame_equal(public, old)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        records = select_runs(tracker, experiment, **_kw(args))
    before = _frame_as_before(records)
    if run_view != "active":
        before.insert(10, "lifecycle", [r.lifecycle for r in records])
    pd.testing.assert_frame_equal(old, before)
    if new is None:  # the rows path declines only for deleted runs, no runs or a view
        assert (
            any(r["deleted"] for r in runs)
            or run_view != "active"
            or not any(experiment is None or r["experiment"] in experiment for r in runs)
            or filter is not None
        )
        return
    pd.testing.assert_frame_equal(new, old)


def _kw(args: tuple[Any, ...]) -> dict[str, Any]:
    _, _, filter, order_by, limit, status, run_view = args
    return {
        "filter": filter,
        "order_by": order_by,
        "limit": limit,
        "status": status,
        "run_view": run_view,
    }


def test_running_run_of_a_dead_writer_reads_killed(tmp_path: Path) -> None:
    """A RUNNING run whose writer is gone is KILLED in the rows path's frame too."""
    tracker = _fill(tmp_path, [])
    backend = tracker.backend
    assert isinstance(backend, SQLiteBackend)
    run_id = uuid.uuid4().hex
    backend.create_run(
        RunRecord(run_id=run_id, experiment="e", name="r", status="RUNNING", start_time=1.0)
    )
    conn = backend._connect()
    conn.execute("UPDATE writers SET heartbeat = 0, pid = ?", (2**22 + os.getpid(),))
    frame = _search_columns(tracker, "e", "status = 'KILLED'", None, None, None, "active")
    assert frame is not None and list(frame["status"]) == ["KILLED"]


def test_damaged_row_takes_the_record_path(tmp_path: Path) -> None:
    """A planted row with a wrong-typed value is not passed through the rows path:
    the record path answers (and a damaged metric block still names its run)."""
    tracker = _fill(tmp_path, [dict(_plain(), p="a")])
    backend = tracker.backend
    assert isinstance(backend, SQLiteBackend)
    conn = backend._connect()
    conn.execute("UPDATE params SET value = x'ff'")
    assert backend.run_values(["a"]) is None
    conn.execute("UPDATE params SET value = 'a'")
    conn.execute("UPDATE latest_metrics SET value = 'text'")
    assert backend.run_values(["a"]) is None
    conn.execute("UPDATE runs SET start_time = 'yesterday'")
    assert backend.run_values(["a"]) is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        frame = tracker.search_runs("a")
    assert frame.empty and len(backend.damaged) == 1
    with pytest.raises(IntegrityError, match=next(iter(backend.damaged))):
        tracker.record(next(iter(backend.damaged)))


def _plain() -> dict[str, Any]:
    return {
        "experiment": "a",
        "name": "r",
        "user": "u",
        "start": 1.7e9,
        "length": 1.0,
        "status": "FINISHED",
        "p": None,
        "q": None,
        "t": None,
        "paused": None,
        "m": 0.5,
        "n": None,
        "deleted": False,
        "parent": False,
    }


def _frame_as_before(records: list[RunRecord]) -> pd.DataFrame:
    """The frame as ``to_frame`` built it from records before the rows path (verbatim)."""
    import numpy as np

    n = len(records)
    nan = math.nan
    starts = np.fromiter((r.start_time.timestamp() for r in records), np.float64, n)
    ends = np.fromiter(
        (nan if r.end_time is None else r.end_time.timestamp() for r in records), np.float64, n
    )
    durations = (r.duration for r in records)
    columns: dict[str, Any] = {
        "run_id": _text([r.run_id for r in records]),
        "experiment": _text([r.experiment for r in records]),
        "name": _text([r.name for r in records]),
        "status": _text([r.status for r in records]),
        "start_time": pd.to_datetime(starts, unit="s", utc=True),
        "end_time": pd.to_datetime(ends, unit="s", utc=True),
        "duration": np.fromiter((nan if d is None else d for d in durations), np.float64, n),
        "parent_id": [r.parent_id for r in records],
        "user": _text([r.user for r in records]),
        "host": _text([r.host for r in records]),
    }
    for attr in ("params", "metrics", "tags"):
        maps = [getattr(r, attr) for r in records]
        names = sorted({k for m in maps for k in m})
        if attr == "metrics":
            for name in names:
                values = [m.get(name, nan) for m in maps]
                exact = all(type(v) is float for v in values)
                columns[f"metrics.{name}"] = np.array(values, np.float64) if exact else values
        else:
            for name in names:
                columns[f"{attr}.{name}"] = _text([m.get(name) for m in maps])
    return pd.DataFrame(columns)


def test_more_runs_than_most_take_the_record_path(tmp_path: Path) -> None:
    """Past ``most`` runs, run_values declines (the record path then reads only the
    fields a filter needs); at or below it, it answers."""
    tracker = _fill(tmp_path, [_plain(), _plain(), _plain()])
    backend = tracker.backend
    assert isinstance(backend, SQLiteBackend)
    assert backend.run_values(["a"], most=2) is None
    got = backend.run_values(["a"], most=3)
    assert got is not None and len(got.rows) == 3


def _complete(i: int) -> dict[str, Any]:
    """A finished run with every param, tag and metric set (no missing value anywhere)."""
    return {
        **_plain(),
        "name": f"r{i}",
        "start": 1.7e9 + i + 0.1234567,
        "p": TEXTS[i % len(TEXTS)],
        "q": "x",
        "t": "é",
        "m": NUMBERS[i % len(NUMBERS)],
        "n": 0.25,
    }


def test_complete_runs_frame_equals_the_constructors_frame(tmp_path: Path) -> None:
    """Runs with no missing value (every column typed: the frame is assembled from its
    arrays as they are) give the frame the DataFrame constructor builds, column for
    column, dtype for dtype, filtered and not."""
    from mlopskit.tracking._search import _TEXT

    tracker = _fill(tmp_path, [_complete(i) for i in range(7)])
    for filter in (None, "metrics.m > 0 and params.q = 'x'", "params.p IN ('a', 'B')"):
        args = (tracker, "a", filter, None, None, None, "active")
        new = _search_columns(*args)
        assert new is not None and len(new) > 0, filter
        assert _TEXT["assemble"] is not None  # this pandas builds frames from the arrays
        pd.testing.assert_frame_equal(new, _search_records(*args))
        before = _frame_as_before(select_runs(tracker, "a", filter=filter))
        pd.testing.assert_frame_equal(new, before)
        new.columns.name = "renamed"  # one frame's labels are its own
        assert _search_columns(*args).columns.name is None


SECONDS = st.one_of(
    st.floats(min_value=0, max_value=4_102_444_800),  # stored times: 1970 to 2100
    st.integers(0, 4_102_444_800).map(float),  # whole seconds
    st.just(math.nan),  # a run not ended
    st.floats(allow_nan=False),  # damaged: out of range, inf, negative
)


@settings(max_examples=300, deadline=None)
@given(seconds=st.lists(SECONDS, max_size=8), pad=st.sampled_from([[], [0.5], [math.nan]]))
def test_time_columns_equal_pandas_to_datetime(seconds: list[float], pad: list[float]) -> None:
    """A search's start/end times are exactly what ``pd.to_datetime(unit="s",
    utc=True)`` makes of the stored seconds: same instants to the nanosecond, NaT where
    a run has no end, same dtype, and the same error for a value out of range."""
    import numpy as np

    from mlopskit.tracking._search import utc_times

    values = np.array(seconds + pad, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            want = pd.to_datetime(values, unit="s", utc=True)
        except Exception as exc:  # the fast path must raise the same
            with pytest.raises(type(exc)):
                utc_times(values)
            return
        got = utc_times(values)
    assert got.dtype == want.dtype
    assert got.asi8.tolist() == want.asi8.tolist()
    pd.testing.assert_index_equal(pd.DatetimeIndex(got), want)


def test_sql_answers_a_fully_translated_filter(tmp_path: Path) -> None:
    """A filter SQL translates conjunct by conjunct is answered by SQL alone (its rows
    are the matches), one with a conjunct left to Python is not; both give the record
    path's answer."""
    from mlopskit.tracking._query import parse_filter

    tracker = _fill(tmp_path, [_complete(i) for i in range(9)])
    backend = tracker.backend
    assert isinstance(backend, SQLiteBackend)
    for filter, whole in (
        ("metrics.m >= 0 and params.p != 'a'", True),
        ("params.p IN ('a', 'é') and tags.t = 'é'", True),
        ("metrics.m >= 0 and params.p like '%a%'", False),
        ("metrics.m > 0 or params.p = 'a'", False),
    ):
        values = backend.run_values(["a"], node=parse_filter(filter))
        assert values is not None and values.matched is whole, filter
        args = (tracker, "a", filter, None, None, None, "active")
        pd.testing.assert_frame_equal(_search_columns(*args), _search_records(*args))


def test_a_filter_parsed_again_is_the_same_tree_and_a_bad_one_fails_each_time() -> None:
    """Parsing a filter twice gives equal trees (the second from the parse cache), and a
    syntax error is raised on every attempt, never remembered as a tree."""
    from mlopskit.errors import FilterSyntaxError
    from mlopskit.tracking._query import parse_filter

    text = "metrics.m > 0.5 and params.p = 'a'"
    assert parse_filter(text) == parse_filter(text) is not None
    for _ in range(2):
        with pytest.raises(FilterSyntaxError):
            parse_filter("metrics.m >")


#: Stored times: any in the range a record accepts, and ones half a microsecond off a
#: whole one (where the rounding goes to even) or at the edge of float64's exact range.
STORED = st.one_of(
    st.floats(min_value=-62135596800.0, max_value=253402300799.0),
    st.builds(
        lambda us, half: us / 1e6 + half,
        st.integers(-(2**53), 2**53),
        st.sampled_from([5e-7, -5e-7, 0.0]),
    ).filter(lambda t: -62135596800.0 <= t <= 253402300799.0),
    st.sampled_from([0.9999995, -0.9999995, 4503599627.370496, -4503599627.370497, 0.0]),
)


@settings(max_examples=500, deadline=None)
@given(
    runs=st.lists(
        st.tuples(STORED, st.none() | STORED, st.none() | st.sampled_from([*PAUSES, "0.25"])),
        min_size=1,
        max_size=6,
    )
)
def test_run_times_are_the_records_times(runs: list[tuple[float, float | None, Any]]) -> None:
    """The times and durations a search computes as whole columns are, bit for bit, the
    seconds a record's datetimes give back and its ``duration`` (NaN where a run has no
    end), whatever the rounding to the microsecond and the pause."""
    import numpy as np

    from mlopskit.tracking._model import stored_record
    from mlopskit.tracking._search import _run_times

    starts = tuple(r[0] for r in runs)
    ends = tuple(r[1] for r in runs)
    paused = [r[2] for r in runs]
    pauses = None if all(p is None for p in paused) else paused
    want = []
    for start, end, pause in runs:
        try:
            rec = stored_record(
                run_id="r",
                experiment="e",
                name="n",
                status="FINISHED",
                start_time=start,
                end_time=end,
                parent_id=None,
                user="",
                host="",
                params={},
                tags={} if pause is None else {"mlopskit.paused": pause},
            )
        except (ValueError, OverflowError) as exc:  # beyond year 9999 once rounded
            with pytest.raises(type(exc)):
                _run_times(starts, ends, pauses)
            return
        end_s = math.nan if rec.end_time is None else rec.end_time.timestamp()
        duration = math.nan if rec.duration is None else rec.duration
        want.append((rec.start_time.timestamp(), end_s, duration))
    got = _run_times(starts, ends, pauses)
    for column, expected in zip(got, zip(*want)):
        assert column.dtype == np.float64
        np.testing.assert_array_equal(column, np.array(expected, np.float64), strict=True)
