"""A stat cache: (inode, size, mtime_ns, ctime_ns) of a source file → its digest.

Re-putting a file or directory re-hashes only what changed. A directory's entries are
kept as one snapshot (a ``marshal`` blob: plain tuples, no code) under the directory's
path, so a re-put of 10,000 files reads one row. Entries whose mtime is within
:data:`RACY_NS` of the moment they were recorded are dropped (a write in the same
timestamp tick could go unseen: git's "racily clean" problem).

The database is a hint, never a record: it is written without fsync (``synchronous=OFF``:
a put pays for no cache durability), and a cache damaged by a power loss is deleted
and started afresh (its only cost is one re-hash of what it knew).
"""

from __future__ import annotations

import marshal
import os
import sqlite3
import threading
import time
from collections.abc import Mapping

from mlopskit.hashing import check_digest

RACY_NS = 2_000_000_000

Stat = tuple[int, int, int, int]  # ino, size, mtime_ns, ctime_ns
Snapshot = dict[str, tuple[Stat, str]]


def stat_key(st: os.stat_result) -> Stat:
    """The fields of a stat result that identify unchanged content."""
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class StatCache:
    """A SQLite table of key → snapshot, opened on first use."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            try:
                conn.execute("PRAGMA synchronous=OFF")  # first: switching to WAL syncs too
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("CREATE TABLE IF NOT EXISTS snap (key TEXT PRIMARY KEY, blob BLOB)")
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _reset(self) -> None:
        """Drop a damaged database: close it and delete its files (the lock is held)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(self.path + suffix)
            except FileNotFoundError:
                pass

    def _load(self, key: str) -> Snapshot:
        with self._lock:
            try:
                row = self._db().execute("SELECT blob FROM snap WHERE key = ?", (key,)).fetchone()
            except sqlite3.DatabaseError:
                self._reset()  # damaged (e.g. by a power loss): a miss, and a fresh cache
                return {}
        if row is None:
            return {}
        try:
            snap = marshal.loads(row[0])
        except (ValueError, EOFError, TypeError):
            return {}  # a damaged cache entry only costs a re-hash
        return snap if isinstance(snap, dict) else {}

    def _save(self, key: str, snap: Snapshot) -> None:
        now = time.time_ns()
        fresh = {p: v for p, v in snap.items() if now - v[0][2] > RACY_NS}
        blob = marshal.dumps(fresh)
        with self._lock:
            for attempt in (1, 2):
                try:
                    db = self._db()
                    with db:
                        db.execute("INSERT OR REPLACE INTO snap VALUES (?, ?)", (key, blob))
                    return
                except sqlite3.DatabaseError:
                    if attempt == 2:
                        raise
                    self._reset()  # damaged: start a fresh cache and record into it

    def lookup(self, path: str, st: Stat) -> str | None:
        """The cached digest of file ``path`` if its stat is unchanged, else None.

        A row of the wrong shape counts as a miss (the cache is only ever a hint: the
        caller also checks that the store holds the digest).
        """
        hit = self._load(path).get(path)
        try:
            if hit is not None and tuple(hit[0]) == st and isinstance(hit[1], str):
                return check_digest(hit[1])
        except (TypeError, ValueError, IndexError):
            pass
        return None

    def store(self, path: str, st: Stat, digest: str) -> None:
        """Record the digest of one file."""
        self._save(path, {path: (st, digest)})

    def lookup_tree(self, root: str) -> Mapping[str, object]:
        """The snapshot of directory ``root``: file path → (stat, digest), as stored.

        The values are untrusted and not checked here (a check of all 10,000 rows of a
        re-put costs more than the few it uses): a caller checks a row's shape where it
        uses it, and treats a row of the wrong shape as a miss (put_dir does).
        """
        return self._load(root.rstrip("/") + "/")

    def store_tree(self, root: str, snap: Snapshot) -> None:
        """Replace the snapshot of directory ``root``."""
        self._save(root.rstrip("/") + "/", snap)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
