"""ArtifactStore: a content-addressed object store over any fsspec filesystem.

Layout under the root (documented in docs/store.md, stable for other tools)::

    objects/sha256/<hex[:2]>/<hex[2:]>      loose objects, named by their digest
    packs/<name>.pack, packs/<name>.idx     small objects packed together (see _pack)
    refs/<name>/~log/<seq:020d>.json        ref history (see _refs)
    trust/sha256/<hex[:2]>/<hex[2:]>        marks pickles this store wrote itself
    tmp/                                    writes in progress (swept by gc after grace)
"""

from __future__ import annotations

import io
import json
import os
import stat as stat_mod
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from mlopskit import _config
from mlopskit._log import get_logger
from mlopskit.errors import (
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    StorageError,
)
from mlopskit.hashing import DEFAULT_ALGORITHM, check_digest, new_hasher, split_digest
from mlopskit.serialize import canonical_json, decode, encode, is_pickle_media_type
from mlopskit.store._cache import ReadCache
from mlopskit.store._fs import Buffer, Location, _local_write_atomic, _mkstemp, _quietly
from mlopskit.store._io import (
    DEFAULT_GRACE,
    FRESHEN_AFTER,
    _check_unchanged,
    _copy_hashing,
    _digest_of,
    _list_dir,
    _mtime,
    _now,
    _stat_source,
    _VerifyingReader,
)
from mlopskit.store._pack import PackEntry, parse_index
from mlopskit.store._progress import progress_bar
from mlopskit.store._ref import (
    RECORD_FORMAT,
    RECORD_MEDIA_TYPE,
    TREE_FORMAT,
    TREE_MEDIA_TYPE,
    ArtifactRef,
)
from mlopskit.store._statcache import StatCache, stat_key
from mlopskit.store._tree import MAX_DEPTH, SHARD_FORMAT, check_unique, parse_manifest

if TYPE_CHECKING:  # pydantic models, loaded when first needed
    from mlopskit.store._model import GcReport, ObjectInfo, TreeEntry, VerifyReport
    from mlopskit.store._refs import Refs

log = get_logger("mlopskit.store")

RefLike = ArtifactRef | str
MiB = 1024 * 1024
_REMOTE_INLINE = 32 * MiB


class ArtifactStore:
    """A content-addressed, verified, deduplicated object store.

    Args:
        url: a local path, ``file://…``, ``memory://…``, ``s3://bucket/prefix`` or any
            fsspec URL. Defaults to the workspace (``MLOPSKIT_HOME`` or ``./.mlopskit``).
        storage_options: passed to the fsspec filesystem (credentials, endpoint, …).
        cache: local read cache for remote stores: ``None`` (default: on for remote,
            off for local and memory), ``False``, or a directory.
        progress: show progress bars on long transfers (``None``: only on a TTY).
        pack_threshold: files up to this size are packed together by :meth:`put_dir`.

    Example:
        >>> store = ArtifactStore("memory://doctest-store")
        >>> ref = store.put_bytes(b"hello")
        >>> ref.digest[:15], ref.size
        ('sha256:2cf24dba', 5)
        >>> store.get_bytes(ref)
        b'hello'
    """

    def __init__(
        self,
        url: str | os.PathLike[str] | None = None,
        *,
        storage_options: dict[str, Any] | None = None,
        cache: bool | str | os.PathLike[str] | None = None,
        progress: bool | None = None,
        pack_threshold: int = 256 * 1024,
        chunk_size: int = 8 * MiB,
    ) -> None:
        self._loc = Location(url if url is not None else _config.home(), storage_options)
        self.url: str = self._loc.url
        self.progress = progress
        self.pack_threshold = pack_threshold
        self.chunk_size = chunk_size
        remote = not (self._loc.is_local or self._loc.is_memory)
        if cache is False or (cache is None and not remote):
            self._cache: ReadCache | None = None
        else:
            where = _config.cache_dir(None if cache in (None, True) else os.fspath(cache))  # type: ignore[arg-type]
            self._cache = ReadCache(where)
        self._packs: dict[str, PackEntry] = {}
        self._pack_mtime: dict[str, float] = {}
        self._packs_loaded = False
        self._lock = threading.RLock()
        self._statcache: StatCache | None = None
        # digest -> when this instance wrote it: saves a stat/HEAD per later check
        self._recent: dict[str, float] = {}
        self._refs: Refs | None = None

    @property
    def refs(self) -> Refs:
        """The store's refs: named, movable pointers with an audit history."""
        if self._refs is None:
            from mlopskit.store._refs import Refs

            self._refs = Refs(self)
        return self._refs

    def __repr__(self) -> str:
        return f"ArtifactStore({self.url!r})"

    # -- names and paths ----------------------------------------------------------------

    @staticmethod
    def _digest(ref: RefLike) -> str:
        if isinstance(ref, ArtifactRef):
            return ref.digest
        return check_digest(ref)

    def _object_path(self, digest: str) -> str:
        algo, hexpart = split_digest(digest)
        return self._loc.join("objects", algo, hexpart[:2], hexpart[2:])

    def _trust_path(self, digest: str) -> str:
        algo, hexpart = split_digest(digest)
        return self._loc.join("trust", algo, hexpart[:2], hexpart[2:])

    def _pack_path(self, name: str, ext: str) -> str:
        return self._loc.join("packs", f"{name}.{ext}")

    def _stat_cache(self) -> StatCache:
        if self._statcache is None:
            if self._loc.is_local:
                where = os.path.join(self._loc.root, "statcache.sqlite")
            else:
                where = os.path.join(_config.cache_dir(), "statcache.sqlite")
            self._statcache = StatCache(where)
        return self._statcache

    # -- pack index ---------------------------------------------------------------------

    def _load_packs(self, refresh: bool = False) -> None:
        with self._lock:
            if self._packs_loaded and not refresh:
                return
            base = self._loc.join("packs")
            listing = _list_dir(self._loc, base)
            for info in listing:
                path = info["name"]
                if not path.endswith(".idx"):
                    continue
                name = path.rsplit("/", 1)[-1][:-4]
                if name in self._pack_mtime:
                    continue
                data = self._read_pack_index(name, path)
                for hexdigest, offset, size in parse_index(data, path):
                    self._packs.setdefault(f"sha256:{hexdigest}", PackEntry(name, offset, size))
                self._pack_mtime[name] = _mtime(info)
            self._packs_loaded = True

    def _read_pack_index(self, name: str, path: str) -> bytes:
        if self._cache is not None:
            cached = os.path.join(self._cache.directory, "packidx", f"{name}.idx")
            if os.path.exists(cached):
                with open(cached, "rb") as f:
                    return f.read()
        if self._loc.is_local:
            with open(path, "rb") as f:
                return f.read()
        data: bytes = self._loc.retry(lambda: self._loc.fs.cat_file(path), what=f"read {path}")
        if self._cache is not None:
            parse_index(data, path)  # only cache a sound index
            _local_write_atomic(self._cache.tmp_dir(), cached, [data], fsync=False)
        return data

    def _pack_entry(self, digest: str, refresh: bool = False) -> PackEntry | None:
        self._load_packs(refresh=refresh)
        return self._packs.get(digest)

    # -- existence ------------------------------------------------------------------------

    def _age(self, digest: str) -> float | None:
        """Seconds since the stored copy of ``digest`` was written, or None if absent."""
        written = self._recent.get(digest)
        if written is not None and _now() - written < FRESHEN_AFTER.total_seconds():
            return _now() - written  # gc spares it: younger than any allowed grace
        entry = self._pack_entry(digest)
        if entry is not None:
            return _now() - self._pack_mtime.get(entry.pack, _now())
        path = self._object_path(digest)
        if self._loc.is_local:
            try:
                return _now() - os.stat(path).st_mtime
            except FileNotFoundError:
                return None
        try:
            info = self._loc.retry(lambda: self._loc.fs.info(path), what=f"stat {path}")
        except FileNotFoundError:
            return None
        return _now() - _mtime(info)

    def exists(self, ref: RefLike) -> bool:
        """Whether the object is in the store (loose or packed)."""
        digest = self._digest(ref)
        if self._age(digest) is not None:
            return True
        return self._pack_entry(digest, refresh=True) is not None

    def _needs_write(self, digest: str) -> bool:
        """False if the object is stored and fresh; freshens an old loose local copy."""
        age = self._age(digest)
        if age is None:
            return True
        if age < FRESHEN_AFTER.total_seconds():
            return False
        path = self._object_path(digest)
        if self._loc.is_local and os.path.exists(path):
            os.utime(path)
            return False
        return True  # write a fresh loose copy so a concurrent gc cannot sweep it

    # -- writing --------------------------------------------------------------------------

    def _write_chunks(self, digest: str, chunks: list[Buffer]) -> None:
        if self._needs_write(digest):
            self._loc.write_atomic(self._object_path(digest), chunks)
            self._recent[digest] = _now()

    def put_bytes(
        self, data: bytes | bytearray | memoryview, *, media_type: str | None = None
    ) -> ArtifactRef:
        """Store ``data``; returns its reference. Storing what exists writes nothing."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidInputError(
                f"put_bytes takes bytes, found {type(data).__name__}; use put(obj) for objects"
            )
        return self._put_chunks([data], kind="blob", media_type=media_type)

    def _put_chunks(
        self, chunks: list[Buffer], *, kind: str, media_type: str | None, size: int | None = None
    ) -> ArtifactRef:
        h = new_hasher(DEFAULT_ALGORITHM)
        total = 0
        for chunk in chunks:
            h.update(chunk)
            total += memoryview(chunk).nbytes
        digest = f"{DEFAULT_ALGORITHM}:{h.hexdigest()}"
        self._write_chunks(digest, chunks)
        return ArtifactRef(
            digest=digest,
            size=total if size is None else size,
            kind=kind,  # type: ignore[arg-type]
            media_type=media_type,
        )

    def put(self, obj: Any) -> ArtifactRef:
        """Store a Python object with the first codec that takes it (see ``serialize``).

        Pickled objects are marked as written by this store, so :meth:`get` loads them
        without ``trusted=True``.
        """
        if isinstance(obj, ArtifactRef):
            return obj
        encoded = encode(obj)
        ref = self._put_chunks(list(encoded.chunks), kind="object", media_type=encoded.media_type)
        if encoded.is_pickle:
            self._mark_trusted(ref.digest)
        return ref

    def _mark_trusted(self, digest: str) -> None:
        path = self._trust_path(digest)
        if self._loc.is_local:
            if not os.path.exists(path):
                _local_write_atomic(self._loc.join("tmp"), path, [b""], fsync=False)
        elif not self._loc.fs.exists(path):
            self._loc.write_atomic(path, [b""])

    def _is_trusted(self, digest: str) -> bool:
        path = self._trust_path(digest)
        if self._loc.is_local:
            return os.path.exists(path)
        return bool(self._loc.fs.exists(path))

    def put_record(self, payload: dict[str, Any], links: Iterable[ArtifactRef] = ()) -> ArtifactRef:
        """Store a JSON record whose ``links`` keep other objects alive through ``gc``.

        Use it for run records, dataset versions and model versions: anything that
        names other objects and is itself named by a ref.
        """
        body = {
            "format": RECORD_FORMAT,
            "links": [ref.model_dump(mode="json") for ref in links],
            "payload": payload,
        }
        try:
            data = canonical_json(body)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"a record must be JSON-able: {exc}") from exc
        return self._put_chunks([data], kind="record", media_type=RECORD_MEDIA_TYPE)

    def put_file(
        self,
        path: str | os.PathLike[str],
        *,
        media_type: str | None = None,
        progress: bool | None = None,
    ) -> ArtifactRef:
        """Store a local file, hashing while copying in one pass with a bounded buffer.

        An unchanged file (same inode, size, mtime and ctime as when last stored) is
        not read again.
        """
        src = os.path.abspath(os.fspath(path))
        st = _stat_source(src)
        if not stat_mod.S_ISREG(st.st_mode):
            raise InvalidInputError(
                f"not a regular file: {src}; use put_dir for directories", path=src
            )
        cache = self._stat_cache()
        known = cache.lookup(src, stat_key(st))
        if known is not None and self.exists(known) and not self._needs_write_quiet(known):
            return ArtifactRef(digest=known, size=st.st_size, kind="blob", media_type=media_type)
        digest = self._ingest_file(src, st, progress=progress)
        cache.store(src, stat_key(st), digest)
        return ArtifactRef(digest=digest, size=st.st_size, kind="blob", media_type=media_type)

    def _needs_write_quiet(self, digest: str) -> bool:
        age = self._age(digest)
        return age is None or age >= FRESHEN_AFTER.total_seconds()

    def _ingest_file(self, src: str, st: os.stat_result, *, progress: bool | None) -> str:
        bar = (
            progress_bar(
                st.st_size, os.path.basename(src), self.progress if progress is None else progress
            )
            if st.st_size >= 64 * MiB
            else progress_bar(None, "", False)
        )
        try:
            if self._loc.is_local:
                return self._ingest_local(src, st, bar)
            return self._ingest_remote(src, st, bar)
        finally:
            bar.close()

    def _ingest_local(self, src: str, st: os.stat_result, bar: Any) -> str:
        h = new_hasher(DEFAULT_ALGORITHM)
        fd, tmp = _mkstemp(self._loc.join("tmp"))
        try:
            with open(src, "rb", buffering=0) as f:
                _copy_hashing(
                    f, fd, h, self.chunk_size, bar, threaded=st.st_size >= 4 * self.chunk_size
                )
            os.close(fd)
            fd = -1
            _check_unchanged(src, st)
            digest = f"{DEFAULT_ALGORITHM}:{h.hexdigest()}"
            if self._needs_write(digest):
                final = self._object_path(digest)
                os.makedirs(os.path.dirname(final), exist_ok=True)
                os.replace(tmp, final)
            return digest
        except OSError as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise StorageError(f"could not store {src}: {exc}", path=src) from exc
        finally:
            if fd >= 0:
                os.close(fd)
            _quietly(lambda: os.unlink(tmp))

    def _hash_file(self, src: str, bar: Any | None = None) -> str:
        buf = bytearray(self.chunk_size)
        view = memoryview(buf)
        h = new_hasher(DEFAULT_ALGORITHM)
        with open(src, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                h.update(view[:n])
                if bar is not None:
                    bar.update(n)
        return f"{DEFAULT_ALGORITHM}:{h.hexdigest()}"

    def _ingest_remote(self, src: str, st: os.stat_result, bar: Any) -> str:
        if st.st_size <= _REMOTE_INLINE:
            with open(src, "rb") as f:
                data = f.read()
            _check_unchanged(src, st)
            ref = self._put_chunks([data], kind="blob", media_type=None)
            bar.update(len(data))
            return ref.digest
        digest = self._hash_file(src)
        if not self._needs_write(digest):
            return digest
        path = self._object_path(digest)
        h = new_hasher(DEFAULT_ALGORITHM)
        buf = bytearray(self.chunk_size)
        view = memoryview(buf)

        def upload() -> None:
            f_out = self._loc.fs.open(path, "wb")
            try:
                with open(src, "rb", buffering=0) as f_in:
                    while n := f_in.readinto(buf):
                        h.update(view[:n])
                        f_out.write(bytes(view[:n]))
                        bar.update(n)
                if f"{DEFAULT_ALGORITHM}:{h.hexdigest()}" != digest:
                    raise InvalidInputError(f"{src} changed while it was being stored", path=src)
            except BaseException:
                discard = getattr(f_out, "discard", None)
                if discard is not None:
                    discard()  # abort the multipart upload: no object appears
                else:  # pragma: no cover - filesystems without discard
                    f_out.close()
                    _quietly(lambda: self._loc.fs.rm_file(path))
                raise
            f_out.close()

        self._loc.retry(upload, what=f"upload {src}")
        return digest

    def put_dir(
        self,
        path: str | os.PathLike[str],
        *,
        progress: bool | None = None,
        follow_symlinks: bool = False,
    ) -> ArtifactRef:
        """Store a local directory as a Merkle tree of manifests; returns the root's ref.

        Small files are packed together (one pack object instead of one object per
        file); files unchanged since the last put are not read again. Symbolic links
        that leave the directory are refused (``InvalidInputError``) unless
        ``follow_symlinks=True``; links inside it are stored as what they point to.
        """
        root = os.path.abspath(os.fspath(path))
        try:
            if not stat_mod.S_ISDIR(os.stat(root).st_mode):
                raise InvalidInputError(f"not a directory: {root}; use put_file", path=root)
        except FileNotFoundError:
            raise NotFoundError(f"no such directory: {root}", path=root) from None
        from mlopskit.store._put_dir import DirIngest, walk

        tree = walk(root, follow_symlinks=follow_symlinks)  # checks all before writing
        return DirIngest(self, root, progress).run(tree)

    # -- reading --------------------------------------------------------------------------

    def _fetch(self, digest: str) -> tuple[bytes, str]:
        """The stored bytes of ``digest`` (unverified) and where they came from."""
        if self._cache is not None:
            cached = self._cache.get(digest)
            if cached is not None:
                with open(cached, "rb") as f:
                    return f.read(), cached
        path = self._object_path(digest)
        try:
            if self._loc.is_local:
                with open(path, "rb") as f:
                    return f.read(), path
            data = self._loc.retry(lambda: self._loc.fs.cat_file(path), what=f"read {path}")
            return data, path
        except FileNotFoundError:
            pass
        for refresh in (False, True):
            entry = self._pack_entry(digest, refresh=refresh)
            if entry is not None:
                return self._read_packed(entry), self._pack_path(entry.pack, "pack")
        raise NotFoundError(f"no object {digest} in {self.url}", digest=digest)

    def _read_packed(self, entry: PackEntry) -> bytes:
        path = self._pack_path(entry.pack, "pack")
        if self._loc.is_local:
            with open(path, "rb") as f:
                f.seek(entry.offset)
                return f.read(entry.size)
        data: bytes = self._loc.retry(
            lambda: self._loc.fs.cat_file(path, start=entry.offset, end=entry.offset + entry.size),
            what=f"read {path}",
        )
        return data

    def _prefetch(self, digests: list[str]) -> None:
        """Fill the read cache with packed objects, one whole-pack read per pack."""
        if self._cache is None:
            return
        by_pack: dict[str, list[tuple[str, PackEntry]]] = {}
        for digest in digests:
            entry = self._pack_entry(digest)
            if entry is not None and self._cache.get(digest) is None:
                by_pack.setdefault(entry.pack, []).append((digest, entry))
        for pack, wanted in by_pack.items():
            path = self._pack_path(pack, "pack")
            data = self._loc.read_nonempty(path)
            for digest, entry in wanted:
                chunk = data[entry.offset : entry.offset + entry.size]
                if _digest_of(chunk, digest) == digest:  # a bad one fails later, loudly
                    self._cache.put(digest, [chunk])

    def _verified(self, digest: str) -> bytes:
        data, where = self._fetch(digest)
        found = _digest_of(data, digest)
        if found != digest:
            if self._cache is not None and where == self._cache.path(digest):
                self._cache.evict(digest)  # a damaged cache copy: fetch from the store
                return self._verified(digest)
            raise IntegrityError(
                f"object {digest} at {where} is corrupt: its bytes hash to {found}. "
                "Restore it from another copy, or remove it and re-put the data.",
                digest=digest,
                found=found,
                path=where,
            )
        if self._cache is not None and where != self._cache.path(digest):
            self._cache.put(digest, [data])
        return data

    def get_bytes(self, ref: RefLike) -> bytes:
        """The object's bytes, verified against its digest (IntegrityError if not)."""
        return self._verified(self._digest(ref))

    def get(self, ref: RefLike, *, trusted: bool | None = None) -> Any:
        """Load an object written by :meth:`put` (or any object, decoded by sniffing).

        Args:
            ref: the reference (its media type picks the codec) or a bare digest.
            trusted: pickle codecs run code when loaded. ``None`` (default) loads a
                pickle only if this store wrote it; ``True`` loads any; ``False`` none.
        """
        digest = self._digest(ref)
        data = self._verified(digest)
        kind = ref.kind if isinstance(ref, ArtifactRef) else None
        media = ref.media_type if isinstance(ref, ArtifactRef) else None
        if kind == "tree" or media == TREE_MEDIA_TYPE:
            return self.read_tree(ref)
        if kind == "record" or media == RECORD_MEDIA_TYPE:
            return self.read_record(ref)
        if kind == "blob" and media is None:
            return data
        if trusted is None:
            from mlopskit.serialize import sniff_media_type

            if is_pickle_media_type(media or sniff_media_type(data)):
                trusted = self._is_trusted(digest)
        return decode(data, media, trusted=bool(trusted))

    def open(self, ref: RefLike) -> BinaryIO:
        """A binary stream of the object; IntegrityError at the end if it is corrupt."""
        digest = self._digest(ref)
        path = self._object_path(digest)
        raw: Any
        if self._loc.is_local and os.path.exists(path):
            raw = open(path, "rb")  # noqa: SIM115 - returned to the caller
        elif self._cache is not None:
            raw = io.BytesIO(self._verified(digest))
        else:
            try:
                raw = self._loc.fs.open(path, "rb")
            except FileNotFoundError:
                raw = io.BytesIO(self._verified(digest))
        return _VerifyingReader(raw, digest, path)  # type: ignore[return-value]

    def get_file(
        self, ref: RefLike, dest: str | os.PathLike[str], *, progress: bool | None = None
    ) -> Path:
        """Write the object to ``dest`` (atomically, verified); returns the path."""
        digest = self._digest(ref)
        out = Path(dest).absolute()
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _mkstemp(str(out.parent))
        h = new_hasher(DEFAULT_ALGORITHM)
        try:
            with os.fdopen(fd, "wb") as f_out, self.open(digest) as f_in:
                buf = bytearray(self.chunk_size)
                while n := f_in.readinto(buf):  # type: ignore[attr-defined]
                    h.update(memoryview(buf)[:n])
                    f_out.write(memoryview(buf)[:n])
            os.replace(tmp, out)
        finally:
            _quietly(lambda: os.unlink(tmp))
        return out

    def read_tree(self, ref: RefLike) -> list[TreeEntry]:
        """The entries of a directory manifest (shards joined), sorted by name.

        Raises:
            IntegrityError: the manifest is damaged, or names an entry twice (also
                across shards).
        """
        digest = self._digest(ref)
        entries, shards = parse_manifest(self._verified(digest), digest)
        for shard in shards:
            more, nested = parse_manifest(self._verified(shard), shard)
            if nested:
                raise IntegrityError(
                    f"shard {shard} of manifest {digest} lists shards of its own; a shard "
                    "lists entries only",
                    digest=shard,
                )
            entries.extend(more)
        if shards:
            check_unique(entries, digest)
        return entries

    def walk(self, ref: RefLike, prefix: str = "") -> Iterator[tuple[str, TreeEntry]]:
        """Every file and directory under a tree: ``(relative path, entry)``, depth first.

        Raises:
            IntegrityError: a damaged manifest, or trees nested deeper than
                ``MAX_DEPTH`` (512) levels.
        """
        stack: list[tuple[Iterator[TreeEntry], str]] = [(iter(self.read_tree(ref)), prefix)]
        while stack:
            entries, base = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            rel = f"{base}{entry.name}"
            yield rel, entry
            if entry.kind == "tree":
                if len(stack) >= MAX_DEPTH:
                    raise IntegrityError(
                        f"tree {self._digest(ref)} nests deeper than {MAX_DEPTH} levels at "
                        f"{rel[:80]!r}…; mlopskit refuses deeper trees (a manifest chain this "
                        "long is damage or an attack, not a directory)",
                        digest=self._digest(ref),
                        found=len(stack) + 1,
                    )
                stack.append((iter(self.read_tree(entry.digest)), rel + "/"))

    def read_record(self, ref: RefLike) -> dict[str, Any]:
        """The payload of a record written by :meth:`put_record`."""
        digest = self._digest(ref)
        body = json.loads(self._verified(digest))
        if not isinstance(body, dict) or body.get("format") != RECORD_FORMAT:
            raise IntegrityError(f"object {digest} is not a record", digest=digest)
        payload: dict[str, Any] = body["payload"]
        return payload

    def checkout(
        self,
        ref: RefLike,
        dest: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        progress: bool | None = None,
    ) -> Path:
        """Materialize a directory tree at ``dest``; every file is verified.

        ``dest`` must not exist or be empty unless ``overwrite=True`` (then files in
        the tree replace files of the same name; other files are left alone).
        """
        digest = self._digest(ref)
        out = Path(dest).absolute()
        if out.exists() and any(out.iterdir()) and not overwrite:
            raise InvalidInputError(
                f"{out} is not empty; pass overwrite=True to write into it", path=str(out)
            )
        entries = list(self.walk(digest))  # parses and checks every name, before writing
        self._prefetch([e.digest for _, e in entries if e.kind == "blob"])
        bar = progress_bar(
            len(entries),
            f"checkout {out.name}",
            self.progress if progress is None else progress,
            unit="file",
        )
        out.mkdir(parents=True, exist_ok=True)
        try:
            for rel, entry in entries:
                target = out.joinpath(*rel.split("/"))
                if entry.kind == "tree":
                    target.mkdir(exist_ok=True)
                    continue
                if entry.size > self.pack_threshold:
                    self.get_file(entry.digest, target)
                else:
                    _local_write_atomic(
                        str(target.parent), str(target), [self._verified(entry.digest)], fsync=False
                    )
                os.chmod(target, 0o755 if entry.mode & 0o100 else 0o644)
                bar.update(1)
        finally:
            bar.close()
        return out

    def stat(self, ref: RefLike) -> ObjectInfo:
        """Where the object is stored, its size and modification time."""
        from mlopskit.store._model import ObjectInfo

        digest = self._digest(ref)
        path = self._object_path(digest)
        try:
            info = self._loc.fs.info(path)
            return ObjectInfo(
                digest=digest,
                size=int(info["size"]),
                location="loose",
                path=path,
                modified=datetime.fromtimestamp(_mtime(info), timezone.utc),
            )
        except FileNotFoundError:
            pass
        entry = self._pack_entry(digest) or self._pack_entry(digest, refresh=True)
        if entry is None:
            raise NotFoundError(f"no object {digest} in {self.url}", digest=digest)
        return ObjectInfo(
            digest=digest,
            size=entry.size,
            location="pack",
            path=self._pack_path(entry.pack, "pack"),
            modified=datetime.fromtimestamp(self._pack_mtime.get(entry.pack, 0), timezone.utc),
        )

    # -- verify and gc ----------------------------------------------------------------------

    def verify(self, ref: RefLike | None = None) -> VerifyReport:
        """Check objects against their digests: one object (a whole tree for a tree ref),
        or, with no argument, every object in the store. Returns a report."""
        from mlopskit.store._maintenance import verify_all, verify_closure

        if ref is None:
            return verify_all(self)
        return verify_closure(self, ref)

    def gc(
        self,
        keep: Iterable[RefLike] = (),
        *,
        dry_run: bool = True,
        grace: timedelta = DEFAULT_GRACE,
    ) -> GcReport:
        """Remove objects no ref reaches (nor any ref's history, nor ``keep``).

        Never removes what was written within ``grace`` (in-flight writers), and by
        default only reports (``dry_run=True``).
        """
        from mlopskit.store._maintenance import collect_garbage

        return collect_garbage(self, keep, dry_run=dry_run, grace=grace)

    def close(self) -> None:
        """Release the stat cache connection."""
        if self._statcache is not None:
            self._statcache.close()


# -- helpers -------------------------------------------------------------------------------


__all__ = ["SHARD_FORMAT", "TREE_FORMAT", "ArtifactStore"]
