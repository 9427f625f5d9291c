"""Queries over runs: ``search_runs`` → DataFrame, ``compare_runs``."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from itertools import chain
from typing import TYPE_CHECKING, Any, TypeVar

from mlopskit._suggest import did_you_mean, not_found
from mlopskit.errors import InvalidInputError, NotFoundError
from mlopskit.tracking._deletion import check_view
from mlopskit.tracking._model import PAUSED_TAG, RunRecord
from mlopskit.tracking._query import (
    ATTRIBUTES,
    Compare,
    Field,
    Node,
    OrderKey,
    compile_filter,
    fields_of,
    parse_filter,
    parse_order_by,
)
from mlopskit.tracking._run import Run
from mlopskit.tracking._status import effective_status
from mlopskit.tracking._validate import check_status
from mlopskit.tracking._values import RunValues

if TYPE_CHECKING:
    import pandas as pd

    from mlopskit.tracking._tracker import Tracker

__all__ = ["RUN_INFO_COLUMNS", "compare_runs", "get_value", "search_runs", "select_runs"]

T = TypeVar("T")

#: The columns ``search_runs`` starts each row with, in order (then params, metrics, tags).
#: The columns of a run's summary: the attributes a filter can name, in one definition.
RUN_INFO_COLUMNS = ATTRIBUTES


def get_value(field: Field, rec: RunRecord) -> Any:
    """The value of ``field`` in ``rec``, or None when the run does not have it."""
    kind = field.kind
    if kind == "metrics":
        return rec.metrics.get(field.name)
    if kind == "params":
        return rec.params.get(field.name)
    if kind == "tags":
        return rec.tags.get(field.name)
    if field.name == "duration":
        return rec.duration
    value = getattr(rec, field.name)
    if isinstance(value, datetime):  # start_time, end_time: seconds, as the filter compares
        return value.timestamp()
    return None if value == "" and field.name in ("user", "host") else value


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (2, 0)
    if isinstance(value, (int, float)):
        return (0, value)
    try:
        return (0, float(value))
    except (TypeError, ValueError):
        return (1, str(value))


def _newest_first(rec: RunRecord) -> tuple[float, str]:
    return (-rec.start_time.timestamp(), rec.run_id)


def _order(
    items: list[T],
    keys: list[OrderKey],
    get: Callable[[Field, T], Any],
    first: Callable[[T], Any] | None,
) -> list[T]:
    """``items`` in ``keys``' order; ``first`` is the default order (newest first),
    None when ``items`` are in it already."""
    out = list(items) if first is None else sorted(items, key=first)
    for key in reversed(keys):
        values = [get(key.field, r) for r in out]
        present = [(r, v) for r, v in zip(out, values) if v is not None and v == v]
        nan = [r for r, v in zip(out, values) if v is not None and v != v]
        missing = [r for r, v in zip(out, values) if v is None]
        present.sort(key=lambda rv: _sort_key(rv[1]), reverse=key.descending)
        out = (
            [r for r, _ in present] + nan + missing
        )  # as MLflow: NaN after every number, missing last
    return out


def _statuses(status: str | Iterable[str] | None) -> set[str] | None:
    if status is None:
        return None
    items = [status] if isinstance(status, str) else list(status)
    return {check_status(s) for s in items}


def _experiments(experiment: str | Iterable[str] | None) -> list[str] | None:
    if experiment is None:
        return None
    return [experiment] if isinstance(experiment, str) else list(experiment)


def _plan(
    experiment: str | Iterable[str] | None,
    filter: str | None,
    order_by: str | Iterable[str] | None,
    limit: int | None,
    status: str | Iterable[str] | None,
    run_view: str,
) -> tuple[str, Node | None, list[OrderKey], set[str] | None, list[str] | None]:
    """A search's arguments checked and parsed: view, filter, order, statuses, experiments."""
    view = check_view(run_view)
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise InvalidInputError(f"limit must be a non-negative integer, found {limit!r}")
    node = parse_filter(filter) if filter else None
    keys = parse_order_by(
        order_by if order_by is None or isinstance(order_by, str) else list(order_by)
    )
    return view, node, keys, _statuses(status), _experiments(experiment)


def select_runs(
    tracker: Tracker,
    experiment: str | Iterable[str] | None = None,
    *,
    filter: str | None = None,
    order_by: str | Iterable[str] | None = None,
    limit: int | None = None,
    status: str | Iterable[str] | None = None,
    run_view: str = "active",
    listed: list[RunRecord] | None = None,
) -> list[RunRecord]:
    """The matching records, ordered and limited (the engine of ``search_runs``).

    ``listed``: the whole records of ``experiment`` already listed (not listed again).
    """
    view, node, keys, statuses, exps = _plan(experiment, filter, order_by, limit, status, run_view)
    wanted = {f.key for f in fields_of(node) | {k.field for k in keys} if f.kind != "attributes"}
    backend = tracker.backend
    # Load only the filtered fields, then re-read the kept runs whole: a saving where
    # reading fewer fields is cheaper (SQLite), a second listing where it is not.
    narrow = (node is not None or limit is not None or statuses is not None) and not getattr(
        backend, "whole_runs_are_cheap", False
    )
    narrowing = getattr(backend, "candidates", None)  # SQL pre-filter (SQLite)
    ids = narrowing(exps, node) if node is not None and narrowing is not None else None
    if ids is not None and len(ids) <= 1000:
        narrow = False  # few SQL candidates: read whole once, not narrowed then re-read
    if listed is not None:
        records, narrow = listed, False
    elif ids is not None:
        records = backend.list_runs(run_ids=ids, keys=wanted if narrow else None)
    else:
        records = backend.list_runs(exps, keys=wanted if narrow else None)
    now = time.time()
    for rec in records:
        if rec.status == "RUNNING":  # only a RUNNING run can read otherwise (a dead writer)
            rec.status = effective_status(rec, now=now)
    if view != "all":  # deleted runs are hidden unless asked for
        records = [r for r in records if r.lifecycle == view]
    if statuses is not None:
        records = [r for r in records if r.status in statuses]
    if node is not None:
        test = compile_filter(node, get_value)
        records = [r for r in records if test(r)]
    records = _order(records, keys, get_value, _newest_first)
    _check_names(tracker, exps, node, keys, records, get_value)
    if limit is not None:
        records = records[:limit]
    if narrow and records:
        full = {r.run_id: r for r in backend.list_runs(run_ids=[r.run_id for r in records])}
        for rec in records:
            whole = full.get(rec.run_id)
            if whole is not None:
                rec.params, rec.metrics, rec.tags = whole.params, whole.metrics, whole.tags
    return records


_EXPERIMENT = Field("attributes", "experiment")
_KIND_WORD = {"metrics": "metric", "params": "param", "tags": "tag"}


def _check_names(
    tracker: Tracker,
    exps: list[str] | None,
    node: Any,
    keys: list[OrderKey],
    records: list[T],
    get: Callable[[Field, T], Any],
) -> None:
    """NotFoundError for an experiment, or a key in the filter or ``order_by``, that no run
    in scope has, with the closest names: a typo is an error, not an empty answer.

    Costs nothing on the common path: the experiments are listed only when no run
    matched, the scope's keys only when a key is missing from every run returned. Tags
    the library sets (``mlopskit.*``, e.g. ``@track``'s ``.runs()`` filter) are not typos.
    """

    def typed(field: Field) -> bool:
        return field.kind != "attributes" and not (
            field.kind == "tags" and field.name.startswith("mlopskit.")
        )

    order = {k.field for k in keys if typed(k.field)}
    if exps and not {get(_EXPERIMENT, r) for r in records}.issuperset(exps):
        # an experiment no run came from
        known = tracker.experiments()
        for name in exps:
            if name not in known:
                raise not_found("experiment", name, known, noun="experiments")
    if records:
        suspects = {f for f in order if all(get(f, r) is None for r in records)}
    else:
        suspects = {f for f in fields_of(node) if typed(f)} | order
    if not suspects:
        return
    backend = tracker.backend
    narrowing = getattr(backend, "candidates", None)  # SQL (SQLite): a metric's presence
    if narrowing is not None:
        present_in_sql = {
            f
            for f in suspects
            if f.kind == "metrics" and narrowing(exps, Compare(f, ">=", -sys.float_info.max))
        }
        suspects -= present_in_sql  # a finite value found; NaN/-inf only ones: checked below
        if not suspects:
            return
    scope = backend.list_runs(exps, keys={f.key for f in suspects})
    missing = [f for f in suspects if all(get_value(f, r) is None for r in scope)]
    if not missing:
        return
    field = min(missing, key=lambda f: (f.kind, f.name))
    word = _KIND_WORD[field.kind]
    where = "no run" if exps is None else f"no run of {', '.join(map(repr, exps))}"
    present = {k for r in backend.list_runs(exps) for k in getattr(r, field.kind)}
    hint = did_you_mean(field.name, present, noun=f"{word}s")
    raise NotFoundError(f"{where} has a {word} named {field.name!r}{hint}", name=field.name)


_TEXT: dict[str, Any] = {}
_TIMES: list[Any] = []  # [what utc_times converts with, or None], learnt once
_STR, _FLOAT = {str}, {float}


def _text_probe() -> None:
    """Learn once how this pandas builds a text column (see :func:`_text`), a column of
    only None, and whether a frame can be assembled from such arrays as they are."""
    import numpy as np
    import pandas

    pd: Any = pandas  # the stubs do not know ArrowStringArray's dtype argument
    dtype = pd.Series(["x"]).dtype
    _TEXT.update(dtype=dtype, text=isinstance(dtype, pd.StringDtype), arrow=None, none=None)
    _TEXT["assemble"] = None
    if _TEXT["text"]:
        sample = pd.array(["x"], dtype=dtype)
        if type(sample) is pd.arrays.ArrowStringArray:
            import pyarrow as pa

            try:  # wrapping a pyarrow array of the type pandas uses: half pd.array's cost
                wrapped = pd.arrays.ArrowStringArray(
                    pa.array(["x"], sample._pa_array.type), dtype=dtype
                )
            except TypeError:  # a pandas whose constructor takes no dtype
                wrapped = None
            if wrapped is not None and wrapped.dtype == dtype:
                _TEXT["arrow"] = (pd.arrays.ArrowStringArray, sample._pa_array.type, pa.array)
    # pandas 2 turns float seconds into nanoseconds one value at a time, whatever the
    # others are; pandas 3 picks one resolution per call from all the values (seconds
    # when every one is whole), so there each time column is converted by itself
    _TEXT["one_conversion"] = int(pd.__version__.split(".")[0]) < 3
    nones = pd.Series([None, None], dtype=None)
    if nones.dtype == object and nones.tolist() == [None, None]:
        _TEXT["none"] = lambda n: np.full(n, None, dtype=object)
    _TEXT["assemble"] = _assembler()


def _assembler() -> Callable[..., Any] | None:
    """``DataFrame._from_arrays`` without its checks (the arrays are final), when this
    pandas has it and it builds, from the arrays a search makes, the frame the
    constructor builds; None otherwise (the constructor then builds every frame)."""
    import numpy as np
    import pandas as pd

    from_arrays = getattr(pd.DataFrame, "_from_arrays", None)
    if from_arrays is None:  # pragma: no cover - every pandas this supports has it
        return None

    def make(arrays: list[Any], columns: Any, index: Any) -> Any:
        return from_arrays(arrays, columns, index, verify_integrity=False)

    times = utc_times(np.array([1.5, math.nan, 2.25, 3.0]))
    sample: dict[str, Any] = {
        "t": _text(["a", "é"]),
        "s": times[:2],
        "e": times[2:],
        "f": np.array([0.5, math.nan]),
        "p": np.full(2, None, dtype=object) if _TEXT["none"] else _text(["x", "y"]),
    }
    try:
        fast = make(list(sample.values()), pd.Index(list(sample)), pd.RangeIndex(2))
    except (TypeError, ValueError, AttributeError):  # pragma: no cover - a changed pandas
        return None
    slow = pd.DataFrame(sample, copy=False)
    same = (
        fast.dtypes.equals(slow.dtypes)
        and fast.columns.equals(slow.columns)
        and fast.columns.dtype == slow.columns.dtype
        and type(fast.index) is type(slow.index)
        and fast.index.equals(slow.index)
        and fast.equals(slow)
    )
    return make if same else None


def _times_probe() -> Any:
    """``(cast, dtype, make)`` when this pandas converts fractional float seconds as
    :func:`utc_times` assumes (checked on a sample), None otherwise."""
    import importlib

    import numpy as np
    import pandas

    pd: Any = pandas  # the stubs know neither of the two names below
    try:
        conversion: Any = importlib.import_module("pandas._libs.tslibs.conversion")
        cast = conversion.cast_from_unit_vectorized
        make = pd.arrays.DatetimeArray._simple_new
    except (ImportError, AttributeError):  # pragma: no cover - a changed pandas
        return None
    sample = np.array([1.5, math.nan, 1_764_000_000.123456, -0.25, 2.0**32 + 0.5])
    slow = pd.to_datetime(sample, unit="s", utc=True)
    try:
        with np.errstate(over="raise"):
            fast = make(cast(sample, unit="s").view("M8[ns]"), dtype=slow.dtype)
    except Exception:  # pragma: no cover - a changed pandas
        return None
    same = fast.dtype == slow.dtype and pd.DatetimeIndex(fast).equals(slow)
    return (cast, slow.dtype, make) if same else None


def utc_times(seconds: Any) -> Any:
    """``pd.to_datetime(seconds, unit="s", utc=True)`` for a float64 array, its values
    and dtype exactly, without the call's fixed cost (the time columns of a search).

    When some value has a fraction of a second, pandas converts the array with
    ``cast_from_unit_vectorized`` into nanoseconds and localizes the result to UTC;
    this does the same conversion (under the same overflow check) and wraps the
    nanoseconds with the dtype pandas gave a sample. Any other array (every value whole
    or NaN: pandas 3 then keeps whole seconds; a value out of range) goes to
    ``pd.to_datetime`` itself, so its answer and its errors are pandas'.
    """
    import numpy as np

    if not _TIMES:
        _TIMES.append(_times_probe())
    fast = _TIMES[0]
    if fast is not None and seconds.dtype == np.float64:
        with np.errstate(invalid="ignore"):
            whole = seconds == seconds.astype(np.int64)
        if not (whole | np.isnan(seconds)).all():  # pandas' own test for a whole array
            cast, dtype, make = fast
            try:
                with np.errstate(over="raise"):
                    nanoseconds = cast(seconds, unit="s")
            except Exception:  # out of range: pandas raises its own error below
                pass
            else:
                return make(nanoseconds.view("M8[ns]"), dtype=dtype)
    import pandas as pd

    return pd.to_datetime(seconds, unit="s", utc=True)


def _text(values: list[Any]) -> Any:
    """A column of ``values`` as pandas would infer it, built directly when all are text.

    A column of ``str`` values gets the dtype pandas infers for text (``str``, Arrow
    backed, on pandas 3; an ``object`` array before), made in one call instead of
    inferred by the DataFrame constructor (half the cost of a search's frame); any other
    column (a missing value, a number in a damaged record) is left to pandas' inference
    as before (the list is returned as it is).
    """
    if not _TEXT:
        _text_probe()
    if not values or set(map(type, values)) != _STR:  # one pass in C, no generator
        return values
    if not _TEXT["text"]:  # text is object: the array pandas would make of the list
        import numpy as np

        return np.array(values, dtype=object)
    if _TEXT["arrow"] is not None:
        cls, type_, array = _TEXT["arrow"]
        return cls(array(values, type_), dtype=_TEXT["dtype"])
    import pandas as pd

    return pd.array(values, dtype=_TEXT["dtype"])


def _texts(columns: list[list[Any]]) -> list[Any]:
    """:func:`_text` of each of ``columns``; where pandas wraps a pyarrow array, the
    all-text columns are slices of one array of all their values (one conversion for
    the frame, not one per column)."""
    if not _TEXT:
        _text_probe()
    if _TEXT["arrow"] is None:
        return [_text(values) for values in columns]
    cls, type_, array = _TEXT["arrow"]
    dtype = _TEXT["dtype"]
    text = [bool(values) and set(map(type, values)) == _STR for values in columns]
    whole = array(list(chain.from_iterable(c for c, t in zip(columns, text) if t)), type_)
    out: list[Any] = []
    at = 0
    for values, is_text in zip(columns, text):
        if is_text:
            out.append(cls(whole.slice(at, len(values)), dtype=dtype))
            at += len(values)
        else:
            out.append(values)
    return out


def to_frame(records: list[RunRecord]) -> pd.DataFrame:
    """One row per run: info columns, then ``params.*``, ``metrics.*``, ``tags.*``."""
    import numpy as np

    nan = math.nan
    info = {
        name: [getattr(r, name) for r in records]
        for name in ("run_id", "experiment", "name", "status", "parent_id", "user", "host")
    }
    starts = np.array([r.start_time.timestamp() for r in records], np.float64)
    ends = np.array(
        [nan if r.end_time is None else r.end_time.timestamp() for r in records], np.float64
    )
    durations = np.array([nan if (d := r.duration) is None else d for r in records], np.float64)
    kinds: dict[str, dict[str, list[Any]]] = {}
    for attr in ("params", "metrics", "tags"):
        maps = [getattr(r, attr) for r in records]
        names = sorted({k for m in maps for k in m})
        missing = nan if attr == "metrics" else None
        kinds[attr] = {name: [m.get(name, missing) for m in maps] for name in names}
    return _frame(info, starts, ends, durations, kinds)


def _frame(
    info: dict[str, list[Any]],
    starts: Any,
    ends: Any,
    durations: Any,
    kinds: dict[str, dict[str, Any]],
) -> pd.DataFrame:
    """The frame of ``search_runs`` from its columns: ``info`` the text attributes,
    ``starts``, ``ends`` and ``durations`` float64 arrays (NaN: none), ``kinds`` each of
    params, metrics, tags as name → values in name order (None where a run has no such
    param or tag; a metric's a list, or a float64 array, with NaN where a run has none).

    Built column by column with the float columns (times, duration, metrics) as typed
    NumPy arrays and the text columns as text arrays (see :func:`_text`), so pandas
    infers a dtype only for the columns with missing values; when no column is left to
    infer, the frame is assembled from the arrays as they are (see :func:`_assemble`).
    """
    import numpy as np
    import pandas as pd

    if not _TEXT:
        _text_probe()
    n = len(starts)
    columns: dict[str, Any] = {}
    typed = True  # every column holds the array pandas would infer for it
    texts: list[str] = []  # the text columns, converted together at the end

    def text(key: str, values: list[Any]) -> None:
        columns[key] = values
        texts.append(key)

    for key in ("run_id", "experiment", "name", "status"):
        text(key, info[key])
    if _TEXT["one_conversion"]:  # both time columns in one call (its fixed cost once)
        times = utc_times(np.concatenate([starts, ends]))
        columns["start_time"], columns["end_time"] = times[:n], times[n:]
    else:
        columns["start_time"] = utc_times(starts)
        columns["end_time"] = utc_times(ends)
    columns["duration"] = durations
    parents = info["parent_id"]
    if parents and parents.count(None) == n and _TEXT["none"] is not None:
        columns["parent_id"] = _TEXT["none"](n)  # no run has a parent: as pandas infers it
    else:
        columns["parent_id"] = parents
        typed = False
    text("user", info["user"])
    text("host", info["host"])
    for attr in ("params", "metrics", "tags"):
        for name, values in kinds[attr].items():
            if attr == "metrics":
                if type(values) is np.ndarray:  # float64, from SQL rows
                    columns[f"metrics.{name}"] = values
                    continue
                # stored metric values are floats; anything else keeps pandas' inference
                exact = not values or set(map(type, values)) == _FLOAT
                columns[f"metrics.{name}"] = np.array(values, np.float64) if exact else values
                typed = typed and exact
            else:
                text(f"{attr}.{name}", values)
    for key, column in zip(texts, _texts([columns[key] for key in texts])):
        typed = typed and column is not columns[key]
        columns[key] = column
    if typed and n:
        return _assemble(columns, n)
    # copy=False: the arrays are this frame's alone; no copy into consolidated blocks
    frame: pd.DataFrame = pd.DataFrame(columns, copy=False)
    return frame


def _assemble(columns: dict[str, Any], n: int) -> pd.DataFrame:
    """``pd.DataFrame(columns)`` for columns that are already the arrays pandas infers
    (the probe in :func:`_text_probe` checked that they are, on this pandas): the arrays
    are put together as they are, not inferred again column by column (the constructor's
    checks cost more than the rest of a small frame)."""
    import pandas as pd

    make = _TEXT["assemble"]
    if make is None:
        frame: pd.DataFrame = pd.DataFrame(columns, copy=False)
        return frame
    names = tuple(columns)
    labels = _LABELS.get(names)
    if labels is None:  # the constructor's Index of the names, made once per set of names
        if len(_LABELS) >= 64:
            _LABELS.clear()
        labels = _LABELS[names] = pd.Index(list(names))
    # a copy: a name set on one frame's columns stays on that frame
    out: pd.DataFrame = make(list(columns.values()), labels.copy(), pd.RangeIndex(n))
    return out


#: Column labels by their names (:func:`_assemble`): searches repeat their columns.
_LABELS: dict[tuple[str, ...], Any] = {}


_DURATION = vars(RunRecord)["duration"].fget  # a run's duration, from its times and pause


class _Span:
    """What a run's ``duration`` is computed from (:data:`_DURATION` reads these)."""

    __slots__ = ("end_time", "start_time", "tags")

    def __init__(self, start: datetime, end: datetime | None, paused: str | None) -> None:
        self.start_time, self.end_time = start, end
        self.tags = {} if paused is None else {PAUSED_TAG: paused}


#: Within this many microseconds of the epoch (the years 1827 to 2112), a count of
#: microseconds, and the difference of two, is exact in a float64 (:func:`_run_times`).
_EXACT_MICROSECONDS = 2.0**52


def _run_times(
    start: tuple[float, ...], end: tuple[float | None, ...], paused: list[Any] | None
) -> tuple[Any, Any, Any]:
    """Each run's start and end (NaN: not ended) in epoch seconds as its record's
    datetimes give them back, and its ``duration`` (NaN: not ended), as float64 arrays.

    A record holds a time as a UTC datetime: the stored seconds rounded to the
    microsecond, half to even (``datetime.fromtimestamp``); its seconds are that count
    of microseconds over 10**6 (``datetime.timestamp``), its duration the difference of
    two counts over 10**6 (``timedelta.total_seconds``), each division correctly
    rounded. Within :data:`_EXACT_MICROSECONDS` every step is exact in float64, so the
    columns are computed whole with the same roundings; a run with a pause (``paused``:
    each run's ``mlopskit.paused`` tag or None), and every run when some time is beyond,
    goes through the datetimes and the record's own ``duration``.
    """
    import numpy as np

    n = len(start)
    seconds = np.array(start + end, np.float64)  # an end of None is NaN
    with np.errstate(invalid="ignore", over="ignore"):
        fraction, whole = np.modf(seconds)
        micro = np.rint(fraction * 1e6)  # as CPython rounds: half to even
        over, under = micro >= 1e6, micro < 0
        count = (whole + over - under) * 1e6 + (micro - 1e6 * over + 1e6 * under)
        exact = not (np.abs(count) >= _EXACT_MICROSECONDS).any()
        times = count / 1e6
        durations = (count[n:] - count[:n]) / 1e6
    if exact:
        slow: Iterable[int] = (
            () if paused is None else [i for i, p in enumerate(paused) if p is not None]
        )
    else:
        slow = range(n)
    utc, at = timezone.utc, datetime.fromtimestamp
    for i in slow:
        started, ended = at(start[i], utc), end[i]
        stopped = None if ended is None else at(ended, utc)
        span = _Span(started, stopped, None if paused is None else paused[i])
        duration = _DURATION(span)
        durations[i] = math.nan if duration is None else duration
        if not exact:
            times[i] = started.timestamp()
            times[n + i] = math.nan if stopped is None else stopped.timestamp()
    return times[:n], times[n:], durations


class _Columns:
    """A search's runs as columns built from SQL rows (``SQLiteBackend.run_values``):
    row ``i`` of every column is one run, read by :meth:`get` as ``get_value`` reads a
    record (the filter, the order and the name check use it), never a record per run.

    The times, durations and latest metrics are float64 arrays (NaN: no end, or a NaN
    metric; ``present`` says which runs have a metric when not all do); the lists
    :meth:`get` reads are made from them on first use.
    """

    def __init__(self, values: RunValues, backend: Any, now: float) -> None:
        rows = values.rows
        (run_id, experiment, name, status, start, end, parent, user, host, _) = zip(*rows)
        self.n = n = len(rows)
        statuses = list(status)
        running = [r for r, s in zip(run_id, status) if s == "RUNNING"]
        if running:  # a dead writer's run reads KILLED: its writers decide (the records')
            pos = {r: i for i, r in enumerate(run_id)}
            for rec in backend.list_runs(run_ids=running):
                if rec.run_id in pos:
                    statuses[pos[rec.run_id]] = effective_status(rec, now=now)
        self.info: dict[str, list[Any]] = {
            "run_id": list(run_id),
            "experiment": list(experiment),
            "name": list(name),
            "status": statuses,
            "parent_id": list(parent),
            "user": list(user),
            "host": list(host),
        }
        self.kinds: dict[str, dict[str, list[Any]]] = {}
        for kind, maps in (("params", values.params), ("tags", values.tags)):
            names: set[str] = set()
            for one in maps:
                names.update(one)
            self.kinds[kind] = {name: [m.get(name) for m in maps] for name in names}
        paused = self.kinds["tags"].get(PAUSED_TAG)
        self.starts, self.ends, self.durations = _run_times(start, end, paused)
        self.metrics = _metric_arrays(values.metrics, n)
        self.kinds["metrics"] = {}  # lists made from the arrays by get()
        self._times: dict[str, list[Any]] | None = None

    @property
    def times(self) -> dict[str, list[Any]]:
        """``start_time``, ``end_time`` and ``duration`` per run, None where a run has
        none, as its record gives them."""
        if self._times is None:
            ends, durations = self.ends.tolist(), self.durations.tolist()
            self._times = {
                "start_time": self.starts.tolist(),
                "end_time": [None if t != t else t for t in ends],
                "duration": [None if d != d else d for d in durations],
            }
        return self._times

    def _metric(self, name: str) -> list[Any] | None:
        column = self.kinds["metrics"].get(name)
        if column is None and name in self.metrics:
            array, present = self.metrics[name]
            column = array.tolist()
            if present is not None:
                column = [v if p else None for v, p in zip(column, present.tolist())]
            self.kinds["metrics"][name] = column
        return column

    def get(self, field: Field, i: int) -> Any:
        """The value of ``field`` in run ``i``, or None when the run does not have it."""
        kind = field.kind
        if kind != "attributes":
            if kind == "metrics":
                column = self._metric(field.name)
            else:
                column = self.kinds[kind].get(field.name)
            return None if column is None else column[i]
        name = field.name
        if name in _TIME_FIELDS:
            return self.times[name][i]
        value = self.info[name][i]
        return None if value == "" and name in ("user", "host") else value

    def first(self, i: int) -> tuple[float, str]:
        """The default order: newest first, then by run id."""
        return (-self.times["start_time"][i], self.info["run_id"][i])

    def in_first_order(self) -> bool:
        """Whether the rows (SQL's order: stored start time, newest first) are already in
        :meth:`first`'s order: no two runs start in the same microsecond."""
        starts = self.starts
        return bool((starts[:-1] > starts[1:]).all())

    def frame(self, keep: list[int]) -> pd.DataFrame:
        """The frame of runs ``keep``, in that order, as :func:`to_frame` builds it."""
        import numpy as np

        every = keep == list(range(self.n))  # the rows as read (SQL's order): no copies
        at = None if every else np.array(keep, np.intp)

        def pick(column: list[Any]) -> list[Any]:
            return column if every else [column[i] for i in keep]

        def take(array: Any) -> Any:
            return array if at is None else array[at]

        info = {name: pick(column) for name, column in self.info.items()}
        kinds: dict[str, dict[str, Any]] = {}
        for kind in ("params", "tags"):
            out: dict[str, Any] = {}
            columns = self.kinds[kind]
            for name in sorted(columns):
                values = pick(columns[name])
                if not values:
                    break  # no run kept: no column
                if None in values and all(v is None for v in values):
                    continue  # no kept run has it: no column
                out[name] = values
            kinds[kind] = out
        metrics: dict[str, Any] = {}
        for name in sorted(self.metrics) if keep else ():
            array, present = self.metrics[name]
            if present is not None and not take(present).any():
                continue  # no kept run has it: no column
            metrics[name] = take(array)
        kinds["metrics"] = metrics
        return _frame(info, take(self.starts), take(self.ends), take(self.durations), kinds)


_TIME_FIELDS = frozenset({"start_time", "end_time", "duration"})


def _metric_arrays(
    metrics: tuple[tuple[int, ...], tuple[str, ...], tuple[float | None, ...]], n: int
) -> dict[str, Any]:
    """Latest metrics as columns ``(i, key, value)`` (``RunValues.metrics``) as key →
    ``(values, present)``: ``values`` a float64 array over the ``n`` runs (NaN: a NaN
    value, or none), ``present`` None when every run has the key, else which do (a bool
    array)."""
    import numpy as np

    positions, keys, values = metrics
    if not keys:
        return {}
    names = sorted(set(keys))
    index = {name: k for k, name in enumerate(names)}
    at = (np.array([index[key] for key in keys], np.intp), np.array(positions, np.intp))
    grid = np.full((len(names), n), math.nan)
    grid[at] = np.array(values, np.float64)  # a NaN latest value, read as None, is NaN
    present = np.zeros((len(names), n), np.bool_)
    present[at] = True
    whole: Any = present.all(axis=1)  # one bool per key: every run has it
    return {name: (grid[k], None if whole[k] else present[k]) for k, name in enumerate(names)}


def _search_columns(
    tracker: Tracker,
    experiment: str | Iterable[str] | None,
    filter: str | None,
    order_by: str | Iterable[str] | None,
    limit: int | None,
    status: str | Iterable[str] | None,
    run_view: str,
) -> pd.DataFrame | list[RunRecord] | None:
    """``search_runs`` from plain values: SQL rows (SQLite) or the columns of a settled
    run index (object store, ``index_values``). None when the records must answer:
    another backend, a view other than active, no run, more than 1,000 runs to narrow,
    or rows ``run_values`` leaves to the records (damaged, deleted or restored runs);
    the records themselves when the object store listed them instead (runs the index
    does not hold whole: :func:`_search_records` then lists nothing again)."""
    view, node, keys, statuses, exps = _plan(experiment, filter, order_by, limit, status, run_view)
    backend = tracker.backend
    if view != "active":
        return None
    # by their methods, not their classes: an object-store search imports no SQLite module
    run_values = getattr(backend, "run_values", None)
    index_values = getattr(backend, "index_values", None)
    found: RunValues | list[RunRecord] | None
    if run_values is not None:
        # narrowed in SQL where it can be; past 1,000 runs a filter, a status or a limit
        # is answered as select_runs does: the needed fields first, then the kept runs whole
        most = 1000 if node is not None or limit is not None or statuses is not None else None
        found = run_values(exps, node=node, most=most)
    elif index_values is not None:
        found = index_values(exps)
    else:
        return None
    if isinstance(found, list):
        return found
    values = found
    if values is None or not values.rows:
        return None
    cols = _Columns(values, backend, time.time())
    keep = list(range(cols.n))
    if statuses is not None:
        status_of = cols.info["status"]
        keep = [i for i in keep if status_of[i] in statuses]
    if node is not None and not values.matched:  # SQL left part of the filter to Python
        test = compile_filter(node, cols.get)
        keep = [i for i in keep if test(i)]
    # SQL reads the runs newest first: sorted again only where two start in one microsecond
    keep = _order(keep, keys, cols.get, None if cols.in_first_order() else cols.first)
    _check_names(tracker, exps, node, keys, keep, cols.get)
    if limit is not None:
        keep = keep[:limit]
    return cols.frame(keep)


def search_runs(
    tracker: Tracker,
    experiment: str | Iterable[str] | None = None,
    *,
    filter: str | None = None,
    order_by: str | Iterable[str] | None = None,
    limit: int | None = None,
    status: str | Iterable[str] | None = None,
    run_view: str = "active",
) -> pd.DataFrame:
    """Runs as a DataFrame, one row per run.

    Args:
        experiment: an experiment name or several; all experiments when None.
        filter: e.g. ``"metrics.acc > 0.9 and params.lr < 0.1 and tags.team = 'x'"``
            (grammar in docs/tracking.md); a syntax error points at the token.
        order_by: e.g. ``["metrics.acc DESC", "start_time"]``; missing values last.
            Default: newest first.
        limit: at most this many rows.
        status: keep only runs in this status (or these); a dead process's run
            counts as KILLED.
        run_view: ``"active"`` (deleted runs hidden), ``"deleted"`` or ``"all"``;
            MLflow's ``ACTIVE_ONLY``, ``DELETED_ONLY``, ``ALL`` are accepted too.

    Returns:
        Columns ``run_id``, ``experiment``, ``name``, ``status``, ``start_time``,
        ``end_time`` (UTC), ``duration`` (s), ``parent_id``, ``user``, ``host``, then
        ``params.*`` (strings), ``metrics.*`` (latest values), ``tags.*``; with
        ``run_view`` other than ``"active"`` also ``lifecycle`` (after ``host``).
    """
    args = (tracker, experiment, filter, order_by, limit, status, run_view)
    frame = _search_columns(*args)
    if frame is None or isinstance(frame, list):
        return _search_records(*args, listed=frame)
    return frame


def _search_records(
    tracker: Tracker,
    experiment: str | Iterable[str] | None,
    filter: str | None,
    order_by: str | Iterable[str] | None,
    limit: int | None,
    status: str | Iterable[str] | None,
    run_view: str,
    listed: list[RunRecord] | None = None,
) -> pd.DataFrame:
    """``search_runs`` from records (every backend; any run, damaged or deleted);
    ``listed``: the records of ``experiment`` already listed."""
    records = select_runs(
        tracker,
        experiment,
        filter=filter,
        order_by=order_by,
        limit=limit,
        status=status,
        run_view=run_view,
        listed=listed,
    )
    frame = to_frame(records)
    if check_view(run_view) != "active":
        frame.insert(
            RUN_INFO_COLUMNS.index("host") + 1, "lifecycle", [r.lifecycle for r in records]
        )
    return frame


def compare_runs(
    tracker: Tracker, run_ids: Iterable[str | Run], *, only_differences: bool = False
) -> pd.DataFrame:
    """Runs side by side: a column per run (named by run id), a row per field."""
    import pandas as pd

    ids = [r.run_id if isinstance(r, Run) else r for r in run_ids]
    if not ids:
        raise InvalidInputError("compare_runs needs at least one run id")
    records = [tracker.record(i) for i in ids]
    rows: dict[str, list[Any]] = {
        "name": [r.name for r in records],
        "experiment": [r.experiment for r in records],
        "status": [r.status for r in records],
        "duration": [r.duration for r in records],
    }
    for attr in ("params", "metrics", "tags"):
        for name in sorted({k for r in records for k in getattr(r, attr)}):
            if attr == "tags" and name.startswith("mlopskit.error.traceback"):
                continue
            rows[f"{attr}.{name}"] = [getattr(r, attr).get(name) for r in records]
    frame: pd.DataFrame = pd.DataFrame.from_dict(rows, orient="index", columns=ids, dtype=object)
    if only_differences:
        keep = [idx for idx, row in frame.iterrows() if len({repr(v) for v in row.tolist()}) > 1]
        frame = frame.loc[keep]
    return frame
