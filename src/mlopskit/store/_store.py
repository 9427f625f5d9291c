"""ArtifactStore: the facade of the content-addressed store, and its only codec user.

Below it: the object database (:mod:`._odb`, with its pack index), ingest
(:mod:`._put_dir`), maintenance (:mod:`._maintenance`) and refs (:mod:`._refs`), none
of which names this class. Layout under the root (docs/store.md, stable for tools)::

    objects/sha256/<hex[:2]>/<hex[2:]>      loose objects, named by their digest
    packs/<name>.pack, packs/<name>.idx     small objects packed together (see _pack)
    refs/<name>/~log/<seq:020d>.json        ref history (see _refs)
    trust/sha256/<hex[:2]>/<hex[2:]>        marks pickles this store wrote itself
    tmp/                                    writes in progress (swept by gc after grace)
"""

from __future__ import annotations

import json
import os
import stat as stat_mod
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from mlopskit import _config
from mlopskit._log import get_logger
from mlopskit._retry import RetryPolicy
from mlopskit.errors import IntegrityError, InvalidInputError, NotFoundError
from mlopskit.hashing import check_digest
from mlopskit.serialize import canonical_json, decode, encode, is_pickle_media_type
from mlopskit.store._cache import ReadCache
from mlopskit.store._fs import Buffer, Location, _local_write_atomic, _mkstemp, _quietly
from mlopskit.store._io import DEFAULT_GRACE, _stat_source
from mlopskit.store._odb import open_odb
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
_READ_BATCH = 256  # small files of a checkout read concurrently per batch (bounded memory)

RefLike = ArtifactRef | str
MiB = 1024 * 1024


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
        chunk_size: the copy buffer of streaming reads and writes (bounds memory use).
        retry: how transient storage errors are retried (default
            :class:`~mlopskit.store.RetryPolicy`: 4 attempts, backoff from 50 ms).

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
        retry: RetryPolicy | None = None,
    ) -> None:
        self._loc = Location(
            url if url is not None else _config.home(), storage_options, policy=retry
        )
        self.url: str = self._loc.url
        self.progress = progress
        self.pack_threshold = pack_threshold
        if cache is False or (cache is None and not self.remote):
            read_cache: ReadCache | None = None
        else:
            where = _config.cache_dir(None if cache in (None, True) else os.fspath(cache))  # type: ignore[arg-type]
            read_cache = ReadCache(where)
        self._odb = open_odb(self._loc, read_cache, chunk_size)
        self._statcache: StatCache | None = None
        self._refs: Refs | None = None

    @property
    def chunk_size(self) -> int:
        """The copy buffer of streaming reads and writes, in bytes."""
        return self._odb.chunk_size

    @chunk_size.setter
    def chunk_size(self, value: int) -> None:
        self._odb.chunk_size = value

    @property
    def remote(self) -> bool:
        """Whether the store is on a remote filesystem (neither a local path nor
        ``memory://``): each write is then a network round trip."""
        return not (self._loc.is_local or self._loc.is_memory)

    @property
    def fs(self) -> Any:
        """The fsspec filesystem under the store (for tools and tests; prefer the methods)."""
        return self._loc.fs

    @property
    def root(self) -> str:
        """The store's root path on :attr:`fs`."""
        return self._loc.root

    @property
    def refs(self) -> Refs:
        """The store's refs: named, movable pointers with an audit history."""
        if self._refs is None:
            from mlopskit.store._refs import Refs

            self._refs = Refs(self._loc, self._odb.exists)
        return self._refs

    def __repr__(self) -> str:
        return f"ArtifactStore({self.url!r})"

    @staticmethod
    def _digest(ref: RefLike) -> str:
        if isinstance(ref, ArtifactRef):
            return ref.digest
        return check_digest(ref)

    def _stat_cache(self) -> StatCache:
        """The stat cache: per user, outside any (possibly shared) store root."""
        if self._statcache is None:
            self._statcache = StatCache(os.path.join(_config.cache_dir(), "statcache.sqlite"))
        return self._statcache

    # -- existence ------------------------------------------------------------------------

    def exists(self, ref: RefLike) -> bool:
        """Whether the object is in the store (loose or packed)."""
        return self._odb.exists(self._digest(ref))

    def exists_many(self, refs: Iterable[RefLike], *, refresh: bool = True) -> list[bool]:
        """:meth:`exists` of several objects, in order: the pack list is read once and
        the loose copies are looked up concurrently (on S3 a HEAD each, where as many
        :meth:`exists` calls would also list the packs again for every missing one).

        ``refresh=False`` does not list the packs again when something is missing (an
        object another writer packed meanwhile then reads as missing: right for a
        caller that only copies what is missing, since copying it again is harmless).
        """
        return self._odb.exists_many([self._digest(r) for r in refs], refresh=refresh)

    # -- writing --------------------------------------------------------------------------

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
        digest, total = self._odb.put_chunks(chunks)
        return ArtifactRef(
            digest=digest,
            size=total if size is None else size,
            kind=kind,  # type: ignore[arg-type]
            media_type=media_type,
        )

    def put_many(self, datas: Iterable[bytes | bytearray | memoryview]) -> list[str]:
        """Store several byte strings, packed together: one pack (two writes: the pack,
        then its index, the commit point) per 64 MiB instead of one object each.

        Returns their digests, in order. Objects are published in the order given (give
        children before the records or manifests that name them). Objects larger than
        ``pack_threshold`` are stored loose, before the pack. An object already in a
        fresh pack is not written again; loose copies are not looked for.
        """
        items = list(datas)
        for data in items:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise InvalidInputError(
                    f"put_many takes bytes, found {type(data).__name__}; use put(obj) for objects"
                )
        big = {
            i: self._odb.put_chunks([d])[0]
            for i, d in enumerate(items)
            if memoryview(d).nbytes > self.pack_threshold
        }
        small = self._odb.put_packed([d for i, d in enumerate(items) if i not in big])
        packed = iter(small)
        return [big[i] if i in big else next(packed) for i in range(len(items))]

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
            self._odb.mark_trusted(ref.digest)
        return ref

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
        if known is not None and self._odb.exists(known) and not self._odb.needs_write(known):
            return ArtifactRef(digest=known, size=st.st_size, kind="blob", media_type=media_type)
        show = self.progress if progress is None else progress
        bar = progress_bar(
            st.st_size if st.st_size >= 64 * MiB else None,
            os.path.basename(src),
            show if st.st_size >= 64 * MiB else False,
        )
        try:
            digest = self._odb.write_file(src, st, bar)
        finally:
            bar.close()
        cache.store(src, stat_key(st), digest)
        return ArtifactRef(digest=digest, size=st.st_size, kind="blob", media_type=media_type)

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
        ingest = DirIngest(
            self._odb,
            self._stat_cache(),
            root,
            pack_threshold=self.pack_threshold,
            progress=self.progress if progress is None else progress,
        )
        return ingest.run(tree)

    # -- reading --------------------------------------------------------------------------

    def _verified(self, digest: str) -> bytes:
        return self._odb.read(digest)

    def get_bytes(self, ref: RefLike) -> bytes:
        """The object's bytes, verified against its digest (IntegrityError if not)."""
        return self._verified(self._digest(ref))

    def get_many(self, refs: Iterable[RefLike]) -> dict[str, bytes]:
        """The verified bytes of several objects, by digest: packed ones read one pack at
        a time, loose ones concurrently on remote stores (IntegrityError if any is
        damaged, NotFoundError if any is missing). Ask for a bounded batch at a time."""
        return self._odb.read_many([self._digest(r) for r in refs])

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
                trusted = self._odb.is_trusted(digest)
        return decode(data, media, trusted=bool(trusted))

    def open(self, ref: RefLike) -> BinaryIO:
        """A binary stream of the object; IntegrityError at the end if it is corrupt."""
        return self._odb.open(self._digest(ref))

    def get_file(
        self, ref: RefLike, dest: str | os.PathLike[str], *, progress: bool | None = None
    ) -> Path:
        """Write the object to ``dest`` (atomically, verified); returns the path."""
        digest = self._digest(ref)
        out = Path(dest).absolute()
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _mkstemp(str(out.parent))
        try:
            with os.fdopen(fd, "wb") as f_out, self.open(digest) as f_in:
                buf = bytearray(self.chunk_size)
                while n := f_in.readinto(buf):  # type: ignore[attr-defined]
                    f_out.write(memoryview(buf)[:n])  # f_in verifies the digest at its end
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
        blobs = self._odb.read_many(shards)  # shards read concurrently
        for shard in shards:
            more, nested = parse_manifest(blobs[shard], shard)
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
        try:
            body = json.loads(self._verified(digest))
        except (ValueError, RecursionError) as exc:
            raise IntegrityError(f"object {digest} is not a record: {exc}", digest=digest) from exc
        if (
            not isinstance(body, dict)
            or body.get("format") != RECORD_FORMAT
            or not isinstance(body.get("payload"), dict)
        ):
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
        self._odb.prefetch([e.digest for _, e in entries if e.kind == "blob"])
        bar = progress_bar(
            len(entries),
            f"checkout {out.name}",
            self.progress if progress is None else progress,
            unit="file",
        )
        out.mkdir(parents=True, exist_ok=True)
        try:
            for start in range(0, len(entries), _READ_BATCH):
                batch = entries[start : start + _READ_BATCH]
                small = self._odb.read_many(  # one GET each, concurrently
                    [
                        e.digest
                        for _, e in batch
                        if e.kind == "blob" and e.size <= self.pack_threshold
                    ]
                )
                for rel, entry in batch:
                    target = out.joinpath(*rel.split("/"))
                    if entry.kind == "tree":
                        target.mkdir(exist_ok=True)
                        continue
                    if entry.size > self.pack_threshold:
                        self.get_file(entry.digest, target)
                    else:
                        _local_write_atomic(
                            str(target.parent), str(target), [small[entry.digest]], fsync=False
                        )
                    os.chmod(target, 0o755 if entry.mode & 0o100 else 0o644)
                    bar.update(1)
        finally:
            bar.close()
        return out

    def stat(self, ref: RefLike) -> ObjectInfo:
        """Where the object is stored (loose or in a pack, and where), its size and time."""
        return self._odb.stat(self._digest(ref))

    # -- verify and gc ----------------------------------------------------------------------

    def verify(self, ref: RefLike | None = None) -> VerifyReport:
        """Check objects against their digests: one object (a whole tree for a tree ref),
        or, with no argument, every object in the store. Returns a report."""
        from mlopskit.store._maintenance import verify_all, verify_closure

        if ref is None:
            return verify_all(self._odb)
        return verify_closure(self._odb, ref)

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

        roots = [*self.refs.targets(), *keep]
        return collect_garbage(self._odb, roots, dry_run=dry_run, grace=grace)

    def close(self) -> None:
        """Release the stat cache connection."""
        if self._statcache is not None:
            self._statcache.close()


# -- helpers -------------------------------------------------------------------------------


__all__ = ["SHARD_FORMAT", "TREE_FORMAT", "ArtifactStore"]
