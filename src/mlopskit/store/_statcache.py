"""A stat cache: (inode, size, mtime_ns, ctime_ns) of a source file → its digest.

Re-putting a file or directory re-hashes only what changed. Entries whose mtime is
within :data:`RACY_NS` of the moment they were hashed are not trusted later (a write in
the same timestamp tick could go unseen: git's "racily clean" problem).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time

RACY_NS = 2_000_000_000

Stat = tuple[int, int, int, int]  # ino, size, mtime_ns, ctime_ns


def stat_key(st: os.stat_result) -> Stat:
    """The fields of a stat result that identify unchanged content."""
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class StatCache:
    """A SQLite table of path → (stat, digest), opened on first use."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS stat (path TEXT PRIMARY KEY, ino INTEGER, "
                "size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, digest TEXT)"
            )
            self._conn = conn
        return self._conn

    def lookup(self, path: str, st: Stat) -> str | None:
        """The cached digest of ``path`` if its stat is unchanged, else None."""
        with self._lock:
            row = (
                self._db()
                .execute(
                    "SELECT ino, size, mtime_ns, ctime_ns, digest FROM stat WHERE path = ?", (path,)
                )
                .fetchone()
            )
        if row is None or tuple(row[:4]) != st:
            return None
        return str(row[4])

    def lookup_tree(self, root: str) -> dict[str, tuple[Stat, str]]:
        """Every cached entry under directory ``root``."""
        prefix = root.rstrip("/") + "/"
        with self._lock:
            rows = (
                self._db()
                .execute(
                    "SELECT path, ino, size, mtime_ns, ctime_ns, digest FROM stat "
                    "WHERE path >= ? AND path < ?",
                    (prefix, prefix[:-1] + "0"),  # "0" sorts right after "/"
                )
                .fetchall()
            )
        return {r[0]: ((r[1], r[2], r[3], r[4]), r[5]) for r in rows}

    def store(self, rows: list[tuple[str, Stat, str]]) -> None:
        """Record digests just computed (skipping racily-clean files)."""
        now = time.time_ns()
        fresh = [(path, *st, digest) for path, st, digest in rows if now - st[2] > RACY_NS]
        if not fresh:
            return
        with self._lock:
            db = self._db()
            with db:
                db.executemany("INSERT OR REPLACE INTO stat VALUES (?, ?, ?, ?, ?, ?)", fresh)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
