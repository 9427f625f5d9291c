"""PackIndex: which pack holds which object, kept in step with ``packs/`` on the store.

It owns every pack index this process has read. :meth:`PackIndex.refresh` lists
``packs/`` again: new indexes are read, indexes that vanished (another process's gc
repacked or removed them) are dropped, and a damaged index is set aside in
:attr:`PackIndex.damaged` (logged, reported by ``verify``) while every other pack and
every loose object keeps being served. Remote indexes are cached locally after they
parse; a cached copy that does not parse is evicted and read again from the store.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable

from mlopskit._log import get_logger
from mlopskit.errors import IntegrityError
from mlopskit.store._fs import Buffer, Location
from mlopskit.store._io import _mtime, _now
from mlopskit.store._pack import Entry, PackEntry, build_index, parse_index

log = get_logger("mlopskit.store")

__all__ = ["PackIndex"]


class PackIndex:
    """The pack indexes of one store location.

    Args:
        loc: the store's location.
        cache_dir: where remote indexes are cached (``None``: not cached).
    """

    def __init__(self, loc: Location, cache_dir: str | None = None) -> None:
        self._loc = loc
        self._cache_dir = cache_dir
        self._lock = threading.RLock()
        self._entries: dict[str, list[Entry]] = {}  # pack name -> its index rows
        self._mtime: dict[str, float] = {}
        self._map: dict[str, PackEntry] = {}  # digest -> where
        self._loaded = False
        #: pack name -> why its index could not be read (reported by verify)
        self.damaged: dict[str, str] = {}
        self._damaged_at: dict[str, float] = {}

    # -- paths ------------------------------------------------------------------------

    def pack_path(self, name: str) -> str:
        """Where pack ``name``'s bytes live."""
        return self._loc.join("packs", f"{name}.pack")

    def index_path(self, name: str) -> str:
        """Where pack ``name``'s index lives."""
        return self._loc.join("packs", f"{name}.idx")

    # -- lookups ----------------------------------------------------------------------

    def lookup(self, digest: str, *, refresh: bool = False) -> PackEntry | None:
        """Where ``digest`` is packed, or None (``refresh`` lists ``packs/`` first)."""
        if refresh:
            self.refresh()
        elif not self._loaded:
            self.load()
        return self._map.get(digest)

    def mtime(self, name: str) -> float:
        """When pack ``name`` was written (now, if unknown)."""
        written = self._mtime.get(name)
        return _now() if written is None else written

    def names(self) -> list[str]:
        """The packs known after the last load or refresh, sorted."""
        if not self._loaded:
            self.load()
        return sorted(self._entries)

    def listing(self) -> dict[str, float]:
        """Every pack index on the store now: name -> mtime (a fresh listing)."""
        return self._list(".idx")

    def orphans(self) -> dict[str, float]:
        """Packs without an index (their writer died before committing): name -> mtime."""
        packs = self._list(".pack")
        indexes = self.listing()
        return {name: mtime for name, mtime in packs.items() if name not in indexes}

    def _list(self, ext: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for info in self._loc.ls(self._loc.join("packs")):
            leaf = info["name"].rstrip("/").rsplit("/", 1)[-1]
            if leaf.endswith(ext):
                out[leaf[: -len(ext)]] = _mtime(info)
        return out

    # -- loading ----------------------------------------------------------------------

    def load(self) -> None:
        """Read the pack list once (later calls do nothing until :meth:`refresh`)."""
        with self._lock:
            if not self._loaded:
                self.refresh()

    def refresh(self) -> None:
        """List ``packs/`` again: read new indexes, drop vanished ones, set aside damage."""
        with self._lock:
            listed = self.listing()
            for name in [n for n in self._entries if n not in listed]:
                del self._entries[name]
                self._mtime.pop(name, None)
            for name in [n for n in self.damaged if n not in listed]:
                del self.damaged[name]
                self._damaged_at.pop(name, None)
            for name, mtime in listed.items():
                if name in self._entries or self._damaged_at.get(name) == mtime:
                    continue  # known, or known damaged and not rewritten since
                try:
                    self._entries[name] = self.read_index(name)
                except FileNotFoundError:
                    continue  # removed between the listing and the read
                except IntegrityError as exc:
                    if name not in self.damaged:
                        log.warning("damaged_pack_index", pack=name, error=str(exc))
                    self.damaged[name] = str(exc)
                    self._damaged_at[name] = mtime
                    continue
                self.damaged.pop(name, None)
                self._damaged_at.pop(name, None)
                self._mtime[name] = mtime
            self._rebuild()
            self._loaded = True

    def _rebuild(self) -> None:
        table: dict[str, PackEntry] = {}
        for name in sorted(self._entries, key=lambda n: -self._mtime.get(n, 0.0)):
            for hexdigest, offset, size in self._entries[name]:
                table.setdefault(f"sha256:{hexdigest}", PackEntry(name, offset, size))
        self._map = table

    def read_index(self, name: str) -> list[Entry]:
        """The parsed index of pack ``name``, from the local cache if a sound copy is there.

        Raises:
            IntegrityError: the store's copy of the index is damaged.
            FileNotFoundError: there is no such index.
        """
        path = self.index_path(name)
        cached = self._cached(name)
        if cached is not None and os.path.exists(cached):
            try:
                with open(cached, "rb") as f:
                    return parse_index(f.read(), cached, name)
            except (IntegrityError, OSError) as exc:
                log.warning("evicting_cached_pack_index", path=cached, error=str(exc))
                _unlink(cached)
        data = self._loc.cat(path)
        entries = parse_index(data, path, name)
        if cached is not None:
            from mlopskit.store._fs import _local_write_atomic

            _local_write_atomic(
                os.path.join(self._cache_dir or "", "tmp"), cached, [data], fsync=False
            )
        return entries

    def read_index_from_store(self, name: str) -> list[Entry]:
        """The index of pack ``name`` as the store holds it (never the local cache)."""
        path = self.index_path(name)
        return parse_index(self._loc.cat(path), path, name)

    def _cached(self, name: str) -> str | None:
        if self._cache_dir is None:
            return None
        return os.path.join(self._cache_dir, "packidx", f"{name}.idx")

    # -- reading packed objects -------------------------------------------------------

    def read(self, entry: PackEntry) -> bytes:
        """The bytes of one packed object (unverified); FileNotFoundError if the pack went."""
        return self._loc.cat(
            self.pack_path(entry.pack), start=entry.offset, end=entry.offset + entry.size
        )

    def read_pack(self, name: str) -> bytes:
        """The whole pack ``name`` (unverified)."""
        return self._loc.cat(self.pack_path(name))

    # -- writing ----------------------------------------------------------------------

    def write(self, entries: list[tuple[str, int, int]], chunks: Iterable[Buffer]) -> str:
        """Publish a pack of ``chunks`` whose rows are ``(digest, offset, size)``.

        The pack is written first and its index second, each atomically (and durably,
        locally): the index is the commit point. Returns the pack name.
        """
        rows = [(d.partition(":")[2], off, size) for d, off, size in entries]
        name, index = build_index(rows)
        self._loc.write_atomic(self.pack_path(name), chunks)
        self._loc.write_atomic(self.index_path(name), [index])
        with self._lock:
            self._entries[name] = sorted(rows)
            self._mtime[name] = _now()
            for digest, off, size in entries:
                self._map.setdefault(digest, PackEntry(name, off, size))
        return name

    def remove(self, name: str) -> None:
        """Delete pack ``name``: its index first, so readers stop seeing it, then the pack."""
        self._loc.rm(self.index_path(name))
        self._loc.rm(self.pack_path(name))
        cached = self._cached(name)
        if cached is not None:
            _unlink(cached)
        with self._lock:
            self._entries.pop(name, None)
            self._mtime.pop(name, None)
            self._rebuild()

    def forget(self) -> None:
        """Drop everything read so far; the next lookup lists ``packs/`` again."""
        with self._lock:
            self._entries.clear()
            self._mtime.clear()
            self._map = {}
            self._loaded = False


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
