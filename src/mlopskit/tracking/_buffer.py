"""Metric buffering: points collect in memory and are written in batches.

Single points (``log_metric``) are buffered as tuples; a whole series (``log_batch``)
as three typed columns (:class:`Series`), never as one Python object per point. A
flush hands the backend one :class:`MetricBatch` of both, in the order they were
buffered; :func:`metric_columns` turns any batch into per-key columns.

A batch is written when a run's buffer holds ``max_points`` points (in the caller's
thread), when its oldest point is ``max_age`` seconds old (by the background worker),
at run end, at interpreter exit and on SIGTERM. A failed write keeps the points in the
buffer (nothing is dropped), is logged, and is raised by the next ``flush()``.
The worker thread also sends each backend's heartbeat while it has open runs.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any, NamedTuple, overload

from mlopskit import _config
from mlopskit._log import get_logger
from mlopskit.tracking._model import MetricPoint

__all__ = ["MetricBatch", "MetricBuffer", "Series", "column_bytes", "metric_columns", "worker"]

log = get_logger("mlopskit.tracking")

DEFAULT_MAX_POINTS = 10_000
DEFAULT_MAX_AGE = 1.0


class Series(NamedTuple):
    """Validated points of one metric as columns: float64 values, int64 steps, float64 times."""

    key: str
    values: array[float]
    steps: array[int]
    times: array[float]

    def __len__(self) -> int:
        return len(self.values)


#: Per key: (steps int64, values float64, times float64), in the order they were logged.
Columns = tuple["array[int]", "array[float]", "array[float]"]


class MetricBatch(Sequence[MetricPoint]):
    """Buffered points in logging order: lists of single points and whole series.

    A sequence of ``(key, value, step, timestamp)`` points like any batch; backends that
    write columns read :func:`metric_columns` instead and never build a tuple per point.
    """

    def __init__(self, chunks: list[list[MetricPoint] | Series]) -> None:
        self.chunks = chunks
        self._len = sum(len(c) for c in chunks)
        self._flat: list[MetricPoint] | None = None

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[MetricPoint]:
        for chunk in self.chunks:
            if isinstance(chunk, Series):
                yield from zip(repeat(chunk.key), chunk.values, chunk.steps, chunk.times)
            else:
                yield from chunk

    @overload
    def __getitem__(self, i: int) -> MetricPoint: ...
    @overload
    def __getitem__(self, i: slice) -> list[MetricPoint]: ...
    def __getitem__(self, i: int | slice) -> MetricPoint | list[MetricPoint]:
        if self._flat is None:
            self._flat = list(self)
        return self._flat[i]


def metric_columns(points: Sequence[MetricPoint]) -> dict[str, Columns]:
    """The points of a batch as columns per key, each in logging order."""
    chunks = points.chunks if isinstance(points, MetricBatch) else [points]
    parts: dict[str, list[Columns]] = {}
    for chunk in chunks:
        if isinstance(chunk, Series):
            parts.setdefault(chunk.key, []).append((chunk.steps, chunk.values, chunk.times))
            continue
        for key, series in _by_key(chunk).items():
            _, v, st, t = zip(*series)  # columns, at C speed
            parts.setdefault(key, []).append((array("q", st), array("d", v), array("d", t)))
    out: dict[str, Columns] = {}
    for key, cols in parts.items():
        if len(cols) == 1:
            out[key] = cols[0]
            continue
        steps, vals, times = array("q"), array("d"), array("d")
        for col_steps, col_vals, col_times in cols:  # same-type extends: memory copies
            steps.extend(col_steps)
            vals.extend(col_vals)
            times.extend(col_times)
        out[key] = (steps, vals, times)
    return out


def column_bytes(column: array[Any]) -> bytes:
    """A column's little-endian bytes (int64 steps, float64 values and times)."""
    if sys.byteorder == "big":  # pragma: no cover - big-endian hosts
        column = array(column.typecode, column)
        column.byteswap()
    return column.tobytes()


def _by_key(points: Sequence[MetricPoint]) -> dict[str, Sequence[MetricPoint]]:
    keys = set(map(itemgetter(0), points))
    if len(keys) == 1:  # the common case: one series
        return {keys.pop(): points}
    out: dict[str, list[MetricPoint]] = {}
    for p in points:
        out.setdefault(p[0], []).append(p)
    return dict(out)


class MetricBuffer:
    """The unwritten points of one run in this process."""

    def __init__(
        self,
        write: Callable[[Sequence[MetricPoint]], None],
        *,
        max_points: int = DEFAULT_MAX_POINTS,
        max_age: float = DEFAULT_MAX_AGE,
        label: str = "",
    ) -> None:
        self._write = write
        self.max_points = max_points
        self.max_age = max_age
        self.label = label
        self._chunks: list[list[MetricPoint] | Series] = []  # sealed, before _points
        self._count = 0  # points in _chunks
        self._points: list[MetricPoint] = []  # single points after the last series
        self._since = 0.0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.error: BaseException | None = None

    def __len__(self) -> int:
        return self._count + len(self._points)

    def add(self, point: MetricPoint) -> None:
        """Buffer one point; writes the batch in this thread once it is full."""
        with self._lock:
            points = self._points
            if not points and not self._count:
                self._since = time.monotonic()
            points.append(point)
            full = len(points) + self._count >= self.max_points
        if full:
            self.flush(raise_errors=False)

    def extend(self, batch: list[MetricPoint]) -> None:
        """Buffer many points at once."""
        with self._lock:
            if not self._points and not self._count:
                self._since = time.monotonic()
            self._points.extend(batch)
            full = len(self._points) + self._count >= self.max_points
        if full:
            self.flush(raise_errors=False)

    def add_series(self, series: Series) -> None:
        """Buffer a whole validated series (kept as columns until it is written)."""
        if not len(series):
            return
        with self._lock:
            if not self._points and not self._count:
                self._since = time.monotonic()
            if self._points:
                self._chunks.append(self._points)
                self._count += len(self._points)
                self._points = []
            self._chunks.append(series)
            self._count += len(series)
            full = self._count >= self.max_points
        if full:
            self.flush(raise_errors=False)

    def due(self, now: float) -> bool:
        """Whether the oldest point has waited ``max_age`` seconds."""
        return (bool(self._points) or self._count > 0) and now - self._since >= self.max_age

    def flush(self, *, raise_errors: bool = True) -> int:
        """Write every buffered point; returns how many were written.

        On failure the points go back to the front of the buffer, the error is kept
        and logged, and (with ``raise_errors``) raised.
        """
        with self._write_lock:
            with self._lock:
                chunks = self._chunks
                if self._points:
                    chunks.append(self._points)
                self._chunks, self._count, self._points = [], 0, []
                since = self._since
            batch = MetricBatch(chunks)
            if not batch:
                if raise_errors and self.error is not None:
                    error, self.error = self.error, None
                    raise error
                return 0
            try:
                self._write(batch)
            except Exception as exc:
                with self._lock:  # back in front of anything buffered meanwhile
                    self._chunks[:0] = chunks
                    self._count += len(batch)
                    self._since = since
                self.error = exc
                log.error("metrics_not_written", run=self.label, points=len(batch), error=str(exc))
                if raise_errors:
                    self.error = None
                    raise
                return 0
            self.error = None
            return len(batch)


class _Worker:
    """One daemon thread per process: age-based flushes and heartbeats.

    Each round (the flushes and heartbeats after a wait) holds ``_busy`` and reads the
    watched buffers only once it holds it, so once :meth:`unregister` returns the thread
    neither flushes that buffer nor heartbeats its backend: a run that ended, whose
    backend was then closed and its workspace deleted, is not written to again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy = threading.RLock()  # re-entrant: a round may unregister
        self._buffers: dict[int, tuple[MetricBuffer, Any]] = {}
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._pid = os.getpid()

    def register(self, buffer: MetricBuffer, backend: Any) -> None:
        """Watch ``buffer`` (and heartbeat ``backend``) until :meth:`unregister`."""
        with self._lock:
            self._buffers[id(buffer)] = (buffer, backend)
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._loop, name="mlopskit-tracking", daemon=True
                )
                self._thread.start()

    def unregister(self, buffer: MetricBuffer) -> None:
        """Stop watching ``buffer``; waits for a round in flight to finish."""
        with self._busy, self._lock:
            self._buffers.pop(id(buffer), None)

    def buffers(self) -> list[MetricBuffer]:
        """Every watched buffer."""
        with self._lock:
            return [b for b, _ in self._buffers.values()]

    def flush_all(self, *, raise_errors: bool = False) -> None:
        """Flush every watched buffer."""
        errors: list[BaseException] = []
        for buffer in self.buffers():
            try:
                buffer.flush(raise_errors=raise_errors)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def _loop(self) -> None:
        last_beat = time.monotonic()
        while True:
            interval = _heartbeat_interval()
            with self._lock:
                items = list(self._buffers.values())
            tick = min([0.25, *(b.max_age / 4 for b, _ in items)])
            self._wake.wait(max(tick, 0.01))
            self._wake.clear()
            with self._busy:
                with self._lock:  # what is watched now, not before the wait
                    items = list(self._buffers.values())
                now = time.monotonic()
                for buffer, _ in items:
                    if buffer.due(now):
                        buffer.flush(raise_errors=False)
                if now - last_beat >= interval:
                    last_beat = now
                    for backend in {id(b): b for _, b in items}.values():
                        try:
                            backend.heartbeat()
                        except Exception as exc:
                            log.warning("heartbeat_failed", backend=repr(backend), error=str(exc))


def _heartbeat_interval() -> float:
    return float(_config.setting("heartbeat_interval", default=10.0, parse=float))


worker = _Worker()


def _after_fork() -> None:  # pragma: no cover - exercised in forked children
    worker._thread = None
    worker._lock = threading.Lock()
    worker._busy = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
