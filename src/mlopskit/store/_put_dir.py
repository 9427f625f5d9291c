"""put_dir: walk a directory, hash what changed, pack small files, write manifests."""

from __future__ import annotations

import os
import stat as stat_mod
from dataclasses import dataclass
from typing import Any

from mlopskit.errors import InvalidInputError
from mlopskit.hashing import DEFAULT_ALGORITHM
from mlopskit.store._io import FRESHEN_AFTER, _digest_of, _now
from mlopskit.store._odb import ObjectDB
from mlopskit.store._pack import PackBuilder
from mlopskit.store._progress import progress_bar
from mlopskit.store._ref import TREE_MEDIA_TYPE, ArtifactRef
from mlopskit.store._statcache import StatCache
from mlopskit.store._tree import MAX_DEPTH, Row, check_entry_name, encode_tree


@dataclass(slots=True)
class _File:
    name: str
    path: str
    st: os.stat_result


@dataclass(slots=True)
class _Dir:
    name: str
    files: list[_File]
    dirs: list[_Dir]


def walk(root: str, *, follow_symlinks: bool = False) -> _Dir:
    """Scan ``root`` into a tree of files and directories, checking every name first.

    Symbolic links are followed only while they stay inside ``root`` (a link to
    ``$HOME`` must not upload a home directory to a shared store); with
    ``follow_symlinks=True`` every link is followed. Loops and trees deeper than
    ``MAX_DEPTH`` are refused.
    """
    top = os.path.realpath(root)
    return _scan(root, top, follow_symlinks, set(), 0)


def _inside(path: str, top: str) -> bool:
    real = os.path.realpath(path)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def _scan(path: str, top: str, follow: bool, seen: set[tuple[int, int]], depth: int) -> _Dir:
    if depth >= MAX_DEPTH:
        raise InvalidInputError(
            f"{path} is more than {MAX_DEPTH} directories deep; mlopskit stores trees of at "
            "most that depth",
            path=path,
        )
    st = os.stat(path)
    key = (st.st_dev, st.st_ino)
    if key in seen:
        raise InvalidInputError(f"directory symlink loop at {path}", path=path)
    seen = seen | {key}
    node = _Dir(os.path.basename(path), [], [])
    with os.scandir(path) as it:
        for entry in it:
            check_entry_name(entry.name)
            if not follow and entry.is_symlink() and not _inside(entry.path, top):
                raise InvalidInputError(
                    f"{entry.path} is a symbolic link to {os.path.realpath(entry.path)}, outside "
                    "the directory being stored; remove it, or pass follow_symlinks=True to "
                    "store what it points to",
                    path=entry.path,
                )
            try:
                est = entry.stat()
            except FileNotFoundError:
                raise InvalidInputError(f"broken symlink: {entry.path}", path=entry.path) from None
            if stat_mod.S_ISDIR(est.st_mode):
                node.dirs.append(_scan(entry.path, top, follow, seen, depth + 1))
            elif stat_mod.S_ISREG(est.st_mode):
                node.files.append(_File(entry.name, entry.path, est))
            else:
                raise InvalidInputError(
                    f"cannot store {entry.path}: not a regular file or directory",
                    path=entry.path,
                )
    return node


class DirIngest:
    """One put_dir: hash what changed, pack small objects, write manifests, then index.

    Written against the object database's public methods: the pack index for "is it
    packed already", ``write_file`` for large files, ``packs.write`` to publish a pack.
    """

    def __init__(
        self,
        odb: ObjectDB,
        statcache: StatCache,
        root: str,
        *,
        pack_threshold: int,
        progress: bool | None,
    ) -> None:
        self.odb = odb
        self.root = root
        self.pack_threshold = pack_threshold
        self.cache = statcache
        self.known = statcache.lookup_tree(root)
        self.pack = PackBuilder()
        self.snapshot: dict[str, tuple[tuple[int, int, int, int], str]] = {}
        self.progress = progress
        self.bar: Any = None
        odb.packs.load()
        self.now = _now()
        self.fresh = FRESHEN_AFTER.total_seconds()
        self.fresh_packs: dict[str, bool] = {}

    def run(self, tree: _Dir) -> ArtifactRef:
        total = _count(tree)
        self.bar = progress_bar(
            total, f"put {os.path.basename(self.root)}", self.progress, unit="file"
        )
        try:
            ref = self._put(tree)
            self._flush()
        finally:
            self.bar.close()
        self.cache.store_tree(self.root, self.snapshot)
        return ref

    def _has(self, digest: str) -> bool:
        """Packed here or in a fresh pack. Loose copies are not looked for: a stat (or a
        HEAD) per small file costs more than the rare packed duplicate."""
        if digest in self.pack:
            return True
        entry = self.odb.packs.lookup(digest)
        if entry is None:
            return False
        fresh = self.fresh_packs.get(entry.pack)
        if fresh is None:
            fresh = self.now - self.odb.packs.mtime(entry.pack) < self.fresh
            self.fresh_packs[entry.pack] = fresh
        return fresh

    def _blobs(self, files: list[_File]) -> list[Row]:
        """The rows of a directory's files: an unchanged file (same stat as in the
        snapshot, its digest stored here) is not read; the others are hashed and stored.
        The loop is written for the 10,000 unchanged files of a re-put."""
        known, has, snapshot = self.known, self._has, self.snapshot
        rows = []
        for f in files:
            st = f.st
            st_key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            cached = known.get(f.path)
            if (  # the snapshot is untrusted: a hit is the same stat and a digest stored here
                type(cached) is tuple
                and len(cached) == 2
                and cached[0] == st_key
                and type(cached[1]) is str
                and has(cached[1])
            ):
                digest = cached[1]
            else:
                digest = self._store_file(f)
            snapshot[f.path] = (st_key, digest)
            rows.append(Row(f.name, digest, st.st_size, "blob", stat_mod.S_IMODE(st.st_mode)))
        self.bar.update(len(files))
        return rows

    def _store_file(self, f: _File) -> str:
        if f.st.st_size <= self.pack_threshold:
            with open(f.path, "rb") as fh:
                data = fh.read()
            digest = _digest_of(data, DEFAULT_ALGORITHM)
            if not self._has(digest):
                self._add(digest, data)
            return digest
        return self.odb.write_file(f.path, f.st, _NO_BAR)

    def _add(self, digest: str, data: bytes) -> None:
        self.pack.add(digest, data)
        if self.pack.full:
            self._flush()

    def _put(self, node: _Dir) -> ArtifactRef:
        entries = self._blobs(node.files)
        for sub in node.dirs:
            ref = self._put(sub)
            entries.append(Row(sub.name, ref.digest, ref.size, "tree", 0o755))
        top, shards = encode_tree(entries, names_checked=True)  # walk() checked them
        for shard in shards:
            digest = _digest_of(shard, DEFAULT_ALGORITHM)
            if not self._has(digest):
                self._add(digest, shard)
        digest = _digest_of(top, DEFAULT_ALGORITHM)
        if not self._has(digest):
            self._add(digest, top)
        return ArtifactRef(
            digest=digest,
            size=sum(e.size for e in entries),
            kind="tree",
            media_type=TREE_MEDIA_TYPE,
        )

    def _flush(self) -> None:
        if not len(self.pack):
            return
        self.odb.packs.write(self.pack.entries, self.pack.chunks)
        self.pack.reset()


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass


_NO_BAR = _NoBar()


def _count(node: _Dir) -> int:
    return len(node.files) + sum(_count(d) for d in node.dirs)
