"""The compacted run index of the object-store backend: run summaries in one Parquet object.

A search over thousands of runs must not read every run's segments. An index object
``tracking/index/<experiment>/<generation:012d>.parquet`` holds one row per run in typed
columns: its identity (``run_id``, ``experiment``, ``name``, ``start_time``,
``parent_id``, ``user``, ``host``), ``status``, ``end_time``, ``params`` and ``tags``
(maps of strings), ``metrics`` (latest values: a map of doubles), ``inputs`` and
``writers`` (lists of structs), and the names of the segments and lifecycle events
folded into it (``segments``, ``lifecycle``). Index objects are immutable and created
create-only: the compactor that creates generation ``n + 1`` first wins, a racing one
gets ``FileExistsError`` and writes nothing. Nothing is lost either way, because
segments are never deleted: an index with a ``watermark`` (schema metadata) holds every
file that existed when the compactor's clock read it, and a reader adds the files
listed after ``watermark - margin``, using a row only when that listing adds no segment
to it; an index without one (older, or of an experiment in the older per-run layout)
is used only where the run's segments are exactly the row's ``segments``.

Everything read from an index is untrusted: :func:`read_index` checks every value
column by column (Arrow compute kernels, not a Python loop per value) and raises
:class:`~mlopskit.errors.IntegrityError` naming the object and the first damaged run;
the reader then ignores that index (falling back to the segments). Indexes of the
earlier format (:data:`INDEX_FORMAT_1`: a JSON ``summary`` per row) are still read,
checked row by row.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from mlopskit.errors import IntegrityError
from mlopskit.tracking._model import (
    STATUSES,
    RunInput,
    RunRecord,
    WriterInfo,
    stored_record,
    to_datetime,
)
from mlopskit.tracking._segments import check_identity, parse_segment_name
from mlopskit.tracking._validate import MAX_TIME, MIN_TIME

if TYPE_CHECKING:
    from mlopskit.tracking._values import RunValues

__all__ = [
    "COMPRESSION",
    "INDEX_FORMAT",
    "INDEX_FORMAT_1",
    "IndexRow",
    "IndexRows",
    "decode_index",
    "encode_index",
    "index_generation",
    "index_hints",
    "index_name",
    "index_values",
    "read_index",
    "record_of",
    "summary_of",
]

INDEX_FORMAT = "mlopskit.tracking.index/2"
#: The format before typed columns (one JSON ``summary`` per row): still read.
INDEX_FORMAT_1 = "mlopskit.tracking.index/1"
#: Parquet compression of a new index object.
COMPRESSION = "zstd"

_NAME = re.compile(r"^(\d{12})\.parquet$")


def index_name(generation: int) -> str:
    """The object name of index ``generation``: ``000000000007.parquet``."""
    return f"{generation:012d}.parquet"


def index_generation(name: str) -> int | None:
    """The generation an index object's name holds, or None for any other name."""
    match = _NAME.match(name)
    return int(match.group(1)) if match else None


_WRITER_FIELDS = frozenset(("writer_id", "host", "pid", "heartbeat", "active"))


def _stored_writer(
    writer_id: str, host: str, pid: int, heartbeat: float, active: bool
) -> WriterInfo:
    """A WriterInfo of values :func:`read_index` has checked, built without re-validation
    (as ``stored_record`` builds a record): equal to ``WriterInfo(...)`` of them."""
    writer: WriterInfo = object.__new__(WriterInfo)
    state = {
        "writer_id": writer_id,
        "host": host,
        "pid": pid,
        "heartbeat": to_datetime(heartbeat),
        "active": active,
    }
    object.__setattr__(writer, "__dict__", state)
    object.__setattr__(writer, "__pydantic_fields_set__", set(_WRITER_FIELDS))
    object.__setattr__(writer, "__pydantic_extra__", None)
    object.__setattr__(writer, "__pydantic_private__", None)
    return writer


@dataclass(frozen=True)
class IndexRow:
    """One run in an index: its summary and the segment names folded into it.

    ``writers`` and ``inputs`` hold the summary's checked (immutable) objects once
    :func:`decode_index` has built them, so a search does not build them again per run.
    """

    summary: dict[str, Any]
    segments: frozenset[str]
    writers: tuple[WriterInfo, ...] | None = None
    inputs: tuple[RunInput, ...] | None = None
    lifecycle: frozenset[str] = frozenset()

    def record(self, *, inputs: tuple[RunInput, ...] | None = None) -> RunRecord:
        """A fresh record of this row (callers may change it freely).

        ``inputs`` replaces the row's inputs (a search passes ``()``: it lists none).
        """
        return record_of(
            self.summary, writers=self.writers, inputs=self.inputs if inputs is None else inputs
        )


def summary_of(rec: RunRecord) -> dict[str, Any]:
    """The JSON-able summary of a merged run (no artifacts: ``get_run`` reads those)."""
    return {
        "run": {
            "run_id": rec.run_id,
            "experiment": rec.experiment,
            "name": rec.name,
            "start_time": rec.start_time.timestamp(),
            "parent_id": rec.parent_id,
            "user": rec.user,
            "host": rec.host,
        },
        "status": rec.stored_status or rec.status,
        "end_time": None if rec.end_time is None else rec.end_time.timestamp(),
        "params": dict(rec.params),
        "tags": dict(rec.tags),
        "metrics": dict(rec.metrics),
        "inputs": [i.model_dump() for i in rec.inputs],
        "writers": [
            {
                "writer_id": w.writer_id,
                "host": w.host,
                "pid": w.pid,
                "heartbeat": w.heartbeat.timestamp(),
                "active": w.active,
            }
            for w in rec.writers
        ],
    }


def record_of(
    summary: dict[str, Any],
    *,
    writers: tuple[WriterInfo, ...] | None = None,
    inputs: tuple[RunInput, ...] | None = None,
) -> RunRecord:
    """A fresh record from a checked summary (callers may change it freely).

    ``writers`` and ``inputs``, when given, are the summary's already built objects.
    """
    ident = summary["run"]
    rec = stored_record(
        run_id=ident["run_id"],
        experiment=ident["experiment"],
        name=ident["name"],
        status=summary["status"],
        start_time=ident["start_time"],
        end_time=summary["end_time"],
        parent_id=ident.get("parent_id"),
        user=ident.get("user") or "",
        host=ident.get("host") or "",
        params=dict(summary["params"]),
        tags=dict(summary["tags"]),
    )
    state = vars(rec)  # fields set directly: the values are checked (pydantic's setattr costs)
    state["metrics"] = {k: float(v) for k, v in summary["metrics"].items()}
    state["inputs"] = (
        list(inputs) if inputs is not None else [RunInput(**i) for i in summary["inputs"]]
    )
    state["writers"] = (
        list(writers)
        if writers is not None
        else [
            WriterInfo(
                writer_id=w["writer_id"],
                host=w["host"],
                pid=w["pid"],
                heartbeat=to_datetime(w["heartbeat"]),
                active=w["active"],
            )
            for w in summary["writers"]
        ]
    )
    return rec


def _schema() -> Any:
    """The Arrow schema of an index object of :data:`INDEX_FORMAT`."""
    import pyarrow as pa

    text = pa.string()
    return pa.schema(
        [
            ("run_id", text),
            ("experiment", text),
            ("name", text),
            ("status", text),
            ("start_time", pa.float64()),
            ("end_time", pa.float64()),
            ("parent_id", text),
            ("user", text),
            ("host", text),
            ("params", pa.map_(text, text)),
            ("tags", pa.map_(text, text)),
            ("metrics", pa.map_(text, pa.float64())),
            (
                "inputs",
                pa.list_(pa.struct([("digest", text), ("name", text), ("context", text)])),
            ),
            (
                "writers",
                pa.list_(
                    pa.struct(
                        [
                            ("writer_id", text),
                            ("host", text),
                            ("pid", pa.int64()),
                            ("heartbeat", pa.float64()),
                            ("active", pa.bool_()),
                        ]
                    )
                ),
            ),
            ("segments", pa.list_(text)),
            ("lifecycle", pa.list_(text)),
        ]
    )


def encode_index(
    rows: dict[str, IndexRow],
    watermark: float | None = None,
    splits: Sequence[str] = (),
) -> bytes:
    """The Parquet bytes of an index holding ``rows`` (run id → row).

    ``watermark`` (epoch seconds) marks an index of the time-ordered layout: every
    file of the experiment that existed when the compactor's clock read ``watermark``
    is folded into a row (see docs/layout-tracking.md). ``splits`` (file names) tell a
    reader where to cut its listing after the watermark into ranges listed at once
    (a hint: they change its speed, never its answer). A row whose summary names
    another run than its key is a ValueError (nothing is encoded).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = sorted(rows)
    sums = [rows[i].summary for i in ids]
    idents = [s["run"] for s in sums]
    for run_id, ident in zip(ids, idents):
        if ident["run_id"] != run_id:
            raise ValueError(f"the index row of run {run_id!r} holds run {ident['run_id']!r}")
    columns = {
        "run_id": ids,
        "experiment": [r["experiment"] for r in idents],
        "name": [r["name"] for r in idents],
        "status": [s["status"] for s in sums],
        "start_time": [r["start_time"] for r in idents],
        "end_time": [s["end_time"] for s in sums],
        "parent_id": [r.get("parent_id") for r in idents],
        "user": [r.get("user") or "" for r in idents],
        "host": [r.get("host") or "" for r in idents],
        "params": [list(s["params"].items()) for s in sums],
        "tags": [list(s["tags"].items()) for s in sums],
        "metrics": [[(k, float(v)) for k, v in s["metrics"].items()] for s in sums],
        "inputs": [s["inputs"] for s in sums],
        "writers": [s["writers"] for s in sums],
        "segments": [sorted(rows[i].segments) for i in ids],
        "lifecycle": [sorted(rows[i].lifecycle) for i in ids],
    }
    meta = {"format": INDEX_FORMAT}
    if watermark is not None:
        meta["watermark"] = repr(float(watermark))
    if splits:
        meta["splits"] = json.dumps(list(splits), separators=(",", ":"))
    table = pa.Table.from_pydict(columns, schema=_schema().with_metadata(meta))
    sink = io.BytesIO()
    pq.write_table(table, sink, compression=COMPRESSION)
    return sink.getvalue()


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(what)


def _is_time(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and MIN_TIME <= value <= MAX_TIME
    )


def _str_map(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _check_summary(
    summary: object, run_id: str, experiment: str
) -> tuple[dict[str, Any], tuple[WriterInfo, ...], tuple[RunInput, ...]]:
    _need(isinstance(summary, dict), "a summary is not an object")
    assert isinstance(summary, dict)
    check_identity(summary.get("run"))
    ident = summary["run"]
    _need(ident["run_id"] == run_id, f"row {run_id!r} holds run {ident['run_id']!r}")
    _need(ident["experiment"] == experiment, f"run {run_id!r} is not in {experiment!r}")
    _need(summary.get("status") in STATUSES, f"run {run_id!r}: invalid status")
    end = summary.get("end_time")
    _need(end is None or _is_time(end), f"run {run_id!r}: end_time is not a time")
    _need(_str_map(summary.get("params")), f"run {run_id!r}: params are not strings")
    _need(_str_map(summary.get("tags")), f"run {run_id!r}: tags are not strings")
    metrics = summary.get("metrics")
    _need(
        isinstance(metrics, dict)
        and all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
            for k, v in metrics.items()
        ),
        f"run {run_id!r}: metrics are not numbers",
    )
    inputs = summary.get("inputs")
    _need(isinstance(inputs, list), f"run {run_id!r}: inputs are not a list")
    assert isinstance(inputs, list)
    checked_inputs = tuple(RunInput.model_validate(item) for item in inputs)
    writers = summary.get("writers")
    _need(isinstance(writers, list), f"run {run_id!r}: writers are not a list")
    assert isinstance(writers, list)
    checked_writers = []
    for w in writers:
        _need(isinstance(w, dict) and _is_time(w.get("heartbeat")), "bad writer heartbeat")
        checked_writers.append(WriterInfo.model_validate(w))
    return summary, tuple(checked_writers), checked_inputs


def decode_index(path: str, blob: bytes, experiment: str) -> Mapping[str, IndexRow]:
    """The rows of the index object at ``path``, each checked; IntegrityError naming it."""
    return read_index(path, blob, experiment)[0]


def _names_of_run(names: list[str], run_id: str, kinds: tuple[str, ...]) -> bool:
    for name in names:
        parsed = parse_segment_name(name)
        if parsed is None or parsed[3] != run_id or parsed[4] not in kinds:
            return False
    return True


def index_hints(blob: bytes) -> tuple[float | None, tuple[str, ...]]:
    """The watermark and listing splits an index object's footer names, rows not decoded.

    Only hints ((None, ()) when absent or unreadable; splits that are not a list of
    segment names are dropped): a reader may start its listing with them while
    :func:`read_index` checks the rows, and uses that listing only if the checked
    index has the same watermark. Splits never change what a listing finds.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(io.BytesIO(blob)).schema_arrow.metadata or {}
        mark = float(meta[b"watermark"].decode("ascii")) if b"watermark" in meta else None
    except (ValueError, TypeError, OSError, pa.ArrowException):
        return None, ()
    try:
        found = json.loads(meta.get(b"splits", b"[]"))
    except ValueError:
        return mark, ()
    if not isinstance(found, list) or not all(
        isinstance(n, str) and parse_segment_name(n) is not None for n in found
    ):
        return mark, ()
    return mark, tuple(found)


def read_index(
    path: str, blob: bytes, experiment: str
) -> tuple[Mapping[str, IndexRow], float | None]:
    """The checked rows of an index object and its watermark (None: an older index).

    In an index with a watermark every segment and lifecycle name must be a
    time-ordered name of that row's run (the reader builds paths from them). Reads
    :data:`INDEX_FORMAT` (typed columns, checked column by column) and the older
    :data:`INDEX_FORMAT_1` (a JSON summary per row, checked row by row).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(io.BytesIO(blob)).read()  # not read_table: no dataset import
        meta = table.schema.metadata or {}
        found = meta.get(b"format", b"").decode("utf-8", "replace")
        _need(found in (INDEX_FORMAT, INDEX_FORMAT_1), f"unknown index format {found!r}")
        watermark: float | None = None
        if b"watermark" in meta:
            watermark = float(meta[b"watermark"].decode("ascii"))
            _need(_is_time(watermark), f"the watermark {watermark!r} is not a time")
        rows: Mapping[str, IndexRow]
        if found == INDEX_FORMAT:
            rows = _rows(table, experiment, watermark)
        else:
            rows = _rows_1(table, experiment, watermark)
    except (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        RecursionError,
        OSError,
        pa.ArrowException,
    ) as exc:
        raise IntegrityError(
            f"tracking index {path} is damaged: {exc}; it is ignored (searches read the "
            "segments) until the next compaction",
            path=path,
            found=type(exc).__name__,
        ) from exc
    return rows, watermark


def _rows_1(table: Any, experiment: str, watermark: float | None) -> dict[str, IndexRow]:
    """The rows of an index of :data:`INDEX_FORMAT_1`, each summary checked in Python."""
    ids = table.column("run_id").to_pylist()
    summaries = table.column("summary").to_pylist()
    segments = table.column("segments").to_pylist()
    names_of = table.schema.names
    events = table.column("lifecycle").to_pylist() if "lifecycle" in names_of else [[] for _ in ids]
    rows: dict[str, IndexRow] = {}
    for run_id, text, names, lifecycle in zip(ids, summaries, segments, events):
        _need(isinstance(run_id, str) and isinstance(text, str), "a row lacks its run")
        _need(
            isinstance(names, list)
            and isinstance(lifecycle, list)
            and all(isinstance(n, str) for n in names + lifecycle),
            f"run {run_id!r}: segments are not names",
        )
        if watermark is not None:
            _need(
                _names_of_run(names, run_id, ("jsonl",))
                and _names_of_run(lifecycle, run_id, ("json",)),
                f"run {run_id!r}: a segment name is not one of this run's",
            )
        summary, writers, inputs = _check_summary(json.loads(text), run_id, experiment)
        rows[run_id] = IndexRow(summary, frozenset(names), writers, inputs, frozenset(lifecycle))
    return rows


#: What :func:`mlopskit.tracking._validate.is_run_id` accepts, as an RE2 pattern.
_RUN_ID = r"^[A-Za-z0-9_][A-Za-z0-9._@+=,-]{0,63}$"
#: A time-ordered file name of kind ``jsonl`` / ``json`` (``segment_name``), its run.
_FILE_OF_RUN = {
    kind: r"^[0-9]{20}-[A-Za-z0-9][A-Za-z0-9-]{0,99}-[0-9]{8}\.(?P<run>.+)\." + kind + "$"
    for kind in ("jsonl", "json")
}


def _same_type(found: Any, expected: Any) -> bool:
    """Arrow types equal up to the names of list items (Parquet renames them)."""
    import pyarrow.types as t

    if t.is_map(expected):
        return (
            t.is_map(found)
            and _same_type(found.key_type, expected.key_type)
            and _same_type(found.item_type, expected.item_type)
        )
    if t.is_list(expected):
        return t.is_list(found) and _same_type(found.value_type, expected.value_type)
    if t.is_struct(expected):
        return (
            t.is_struct(found)
            and found.num_fields == expected.num_fields
            and all(
                found.field(i).name == expected.field(i).name
                and _same_type(found.field(i).type, expected.field(i).type)
                for i in range(expected.num_fields)
            )
        )
    return bool(found == expected)


def _whole(chunked: Any) -> Any:
    """One array of a column (a single chunk as it is, not copied)."""
    return chunked.chunk(0) if chunked.num_chunks == 1 else chunked.combine_chunks()


class _Columns:
    """The columns of an index table as whole arrays, and the checks that name a run."""

    def __init__(self, table: Any) -> None:
        expected = _schema()
        found = table.schema
        for field in expected:
            _need(
                field.name in found.names and _same_type(found.field(field.name).type, field.type),
                f"column {field.name!r} is missing or not of type {field.type}",
            )
        self.col = {f.name: _whole(table.column(f.name)) for f in expected}
        self.ids = self.col["run_id"]

    def run(self, row: int) -> str:
        return repr(self.ids[row].as_py())

    def rows_ok(self, ok: Any, what: str) -> None:
        """ValueError naming the first run where ``ok`` (one per row) is false or null."""
        import pyarrow.compute as pc

        ok = pc.fill_null(ok, False)
        if not pc.all(ok, min_count=0).as_py():
            raise ValueError(f"run {self.run(pc.index(ok, False).as_py())}: {what}")

    def items_ok(self, lists: Any, ok: Any, what: str) -> None:
        """ValueError naming the first run with an item of ``lists`` where ``ok`` (one per
        item of the unsliced child array) is false or null."""
        import numpy as np
        import pyarrow.compute as pc

        offsets = lists.offsets.to_numpy()
        start, end = int(offsets[0]), int(offsets[-1])
        ok = pc.fill_null(ok.slice(start, end - start), False)
        if not pc.all(ok, min_count=0).as_py():
            item = pc.index(ok, False).as_py() + start
            row = int(np.searchsorted(offsets, item, side="right")) - 1
            raise ValueError(f"run {self.run(row)}: {what}")


def _times(values: Any) -> Any:
    import pyarrow.compute as pc

    return pc.and_(pc.greater_equal(values, MIN_TIME), pc.less_equal(values, MAX_TIME))


def _check_columns(cols: _Columns, experiment: str, watermark: float | None) -> None:
    """Every value the rows hold, checked column by column (ValueError naming a run)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    col = cols.col
    ids = cols.ids
    cols.rows_ok(pc.match_substring_regex(ids, _RUN_ID), "not a valid run id")
    cols.rows_ok(pc.equal(col["experiment"], pa.scalar(experiment)), f"not in {experiment!r}")
    cols.rows_ok(pc.is_valid(col["name"]), "the run name is missing")
    cols.rows_ok(pc.is_in(col["status"], value_set=pa.array(STATUSES)), "invalid status")
    cols.rows_ok(_times(col["start_time"]), "start_time is not a time")
    end = col["end_time"]
    cols.rows_ok(pc.or_kleene(pc.is_null(end), _times(end)), "end_time is not a time")
    parent = col["parent_id"]
    cols.rows_ok(
        pc.or_kleene(pc.is_null(parent), pc.match_substring_regex(parent, _RUN_ID)),
        "parent_id is not a run id",
    )
    for name in ("params", "tags", "metrics", "inputs", "writers", "segments", "lifecycle"):
        cols.rows_ok(pc.is_valid(col[name]), f"{name} are missing")
    for name in ("params", "tags", "metrics"):
        entries = col[name].values
        cols.items_ok(col[name], pc.is_valid(entries.field(0)), f"{name}: a name is missing")
        cols.items_ok(col[name], pc.is_valid(entries.field(1)), f"{name}: a value is missing")
    inputs = col["inputs"]
    cols.items_ok(inputs, pc.is_valid(inputs.values), "an input is missing")
    cols.items_ok(inputs, pc.is_valid(inputs.values.field("digest")), "an input lacks its digest")
    writers = col["writers"]
    items = writers.values
    cols.items_ok(writers, pc.is_valid(items), "a writer is missing")
    for name in ("writer_id", "host", "pid", "active"):
        cols.items_ok(writers, pc.is_valid(items.field(name)), f"a writer lacks its {name}")
    cols.items_ok(writers, _times(items.field("heartbeat")), "bad writer heartbeat")
    for name, kind in (("segments", "jsonl"), ("lifecycle", "json")):
        lists = col[name]
        cols.items_ok(lists, pc.is_valid(lists.values), f"{name}: a name is missing")
        if watermark is None:
            continue  # an older layout's index: names are only compared, never parsed
        offsets = lists.offsets.to_numpy()
        start, end_ = int(offsets[0]), int(offsets[-1])
        owner = np.full(len(lists.values), -1, np.int64)
        owner[start:end_] = np.repeat(np.arange(len(lists), dtype=np.int64), np.diff(offsets))
        parts = pc.extract_regex(lists.values, _FILE_OF_RUN[kind])
        runs = ids.take(pa.array(np.maximum(owner, 0)))
        ok = pc.and_kleene(pc.is_valid(parts), pc.equal(parts.field("run"), runs))
        cols.items_ok(lists, ok, "a segment name is not one of this run's")


def _maps(maps: Any) -> list[dict[str, Any]]:
    """Each map of a map array as a dict (built from whole columns, not per value)."""
    entries = maps.values
    keys = entries.field(0).to_pylist()
    values = entries.field(1).to_pylist()
    offsets = maps.offsets.to_pylist()
    return [dict(zip(keys[a:b], values[a:b])) for a, b in pairwise(offsets)]


def _lists(lists: Any) -> list[list[Any]]:
    items = lists.values.to_pylist()
    offsets = lists.offsets.to_pylist()
    return [items[a:b] for a, b in pairwise(offsets)]


def _structs(lists: Any, names: tuple[str, ...]) -> list[list[dict[str, Any]]]:
    """Each list of structs as a list of dicts (built from whole columns)."""
    items = lists.values
    fields = [items.field(n).to_pylist() for n in names]
    offsets = lists.offsets.to_pylist()
    out = []
    for a, b in pairwise(offsets):
        out.append([dict(zip(names, values)) for values in zip(*(f[a:b] for f in fields))])
    return out


_INPUT = ("digest", "name", "context")
_WRITER = ("writer_id", "host", "pid", "heartbeat", "active")


class IndexRows(Mapping[str, IndexRow]):
    """The checked rows of an index object of :data:`INDEX_FORMAT` (run id → row).

    Every value is checked when the object is read (:func:`read_index`); the
    :class:`IndexRow` objects are built from the columns on first use of a row, all at
    once (the run ids alone answer ``in``, ``len`` and iteration). ``columns`` are the
    checked Arrow arrays by column name: a search's frame reads them as they are
    (:func:`index_values`), never building a row.
    """

    def __init__(self, columns: dict[str, Any], ids: list[str], experiment: str) -> None:
        self.columns = columns
        self.experiment = experiment
        self._ids = ids
        self._known = frozenset(ids)
        self._rows: dict[str, IndexRow] | None = None

    def _built(self) -> dict[str, IndexRow]:
        if self._rows is None:
            self._rows = _build_rows(self.columns, self._ids, self.experiment)
        return self._rows

    def __getitem__(self, run_id: str) -> IndexRow:
        if run_id not in self._known:
            raise KeyError(run_id)
        return self._built()[run_id]

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._known

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def get(self, run_id: str, default: Any = None) -> Any:
        """The row of ``run_id`` (all rows built on first use), or ``default``."""
        return self._built()[run_id] if run_id in self._known else default


def index_values(indexes: Sequence[IndexRows]) -> RunValues:
    """The runs of ``indexes`` as the plain values a search's frame is built from
    (:class:`~mlopskit.tracking._values.RunValues`, as SQLite reads them): rows newest
    first (then by run id), straight from the checked Arrow columns, no record per run.

    The caller answers only with runs the index holds whole (none RUNNING, none with
    lifecycle events, no file after the index): then these are the records' values.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from mlopskit.tracking._values import RunValues

    names = (
        *("run_id", "experiment", "name", "status", "start_time", "end_time", "parent_id"),
        *("user", "host", "params", "tags", "metrics"),
    )
    tables = [pa.table({n: index.columns[n] for n in names}) for index in indexes]
    table = pa.concat_tables(tables) if len(tables) != 1 else tables[0]
    order = pc.sort_indices(table, [("start_time", "descending"), ("run_id", "ascending")])
    table = table.take(order)
    col = {n: _whole(table.column(n)) for n in names}
    texts = [col[n].to_pylist() for n in names[:4]]
    times = [col[n].to_pylist() for n in names[4:6]]
    parents = col["parent_id"].to_pylist()
    user, host = (pc.fill_null(col[n], "").to_pylist() for n in ("user", "host"))
    n = len(table)
    rows = list(zip(*texts, *times, parents, user, host, [True] * n))
    metrics = col["metrics"]
    offsets = metrics.offsets.to_numpy()
    positions = np.repeat(np.arange(n, dtype=np.intp), np.diff(offsets))
    entries = metrics.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    keys = entries.field(0).to_pylist()
    values = entries.field(1).to_numpy(zero_copy_only=False)
    return RunValues(
        rows, _maps(col["params"]), _maps(col["tags"]), (positions, keys, values), matched=False
    )


def _rows(table: Any, experiment: str, watermark: float | None) -> IndexRows:
    """The rows of an index of :data:`INDEX_FORMAT`: checked column by column (no value
    is looked at twice in Python); built from whole columns when first used."""
    cols = _Columns(table)
    _check_columns(cols, experiment, watermark)
    ids = cols.ids.to_pylist()
    _need(len(set(ids)) == len(ids), "a run has two rows")
    return IndexRows(cols.col, ids, experiment)


def _build_rows(col: dict[str, Any], ids: list[str], experiment: str) -> dict[str, IndexRow]:
    """The :class:`IndexRow` of each run of checked columns ``col``."""
    inputs = _structs(col["inputs"], _INPUT)
    writers = _structs(col["writers"], _WRITER)
    construct_input = RunInput.model_construct
    rows: dict[str, IndexRow] = {}
    for (
        run_id,
        name,
        status,
        start,
        end,
        parent,
        user,
        host,
        params,
        tags,
        metrics,
        ins,
        ws,
        segments,
        lifecycle,
    ) in zip(
        ids,
        col["name"].to_pylist(),
        col["status"].to_pylist(),
        col["start_time"].to_pylist(),
        col["end_time"].to_pylist(),
        col["parent_id"].to_pylist(),
        col["user"].to_pylist(),
        col["host"].to_pylist(),
        _maps(col["params"]),
        _maps(col["tags"]),
        _maps(col["metrics"]),
        inputs,
        writers,
        _lists(col["segments"]),
        _lists(col["lifecycle"]),
    ):
        summary = {
            "run": {
                "run_id": run_id,
                "experiment": experiment,
                "name": name,
                "start_time": start,
                "parent_id": parent,
                "user": user or "",
                "host": host or "",
            },
            "status": status,
            "end_time": end,
            "params": params,
            "tags": tags,
            "metrics": metrics,
            "inputs": ins,
            "writers": ws,
        }
        rows[run_id] = IndexRow(
            summary,
            frozenset(segments),
            tuple(
                _stored_writer(w["writer_id"], w["host"], w["pid"], w["heartbeat"], w["active"])
                for w in ws
            ),
            tuple(construct_input(**i) for i in ins),
            frozenset(lifecycle),
        )
    return rows
