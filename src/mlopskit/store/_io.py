"""Low-level I/O of the store: one-pass hash-while-copy, verified reads, times."""

from __future__ import annotations

import io
import os
import queue
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from mlopskit.errors import IntegrityError, InvalidInputError, NotFoundError
from mlopskit.hashing import digester_for

#: An existing object older than this is "freshened" when put again, so that a
#: concurrent ``gc`` (whose grace must be longer) never sweeps it under a new writer.
FRESHEN_AFTER = timedelta(hours=6)
DEFAULT_GRACE = timedelta(days=1)


def _now() -> float:
    return time.time()


def _mtime(info: dict[str, Any]) -> float:
    for key in ("mtime", "LastModified", "created", "updated", "last_modified"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
        except ValueError:
            continue
    return _now()


def _digest_of(data: bytes | bytearray | memoryview, like: str) -> str:
    h = digester_for(like)
    h.update(data)
    return h.digest()


def _write_fd(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view) :]


#: Start the disk writeback of a file being copied every this many bytes, so the
#: fsync before it is published waits for the tail, not for the whole file.
WRITEBACK_EVERY = 32 * 1024 * 1024
_FADVISE = getattr(os, "posix_fadvise", None)


class _Writeback:
    """Asks the kernel to start writing a file's dirty pages while the copy goes on.

    ``POSIX_FADV_DONTNEED`` on Linux starts asynchronous writeback of the range (and
    drops only pages already clean); elsewhere this does nothing.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.done = 0
        self.pending = 0

    def wrote(self, n: int) -> None:
        self.pending += n
        if self.pending >= WRITEBACK_EVERY and _FADVISE is not None:
            try:
                _FADVISE(self.fd, self.done, self.pending, os.POSIX_FADV_DONTNEED)
            except OSError:
                pass
            self.done += self.pending
            self.pending = 0


def spare_core() -> bool:
    """Whether a second thread of a copy would find an idle core.

    True when this process may run on at least two cores and the 1-minute load average
    leaves one of them free. On a busy machine a writer thread only adds hand-offs and
    wake-up latency to a copy the reading thread could do alone.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    if cores < 2:
        return False
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # unknown load (Windows): assume the core is free
        return True
    return load <= cores - 1


def _copy_hashing(f: Any, fd: int, h: Any, chunk: int, bar: Any, *, threaded: bool) -> None:
    """Copy ``f`` to ``fd`` while hashing, in one pass with bounded memory.

    Threaded, the reading thread reads and hashes while a writer thread writes the
    previous buffer (hashlib, reads and writes release the GIL), so on two idle cores
    the copy costs about max(hash, copy) rather than their sum (callers thread it only
    when :func:`spare_core`). Three buffers in flight.
    """
    wb = _Writeback(fd)
    if not threaded:
        buf = bytearray(chunk)
        view = memoryview(buf)
        while n := f.readinto(buf):
            h.update(view[:n])
            _write_fd(fd, view[:n])
            wb.wrote(n)
            bar.update(n)
        return
    free: queue.Queue[bytearray] = queue.Queue()
    full: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
    for _ in range(3):
        free.put(bytearray(chunk))
    failed: list[BaseException] = []

    def writer() -> None:
        while (item := full.get()) is not None:
            buf, n = item
            if not failed:
                try:
                    _write_fd(fd, memoryview(buf)[:n])
                    wb.wrote(n)
                except BaseException as exc:  # reported by the reading thread
                    failed.append(exc)
            free.put(buf)  # always hand buffers back, so the reader never blocks

    thread = threading.Thread(target=writer, name="mlopskit-copy", daemon=True)
    thread.start()
    try:
        while not failed:
            buf = free.get()
            n = f.readinto(buf)
            if not n:
                break
            h.update(memoryview(buf)[:n])
            full.put((buf, n))
            bar.update(n)
    finally:
        full.put(None)
        thread.join()
    if failed:
        raise failed[0]


def _stat_source(src: str) -> os.stat_result:
    try:
        return os.stat(src)
    except FileNotFoundError:
        raise NotFoundError(f"no such file: {src}", path=src) from None


def _check_unchanged(src: str, before: os.stat_result) -> None:
    after = os.stat(src)
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise InvalidInputError(f"{src} changed while it was being stored; try again", path=src)


class _VerifyingReader(io.RawIOBase):
    """Hashes what is read; raises IntegrityError at the end if the digest differs."""

    def __init__(self, raw: Any, digest: str, path: str) -> None:
        self._raw = raw
        self._digest = digest
        self._path = path
        self._hasher = digester_for(digest)
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n: int = self._raw.readinto(buffer)
        if n:
            self._hasher.update(memoryview(buffer)[:n])
        elif not self._done:
            self._done = True
            found = self._hasher.digest()
            if found != self._digest:
                raise IntegrityError(
                    f"object {self._digest} at {self._path} is corrupt: its bytes hash to {found}",
                    digest=self._digest,
                    found=found,
                    path=self._path,
                )
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()
