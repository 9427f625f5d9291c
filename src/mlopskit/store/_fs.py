"""The filesystem under a store: URL resolution, atomic and create-only writes, retries.

:class:`Location` is the storage boundary: every call it makes to a remote filesystem
goes through :func:`mlopskit._retry.retry` exactly once, under the location's
:class:`~mlopskit._retry.RetryPolicy`. Callers above it never retry again. Local
filesystem calls are not retried (an ``OSError`` from the kernel is definite).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from mlopskit._config import make_local_root
from mlopskit._log import get_logger
from mlopskit._optional import FilesystemRoot
from mlopskit._retry import RetryPolicy, memory_fs_race, retry
from mlopskit.errors import (
    StorageError,
    UnsupportedOperationError,
)

T = TypeVar("T")
Buffer = bytes | bytearray | memoryview

log = get_logger("mlopskit.store")

# Which extra installs the fsspec implementation of a protocol.
# Filesystems whose writes of a whole object are atomic (no partial object is ever visible).
_OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "memory", "az", "abfs", "abfss", "adl"}
# Filesystems on which fsspec's create-only mode is a real conditional write.
_CREATE_ONLY = {"file", "local", "memory", "s3", "s3a", "gs", "gcs"}

_memory_lock = threading.Lock()


class Location(FilesystemRoot):
    """A filesystem and a root path in it, resolved from a URL or a plain path.

    The storage boundary of the store: its methods
    (``cat``, ``info``, ``exists``, ``ls``, ``find``, ``rm``, ``write_atomic``,
    ``write_create_only``) retry a remote call exactly once under ``policy``; callers
    must not wrap them in another retry.

    Args:
        url: a path, ``file://``, ``memory://``, ``s3://`` or any fsspec URL.
        storage_options: passed to fsspec.
        policy: how transient errors are retried (default :class:`RetryPolicy`).
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        storage_options: dict[str, Any] | None = None,
        *,
        policy: RetryPolicy | None = None,
    ):
        self.policy = policy or RetryPolicy()
        self._root_made = False
        # Local: the hot paths use os directly; fsspec loads when first needed.
        self._open_root(url, dict(storage_options or {}))

    @property
    def is_memory(self) -> bool:
        """True for ``memory://``."""
        return self.protocol == "memory"

    @property
    def atomic_put(self) -> bool:
        """Whether writing a whole object in one call is atomic here."""
        return self.protocol in _OBJECT_STORES

    @property
    def create_only(self) -> bool:
        """Whether create-only writes are real conditional writes on this filesystem."""
        return self.protocol in _CREATE_ONLY

    def join(self, *parts: str) -> str:
        """A path under the root."""
        return (
            "/".join([self.root.rstrip("/"), *parts]) if self.root != "/" else "/" + "/".join(parts)
        )

    def read_nonempty(self, path: str) -> bytes:
        """Read a small file known not to be empty, in one request where possible.

        (A ranged read skips the size lookup s3fs would otherwise make first.)
        """
        if self.protocol in ("s3", "s3a"):
            return self.cat(path, start=0)
        return self.cat(path)

    def cat(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
        """The bytes of ``path`` (or of ``[start, end)``); FileNotFoundError if absent."""
        if self.is_local:
            with open(path, "rb") as f:
                if start:
                    f.seek(start)
                return f.read() if end is None else f.read(end - (start or 0))
        if start is None and end is None:
            options = self._whole_read_options
            return bytes(self.retry(lambda: self.fs.cat_file(path, **options), what=f"read {path}"))
        return bytes(
            self.retry(lambda: self.fs.cat_file(path, start=start, end=end), what=f"read {path}")
        )

    @property
    def _whole_read_options(self) -> dict[str, Any]:
        # s3fs sends a HEAD before a whole-object GET (to split a big object into ranged
        # reads) unless max_concurrency is 1: a known object is then one GET, and a
        # missing one is that GET's 404.
        return {"max_concurrency": 1} if self.protocol in ("s3", "s3a") else {}

    def cat_many(self, paths: list[str]) -> dict[str, bytes]:
        """The bytes of several files, one GET each, sent concurrently in fsspec's bounded
        batches; a file that does not exist is left out of the result."""
        if self.is_local or self.is_memory or len(paths) < 2:
            out: dict[str, bytes] = {}
            for path in paths:
                try:
                    out[path] = self.cat(path)
                except FileNotFoundError:
                    pass
            return out
        fs, options = self.fs, self._whole_read_options

        def batch() -> dict[str, bytes]:
            raw = fs.cat(paths, on_error="return", **options)
            got: dict[str, bytes] = {}
            for path in paths:
                value = raw.get(path, raw.get(fs._strip_protocol(path)))
                if isinstance(value, FileNotFoundError):
                    continue
                if isinstance(value, BaseException):
                    raise value
                got[path] = bytes(value)
            return got

        return self.retry(batch, what=f"read {len(paths)} objects")

    def info(self, path: str) -> dict[str, Any]:
        """Size and modification time of ``path``; FileNotFoundError if absent."""
        if self.is_local:
            st = os.stat(path)
            return {"name": path, "size": st.st_size, "mtime": st.st_mtime}
        out: dict[str, Any] = self.retry(lambda: self.fs.info(path), what=f"stat {path}")
        return out

    def file_info(self, path: str) -> dict[str, Any]:
        """Like :meth:`info` for a path that can only be a file: on S3 one HEAD, where
        ``info`` follows a 404 with a LIST (to tell an absent key from a "directory")."""
        if self.protocol not in ("s3", "s3a"):
            return self.info(path)
        fs = self.fs
        bucket, key, _ = fs.split_path(path)

        def head() -> dict[str, Any]:
            out = fs.call_s3("head_object", fs.kwargs, Bucket=bucket, Key=key)
            return {"name": path, "size": out["ContentLength"], "LastModified": out["LastModified"]}

        return self.retry(head, what=f"stat {path}")

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists."""
        if self.is_local:
            return os.path.exists(path)
        return bool(self.retry(lambda: self.fs.exists(path), what=f"stat {path}"))

    def ls(self, path: str) -> list[dict[str, Any]]:
        """Entries of a directory with ``name`` and ``mtime`` (never a stale listing)."""
        if self.is_local:
            try:
                with os.scandir(path) as it:
                    return [{"name": f"{path}/{e.name}", "mtime": e.stat().st_mtime} for e in it]
            except FileNotFoundError:
                return []

        def listing() -> list[dict[str, Any]]:
            self.fs.invalidate_cache(path)
            return list(self.fs.ls(path, detail=True))

        try:
            return self.retry(listing, what=f"list {path}")
        except FileNotFoundError:
            return []

    def find(self, path: str) -> dict[str, dict[str, Any]]:
        """Every file under ``path``: full path → info (empty if ``path`` is absent)."""

        def found() -> dict[str, dict[str, Any]]:
            if not self.is_local:
                self.fs.invalidate_cache(path)
            return dict(self.fs.find(path, detail=True))

        try:
            if self.is_local:
                return found()
            return self.retry(found, what=f"list {path}")
        except FileNotFoundError:
            return {}

    def rm(self, path: str) -> None:
        """Remove the file ``path``; nothing if it is already gone."""
        try:
            if self.is_local:
                os.unlink(path)
            else:
                self.retry(lambda: self.fs.rm_file(path), what=f"remove {path}")
        except FileNotFoundError:
            pass

    def tmp_path(self) -> str:
        """A fresh temporary name under ``tmp/`` (swept by gc after its grace)."""
        return self.join("tmp", f"{uuid.uuid4().hex}.tmp")

    # -- writes ---------------------------------------------------------------------

    def write_atomic(self, path: str, chunks: Iterable[Buffer], *, fsync: bool = True) -> None:
        """Write ``chunks`` to ``path`` so that readers see no object or the whole one.

        Locally the file and its directory are fsynced before and after the rename
        (``fsync=False`` skips that for caches); a remote write is one retried request,
        or a temporary name then a move where single writes are not atomic.
        """
        if self.is_local:
            _local_write_atomic(self.tmpdir(), path, chunks, fsync=fsync)
            return
        data = b"".join(bytes(c) if isinstance(c, memoryview) else c for c in chunks)
        if self.atomic_put:
            self.retry(lambda: self.fs.pipe_file(path, data), what=f"write {path}")
            return
        tmp = self.tmp_path()
        try:
            self.retry(lambda: self.fs.pipe_file(tmp, data), what=f"write {tmp}")
            self.retry(lambda: self.fs.mv(tmp, path), what=f"move to {path}")
        except BaseException:
            _quietly(lambda: self.fs.rm_file(tmp))
            raise

    def tmpdir(self) -> str:
        """The local staging directory ``<root>/tmp``; the first call creates the root
        (a new one gets a ``.gitignore`` ignoring it all: ``_config.make_local_root``)."""
        if not self._root_made:
            make_local_root(self.root)
            self._root_made = True
        return self.join("tmp")

    def write_create_only(self, path: str, data: bytes) -> None:
        """Create ``path`` with ``data``; raise FileExistsError if it exists (atomically)."""
        if not self.create_only:
            raise UnsupportedOperationError(
                f"the {self.protocol}:// filesystem cannot do create-only (conditional) writes, "
                "so refs cannot be updated safely there; use a local path, memory://, s3:// "
                "or gs://",
                protocol=self.protocol,
            )
        if self.is_local:
            _local_create_only(self.tmpdir(), path, data)
            return
        tries = [0]

        def create() -> None:
            tries[0] += 1
            try:
                if self.is_memory:
                    with _memory_lock:  # memory's exists-then-set is not atomic by itself
                        self.fs.pipe_file(path, data, mode="create")
                else:
                    self.fs.pipe_file(path, data, mode="create")
            except FileExistsError:
                # A retry after a fault that hid our own success finds our bytes there.
                if tries[0] > 1 and self._same_content(path, data):
                    return
                raise

        self.retry(create, what=f"create {path}")

    def _same_content(self, path: str, data: bytes) -> bool:
        try:
            return bytes(self.fs.cat_file(path)) == data
        except OSError:
            return False

    def retry(self, fn: Callable[[], T], *, what: str, path: str | None = None) -> T:
        """Run ``fn`` under this location's retry policy (see :mod:`mlopskit._retry`)."""
        transient = memory_fs_race if self.is_memory else None
        return retry(
            fn, what=what, policy=self.policy, transient=transient, url=self.url, path=path
        )


def _quietly(fn: Callable[[], object]) -> None:
    try:
        fn()
    except OSError:
        pass


def _mkstemp(tmpdir: str) -> tuple[int, str]:
    os.makedirs(tmpdir, exist_ok=True)
    path = os.path.join(tmpdir, f"{uuid.uuid4().hex}.tmp")
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644), path


def _write_all(fd: int, chunks: Iterable[Buffer]) -> None:
    for chunk in chunks:
        view = memoryview(chunk).cast("B")
        while view:
            n = os.write(fd, view)
            view = view[n:]


def fsync_dir(path: str) -> None:
    """Make a rename or link in directory ``path`` durable (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories
    finally:
        os.close(fd)


def publish(tmp: str, path: str, *, fsync: bool) -> None:
    """Rename the complete file ``tmp`` to ``path``; with ``fsync``, durably.

    Durably means: the directory holding ``path`` is fsynced after the rename, and so
    is the parent of every directory created on the way (a new ``objects/ab/`` must
    survive a power loss as well as the object in it).
    """
    parent = os.path.dirname(path)
    created = _makedirs(parent)
    os.replace(tmp, path)
    if fsync:
        fsync_dir(parent)
        for new_dir in created:
            fsync_dir(os.path.dirname(new_dir))


def _makedirs(path: str) -> list[str]:
    """``os.makedirs(path, exist_ok=True)``; returns the directories it created."""
    missing: list[str] = []
    probe = path
    while probe and not os.path.isdir(probe):
        missing.append(probe)
        up = os.path.dirname(probe)
        if up == probe:
            break
        probe = up
    os.makedirs(path, exist_ok=True)
    return missing


def _local_write_atomic(tmpdir: str, path: str, chunks: Iterable[Buffer], *, fsync: bool) -> None:
    fd, tmp = _mkstemp(tmpdir)
    try:
        try:
            _write_all(fd, chunks)
            if fsync:
                os.fsync(fd)  # the bytes reach the disk before the name does
        finally:
            os.close(fd)
        publish(tmp, path, fsync=fsync)
    except BaseException as exc:
        _quietly(lambda: os.unlink(tmp))
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
            raise StorageError(f"could not write {path}: {exc}", path=path) from exc
        raise


def _local_create_only(tmpdir: str, path: str, data: bytes) -> None:
    fd, tmp = _mkstemp(tmpdir)
    try:
        try:
            _write_all(fd, [data])
            os.fsync(fd)
        finally:
            os.close(fd)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.link(tmp, path)  # atomic create-with-content: fails if path exists
        fsync_dir(os.path.dirname(path))
    finally:
        _quietly(lambda: os.unlink(tmp))
