"""The object database: content-addressed bytes under one location, loose or packed.

Layout (stable; see docs/store.md)::

    objects/<algo>/<hex[:2]>/<hex[2:]>      loose objects, named by their digest
    packs/<name>.pack, packs/<name>.idx     small objects packed together (see _pack)
    trust/<algo>/<hex[:2]>/<hex[2:]>        marks pickles this store wrote itself
    tmp/                                    writes in progress (swept by gc after grace)

:class:`ObjectDB` works on any fsspec filesystem; :class:`LocalObjectDB` is the same
database on a local disk, where it uses ``os`` directly, publishes with a rename after
``fsync`` of the file and its directory, and never exposes a torn object. Nothing here
knows about codecs, manifests, refs or the :mod:`facade <mlopskit.store._store>`.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, BinaryIO

from mlopskit._log import get_logger
from mlopskit.errors import IntegrityError, InvalidInputError, NotFoundError, StorageError
from mlopskit.hashing import DEFAULT_ALGORITHM, check_digest, digester_for, new_digester
from mlopskit.store._cache import ReadCache
from mlopskit.store._fs import Buffer, Location, _mkstemp, _quietly, publish
from mlopskit.store._io import (
    FRESHEN_AFTER,
    _check_unchanged,
    _copy_hashing,
    _digest_of,
    _mtime,
    _now,
    _VerifyingReader,
    _write_fd,
    _Writeback,
    spare_core,
)
from mlopskit.store._pack import PackBuilder, PackEntry
from mlopskit.store._packindex import PackIndex

if TYPE_CHECKING:
    from mlopskit.store._model import ObjectInfo

log = get_logger("mlopskit.store")

__all__ = ["LocalObjectDB", "ObjectDB", "open_odb"]

MiB = 1024 * 1024
_REMOTE_INLINE = 32 * MiB
_WHOLE_ON_CLOSE = {"s3", "s3a", "gs", "gcs"}
#: Local objects from this size up are written while they are hashed (one pass).
_STREAM_PUT = 4 * MiB


class ObjectDB:
    """Objects named by digest on a (remote) fsspec location, with packs and a read cache.

    Args:
        loc: where the store lives.
        cache: the local read cache (remote stores), or None.
        chunk_size: the copy buffer of streaming reads and writes.
    """

    def __init__(self, loc: Location, cache: ReadCache | None, chunk_size: int) -> None:
        self.loc = loc
        self.cache = cache
        self.chunk_size = chunk_size
        self.packs = PackIndex(loc, cache.directory if cache is not None else None)
        # digest -> when this process wrote it: saves a stat/HEAD per later check
        self._recent: dict[str, float] = {}
        self._lock = threading.Lock()

    # -- layout -----------------------------------------------------------------------

    def path(self, digest: str) -> str:
        """Where the loose object ``digest`` lives."""
        algo, _, hexpart = check_digest(digest).partition(":")
        return self.loc.join("objects", algo, hexpart[:2], hexpart[2:])

    def trust_path(self, digest: str) -> str:
        """Where the "written by this store" mark of ``digest`` lives."""
        algo, _, hexpart = check_digest(digest).partition(":")
        return self.loc.join("trust", algo, hexpart[:2], hexpart[2:])

    # -- existence --------------------------------------------------------------------

    def loose_mtime(self, digest: str) -> float | None:
        """When the loose copy of ``digest`` was written, or None."""
        try:
            return _mtime(self.loc.file_info(self.path(digest)))
        except FileNotFoundError:
            return None

    def age(self, digest: str) -> float | None:
        """Seconds since the stored copy of ``digest`` was written, or None if absent."""
        written = self._recent.get(digest)
        if written is not None and _now() - written < FRESHEN_AFTER.total_seconds():
            return _now() - written  # gc spares it: younger than any allowed grace
        entry = self.packs.lookup(digest)
        if entry is not None:
            return _now() - self.packs.mtime(entry.pack)
        mtime = self.loose_mtime(digest)
        return None if mtime is None else _now() - mtime

    def exists(self, digest: str) -> bool:
        """Whether ``digest`` is stored, loose or in a pack (the pack list is refreshed)."""
        if self.age(digest) is not None:
            return True
        return self.packs.lookup(digest, refresh=True) is not None

    def exists_many(
        self, digests: list[str], *, refresh: bool = True, workers: int = 16
    ) -> list[bool]:
        """:meth:`exists` of several digests at once: the pack list is read once (and,
        with ``refresh``, listed again once if something is missing), the loose copies of
        the rest are looked up concurrently (one HEAD each on S3, ``workers`` at a time)."""
        unique = list(dict.fromkeys(digests))
        found = {d for d in unique if self._is_recent(d) or self.packs.lookup(d) is not None}
        rest = [d for d in unique if d not in found]
        if len(rest) > 1 and not self.loc.is_local and workers > 1:
            with ThreadPoolExecutor(max_workers=min(workers, len(rest))) as pool:
                loose = list(pool.map(self.loose_mtime, rest))
        else:
            loose = [self.loose_mtime(d) for d in rest]
        missing = [d for d, mtime in zip(rest, loose) if mtime is None]
        found.update(d for d, mtime in zip(rest, loose) if mtime is not None)
        if missing and refresh:
            self.packs.refresh()  # packed by another writer since the list was read
            found.update(d for d in missing if self.packs.lookup(d) is not None)
        return [d in found for d in digests]

    def _is_recent(self, digest: str) -> bool:
        written = self._recent.get(digest)
        return written is not None and _now() - written < FRESHEN_AFTER.total_seconds()

    def needs_write(self, digest: str) -> bool:
        """False if ``digest`` is stored and fresh (an old local copy is freshened)."""
        age = self.age(digest)
        return age is None or age >= FRESHEN_AFTER.total_seconds()

    # -- writing ----------------------------------------------------------------------

    def write(self, digest: str, chunks: list[Buffer]) -> None:
        """Publish ``chunks`` (already hashed to ``digest``) unless stored and fresh."""
        if self.needs_write(digest):
            self.loc.write_atomic(self.path(digest), chunks)
            self._recent[digest] = _now()

    def put_chunks(self, chunks: list[Buffer]) -> tuple[str, int]:
        """Hash ``chunks`` and publish them unless stored and fresh: (digest, size)."""
        h = new_digester()
        total = 0
        for chunk in chunks:
            h.update(chunk)
            total += memoryview(chunk).nbytes
        digest = h.digest()
        self.write(digest, chunks)
        return digest, total

    def put_packed(self, datas: Iterable[Buffer]) -> list[str]:
        """Hash several objects and publish them in packs (one pack and one index per
        :data:`~mlopskit.store._pack.PackBuilder` size limit, in the order given, so
        objects given children first are published children first); returns their
        digests in order. An object already in a fresh pack, or written by this process
        lately, is not written again; loose copies are not looked for (a lookup per
        object costs more than the rare duplicate)."""
        builder = PackBuilder()
        digests: list[str] = []
        now = _now()
        fresh = FRESHEN_AFTER.total_seconds()
        for data in datas:
            digest = _digest_of(data, DEFAULT_ALGORITHM)
            digests.append(digest)
            if digest in builder or self._is_recent(digest):
                continue
            entry = self.packs.lookup(digest)
            if entry is not None and now - self.packs.mtime(entry.pack) < fresh:
                continue
            builder.add(digest, bytes(data))
            if builder.full:
                self.packs.write(builder.entries, builder.chunks)
                builder.reset()
        if len(builder):
            self.packs.write(builder.entries, builder.chunks)
        return digests

    def write_file(self, src: str, st: os.stat_result, bar: Any) -> str:
        """Store the local file ``src`` (stat ``st``); returns its digest.

        Small files are read whole and written in one request. A large one is hashed,
        then uploaded in one retried step that opens its own source, hasher and target
        on every attempt: a transient error never reads as "the file changed". The
        upload goes to a temporary name (or an upload that only appears when complete)
        and is then published under its digest.
        """
        if st.st_size <= _REMOTE_INLINE:
            with open(src, "rb") as f:
                data = f.read()
            _check_unchanged(src, st)
            h = new_digester()
            h.update(data)
            self.write(h.digest(), [data])
            bar.update(len(data))
            return h.digest()
        digest = self._hash_file(src)
        if self.needs_write(digest):
            path = self.path(digest)
            self.loc.retry(lambda: self._upload(src, path, digest, bar), what=f"upload {src}")
            self._recent[digest] = _now()
        return digest

    def _upload(self, src: str, path: str, digest: str, bar: Any) -> None:
        fs = self.loc.fs
        h = new_digester()  # built afresh by every attempt
        buf = bytearray(self.chunk_size)
        view = memoryview(buf)
        # S3 and GCS uploads appear only when complete (and discard aborts them);
        # elsewhere write a temporary name and move it into place.
        direct = self.loc.protocol in _WHOLE_ON_CLOSE
        target = path if direct else self.loc.tmp_path()
        f_out = fs.open(target, "wb")
        try:
            with open(src, "rb", buffering=0) as f_in:
                while n := f_in.readinto(buf):
                    h.update(view[:n])
                    f_out.write(bytes(view[:n]))
                    bar.update(n)
            if h.digest() != digest:
                raise InvalidInputError(f"{src} changed while it was being stored", path=src)
        except BaseException:
            if direct:
                f_out.discard()  # abort the multipart upload: no object appears
            else:
                f_out.close()
                _quietly(lambda: fs.rm_file(target))
            raise
        f_out.close()
        if not direct:
            fs.mv(target, path)

    def _hash_file(self, src: str) -> str:
        buf = bytearray(self.chunk_size)
        view = memoryview(buf)
        h = new_digester()
        with open(src, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                h.update(view[:n])
        return h.digest()

    def mark_trusted(self, digest: str) -> None:
        """Record that this store wrote the pickle ``digest`` itself."""
        path = self.trust_path(digest)
        if self.loc.create_only and not self.loc.is_local:
            try:  # one conditional PUT, where a probe first would cost a HEAD and a LIST
                self.loc.write_create_only(path, b"")
            except FileExistsError:
                pass
        elif not self.loc.exists(path):
            self.loc.write_atomic(path, [b""], fsync=False)

    def is_trusted(self, digest: str) -> bool:
        """Whether :meth:`mark_trusted` was called for ``digest``."""
        path = self.trust_path(digest)
        if self.loc.is_local:
            return os.path.exists(path)
        try:  # one GET of the (empty) marker; an exists() on S3 is a HEAD, then a LIST
            self.loc.cat(path)
        except FileNotFoundError:
            return False
        return True

    # -- reading ----------------------------------------------------------------------

    def fetch(self, digest: str, *, cached: bool = True, loose: bool = True) -> tuple[bytes, str]:
        """The stored bytes of ``digest`` (unverified) and where they came from.

        Looks in the read cache (unless ``cached=False``), then the loose object, then
        the packs; a pack that vanished (another process's gc) refreshes the pack list
        and the lookup is tried again.

        Raises:
            NotFoundError: ``digest`` is not stored.
        """
        if cached and self.cache is not None:
            hit = self.cache.get(digest)
            if hit is not None:
                with open(hit, "rb") as f:
                    return f.read(), hit
        path = self.path(digest)
        if loose:  # False: the caller already knows there is no loose copy
            try:
                return self.loc.cat(path), path
            except FileNotFoundError:
                pass
        for refresh in (False, True, True):
            entry = self.packs.lookup(digest, refresh=refresh)
            if entry is None:
                if refresh:
                    break
                continue
            try:
                return self.packs.read(entry), self.packs.pack_path(entry.pack)
            except FileNotFoundError:
                continue  # repacked under us: list the packs again
        raise NotFoundError(f"no object {digest} in {self.loc.url}", digest=digest)

    def read(self, digest: str) -> bytes:
        """The bytes of ``digest``, verified (a damaged cached copy is replaced).

        Raises:
            IntegrityError: the stored bytes do not hash to ``digest``.
            NotFoundError: ``digest`` is not stored.
        """
        data, where = self.fetch(digest)
        return self._checked(digest, data, where)

    def read_many(self, digests: list[str]) -> dict[str, bytes]:
        """The verified bytes of several objects: cached ones from the cache, loose ones in
        one GET each, sent concurrently in bounded batches, packed ones from their packs.

        Raises:
            IntegrityError: an object's stored bytes do not hash to its digest.
            NotFoundError: an object is not stored.
        """
        out: dict[str, bytes] = {}
        remote: dict[str, str] = {}
        by_pack: dict[str, list[tuple[str, PackEntry]]] = {}
        unique = list(dict.fromkeys(digests))
        for digest in unique:
            if self.cache is not None and self.cache.get(digest) is not None:
                out[digest] = self.read(digest)
            elif len(unique) > 1 and (entry := self.packs.lookup(digest)) is not None:
                by_pack.setdefault(entry.pack, []).append((digest, entry))
            else:
                remote[self.path(digest)] = digest
        for pack, wanted in by_pack.items():  # one GET per pack, not one per object in it
            out.update(self._from_pack(pack, wanted))
        for path, data in self.loc.cat_many(list(remote)).items():
            digest = remote.pop(path)
            out[digest] = self._checked(digest, data, path)
        for digest in remote.values():  # packed since the pack list was read, or missing
            out[digest] = self.read_packed(digest)
        return out

    def _from_pack(self, pack: str, wanted: list[tuple[str, PackEntry]]) -> dict[str, bytes]:
        if len(wanted) == 1:
            return {wanted[0][0]: self.read_packed(wanted[0][0])}
        try:
            data = self.packs.read_pack(pack)
        except FileNotFoundError:  # repacked meanwhile: look each one up again
            return {digest: self.read_packed(digest) for digest, _ in wanted}
        where = self.packs.pack_path(pack)
        return {
            digest: self._checked(digest, data[e.offset : e.offset + e.size], where)
            for digest, e in wanted
        }

    def read_packed(self, digest: str) -> bytes:
        """The verified bytes of a packed object (NotFoundError when it is not packed)."""
        data, where = self.fetch(digest, cached=False, loose=False)
        return self._checked(digest, data, where)

    def _checked(self, digest: str, data: bytes, where: str) -> bytes:
        found = _digest_of(data, digest)
        if found != digest:
            if self.cache is not None and where == self.cache.path(digest):
                self.cache.evict(digest)  # a damaged cache copy: fetch from the store
                return self.read(digest)
            raise IntegrityError(
                f"object {digest} at {where} is corrupt: its bytes hash to {found}. "
                "Restore it from another copy, or remove it and re-put the data.",
                digest=digest,
                found=found,
                path=where,
            )
        if self.cache is not None and where != self.cache.path(digest):
            self.cache.put(digest, [data])
        return data

    def open(self, digest: str) -> BinaryIO:
        """A stream of ``digest``'s bytes; IntegrityError at its end if they are damaged."""
        path = self.path(digest)
        raw: Any
        if self.cache is not None:
            raw = io.BytesIO(self.read(digest))
        else:
            try:
                raw = self.loc.retry(lambda: self.loc.fs.open(path, "rb"), what=f"open {path}")
            except FileNotFoundError:
                raw = io.BytesIO(self.read(digest))
        return _VerifyingReader(raw, digest, path)  # type: ignore[return-value]

    def prefetch(self, digests: list[str]) -> None:
        """Fill the read cache with packed objects, one whole-pack read per pack."""
        if self.cache is None:
            return
        by_pack: dict[str, list[tuple[str, PackEntry]]] = {}
        for digest in digests:
            entry = self.packs.lookup(digest)
            if entry is not None and self.cache.get(digest) is None:
                by_pack.setdefault(entry.pack, []).append((digest, entry))
        for pack, wanted in by_pack.items():
            try:
                data = self.packs.read_pack(pack)
            except FileNotFoundError:
                continue  # repacked meanwhile: the objects are read one by one later
            for digest, entry in wanted:
                chunk = data[entry.offset : entry.offset + entry.size]
                if _digest_of(chunk, digest) == digest:  # a bad one fails later, loudly
                    self.cache.put(digest, [chunk])

    def hash_loose(self, digest: str) -> str:
        """What the loose object stored under ``digest`` hashes to, streamed (no cache)."""
        path = self.path(digest)

        def run() -> str:
            h = digester_for(digest)
            with self.loc.fs.open(path, "rb") as f:
                while data := f.read(self.chunk_size):
                    h.update(data)
            return h.digest()

        return self.loc.retry(run, what=f"read {path}")

    def stat(self, digest: str) -> ObjectInfo:
        """Where ``digest`` is stored (loose or pack, path, offset), its size and mtime.

        Raises:
            NotFoundError: ``digest`` is not stored.
        """
        from mlopskit.store._model import ObjectInfo

        path = self.path(digest)
        try:
            info = self.loc.file_info(path)
            return ObjectInfo(
                digest=digest,
                size=int(info["size"]),
                location="loose",
                path=path,
                modified=datetime.fromtimestamp(_mtime(info), timezone.utc),
            )
        except FileNotFoundError:
            pass
        entry = self.packs.lookup(digest) or self.packs.lookup(digest, refresh=True)
        if entry is None:
            raise NotFoundError(f"no object {digest} in {self.loc.url}", digest=digest)
        return ObjectInfo(
            digest=digest,
            size=entry.size,
            location="pack",
            path=self.packs.pack_path(entry.pack),
            offset=entry.offset,
            modified=datetime.fromtimestamp(self.packs.mtime(entry.pack), timezone.utc),
        )

    # -- iterating and deleting -------------------------------------------------------

    def iter_loose(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(digest, listing info)`` of every loose object (path and digest agree)."""
        for path, info in self.loc.find(self.loc.join("objects")).items():
            parts = path.rstrip("/").split("/")
            if len(parts) < 3:
                continue
            try:
                digest = check_digest(f"{parts[-3]}:{parts[-2]}{parts[-1]}")
            except ValueError:
                continue  # not an object name (e.g. a stray file): ignored
            yield digest, {**info, "name": path}

    def delete(self, digest: str) -> None:
        """Remove the loose object ``digest`` and its trust mark."""
        self.loc.rm(self.path(digest))
        self.loc.rm(self.trust_path(digest))
        self._recent.pop(digest, None)

    def forget(self, digests: list[str]) -> None:
        """Forget what this process knows of ``digests`` and of the packs (after gc)."""
        for digest in digests:
            self._recent.pop(digest, None)
        self.packs.forget()


class LocalObjectDB(ObjectDB):
    """The object database on a local disk: ``os`` calls, fsync before every publish."""

    def loose_mtime(self, digest: str) -> float | None:
        """When the loose copy of ``digest`` was written, or None."""
        try:
            return os.stat(self.path(digest)).st_mtime
        except FileNotFoundError:
            return None

    def needs_write(self, digest: str) -> bool:
        """False if stored and fresh; an old loose copy is touched instead of rewritten."""
        age = self.age(digest)
        if age is None:
            return True
        if age < FRESHEN_AFTER.total_seconds():
            return False
        try:
            os.utime(self.path(digest))  # freshen: a concurrent gc will not sweep it
            return False
        except FileNotFoundError:
            return True  # an old packed copy: write a fresh loose one

    def put_chunks(self, chunks: list[Buffer]) -> tuple[str, int]:
        """Hash ``chunks`` and publish them unless stored and fresh: (digest, size).

        A large object is written to its temporary file *while* it is hashed, by a
        writer thread (hashlib and ``os.write`` release the GIL) when a core is spare;
        on a busy machine it is hashed first (a stored digest then writes nothing) and
        written after. Either way the disk writeback starts as the copy goes on, so the
        fsync before the rename waits only for the tail. If the digest turns out to be
        stored already, the temporary file is dropped unsynced.
        """
        views = [memoryview(c).cast("B") for c in chunks]
        total = sum(v.nbytes for v in views)
        if total < _STREAM_PUT:
            return super().put_chunks(chunks)
        step = self.chunk_size
        pieces = [v[i : i + step] for v in views for i in range(0, v.nbytes, step)]
        h = new_digester()
        digest = ""
        fd, tmp = _mkstemp(self.loc.tmpdir())
        stop = threading.Event()
        failed: list[BaseException] = []

        def writer() -> None:
            wb = _Writeback(fd)
            try:
                for piece in pieces:
                    if stop.is_set():
                        return
                    _write_fd(fd, piece)
                    wb.wrote(piece.nbytes)
            except BaseException as exc:  # reported by the hashing thread
                failed.append(exc)

        thread = threading.Thread(target=writer, name="mlopskit-put", daemon=True)
        overlap = spare_core()
        try:
            if overlap:
                thread.start()
            try:
                for piece in pieces:
                    h.update(piece)
                digest = h.digest()
                if not self.needs_write(digest):
                    stop.set()  # stored already: the copy is not needed
            except BaseException:
                stop.set()
                raise
            finally:
                if overlap:
                    thread.join()
            if not stop.is_set():
                if not overlap:
                    writer()
                if failed:
                    raise failed[0]
                os.fsync(fd)  # the bytes reach the disk before the name does
                os.close(fd)
                fd = -1
                publish(tmp, self.path(digest), fsync=True)
                self._recent[digest] = _now()
            return digest, total
        except OSError as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            path = self.path(digest) if digest else tmp
            raise StorageError(f"could not write {path}: {exc}", path=path) from exc
        finally:
            if fd >= 0:
                os.close(fd)
            _quietly(lambda: os.unlink(tmp))

    def write_file(self, src: str, st: os.stat_result, bar: Any) -> str:
        """Copy ``src`` into the store while hashing it, in one pass; returns its digest."""
        h = new_digester()
        fd, tmp = _mkstemp(self.loc.tmpdir())
        try:
            with open(src, "rb", buffering=0) as f:
                threaded = st.st_size >= 4 * self.chunk_size and spare_core()
                _copy_hashing(f, fd, h, self.chunk_size, bar, threaded=threaded)
            os.fsync(fd)
            os.close(fd)
            fd = -1
            _check_unchanged(src, st)
            digest = h.digest()
            if self.needs_write(digest):
                publish(tmp, self.path(digest), fsync=True)
                self._recent[digest] = _now()
            return digest
        except OSError as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise StorageError(f"could not store {src}: {exc}", path=src) from exc
        finally:
            if fd >= 0:
                os.close(fd)
            _quietly(lambda: os.unlink(tmp))

    def open(self, digest: str) -> BinaryIO:
        """A stream of ``digest``'s bytes; IntegrityError at its end if they are damaged."""
        path = self.path(digest)
        try:
            raw = open(path, "rb")  # noqa: SIM115 - returned to the caller
        except FileNotFoundError:
            raw = io.BytesIO(self.read(digest))  # type: ignore[assignment]
        return _VerifyingReader(raw, digest, path)  # type: ignore[return-value]


def open_odb(loc: Location, cache: ReadCache | None, chunk_size: int) -> ObjectDB:
    """The object database for ``loc``: the local subclass on a local disk."""
    cls = LocalObjectDB if loc.is_local else ObjectDB
    return cls(loc, cache, chunk_size)
