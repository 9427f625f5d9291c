"""Metric buffering: points collect in memory and are written in batches.

A batch is written when a run's buffer holds ``max_points`` points (in the caller's
thread), when its oldest point is ``max_age`` seconds old (by the background worker),
at run end, at interpreter exit and on SIGTERM. A failed write keeps the points in the
buffer (nothing is dropped), is logged, and is raised by the next ``flush()``.
The worker thread also sends each backend's heartbeat while it has open runs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from mlopskit import _config
from mlopskit._log import get_logger
from mlopskit.tracking._model import MetricPoint

__all__ = ["MetricBuffer", "worker"]

log = get_logger("mlopskit.tracking")

DEFAULT_MAX_POINTS = 10_000
DEFAULT_MAX_AGE = 1.0


class MetricBuffer:
    """The unwritten points of one run in this process."""

    def __init__(
        self,
        write: Callable[[list[MetricPoint]], None],
        *,
        max_points: int = DEFAULT_MAX_POINTS,
        max_age: float = DEFAULT_MAX_AGE,
        label: str = "",
    ) -> None:
        self._write = write
        self.max_points = max_points
        self.max_age = max_age
        self.label = label
        self._points: list[MetricPoint] = []
        self._since = 0.0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.error: BaseException | None = None

    def __len__(self) -> int:
        return len(self._points)

    def add(self, point: MetricPoint) -> None:
        """Buffer one point; writes the batch in this thread once it is full."""
        with self._lock:
            points = self._points
            if not points:
                self._since = time.monotonic()
            points.append(point)
            full = len(points) >= self.max_points
        if full:
            self.flush(raise_errors=False)

    def extend(self, batch: list[MetricPoint]) -> None:
        """Buffer many points at once."""
        with self._lock:
            if not self._points:
                self._since = time.monotonic()
            self._points.extend(batch)
            full = len(self._points) >= self.max_points
        if full:
            self.flush(raise_errors=False)

    def due(self, now: float) -> bool:
        """Whether the oldest point has waited ``max_age`` seconds."""
        return bool(self._points) and now - self._since >= self.max_age

    def flush(self, *, raise_errors: bool = True) -> int:
        """Write every buffered point; returns how many were written.

        On failure the points go back to the front of the buffer, the error is kept
        and logged, and (with ``raise_errors``) raised.
        """
        with self._write_lock:
            with self._lock:
                batch, self._points = self._points, []
                since = self._since
            if not batch:
                if raise_errors and self.error is not None:
                    error, self.error = self.error, None
                    raise error
                return 0
            try:
                self._write(batch)
            except Exception as exc:
                with self._lock:
                    self._points[:0] = batch
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
    """One daemon thread per process: age-based flushes and heartbeats."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
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
        """Stop watching ``buffer``."""
        with self._lock:
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


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
