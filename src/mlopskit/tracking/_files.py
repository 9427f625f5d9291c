"""The object-store backend's storage boundary: every file operation, retried once.

Each method here is one call of :func:`mlopskit._retry.retry` around a closure that
builds its own state, and nothing above this module retries again (nested loops
multiply attempts). The backend talks to fsspec only through this class, so a test can
swap :attr:`SegmentFiles.fs` for a filesystem that fails on purpose.

Local paths use ``os`` directly for the two writes that must be atomic: a create-only
write is a temporary file hard-linked into place (fails if the name exists), a
replacement is a temporary file renamed over the old one; readers never see a torn file.
"""

from __future__ import annotations

import asyncio
import datetime
import html
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any, TypeVar

from mlopskit._optional import FilesystemRoot
from mlopskit._retry import RetryPolicy, memory_fs_race, retry
from mlopskit.errors import (
    UnsupportedOperationError,
)

__all__ = ["LIST_CONCURRENCY", "MAX_SPLITS", "SegmentFiles", "s3_timestamp"]

T = TypeVar("T")

# fsspec filesystems whose create-only mode is a real conditional write.
_CREATE_ONLY = {"memory", "s3", "s3a", "gs", "gcs"}
_memory_lock = threading.Lock()
#: Ranges of one :meth:`SegmentFiles.list_after` listed at once (S3 LIST pages are
#: bound by latency, tens of milliseconds each, so overlapping them is what saves time).
LIST_CONCURRENCY = 8
#: Splits a listing uses at most (an index's hint is untrusted: it cannot make a
#: listing send more than this many requests beyond its pages).
MAX_SPLITS = 64
#: A LastModified as S3 writes it in a listing (``2026-12-02T05:59:38.000Z``).
_S3_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3}|\.\d{6})?Z\Z")
#: Set inside :meth:`SegmentFiles.list_after`'s listing tasks: their pages are read for
#: the keys alone (see :func:`_keys_only`); any other listing on the client is untouched.
_KEYS_ONLY: ContextVar[bool] = ContextVar("mlopskit_list_keys_only", default=False)
_CONTENTS = re.compile(rb"<Contents>(.*?)</Contents>", re.S)
_KEY = re.compile(rb"<Key>([^<]*)</Key>")


def _keys_only(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    """A botocore ``before-parse`` hook: a ListObjectsV2 page of a :meth:`SegmentFiles.list_after`
    listing gives its keys only (``Contents: [{"Key": …}]``), read by one regular
    expression instead of botocore's parse of every element of every key (size, ETag,
    time, storage class: most of the client's time per page). The page's other elements
    (``IsTruncated``, ``NextContinuationToken`` …) are parsed by botocore as before; a
    page whose ``Contents`` do not each hold one ``Key`` is left to botocore whole.
    """
    if not _KEYS_ONLY.get() or response_dict.get("status_code") != 200:
        return
    body = response_dict.get("body")
    if not isinstance(body, bytes):
        return
    keys = []
    for item in _CONTENTS.findall(body):
        found = _KEY.findall(item)
        if len(found) != 1:
            return
        key = found[0].decode("utf-8")
        keys.append(html.unescape(key) if "&" in key else key)
    if not keys:
        return
    response_dict["body"] = _CONTENTS.sub(b"", body)
    customized_response_dict["Contents"] = [{"Key": k} for k in keys]


def s3_timestamp(value: Any) -> Any:
    """botocore's timestamp parser, fast for the one format S3 listings use.

    botocore parses each key's ``LastModified`` with ``dateutil.parser.parse``, about
    90 µs a key: three quarters of the client's time to read a LIST page of 1,000 keys
    (0.12 s). This gives the same instant through ``datetime.fromisoformat`` for that
    format, in UTC (dateutil's ``tzutc``; dateutil itself answers ``tzlocal()`` where the
    local zone is named UTC, the same instant), and hands every other value to
    botocore's own parser.
    """
    if value.__class__ is str and _S3_TIME.match(value):
        from dateutil.tz import tzutc

        return datetime.datetime.fromisoformat(value[:-1]).replace(tzinfo=tzutc())
    from botocore.utils import parse_timestamp

    return parse_timestamp(value)


class SegmentFiles(FilesystemRoot):
    """Files under ``<root>/tracking/`` on one filesystem, with one retry policy.

    Args:
        url: the workspace root (a path, ``file://``, ``memory://``, ``s3://`` …).
        storage_options: passed to fsspec.
        policy: how transient errors are retried (the backend's ``attempts`` and
            ``retry_delay``).
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        storage_options: dict[str, Any] | None = None,
        *,
        policy: RetryPolicy,
    ) -> None:
        self.policy = policy
        #: MaxKeys of each S3 LIST page (None: the store's, 1,000 on S3); tests set it
        #: low to page through a few keys.
        self.page_keys: int | None = None
        self._open_root(url, storage_options)

    def path(self, *parts: str) -> str:
        """``<root>/tracking/<parts…>``."""
        return "/".join([self.root.rstrip("/"), "tracking", *parts])

    def _retry(self, fn: Callable[[], T], what: str, path: str | None = None) -> T:
        transient = memory_fs_race if self.protocol == "memory" else None
        return retry(
            fn, what=what, policy=self.policy, transient=transient, url=self.url, path=path
        )

    # -- reads -------------------------------------------------------------------------

    @property
    def _get_options(self) -> dict[str, Any]:
        # s3fs sends a HEAD before a whole-object GET to split big objects into ranges
        # unless max_concurrency is 1: one GET per object (a missing one is its 404).
        return {"max_concurrency": 1} if self.protocol in ("s3", "s3a") else {}

    def read(self, path: str) -> bytes:
        """The bytes of ``path`` in one GET (FileNotFoundError when there is none)."""
        if self.is_local:
            return self._retry(lambda: _read_local(path), f"read {path}", path)
        options = self._get_options
        return bytes(self._retry(lambda: self.fs.cat_file(path, **options), f"read {path}", path))

    def read_many(self, paths: list[str], *, missing_ok: bool = False) -> dict[str, bytes]:
        """The bytes of several files: one GET each, sent concurrently (fsspec's batch size).

        With ``missing_ok`` a file that does not exist is left out of the result;
        otherwise it raises FileNotFoundError.
        """
        if self.is_local or self.protocol == "memory":
            out: dict[str, bytes] = {}
            for p in paths:
                try:
                    out[p] = self.read(p)
                except FileNotFoundError:
                    if not missing_ok:
                        raise
            return out
        if not paths:
            return {}
        fs = self.fs
        options = self._get_options

        def fetch() -> dict[str, bytes]:
            raw = fs.cat(paths, on_error="return", **options)
            got: dict[str, bytes] = {}
            for p in paths:
                value = raw.get(p, raw.get(fs._strip_protocol(p)))
                if isinstance(value, FileNotFoundError):
                    if missing_ok:
                        continue
                    raise value
                if isinstance(value, BaseException):
                    raise value
                got[p] = bytes(value)
            return got

        return self._retry(fetch, f"read {len(paths)} objects")

    def find(self, base: str) -> list[str]:
        """Every file under ``base`` (empty when ``base`` does not exist), sorted."""
        if self.is_local:  # os.walk: no stat per file (fsspec's find stats each one)
            return sorted(self._retry(lambda: _walk_local(base), f"list {base}", base))
        fs = self.fs
        if not self.is_local:
            fs.invalidate_cache(base)
        try:
            found = self._retry(lambda: fs.find(base), f"list {base}", base)
        except FileNotFoundError:
            return []
        return sorted(str(p) for p in found)

    def list_after(self, base: str, after: str | None, splits: Iterable[str] = ()) -> list[str]:
        """Files directly under ``base`` whose names sort after ``after`` (all if None), sorted.

        On S3 this is ListObjectsV2 with ``StartAfter``: the store skips the older keys
        itself, so the cost follows the names listed, not the names under ``base``.
        ``splits`` (names, e.g. every 900th name an index already holds) cut the names
        after ``after`` into ranges ``(after, s1], (s1, s2], …, (sk, ∞)`` listed
        concurrently (at most :data:`LIST_CONCURRENCY` at once), each with its own
        ``StartAfter`` and the prefix its two bounds share, and stopped at its upper
        bound: the ranges cover every name after ``after`` exactly once whatever the
        splits are, so they change how long a listing takes (pages of one range follow
        each other, ranges overlap), never what it finds. Other filesystems ignore them.
        """
        if self.protocol not in ("s3", "s3a"):
            return [p for p in self.find(base) if after is None or p.rpartition("/")[2] > after]
        from fsspec.asyn import sync

        fs = self.fs
        bucket, key, _ = fs.split_path(base)
        prefix = key.rstrip("/") + "/"
        cuts = sorted({s for s in splits if after is None or s > after})[:MAX_SPLITS]
        ranges = list(zip([after, *cuts], [*cuts, None]))
        page_keys = self.page_keys

        async def one_range(lo: str | None, hi: str | None, gate: asyncio.Semaphore) -> list[str]:
            _KEYS_ONLY.set(True)  # this task's pages: keys only (_keys_only)
            # every name between lo and hi starts with the characters they share
            narrow = os.path.commonprefix([lo, hi]) if lo and hi else ""  # noqa: RUF071
            kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix + narrow}
            if lo is not None:
                kwargs["StartAfter"] = prefix + lo
            if page_keys is not None:
                kwargs["MaxKeys"] = page_keys
            bound = None if hi is None else prefix + hi
            out: list[str] = []
            async with gate:
                while True:
                    page = await fs._call_s3("list_objects_v2", **kwargs)
                    for item in page.get("Contents", ()):
                        if bound is not None and item["Key"] > bound:
                            return out  # the next range lists from here
                        out.append(item["Key"])
                    token = page.get("NextContinuationToken")
                    if not page.get("IsTruncated") or not token:
                        return out
                    kwargs.pop("StartAfter", None)
                    kwargs["ContinuationToken"] = token

        async def all_ranges() -> list[str]:
            await fs.set_session()
            session = getattr(fs, "session", None)
            if session is not None:  # the session's parsers: same values, without dateutil
                factory = session.get_component("response_parser_factory")
                factory.set_parser_defaults(timestamp_parser=s3_timestamp)
            client = await fs.get_s3(bucket)  # the client this listing's calls use
            if client is not None:
                client.meta.events.register(
                    "before-parse.s3.ListObjectsV2", _keys_only, unique_id="mlopskit-keys-only"
                )
            gate = asyncio.Semaphore(LIST_CONCURRENCY)
            parts = await asyncio.gather(*(one_range(lo, hi, gate) for lo, hi in ranges))
            return [f"{bucket}/{k}" for part in parts for k in part]

        try:
            found = self._retry(lambda: sync(fs.loop, all_ranges), f"list {base}", base)
        except FileNotFoundError:
            return []
        return sorted(p for p in found if "/" not in p[len(bucket) + 1 + len(prefix) :])

    def first_children(self, base: str, limit: int) -> list[str]:
        """Names of the first ``limit`` entries directly under ``base`` (one request on S3)."""
        if self.protocol not in ("s3", "s3a"):
            return self.children(base)[:limit]
        return self._s3_children(base, limit)

    def children(self, base: str) -> list[str]:
        """Names of the entries directly under ``base`` (empty when it does not exist)."""
        if self.protocol in ("s3", "s3a"):  # one listing (s3fs's ls of a missing prefix
            return self._s3_children(base, None)  # lists its parent as well)
        fs = self.fs
        if not self.is_local:
            fs.invalidate_cache(base)
        try:
            entries = self._retry(lambda: fs.ls(base, detail=False), f"list {base}", base)
        except FileNotFoundError:
            return []
        return sorted(str(e).rstrip("/").rpartition("/")[2] for e in entries)

    def _s3_children(self, base: str, limit: int | None) -> list[str]:
        fs = self.fs
        bucket, key, _ = fs.split_path(base)
        prefix = key.rstrip("/") + "/"

        def listing() -> list[str]:
            kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/"}
            if limit is not None:
                kwargs["MaxKeys"] = limit
            keys: list[str] = []
            while True:
                page = fs.call_s3("list_objects_v2", **kwargs)
                keys += [c["Prefix"] for c in page.get("CommonPrefixes", ())]
                keys += [c["Key"] for c in page.get("Contents", ())]
                token = page.get("NextContinuationToken")
                if limit is not None or not page.get("IsTruncated") or not token:
                    break
                kwargs["ContinuationToken"] = token
            return sorted(k[len(prefix) :].rstrip("/") for k in keys)

        try:
            names = self._retry(listing, f"list {base}", base)
        except FileNotFoundError:
            return []
        return names if limit is None else names[:limit]

    def modified(self, path: str) -> float:
        """When ``path`` was last written (epoch seconds); FileNotFoundError if absent."""
        if self.is_local:
            return self._retry(lambda: os.stat(path).st_mtime, f"stat {path}", path)
        fs = self.fs
        return float(self._retry(lambda: fs.modified(path).timestamp(), f"stat {path}", path))

    # -- writes ------------------------------------------------------------------------

    def delete(self, path: str) -> None:
        """Remove the file ``path`` (nothing happens when it is already gone)."""

        def remove() -> None:
            try:
                if self.is_local:
                    os.unlink(path)
                else:
                    self.fs.rm_file(path)
            except FileNotFoundError:
                pass

        self._retry(remove, f"delete {path}", path)

    def create(self, path: str, data: bytes) -> None:
        """Create ``path`` with ``data``; FileExistsError if it exists.

        A retry that finds exactly our bytes there (a fault hid our own success)
        counts as success.
        """
        if not self.is_local and self.protocol not in _CREATE_ONLY:
            raise UnsupportedOperationError(
                f"the {self.protocol}:// filesystem cannot do create-only (conditional) "
                "writes, which the tracker needs; use a local path, memory://, s3:// or gs://",
                protocol=self.protocol,
            )
        tries = [0]

        def attempt() -> None:
            tries[0] += 1
            try:
                if self.is_local:
                    _create_local(self.path("tmp"), path, data)
                elif self.protocol == "memory":
                    with _memory_lock:  # memory's exists-then-set is not atomic by itself
                        self.fs.pipe_file(path, data, mode="create")
                else:
                    self.fs.pipe_file(path, data, mode="create")
            except FileExistsError:
                if tries[0] > 1 and self._holds(path, data):
                    return
                raise

        self._retry(attempt, f"create {path}", path)

    def _holds(self, path: str, data: bytes) -> bool:
        try:
            found = (
                _read_local(path)
                if self.is_local
                else bytes(self.fs.cat_file(path, **self._get_options))
            )
        except OSError:
            return False
        return found == data

    def replace(self, path: str, data: bytes) -> None:
        """Write ``path`` whole, replacing what is there (readers see old or new)."""
        if self.is_local:
            self._retry(lambda: _replace_local(self.path("tmp"), path, data), f"write {path}", path)
        else:  # a whole-object put is atomic on object stores and memory://
            self._retry(lambda: self.fs.pipe_file(path, data), f"write {path}", path)


def _walk_local(base: str) -> list[str]:
    return [
        f"{top}/{name}".replace(os.sep, "/")
        for top, _dirs, names in os.walk(base)
        for name in names
    ]


def _read_local(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _temp(tmpdir: str, data: bytes) -> str:
    os.makedirs(tmpdir, exist_ok=True)
    tmp = os.path.join(tmpdir, f"{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp


def _create_local(tmpdir: str, path: str, data: bytes) -> None:
    tmp = _temp(tmpdir, data)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.link(tmp, path)  # atomic create-with-content: fails if path exists
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _replace_local(tmpdir: str, path: str, data: bytes) -> None:
    tmp = _temp(tmpdir, data)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
