"""PredictionLogger: sampled prediction records as immutable segment files in the store.

Layout: each flushed buffer is one Parquet segment stored as an object (verified on
read, deduplicated), named by a create-only ref::

    predictions/<log name>/<UTC time>-<pid>-<random>    → the segment object

One row per predicted row: ``request_id``, ``time`` (seconds since the epoch),
``model`` (package digest), ``variant``, ``latency_ms``, ``row`` (position in its
request), ``error`` (None when the prediction succeeded), ``input.<column>`` and
``output`` (or ``output.<name>`` for several outputs). No file is ever appended to,
so any number of processes — on any machine sharing an S3 bucket — log to one store
with no contention and no lost record.

``log()`` only appends to an in-memory list under a lock (``log_request()`` takes the
record's fields, so the server makes no record object per request). The buffer becomes a
segment when it holds ``max_rows`` rows or about ``max_bytes`` of inputs, or when
``flush_every`` seconds have passed since the last write. Who writes it is ``writer``:

- ``"inline"`` (the default for a local or ``memory://`` store): the ``log()`` call that
  filled the buffer builds the Parquet file and stores it, after the buffer's lock is
  released (a 10,000-row segment costs that one call some 20-50 ms on a local disk).
- ``"thread"`` (the default for a remote store, where a write waits on the network):
  ``log()`` hands the full buffer to the logger's writer thread (at most
  ``max_pending`` buffers wait; a further full buffer makes ``log()`` wait for the
  writer rather than drop records). Next to a thread that keeps the interpreter busy
  — a server under load — a writer thread is slow and costly: each of a segment's ~200
  file operations gives up the GIL and waits up to the switch interval (5 ms) to take
  it back, so a segment took ~4 s and seven times its CPU in a loaded server, which is
  why a local store writes inline.
:meth:`PredictionLogger.flush` and :meth:`PredictionLogger.close` wait for the writer
and write what is buffered (call ``close()`` at shutdown; the logger is a context
manager).
Loggers still open at interpreter exit are closed then (an ``atexit`` hook installed
when the first logger is made, never at import).
"""

from __future__ import annotations

import io
import operator
import os
import queue
import random
import re
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mlopskit._log import get_logger
from mlopskit.errors import IntegrityError, InvalidInputError, InvalidNameError, RefConflictError
from mlopskit.store import current_store

if TYPE_CHECKING:
    import pandas as pd

    from mlopskit.store import ArtifactRef, ArtifactStore

__all__ = ["PredictionLogger", "PredictionRecord"]

log = get_logger("mlopskit.deploy.logger")

PARQUET = "application/vnd.apache.parquet"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._@+=,-]*$")
META_COLUMNS = ("request_id", "time", "model", "variant", "latency_ms", "row", "error")
_NO_EXTRA: dict[str, Any] = {}  # the extras of a request logged without any (never written to)
_now = time.time
_monotonic = time.monotonic


@dataclass(frozen=True)
class PredictionRecord:
    """One request's predictions.

    Attributes:
        inputs: the decoded inputs (a DataFrame, or anything the codec understands).
        outputs: what the model returned (one value or row per input row), or None
            when the request failed.
        model: the package digest (``Predictor.digest``).
        variant: the router variant that answered ("" if none).
        latency_ms: time spent predicting.
        request_id: the request's id (generated when empty).
        time: seconds since the epoch (now when None).
        error: the error message when the request failed.
    """

    inputs: Any
    outputs: Any = None
    model: str = ""
    variant: str = ""
    latency_ms: float = 0.0
    request_id: str = ""
    time: float | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# A buffered request, as a plain tuple of what its rows need: (inputs, column names,
# values, outputs, request id, time, model, variant, latency_ms, error, extra). Inputs of
# one numeric dtype are kept as (column names, values array) with inputs None: neither
# a DataFrame nor a record stays alive per buffered request, so the garbage collector
# has next to nothing to traverse (10,000 buffered one-row frames cost ~20 us of
# collections per request, more than building and storing their segment).
_Entry = tuple[Any, Any, Any, Any, str, float, Any, str, float, Any, dict[str, Any]]


def _as_record(record: PredictionRecord | Mapping[str, Any]) -> PredictionRecord:
    if isinstance(record, PredictionRecord):
        return record
    if isinstance(record, Mapping):
        if "inputs" not in record:
            raise InvalidInputError(
                "a prediction record needs 'inputs'", expected="inputs", found=sorted(record)
            )
        known = {k: record[k] for k in PredictionRecord.__dataclass_fields__ if k in record}
        return PredictionRecord(**known)
    raise InvalidInputError(
        "log() takes a PredictionRecord or a mapping with 'inputs', 'outputs', ...",
        found=type(record).__qualname__,
    )


def _rows(inputs: Any) -> int:
    try:
        return len(inputs)
    except TypeError:
        return 1


class PredictionLogger:
    """Sampled, buffered, immutable logging of predictions into a store.

    Args:
        store: where segments go (default: the current workspace's store).
        name: the log's name (one log per deployment, e.g. the model name).
        sample: fraction of requests kept (0..1), decided per request.
        max_rows: write a segment when the buffer holds this many rows.
        max_bytes: write a segment when the buffered inputs are estimated to exceed
            this size.
        flush_every: also write when this many seconds passed since the last write
            (checked on ``log()``; None: only by size, ``flush()`` and ``close()``).
        seed: seed of the sampling generator (for reproducible samples).
        max_pending: full buffers that may wait for the writer thread.
        writer: who writes a full buffer: ``"inline"`` (the ``log()`` call that filled
            it), ``"thread"`` (a writer thread), or ``"auto"``: inline for a local or
            ``memory://`` store, a thread for a remote one (see the module's notes).

    Example:
        >>> import pandas as pd
        >>> from mlopskit.store import ArtifactStore
        >>> with PredictionLogger(ArtifactStore("memory://log-doctest"), name="m") as plog:
        ...     plog.log({"inputs": pd.DataFrame({"x": [1.0, 2.0]}), "outputs": [0, 1]})
        True
        >>> plog.read()[["input.x", "output"]].values.tolist()
        [[1.0, 0], [2.0, 1]]
    """

    WRITERS = ("auto", "inline", "thread")
    """The values ``writer`` takes."""

    def __init__(
        self,
        store: ArtifactStore | None = None,
        *,
        name: str = "default",
        sample: float = 1.0,
        max_rows: int = 10_000,
        max_bytes: int = 64 * 1024 * 1024,
        flush_every: float | None = None,
        seed: int | None = None,
        max_pending: int = 4,
        writer: str = "auto",
    ) -> None:
        if writer not in self.WRITERS:
            raise InvalidInputError(
                f"writer must be one of {', '.join(self.WRITERS)}; found {writer!r}",
                expected=list(self.WRITERS),
                found=writer,
            )
        if not 0.0 <= float(sample) <= 1.0:
            raise InvalidInputError(
                f"sample must be within [0, 1]; found {sample}", expected="0..1", found=sample
            )
        if max_rows < 1 or max_bytes < 1:
            raise InvalidInputError(
                "max_rows and max_bytes must be positive", found=(max_rows, max_bytes)
            )
        self.store = store if store is not None else current_store()
        self.writer: str = (
            ("thread" if self.store.remote else "inline") if writer == "auto" else writer
        )
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidNameError(
                f"invalid prediction log name {name!r}: use letters, digits and '._@+=,-', "
                "starting with a letter, digit or '_'",
                found=name,
            )
        self.name = name
        self.sample = float(sample)
        self.max_rows = int(max_rows)
        self.max_bytes = int(max_bytes)
        self.flush_every = flush_every
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._buffer: list[_Entry] = []
        # the last columns seen: the Index, its names as a tuple and as a list
        self._names: tuple[Any, tuple[Any, ...], list[Any]] = (None, (), [])
        self._buffered_rows = 0
        self._buffered_bytes = 0
        self._last_write = time.monotonic()
        self._closed = False
        self.rows_written = 0
        self.segments_written = 0
        self.dropped = 0
        self.failed_rows = 0  # rows of segments that could not be stored
        self.max_pending = max(1, int(max_pending))
        self._queue: queue.Queue[list[_Entry] | None] | None = None
        self._writer: threading.Thread | None = None
        self._writer_pid = 0
        self._writer_lock = threading.Lock()
        _track_open(self)

    def __repr__(self) -> str:
        return (
            f"PredictionLogger({self.store.url!r}, name={self.name!r}, sample={self.sample}, "
            f"writer={self.writer!r})"
        )

    @property
    def prefix(self) -> str:
        """The ref prefix of this log's segments: ``predictions/<name>``."""
        return f"predictions/{self.name}"

    # -- writing -----------------------------------------------------------------------------

    def log(self, record: PredictionRecord | Mapping[str, Any]) -> bool:
        """Buffer one request's record (cheap, thread-safe); returns whether it was kept.

        Raises:
            InvalidInputError: the logger is closed, or the record has no ``inputs``.
        """
        rec = _as_record(record)
        return self.log_request(
            rec.inputs,
            rec.outputs,
            model=rec.model,
            variant=rec.variant,
            latency_ms=rec.latency_ms,
            request_id=rec.request_id,
            time=rec.time,
            error=rec.error,
            extra=rec.extra,
        )

    def log_request(
        self,
        inputs: Any,
        outputs: Any = None,
        *,
        model: str = "",
        variant: str = "",
        latency_ms: float = 0.0,
        request_id: str = "",
        time: float | None = None,
        error: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """:meth:`log` of a record given as its fields (what ``serve()`` calls for each
        request: no :class:`PredictionRecord` is made); returns whether it was kept.

        Raises:
            InvalidInputError: the logger is closed.
        """
        block = self._block(inputs)
        if block is not None:  # one numeric block: kept as its names and values
            frame, (names, values) = None, block
            rows = len(values)
            size = rows * 8 * (len(names) or 1)  # a cheap estimate
        else:
            frame, names, values = inputs, None, None
            rows = _rows(inputs)
            size = rows * 8 * max(len(getattr(inputs, "columns", ())), 1)
        entry: _Entry = (
            frame,
            names,
            values,
            outputs,
            request_id or uuid.uuid4().hex,
            _now() if time is None else time,
            model,
            variant,
            latency_ms,
            error,
            _NO_EXTRA if extra is None else extra,
        )
        return self._add([entry], rows, size) > 0

    def log_arrays(
        self,
        names: tuple[str, ...],
        arrays: Sequence[Any],
        outputs: Sequence[Any],
        *,
        request_ids: Sequence[str],
        model: str = "",
        variant: str = "",
        latency_ms: float = 0.0,
    ) -> int:
        """:meth:`log_request` of several requests whose inputs are 2-d numeric arrays of
        the columns ``names`` (what ``serve()`` has in hand after one model call answered
        them together): one record per request, each sampled on its own; returns how many
        were kept.

        Raises:
            InvalidInputError: the logger is closed, or the lengths differ.
        """
        if not (len(arrays) == len(outputs) == len(request_ids)):
            raise InvalidInputError(
                "log_arrays needs one output and one request id per array",
                expected=len(arrays),
                found=(len(outputs), len(request_ids)),
            )
        now = _now()
        width = 8 * (len(names) or 1)
        entries: list[_Entry] = []
        rows = 0
        for values, out, rid in zip(arrays, outputs, request_ids):
            rows += len(values)
            entries.append(
                (
                    None,
                    names,
                    values,
                    out,
                    rid or uuid.uuid4().hex,
                    now,
                    model,
                    variant,
                    latency_ms,
                    None,
                    _NO_EXTRA,
                )
            )
        return self._add(entries, rows, rows * width)

    def _add(self, entries: list[_Entry], rows: int, size: int) -> int:
        """Buffer ``entries`` (sampled), and write a segment when the buffer is full;
        returns how many were kept."""
        with self._lock:
            if self._closed:
                raise InvalidInputError(
                    f"{self!r} is closed; make a new logger to log more", found="closed"
                )
            if self.sample < 1.0:
                kept = [e for e in entries if self._rng.random() < self.sample]
                self.dropped += len(entries) - len(kept)
                if len(kept) < len(entries):
                    rows = sum(_entry_rows(e) for e in kept)
                    size = size * rows // max(sum(_entry_rows(e) for e in entries), 1)
                entries = kept
            if not entries:
                return 0
            self._buffer.extend(entries)
            self._buffered_rows += rows
            self._buffered_bytes += size
            batch = (
                self._take()
                if self._buffered_rows >= self.max_rows
                or self._buffered_bytes >= self.max_bytes
                or (
                    self.flush_every is not None
                    and _monotonic() - self._last_write >= self.flush_every
                )
                else None
            )
        if batch:
            if self.writer == "inline":
                self._store_batch(batch)
            else:
                self._submit(batch)
        return len(entries)

    def _block(self, inputs: Any) -> tuple[tuple[Any, ...], Any] | None:
        """``(column names, values)`` of a DataFrame whose columns share one numeric
        dtype (what the server's codec makes), else None."""
        frame_type = _TYPES.get("frame")
        if frame_type is None:
            if "pandas" not in sys.modules:
                return None
            _load_types()
            frame_type = _TYPES["frame"]
        if type(inputs) is not frame_type:
            return None
        values = _single_block(inputs)
        if values is not None:  # one numpy block: one numeric dtype, no dtypes to read
            names = self._column_names(inputs.columns)
            if len(names) == values.shape[1]:
                return names, values
        dtypes = _TYPES["dtypes_of"](inputs)
        first = dtypes[0] if dtypes else None
        if not isinstance(first, _TYPES["dtype"]) or first.kind not in "biuf":
            return None  # no columns, or not numbers, or an extension dtype
        if dtypes.count(first) != len(dtypes):
            return None  # several dtypes
        return self._column_names(inputs.columns), inputs.to_numpy()

    def _column_names(self, cols: Any) -> tuple[Any, ...]:
        """``tuple(cols)``, the same tuple object while the names stay the same: every
        request's frame has its own ``Index``, and iterating one costs 1-10 us where
        ``tolist()`` and a list comparison cost a fraction of that."""
        known_cols, names, listed = self._names
        if cols is known_cols:
            return names
        now = cols.tolist()
        if now != listed:
            names, listed = tuple(now), now
        self._names = (cols, names, listed)
        return names

    def prepare(self) -> None:
        """Import what writing a segment needs (pyarrow's Parquet writer, the lineage
        records) now, so the first segment written under traffic does not pay for it:
        ``serve()`` calls it while loading the model, before the server is ready."""
        import pyarrow.parquet  # noqa: F401

        from mlopskit._edges import record_request_columns  # noqa: F401
        from mlopskit.versioning import record_edge  # noqa: F401

        self.store.refs  # noqa: B018 - the store's refs, made on first use

    def _take(self) -> list[_Entry]:
        batch, self._buffer = self._buffer, []
        self._buffered_rows = self._buffered_bytes = 0
        self._last_write = time.monotonic()
        return batch

    # -- the writer thread -------------------------------------------------------------------

    def _submit(self, batch: list[_Entry]) -> None:
        """Hand a full buffer to the writer thread (waits while ``max_pending`` wait)."""
        with self._writer_lock:
            if self._writer is None or self._writer_pid != os.getpid():
                # First use, or a forked worker (the parent's thread is not here).
                self._queue = queue.Queue(maxsize=self.max_pending)
                self._writer = threading.Thread(
                    target=self._run_writer,
                    args=(self._queue,),
                    name=f"mlopskit-log-{self.name}",
                    daemon=True,
                )
                self._writer_pid = os.getpid()
                self._writer.start()
            pending = self._queue
        assert pending is not None
        pending.put(batch)

    def backlogged(self) -> bool:
        """Whether the writer thread is behind: ``max_pending`` buffers wait for it, so
        the next full buffer would wait too (``serve()`` then logs from a worker thread,
        never from its event loop). Never with ``writer="inline"``."""
        pending = self._queue  # the deque's length, read without the queue's lock
        return pending is not None and len(pending.queue) >= self.max_pending

    def _run_writer(self, pending: queue.Queue[list[_Entry] | None]) -> None:
        while True:
            batch = pending.get()
            try:
                if batch is None:
                    return
                self._store_batch(batch)
            finally:
                pending.task_done()

    def _store_batch(self, batch: list[_Entry]) -> None:
        """Write ``batch`` as a segment for ``log()`` (inline or on the writer thread): a
        failure never reaches the caller, whose prediction succeeded; its rows are
        counted in ``failed_rows`` and logged as lost."""
        try:
            self._write(batch)
        except Exception as exc:
            with self._lock:
                self.failed_rows += sum(_entry_rows(e) for e in batch)
            log.error(
                "prediction_segment_not_written",
                log=self.name,
                rows=len(batch),
                error=repr(exc),
            )

    def _drain(self) -> None:
        """Wait until the writer thread stored every buffer handed to it."""
        pending = self._queue
        if pending is not None and self._writer_pid == os.getpid():
            pending.join()

    def flush(self) -> int:
        """Wait for the writer thread, then write the buffer as one segment now.

        Returns:
            The number of rows this call wrote (rows the writer thread stored are in
            ``rows_written``).
        """
        self._drain()
        with self._lock:
            batch = self._take()
        return self._write(batch) if batch else 0

    def close(self) -> None:
        """Write what is buffered, stop the writer thread, refuse further records
        (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            batch = self._take()
        self._drain()
        if batch:
            self._write(batch)
        with self._writer_lock:
            writer, pending = self._writer, self._queue
            self._writer = self._queue = None
        if writer is not None and pending is not None and self._writer_pid == os.getpid():
            pending.put(None)
            writer.join()

    def __enter__(self) -> PredictionLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, batch: list[_Entry]) -> int:
        data, sizes = _segment(batch)
        rows = sum(sizes)
        with self._write_lock:
            ref = self.store.put_bytes(data, media_type=PARQUET)
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
            while True:
                name = f"{self.prefix}/{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
                try:
                    self.store.refs.set(name, ref, expected=None, message="prediction segment")
                    break
                except RefConflictError:  # pragma: no cover - a 32-bit random collision
                    continue
            self.rows_written += rows
            self.segments_written += 1
        self._record_lineage(ref, batch, sizes)
        log.debug("prediction_segment", log=self.name, rows=rows, digest=ref.digest)
        return rows

    def _record_lineage(self, ref: ArtifactRef, batch: list[_Entry], sizes: list[int]) -> None:
        """One edge per package in the segment (package → prediction segment), and the
        segment's request index."""
        from mlopskit._edges import record_request_columns
        from mlopskit.versioning import Endpoint, LineageEdge, record_edge

        ids, times, packages, package_of = _request_columns(batch, sizes)
        segment = Endpoint(digest=ref.digest, kind="prediction", label=self.name)
        for digest in sorted({d for p in packages for d in p}):
            record_edge(
                self.store,
                LineageEdge(
                    relation="served",
                    inputs={"package": Endpoint(digest=digest, kind="package")},
                    output=segment,
                    function="mlopskit.deploy.PredictionLogger",
                ),
            )
        # So ``mk.lineage(<request id>)`` finds the segment and what served each request.
        record_request_columns(self.store, segment, ids, times, packages, package_of)

    # -- reading -----------------------------------------------------------------------------

    def segments(self) -> list[str]:
        """The ref names of this log's segments, oldest first."""
        return sorted(self.store.refs.list(self.prefix))

    def read(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        model: str | None = None,
        variant: str | None = None,
    ) -> pd.DataFrame:
        """Every logged row (written segments only), oldest first, optionally filtered.

        Args:
            since: keep rows with ``since <= time`` (epoch seconds).
            until: keep rows with ``time < until`` (epoch seconds).
            model: keep rows of this package digest. variant: of this variant.

        Raises:
            IntegrityError: a damaged segment (names its ref).
        """
        return read_log(
            self.store, self.name, since=since, until=until, model=model, variant=variant
        )


# -- interpreter exit: what is still buffered is written, not lost ----------------------------------

_OPEN: weakref.WeakSet[PredictionLogger] = weakref.WeakSet()
_EXIT_HOOK = {"installed": False}
_EXIT_LOCK = threading.Lock()


def _track_open(logger: PredictionLogger) -> None:
    """Remember ``logger`` so interpreter exit closes it (the hook is installed on first use)."""
    with _EXIT_LOCK:
        _OPEN.add(logger)
        if not _EXIT_HOOK["installed"]:
            import atexit

            atexit.register(_close_all)
            _EXIT_HOOK["installed"] = True


def _close_all() -> None:
    for logger in list(_OPEN):
        try:
            logger.close()
        except Exception as exc:  # exit goes on; say what was lost
            log.error("prediction_log_not_flushed", log=logger.name, error=str(exc))


def read_log(
    store: ArtifactStore,
    name: str,
    *,
    since: float | None = None,
    until: float | None = None,
    model: str | None = None,
    variant: str | None = None,
    segments: list[str] | None = None,
) -> pd.DataFrame:
    """The rows of the prediction log ``name`` in ``store`` (see :meth:`PredictionLogger.read`).

    ``segments`` limits the read to those segment refs (default: every segment).
    """
    import pandas as pd

    frames = []
    names = sorted(store.refs.list(f"predictions/{name}")) if segments is None else segments
    for ref_name in names:
        frames.append(_read_segment(store, ref_name, store.refs.get(ref_name)))
    if not frames:
        empty: pd.DataFrame = pd.DataFrame({c: pd.Series(dtype="object") for c in META_COLUMNS})
        return empty
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    keep = pd.Series(True, index=frame.index)
    if since is not None:
        keep &= frame["time"] >= since
    if until is not None:
        keep &= frame["time"] < until
    if model is not None:
        keep &= frame["model"] == model
    if variant is not None:
        keep &= frame["variant"] == variant
    if not bool(keep.all()):
        frame = frame[keep].reset_index(drop=True)
    ordered: pd.DataFrame = frame.sort_values("time", kind="stable", ignore_index=True)
    return ordered


def _read_segment(store: ArtifactStore, ref_name: str, ref: ArtifactRef) -> pd.DataFrame:
    import pandas as pd

    data = store.get_bytes(ref)  # IntegrityError (naming the digest) if damaged
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise IntegrityError(
            f"prediction segment {ref_name} ({ref.digest}) is not a readable Parquet file: "
            f"{type(exc).__name__}",
            digest=ref.digest,
            path=ref_name,
        ) from None
    missing = [c for c in META_COLUMNS if c not in frame.columns]
    if missing:
        raise IntegrityError(
            f"prediction segment {ref_name} lacks columns {missing}",
            digest=ref.digest,
            path=ref_name,
            expected=list(META_COLUMNS),
            found=list(frame.columns),
        )
    return frame


def _request_columns(
    batch: list[_Entry], sizes: list[int]
) -> tuple[list[str], list[float | None], list[list[str]], list[int]]:
    """The request index of a segment: ``(ids, times, package sets, package set of each
    request)`` (see :func:`mlopskit._edges.record_request_columns`).

    The server's batches — text ids, each request logged once with rows, one model, a
    time each — are read off the batch's columns in one pass each; any other batch goes
    through :func:`_request_columns_general`, which gives the same columns for these.
    """
    import numpy as np

    if not batch or 0 in sizes:
        return _request_columns_general(batch, sizes)
    _, _, _, _, rids, stamps, models, *_ = zip(*batch)
    if (
        set(map(type, rids)) != _STR
        or set(map(type, models)) != _STR
        or models.count(models[0]) != len(models)
        or len(set(rids)) != len(rids)
    ):
        return _request_columns_general(batch, sizes)
    times = np.array(stamps, dtype="float64")
    if np.isnan(times).any():
        return _request_columns_general(batch, sizes)
    label = models[0]
    return list(rids), times.tolist(), [[label] if ":" in label else []], [0] * len(rids)


def _request_columns_general(
    batch: list[_Entry], sizes: list[int]
) -> tuple[list[str], list[float | None], list[list[str]], list[int]]:
    """:func:`_request_columns` of any batch."""
    # Each entry is one request: its rows share its id, time and model (a request
    # logged twice — by two variants, or retried — has one entry: first time, every
    # package). Requests with no rows are not in the segment, so not indexed. One
    # pass builds the index's columns; requests of one model share its package set.
    ids: list[str] = []
    times: list[float | None] = []
    package_of: list[int] = []
    where: dict[str, int] = {}
    labels: dict[str, int] = {}  # a model's label -> its package set
    sets: dict[tuple[str, ...], int] = {}  # a package set -> its position
    order: list[tuple[str, ...]] = []  # the package sets by position

    def position(found: tuple[str, ...]) -> int:
        k = sets.get(found)
        if k is None:
            k = sets[found] = len(order)
            order.append(found)
        return k

    for entry, n in zip(batch, sizes):
        if not n:
            continue
        model = entry[6]
        label = model if type(model) is str else str(model)  # None, NaN: no ':'
        k = labels.get(label)
        if k is None:
            k = labels[label] = position((label,) if ":" in label else ())
        t = float(entry[5])
        key = entry[4] if type(entry[4]) is str else str(entry[4])
        i = where.setdefault(key, len(ids))
        if i == len(ids):
            ids.append(key)
            times.append(t if t == t else None)  # NaN: no time
            package_of.append(k)
            continue
        first = times[i]
        if t == t and (first is None or t < first):
            times[i] = t
        package_of[i] = position(tuple(sorted({*order[package_of[i]], *order[k]})))
    return ids, times, [list(p) for p in order], package_of


# -- records -> one frame --------------------------------------------------------------------


def _input_frame(inputs: Any) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    if isinstance(inputs, pd.DataFrame):
        return inputs
    if isinstance(inputs, np.ndarray):
        arr = inputs.reshape(len(inputs), -1) if inputs.ndim != 2 else inputs
        out: pd.DataFrame = pd.DataFrame(arr, columns=[str(i) for i in range(arr.shape[1])])
        return out
    from mlopskit.deploy._codec import to_frame

    frame = to_frame(inputs)
    return frame if isinstance(frame, pd.DataFrame) else _input_frame(np.asarray(frame))


_DTYPE_OF = operator.attrgetter("dtype")
_NDIM_OF = operator.attrgetter("ndim")
_STR = {str}
_STR_OR_NONE = {str, type(None)}
_DICTIONARY = ("model", "variant", "error")  # the segment columns written with a dictionary

_TYPES: dict[str, Any] = {}  # pandas' DataFrame, numpy's dtype, once pandas is imported


def _load_types() -> None:
    import numpy as np
    import pandas as pd

    from mlopskit.deploy._codec import _dtypes_of

    _TYPES.update(dtype=np.dtype, dtypes_of=_dtypes_of, frame=pd.DataFrame, ndarray=np.ndarray)


def _single_block(frame: Any) -> Any:
    """What ``frame.to_numpy()`` gives when pandas holds the frame as one numeric numpy
    block (the frames the server's codec makes), read from the block manager as
    ``to_numpy`` does (a view, rows first); None otherwise (then the public way)."""
    try:
        blocks = frame._mgr.blocks
        if len(blocks) != 1:
            return None
        values: Any = blocks[0].values
    except (AttributeError, TypeError):  # another pandas' internals: the public way
        return None
    if type(values) is not _TYPES["ndarray"] or values.ndim != 2 or values.dtype.kind not in "biuf":
        return None
    return values.T


def _entry_rows(entry: _Entry) -> int:
    return len(entry[2]) if entry[1] is not None else _rows(entry[0])


def _same_columns(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if type(a) is tuple or type(b) is tuple:
        return tuple(a) == tuple(b)
    return bool(a.equals(b))


def _inputs_block(items: list[Any]) -> pd.DataFrame:
    """The inputs of many requests as one frame of ``input.<column>`` columns.

    ``items`` are DataFrames, or ``(column names, values)`` of a frame whose columns
    share one numeric dtype. Requests with the same columns are stacked as one numpy
    block when their values share one numeric dtype (the common case: a few
    microseconds per request); anything else is concatenated by pandas, column types
    kept.
    """
    import numpy as np
    import pandas as pd

    groups: list[tuple[Any, list[Any]]] = []
    for item in items:
        cols = item[0] if type(item) is tuple else item.columns
        if groups and _same_columns(groups[-1][0], cols):
            groups[-1][1].append(item)
        else:
            groups.append((cols, [item]))
    parts: list[pd.DataFrame] = []
    for cols, members in groups:
        names = [f"input.{c}" for c in cols]
        arrays = [m[1] if type(m) is tuple else m.to_numpy() for m in members]
        kinds = {a.dtype for a in arrays}
        if len(kinds) == 1 and next(iter(kinds)).kind in "biuf":
            parts.append(pd.DataFrame(np.concatenate(arrays), columns=names))
        else:
            frames = [
                pd.DataFrame(m[1], columns=list(m[0])) if type(m) is tuple else m for m in members
            ]
            block = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
            parts.append(block.set_axis(names, axis=1).reset_index(drop=True))
    if len(parts) == 1:
        return parts[0]
    out: pd.DataFrame = pd.concat(parts, ignore_index=True)
    return out


def _outputs_block(outputs: list[Any], sizes: list[int]) -> dict[str, Any]:
    """The outputs of many requests as ``output`` / ``output.<name>`` columns."""
    import pandas as pd

    numeric = _numeric_outputs(outputs, sizes)
    if numeric is not None:
        return numeric
    cols: dict[str, list[Any]] = {}
    total = 0
    for out, n in zip(outputs, sizes):
        for key, values in _output_columns(out, n).items():
            col = cols.get(key)
            if col is None:
                col = cols[key] = [None] * total
            col.extend(values)
        total += n
        for col in cols.values():
            if len(col) < total:
                col.extend([None] * (total - len(col)))
    return {k: _column(v) if not isinstance(v, pd.Series) else v for k, v in cols.items()}


def _numeric_outputs(
    outputs: list[Any] | tuple[Any, ...], sizes: list[int]
) -> dict[str, Any] | None:
    """``output`` (or ``output.<i>``) arrays when every request's outputs are a numeric
    array of one row per input row (1-D, or 2-D of one width); None otherwise."""
    import numpy as np

    if set(map(type, outputs)) != {np.ndarray}:
        return None
    if not all(d.kind in "biuf" for d in set(map(_DTYPE_OF, outputs))):
        return None
    dims = set(map(_NDIM_OF, outputs))
    if dims == {1} and list(map(len, outputs)) == sizes:
        return {"output": np.concatenate(outputs)}
    widths = {o.shape[1] for o in outputs if o.ndim == 2}
    if dims == {2} and len(widths) == 1 and list(map(len, outputs)) == sizes:
        stacked = np.concatenate(outputs)
        return {f"output.{i}": stacked[:, i] for i in range(stacked.shape[1])}
    return None


def _output_columns(outputs: Any, n: int) -> dict[str, list[Any]]:
    import numpy as np
    import pandas as pd

    if outputs is None:
        return {"output": [None] * n}
    if isinstance(outputs, pd.DataFrame):
        return {f"output.{c}": outputs[c].tolist() for c in outputs.columns}
    if isinstance(outputs, Mapping):
        return {f"output.{k}": list(np.asarray(v).tolist()) for k, v in outputs.items()}
    values = outputs.tolist() if hasattr(outputs, "tolist") else list(outputs)
    arr = np.asarray(outputs) if not isinstance(outputs, pd.Series) else None
    if arr is not None and arr.ndim == 2:
        return {f"output.{i}": arr[:, i].tolist() for i in range(arr.shape[1])}
    if len(values) != n:
        return {"output": [values] + [None] * (n - 1) if n else []}
    return {"output": values}


def _to_frame(batch: list[_Entry]) -> pd.DataFrame:
    """The segment frame of ``batch`` (see :func:`_frame_of`)."""
    return _frame_of(batch)[0]


def _frame_of(batch: list[_Entry]) -> tuple[pd.DataFrame, list[int]]:
    """The segment frame of ``batch``, and the number of rows each request gave."""
    import numpy as np
    import pandas as pd

    inputs = [(e[1], e[2]) if e[1] is not None else _input_frame(e[0]) for e in batch]
    sizes = [len(i[1]) if type(i) is tuple else len(i) for i in inputs]
    total = sum(sizes)
    (_, _, _, outs, rids, times, models, variants, latencies, errors, extra) = (
        zip(*batch) if batch else ((),) * 11
    )
    meta: dict[str, Any] = {
        "request_id": np.repeat(np.array(rids, dtype=object), sizes),
        "time": np.repeat(np.array(times, dtype="float64"), sizes),
        "model": np.repeat(np.array(models, dtype=object), sizes),
        "variant": np.repeat(np.array(variants, dtype=object), sizes),
        "latency_ms": np.repeat(np.array(latencies, dtype="float64"), sizes),
        "row": _positions(sizes, total),
        "error": np.repeat(np.array(errors, dtype=object), sizes),
    }
    frame = pd.DataFrame(meta)
    block = _inputs_block(inputs) if total else pd.DataFrame()
    outputs = _outputs_block(list(outs), sizes)
    extras: dict[str, list[Any]] = {}
    if any(extra):
        keys = sorted({k for x in extra for k in x})
        for key in keys:
            extras[f"extra.{key}"] = [x.get(key) for x, n in zip(extra, sizes) for _ in range(n)]
    pieces = [frame, block.reset_index(drop=True), pd.DataFrame(outputs, index=frame.index)]
    if extras:
        pieces.append(pd.DataFrame({k: _column(v) for k, v in extras.items()}))
    out: pd.DataFrame = pd.concat(pieces, axis=1)
    return out, sizes


def _positions(sizes: list[int], total: int) -> Any:
    """Each row's position in its request: 0..n-1 for a request of n rows."""
    import numpy as np

    counts = np.asarray(sizes, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    out: Any = np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
    return out


def _column(values: list[Any]) -> Any:
    import pandas as pd

    series = pd.Series(values)
    if series.dtype == object:
        kinds = {type(v) for v in values if v is not None and v is not pd.NA}
        if len(kinds) > 1 and not kinds <= {int, float}:
            series = series.map(lambda v: None if v is None or v is pd.NA else str(v))
    return series


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    try:
        frame.to_parquet(buf, index=False)
    except (TypeError, ValueError, ImportError) as exc:  # pyarrow: mixed-type object columns
        import pandas as pd

        log.debug("prediction_segment_as_text", error=type(exc).__name__)
        mixed = [c for c in frame.columns if frame[c].dtype == object]
        frame = frame.assign(
            **{
                c: frame[c].map(lambda v: None if v is None or v is pd.NA else str(v))
                for c in mixed
            }
        )
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
    return buf.getvalue()


# -- records -> one Arrow table, the server's common case without pandas --------------------------


def _segment(batch: list[_Entry]) -> tuple[bytes, list[int]]:
    """The Parquet file of ``batch``'s segment, and the number of rows each request gave.

    A batch of the server's common case goes straight to an Arrow table (see
    :func:`_arrow_table`); any other through the segment frame (:func:`_frame_of`).
    Both read back as the same frame.
    """
    fast = _arrow_table(batch)
    if fast is not None:
        import pyarrow.parquet as pq

        table, sizes = fast
        buf = io.BytesIO()
        # Snappy, as DataFrame.to_parquet writes; dictionary pages only for the columns
        # that repeat (ids, times and numbers rarely do: encoding them a dictionary cost
        # three quarters of the write and made the file larger).
        pq.write_table(table, buf, compression="snappy", use_dictionary=list(_DICTIONARY))
        return buf.getvalue(), sizes
    frame, sizes = _frame_of(batch)
    return _parquet(frame), sizes


def _arrow_table(batch: list[_Entry]) -> tuple[Any, list[int]] | None:
    """The segment of ``batch`` as a ``pyarrow.Table`` built from its arrays, with no
    pandas frame on the way: when every request's inputs are one numeric block of the
    same columns and dtype, its outputs numeric arrays (:func:`_numeric_outputs`), its
    id, model and variant text, its error text or None, and no request has extras.
    None for any other batch (then :func:`_frame_of`, which handles every case).
    """
    import numpy as np
    import pyarrow as pa

    if not batch:
        return None
    # Each check is one pass in C (count, map, set): a segment holds thousands of requests.
    (_, names, values, outs, rids, times, models, variants, latencies, errors, extra) = zip(*batch)
    cols = names[0]
    if cols is None or any(extra) or names.count(cols) != len(names):
        return None
    dtypes = set(map(_DTYPE_OF, values))
    if len(dtypes) != 1 or next(iter(dtypes)).kind not in "biuf":
        return None
    if set(map(type, rids)) != _STR or set(map(type, models)) != _STR:
        return None
    if set(map(type, variants)) != _STR or not set(map(type, errors)) <= _STR_OR_NONE:
        return None
    sizes = list(map(len, values))
    total = sum(sizes)
    outputs = _numeric_outputs(outs, sizes) if total else None
    if outputs is None:
        return None
    labels = [*META_COLUMNS, *(f"input.{c}" for c in cols), *outputs]
    if len(set(labels)) != len(labels):
        return None  # duplicate input columns: the frame path says what is wrong
    # One row per request (the server's case) needs no repeat of the request's fields; a
    # request of no rows logs none (equal totals are not enough: sizes [2, 0] repeat).
    one_each = sizes.count(1) == len(sizes)
    take = None if one_each else pa.array(np.repeat(np.arange(len(batch)), sizes))

    def per_row(items: Any, kind: Any = None) -> Any:
        arr = pa.array(items, type=kind, from_pandas=True)
        return arr if take is None else arr.take(take)

    stacked = np.concatenate(values) if len(values) > 1 else values[0]
    arrays = [
        per_row(rids, pa.string()),
        per_row(np.array(times, dtype="float64")),
        per_row(models, pa.string()),
        per_row(variants, pa.string()),
        per_row(np.array(latencies, dtype="float64")),
        pa.array(_positions(sizes, total)),
        per_row(errors),  # null when no request failed, as pandas writes a column of None
        *(pa.array(column, from_pandas=True) for column in np.ascontiguousarray(stacked.T)),
        *(pa.array(column, from_pandas=True) for column in outputs.values()),
    ]
    return pa.Table.from_arrays(arrays, names=labels), sizes
