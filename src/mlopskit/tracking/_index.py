"""The compacted run index of the object-store backend: run summaries in one Parquet object.

A search over thousands of runs must not read every run's segments. An index object
``tracking/index/<experiment>/<generation:012d>.parquet`` holds one row per run: its
identity, status, times, params, tags, latest metrics, inputs and writers (a
``summary`` JSON column, plus ``run_id``, ``status``, ``start_time`` and
``end_time`` as plain columns for other tools) and the names of the segments folded
into it (``segments``). Index objects are immutable and created create-only: the
compactor that creates generation ``n + 1`` first wins, a racing one gets
``FileExistsError`` and writes nothing. Nothing is lost either way, because segments
are never deleted: an index with a ``watermark`` (schema metadata) holds every file
that existed when the compactor's clock read it, and a reader adds the files listed
after ``watermark - margin``, using a row only when that listing adds no segment to
it; an index without one (older, or of an experiment in the older per-run layout) is
used only where the run's segments are exactly the row's ``segments``.

Everything read from an index is untrusted: :func:`decode_index` checks every row and
raises :class:`~mlopskit.errors.IntegrityError` naming the object, and the reader then
ignores that index (falling back to the segments).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from typing import Any

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

__all__ = [
    "INDEX_FORMAT",
    "IndexRow",
    "decode_index",
    "encode_index",
    "index_generation",
    "index_name",
    "read_index",
    "record_of",
    "summary_of",
]

INDEX_FORMAT = "mlopskit.tracking.index/1"

_NAME = re.compile(r"^(\d{12})\.parquet$")


def index_name(generation: int) -> str:
    """The object name of index ``generation``: ``000000000007.parquet``."""
    return f"{generation:012d}.parquet"


def index_generation(name: str) -> int | None:
    """The generation an index object's name holds, or None for any other name."""
    match = _NAME.match(name)
    return int(match.group(1)) if match else None


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

    def record(self) -> RunRecord:
        """A fresh record of this row (callers may change it freely)."""
        return record_of(self.summary, writers=self.writers, inputs=self.inputs)


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


def encode_index(rows: dict[str, IndexRow], watermark: float | None = None) -> bytes:
    """The Parquet bytes of an index holding ``rows`` (run id → row).

    ``watermark`` (epoch seconds) marks an index of the time-ordered layout: every
    file of the experiment that existed when the compactor's clock read ``watermark``
    is folded into a row (see docs/layout-tracking.md).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = sorted(rows)
    table = pa.table(
        {
            "run_id": pa.array(ids, pa.string()),
            "status": pa.array([rows[i].summary["status"] for i in ids], pa.string()),
            "start_time": pa.array(
                [rows[i].summary["run"]["start_time"] for i in ids], pa.float64()
            ),
            "end_time": pa.array([rows[i].summary["end_time"] for i in ids], pa.float64()),
            "summary": pa.array(
                [json.dumps(rows[i].summary, separators=(",", ":")) for i in ids], pa.string()
            ),
            "segments": pa.array([sorted(rows[i].segments) for i in ids], pa.list_(pa.string())),
            "lifecycle": pa.array([sorted(rows[i].lifecycle) for i in ids], pa.list_(pa.string())),
        }
    )
    meta = {"format": INDEX_FORMAT}
    if watermark is not None:
        meta["watermark"] = repr(float(watermark))
    table = table.replace_schema_metadata(meta)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
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


def decode_index(path: str, blob: bytes, experiment: str) -> dict[str, IndexRow]:
    """The rows of the index object at ``path``, each checked; IntegrityError naming it."""
    return read_index(path, blob, experiment)[0]


def _names_of_run(names: list[str], run_id: str, kinds: tuple[str, ...]) -> bool:
    for name in names:
        parsed = parse_segment_name(name)
        if parsed is None or parsed[3] != run_id or parsed[4] not in kinds:
            return False
    return True


def read_index(path: str, blob: bytes, experiment: str) -> tuple[dict[str, IndexRow], float | None]:
    """The checked rows of an index object and its watermark (None: an older index).

    In an index with a watermark every segment and lifecycle name must be a
    time-ordered name of that row's run (the reader builds paths from them).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(io.BytesIO(blob)).read()  # not read_table: no dataset import
        meta = table.schema.metadata or {}
        found = meta.get(b"format", b"").decode("utf-8", "replace")
        _need(found == INDEX_FORMAT, f"unknown index format {found!r}")
        watermark: float | None = None
        if b"watermark" in meta:
            watermark = float(meta[b"watermark"].decode("ascii"))
            _need(_is_time(watermark), f"the watermark {watermark!r} is not a time")
        ids = table.column("run_id").to_pylist()
        summaries = table.column("summary").to_pylist()
        segments = table.column("segments").to_pylist()
        names_of = table.schema.names
        events = (
            table.column("lifecycle").to_pylist() if "lifecycle" in names_of else [[] for _ in ids]
        )
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
            rows[run_id] = IndexRow(
                summary, frozenset(names), writers, inputs, frozenset(lifecycle)
            )
    except (ValueError, TypeError, KeyError, RecursionError, OSError, pa.ArrowException) as exc:
        raise IntegrityError(
            f"tracking index {path} is damaged: {exc}; it is ignored (searches read the "
            "segments) until the next compaction",
            path=path,
            found=type(exc).__name__,
        ) from exc
    return rows, watermark
