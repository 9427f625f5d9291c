"""The SQLite backend: the embedded default for a local workspace.

One file, ``<workspace>/tracking.sqlite``, in WAL mode, written in short
``BEGIN IMMEDIATE`` transactions with a long busy timeout, so several processes on one
machine log at once without "database is locked" errors. The schema (``PRAGMA
user_version`` 5) is created or migrated inside a write transaction, so processes that
cold-start one fresh file at the same time never race (docs/layout-tracking.md specifies
the tables). Deleting or restoring a run or an experiment appends a row to ``lifecycle``
(schema 3); nothing is updated in place. Every metric block carries a CRC-32 checked on read.
A latest value that is NaN is stored as NULL (SQLite turns a NaN REAL into NULL anyway;
schema 4 lets ``latest_metrics.value`` hold it), so SQL comparisons with it are false,
as the Python filter's are; ±infinity are REAL values SQLite keeps as they are.
Each run's row also holds its latest metrics packed in one value (``runs.latest``,
schema 5), rewritten from ``latest_metrics`` in the transaction that changes them: a
search reads one value per run instead of one row per run and key.

Every database call is one :func:`mlopskit._retry.retry` (busy/locked is transient);
a damaged file raises :class:`~mlopskit.errors.IntegrityError`, any other SQLite
failure :class:`~mlopskit.errors.StorageError`, never a raw ``sqlite3`` error.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import sys
import threading
import time
import warnings
import zlib
from array import array
from collections.abc import Callable, Collection, Sequence
from itertools import groupby, pairwise
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from mlopskit._config import make_local_root, setting
from mlopskit._log import get_logger
from mlopskit._retry import RetryPolicy, retry
from mlopskit.errors import IntegrityError, MlopskitError, NotFoundError, StorageError
from mlopskit.tracking._values import RunValues

if TYPE_CHECKING:
    from mlopskit.store import ArtifactRef
    from mlopskit.tracking._model import LifecycleEvent, MetricPoint, RunInput, RunRecord
    from mlopskit.tracking._query import Node

# The records, validators, filters and lifecycle code (and with them pydantic) are imported
# where they are used: `mlopskit runs ls` lists well-formed runs without them (run_rows).

__all__ = [
    "SCHEMA_VERSION",
    "RunRows",
    "RunValues",
    "SQLiteBackend",
    "pack_latest",
    "unpack_latest",
]

log = get_logger("mlopskit.tracking")
T = TypeVar("T")

SCHEMA_VERSION = 5
LIFECYCLE_SCHEMA = """
CREATE TABLE IF NOT EXISTS lifecycle (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, name TEXT NOT NULL,
    state TEXT NOT NULL, time REAL NOT NULL, user TEXT NOT NULL, reason TEXT NOT NULL,
    via TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS lifecycle_name ON lifecycle (kind, name)
"""
SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (
    name TEXT PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, experiment TEXT NOT NULL, name TEXT NOT NULL,
    status TEXT NOT NULL, start_time REAL NOT NULL, end_time REAL, parent_id TEXT,
    user TEXT NOT NULL DEFAULT '', host TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS runs_experiment ON runs (experiment, start_time);
CREATE TABLE IF NOT EXISTS params (
    run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tags (
    run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS params_key_value ON params (key, value);
CREATE INDEX IF NOT EXISTS tags_key_value ON tags (key, value);
CREATE TABLE IF NOT EXISTS metric_blocks (
    run_id TEXT NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL,
    first_step INTEGER NOT NULL, last_step INTEGER NOT NULL,
    steps BLOB NOT NULL, vals BLOB NOT NULL, times BLOB NOT NULL, crc INTEGER);
CREATE INDEX IF NOT EXISTS metric_blocks_run_key ON metric_blocks (run_id, key);
CREATE TABLE IF NOT EXISTS latest_metrics (
    run_id TEXT NOT NULL, key TEXT NOT NULL, step INTEGER NOT NULL,
    value REAL, timestamp REAL NOT NULL,
    PRIMARY KEY (run_id, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS artifacts (
    run_id TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL,
    kind TEXT NOT NULL, media_type TEXT, PRIMARY KEY (run_id, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inputs (
    run_id TEXT NOT NULL, digest TEXT NOT NULL, name TEXT, context TEXT,
    PRIMARY KEY (run_id, digest)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS writers (
    writer_id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL,
    heartbeat REAL NOT NULL);
CREATE TABLE IF NOT EXISTS run_writers (
    run_id TEXT NOT NULL, writer_id TEXT NOT NULL, active INTEGER NOT NULL,
    PRIMARY KEY (run_id, writer_id)) WITHOUT ROWID;
"""

#: 3 -> 4: ``latest_metrics.value`` may be NULL (a NaN latest value); SQLite cannot drop a
#: NOT NULL constraint in place, so the table is copied into its new form.
MIGRATE_LATEST_NULLABLE = """
CREATE TABLE latest_metrics_v4 (
    run_id TEXT NOT NULL, key TEXT NOT NULL, step INTEGER NOT NULL,
    value REAL, timestamp REAL NOT NULL,
    PRIMARY KEY (run_id, key)) WITHOUT ROWID;
INSERT INTO latest_metrics_v4 SELECT run_id, key, step, value, timestamp FROM latest_metrics;
DROP TABLE latest_metrics;
ALTER TABLE latest_metrics_v4 RENAME TO latest_metrics
"""

#: 4 -> 5 (and every new file): each run's latest metrics packed in one value
#: (:func:`pack_latest`), filled for the runs already stored; any change to a run's rows
#: of ``latest_metrics`` clears it (triggers, which run whoever writes: an older
#: mlopskit still attached to the file, or a hand-made fix), so a value that is there
#: was packed after the run's last change; this version packs it again in the same
#: transaction, after the triggers ran.
ADD_PACKED_LATEST = """
ALTER TABLE runs ADD COLUMN latest BLOB;
CREATE TRIGGER latest_metrics_inserted AFTER INSERT ON latest_metrics BEGIN
    UPDATE runs SET latest = NULL WHERE run_id = NEW.run_id AND latest IS NOT NULL; END;
CREATE TRIGGER latest_metrics_updated AFTER UPDATE ON latest_metrics BEGIN
    UPDATE runs SET latest = NULL WHERE run_id IN (OLD.run_id, NEW.run_id)
        AND latest IS NOT NULL; END;
CREATE TRIGGER latest_metrics_deleted AFTER DELETE ON latest_metrics BEGIN
    UPDATE runs SET latest = NULL WHERE run_id = OLD.run_id AND latest IS NOT NULL; END
"""
_LATEST_MAGIC = b"ML1\0"
_LATEST_HEAD = 8  # the magic, then the length of the keys' JSON text (uint32, little-endian)

_UPSERT_LATEST = (
    "INSERT INTO latest_metrics VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET "
    "step = excluded.step, value = excluded.value, timestamp = excluded.timestamp "
    "WHERE excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step "
    "AND excluded.timestamp >= latest_metrics.timestamp)"
)
_RUN_COLUMNS = "run_id, experiment, name, status, start_time, end_time, parent_id, user, host"
_TRANSIENT = ("locked", "busy", "disk i/o")
_DAMAGED = ("not a database", "malformed", "corrupt", "decode")


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Every SQL statement of ``script``, one by one, inside the open transaction
    (``executescript`` would commit it); a trigger's body holds ``;`` too."""
    buf = ""
    for part in script.split(";"):
        buf += part + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                conn.execute(buf)
            buf = ""


def pack_latest(pairs: Sequence[tuple[Any, Any]]) -> bytes | None:
    """A run's latest metrics, ``(key, value)`` pairs as ``latest_metrics`` holds them, as
    the one value ``runs.latest`` stores: the magic ``ML1\\0``, the length of the keys'
    JSON text (uint32, little-endian), that text (the keys, sorted, as a JSON array), then
    one little-endian float64 per key in that order (NaN for a NaN value, which the table
    stores as NULL). None for no pairs, or when a key is not text or a value not a REAL
    (a damaged row: a reader then reads the table, and its checks decide)."""
    if not pairs or not all(type(k) is str and (v is None or type(v) is float) for k, v in pairs):
        return None
    ordered = sorted(pairs, key=itemgetter(0))
    head = json.dumps([k for k, _ in ordered], ensure_ascii=False).encode()
    values = array("d", [_NAN if v is None else v for _, v in ordered])
    if sys.byteorder == "big":  # pragma: no cover - big-endian hosts
        values.byteswap()
    return _LATEST_MAGIC + len(head).to_bytes(4, "little") + head + values.tobytes()


def _latest_keys(head: bytes) -> tuple[str, ...] | None:
    """The keys of a packed value's JSON text; None unless it is a sorted array of
    distinct strings (what :func:`pack_latest` writes)."""
    try:
        keys = json.loads(head)
    except (ValueError, UnicodeDecodeError):
        return None
    if not (isinstance(keys, list) and all(type(k) is str for k in keys)):
        return None
    if any(a >= b for a, b in pairwise(keys)):
        return None
    return tuple(keys)


def unpack_latest(blobs: Sequence[Any]) -> tuple[list[int], list[int], list[str], bytes, list[int]]:
    """The packed latest metrics of runs ``blobs`` (``runs.latest``, in row order):
    ``(runs, counts, keys, values, missing)`` — the positions of the runs read from
    their value, how many keys each has, all their keys in order, all their float64
    values (little-endian bytes), and the positions whose value is missing or is not
    what :func:`pack_latest` writes (their metrics are read from the table)."""
    runs: list[int] = []
    counts: list[int] = []
    keys: list[str] = []
    parts: list[bytes] = []
    missing: list[int] = []
    seen: dict[bytes, tuple[str, ...] | None] = {}
    # runs mostly share their keys: a value that starts as the last one did (magic,
    # length and keys) and is as long is read without parsing its keys again
    prefix, size, cut = b"\xff", -1, 0
    last: tuple[str, ...] = ()
    for i, blob in enumerate(blobs):
        if type(blob) is bytes and len(blob) == size and blob.startswith(prefix):
            runs.append(i)
            counts.append(len(last))
            keys.extend(last)
            parts.append(blob[cut:])
            continue
        if type(blob) is not bytes or blob[:4] != _LATEST_MAGIC or len(blob) < _LATEST_HEAD:
            missing.append(i)
            continue
        end = _LATEST_HEAD + int.from_bytes(blob[4:_LATEST_HEAD], "little")
        head = blob[_LATEST_HEAD:end]
        if head in seen:
            names = seen[head]
        else:
            names = seen[head] = _latest_keys(head)
        if names is None or len(blob) - end != 8 * len(names):
            missing.append(i)
            continue
        runs.append(i)
        counts.append(len(names))
        keys.extend(names)
        parts.append(blob[end:])
        prefix, size, cut, last = blob[:end], len(blob), end, names
    return runs, counts, keys, b"".join(parts), missing


def block_crc(run_id: str, key: str, steps: bytes, vals: bytes, times: bytes) -> int:
    """The CRC-32 of one metric block: its run id, key and three columns."""
    crc = zlib.crc32(f"{run_id}\0{key}\0".encode())
    for part in (steps, vals, times):
        crc = zlib.crc32(part, crc)
    return crc


def _transient(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and any(t in text for t in _TRANSIENT)


class SQLiteBackend:
    """Runs in one SQLite file (WAL), safe for many threads and processes on one machine.

    Args:
        path: the database file; created with its schema on first use.
        busy_timeout: seconds a writer waits for another writer's transaction.
        attempts: tries of a call that fails with a transient error (locked, busy, an
            I/O error) before :class:`~mlopskit.errors.StorageError` is raised.
        retry_delay: seconds before the second try (growing after each).

    Attributes:
        damaged: run id → why it was skipped, for every stored run a read found invalid
            (each is also reported once as a ``RuntimeWarning``).
    """

    #: Listing runs costs no network request (the tracker checks new run names with it).
    lists_locally = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 60.0,
        attempts: int = 5,
        retry_delay: float = 0.02,
    ) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self.url = self.path
        self.busy_timeout = busy_timeout
        self.attempts = attempts
        self.retry_delay = retry_delay
        self.policy = RetryPolicy(attempts=attempts, delay=retry_delay)
        self.damaged: dict[str, str] = {}
        self._writer_id: str | None = None  # made on first write (writer_id)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"SQLiteBackend({self.path!r})"

    @classmethod
    def of_workspace(cls, uri: str) -> SQLiteBackend | None:
        """The backend a tracker of the workspace at ``uri`` uses when that is SQLite
        (a local root, or ``MLOPSKIT_TRACKING_BACKEND=sqlite``); None otherwise, and for
        an invalid setting (the tracker reports it). The rule of ``backend_for``, without
        loading the tracker (tests/cli/test_runs_ls_rows.py holds the two to one answer).
        """
        choice = str(setting("tracking_backend", default="auto")).lower()
        local = "://" not in uri or uri.startswith("file://")
        if not (choice == "sqlite" or (choice == "auto" and local)):
            return None
        path = uri[len("file://") :] if uri.startswith("file://") else uri
        root = os.path.abspath(os.path.expanduser(path))
        return cls(os.path.join(root, "tracking.sqlite"))

    @property
    def writer_id(self) -> str:
        """This process's writer id (host, pid and randomness), made on first use."""
        if self._writer_id is None:
            from mlopskit.tracking._backend import new_writer_id

            self._writer_id = new_writer_id()
        return self._writer_id

    @writer_id.setter
    def writer_id(self, value: str) -> None:
        self._writer_id = value

    # -- connection ------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        """This process's connection, opened (and the schema made current) on first use.

        Called inside a retried attempt: it never retries by itself.
        """
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        if self._pid != os.getpid():  # forked: never reuse the parent's connection
            self._pid = os.getpid()
            self._writer_id = None
            self._conn = None
        make_local_root(os.path.dirname(self.path))
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute("PRAGMA synchronous = NORMAL")
            if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                self._create_schema(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    @staticmethod
    def _create_schema(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                _run_script(conn, SCHEMA)
            if version == 1:  # 1 -> 2: a CRC per metric block, computed for old blocks
                conn.create_function("mlopskit_block_crc", 5, block_crc, deterministic=True)
                conn.execute("ALTER TABLE metric_blocks ADD COLUMN crc INTEGER")
                conn.execute(
                    "UPDATE metric_blocks SET crc = "
                    "mlopskit_block_crc(run_id, key, steps, vals, times)"
                )
            elif version > SCHEMA_VERSION:
                raise StorageError(
                    f"tracking database schema {version} is newer than this mlopskit "
                    f"understands ({SCHEMA_VERSION}); upgrade mlopskit"
                )
            if version < 3:  # 2 -> 3: lifecycle events (deleting and restoring)
                _run_script(conn, LIFECYCLE_SCHEMA)
            if 0 < version < 4:  # 3 -> 4: a NaN latest value (NULL) can be stored
                _run_script(conn, MIGRATE_LATEST_NULLABLE)
            if version < 5:  # 4 -> 5: the latest metrics of each run in one value
                _run_script(conn, ADD_PACKED_LATEST)
                found = conn.execute(
                    "SELECT run_id, key, value FROM latest_metrics ORDER BY run_id"
                ).fetchall()
                conn.executemany(
                    "UPDATE runs SET latest = ? WHERE run_id = ?",
                    [
                        (pack_latest([row[1:] for row in rows]), run_id)
                        for run_id, rows in groupby(found, itemgetter(0))
                    ],
                )
            if version < SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """``fn`` under the one retry; SQLite's errors become mlopskit's."""

        def attempt() -> T:
            try:
                return fn()
            except UnicodeDecodeError as exc:  # text in the file that is not UTF-8
                self._drop_connection()
                raise IntegrityError(
                    f"tracking database {self.path} is damaged (undecodable text: {exc}): "
                    f"{what} failed; restore it from a backup or move it aside",
                    path=self.path,
                    found=str(exc),
                ) from exc
            except sqlite3.Error as exc:
                if _transient(exc):
                    raise  # the retry decides
                self._drop_connection()
                text = str(exc).lower()
                if isinstance(exc, sqlite3.DatabaseError) and any(d in text for d in _DAMAGED):
                    raise IntegrityError(
                        f"tracking database {self.path} is damaged ({exc}): {what} failed; "
                        "restore it from a backup or move it aside to start a new one",
                        path=self.path,
                        found=str(exc),
                    ) from exc
                raise StorageError(
                    f"tracking database {self.path}: {what} failed: {exc}", path=self.path
                ) from exc

        try:
            return retry(
                attempt,
                what=f"tracking database {self.path}: {what}",
                policy=self.policy,
                transient=_transient,
                path=self.path,
            )
        except (MlopskitError, OSError):
            raise
        except sqlite3.Error as exc:  # pragma: no cover - converted in attempt()
            raise StorageError(f"{what} failed: {exc}", path=self.path) from exc

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._pid == os.getpid():
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def _write(self, what: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        def attempt() -> T:
            with self._lock:
                conn = self._connect()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    out = fn(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return out

        return self._call(what, attempt)

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        def attempt() -> list[Any]:
            with self._lock:
                return self._connect().execute(sql, args).fetchall()

        return self._call("read", attempt)

    def close(self) -> None:
        """Close this process's connection."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    # -- writes ----------------------------------------------------------------------

    def _attach(self, conn: sqlite3.Connection, run_id: str) -> None:
        conn.execute(
            "INSERT INTO writers VALUES (?, ?, ?, ?) ON CONFLICT (writer_id) DO UPDATE SET "
            "heartbeat = excluded.heartbeat",
            (self.writer_id, socket.gethostname(), os.getpid(), time.time()),
        )
        conn.execute(
            "INSERT OR REPLACE INTO run_writers VALUES (?, ?, 1)", (run_id, self.writer_id)
        )

    def create_run(self, record: RunRecord) -> bool:
        """Create the run (False if the id exists; then nothing is written)."""

        def tx(conn: sqlite3.Connection) -> bool:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (record.run_id,)).fetchone():
                return False
            conn.execute(
                "INSERT OR IGNORE INTO experiments VALUES (?, ?)", (record.experiment, time.time())
            )
            conn.execute(
                f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, 'RUNNING', ?, NULL, ?, ?, ?)",
                (
                    record.run_id,
                    record.experiment,
                    record.name,
                    record.start_time.timestamp(),
                    record.parent_id,
                    record.user,
                    record.host,
                ),
            )
            conn.executemany(
                "INSERT INTO params VALUES (?, ?, ?)",
                [(record.run_id, k, v) for k, v in record.params.items()],
            )
            conn.executemany(
                "INSERT INTO tags VALUES (?, ?, ?)",
                [(record.run_id, k, v) for k, v in record.tags.items()],
            )
            self._attach(conn, record.run_id)
            return True

        return self._write("create run", tx)

    def attach(self, run_id: str) -> None:
        """Attach this writer to ``run_id`` and mark it RUNNING again."""

        def tx(conn: sqlite3.Connection) -> None:
            self._require(conn, run_id)
            conn.execute(
                "UPDATE runs SET status = 'RUNNING', end_time = NULL WHERE run_id = ?", (run_id,)
            )
            self._attach(conn, run_id)

        self._write("resume run", tx)

    @staticmethod
    def _require(conn: sqlite3.Connection, run_id: str) -> None:
        if not conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone():
            raise NotFoundError(f"no run {run_id!r} in this workspace", run_id=run_id)

    def rename(self, run_id: str, name: str) -> None:
        """Set the run's name; the one it replaces is kept as a tag (``mlopskit.previous_name``)."""
        from mlopskit.tracking._model import PREVIOUS_NAME_TAG

        def tx(conn: sqlite3.Connection) -> None:
            self._require(conn, run_id)
            (previous,) = conn.execute(
                "SELECT name FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            conn.execute("UPDATE runs SET name = ? WHERE run_id = ?", (name, run_id))
            conn.execute(
                "INSERT OR REPLACE INTO tags VALUES (?, ?, ?)",
                (run_id, PREVIOUS_NAME_TAG, str(previous)),
            )

        self._write("rename run", tx)

    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        """Insert params; a different value for an existing key raises InvalidInputError."""
        if not params:
            return
        from mlopskit.tracking._validate import check_param_conflicts

        def tx(conn: sqlite3.Connection) -> None:
            self._require(conn, run_id)
            keys = list(params)
            rows = conn.execute(
                "SELECT key, value FROM params WHERE run_id = ? AND key IN "
                "(SELECT value FROM json_each(?))",
                (run_id, json.dumps(keys)),
            ).fetchall()
            check_param_conflicts(run_id, dict(rows), params)
            conn.executemany(
                "INSERT OR IGNORE INTO params VALUES (?, ?, ?)",
                [(run_id, k, v) for k, v in params.items()],
            )

        self._write("log params", tx)

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        """Insert or replace tags."""
        if not tags:
            return

        def tx(conn: sqlite3.Connection) -> None:
            self._require(conn, run_id)
            conn.executemany(
                "INSERT OR REPLACE INTO tags VALUES (?, ?, ?)",
                [(run_id, k, v) for k, v in tags.items()],
            )

        self._write("set tags", tx)

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        """Append a batch (one block row per key) and update each key's latest value, in one
        transaction."""
        if not points:
            return
        from mlopskit.tracking._buffer import column_bytes, metric_columns

        blocks = []
        tops = []
        for key, (steps, vals, times) in metric_columns(points).items():
            packed = (column_bytes(steps), column_bytes(vals), column_bytes(times))
            low, high = min(steps), max(steps)
            blocks.append(
                (run_id, key, len(vals), low, high, *packed, block_crc(run_id, key, *packed))
            )
            # the latest point: highest step, then latest time, then last logged (no
            # per-point objects: this runs on every flush)
            if steps.count(high) == 1:
                at = steps.index(high)
            else:
                at = max(
                    (i for i in range(len(steps) - 1, -1, -1) if steps[i] == high),
                    key=times.__getitem__,
                )
            tops.append((run_id, key, high, vals[at], times[at]))

        def tx(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT INTO metric_blocks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", blocks)
            conn.executemany(_UPSERT_LATEST, tops)
            # the run's packed latest metrics, from the table, in the same transaction
            pairs = conn.execute(
                "SELECT key, value FROM latest_metrics WHERE run_id = ?", (run_id,)
            ).fetchall()
            conn.execute(
                "UPDATE runs SET latest = ? WHERE run_id = ?", (pack_latest(pairs), run_id)
            )

        self._write("log metrics", tx)

    def log_artifact(self, run_id: str, name: str, ref: ArtifactRef) -> None:
        """Record an artifact (a later one of the same name replaces it)."""

        def tx(conn: sqlite3.Connection) -> None:
            self._require(conn, run_id)
            conn.execute(
                "INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, name, ref.digest, ref.size, ref.kind, ref.media_type),
            )

        self._write("log artifact", tx)

    def log_input(self, run_id: str, item: RunInput) -> None:
        """Record an input digest."""

        def tx(conn: sqlite3.Connection) -> None:
            self._require(conn, run_id)
            conn.execute(
                "INSERT OR REPLACE INTO inputs VALUES (?, ?, ?, ?)",
                (run_id, item.digest, item.name, item.context),
            )

        self._write("log input", tx)

    def finish(self, run_id: str, status: str, end_time: float | None) -> None:
        """Set the final status and detach this writer."""

        def tx(conn: sqlite3.Connection) -> None:
            self._require(conn, run_id)
            conn.execute(
                "UPDATE runs SET status = ?, end_time = ? WHERE run_id = ?",
                (status, end_time, run_id),
            )
            conn.execute(
                "UPDATE run_writers SET active = 0 WHERE run_id = ? AND writer_id = ?",
                (run_id, self.writer_id),
            )

        self._write("end run", tx)

    def heartbeat(self) -> None:
        """Refresh this writer's heartbeat."""
        now = time.time()
        self._write(
            "heartbeat",
            lambda conn: conn.execute(
                "UPDATE writers SET heartbeat = ? WHERE writer_id = ?", (now, self.writer_id)
            ),
        )

    # -- reads -----------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunRecord:
        """One run with everything: params, latest metrics, tags, artifacts, inputs."""
        records = self.list_runs(run_ids=[run_id])
        if not records:
            if run_id in self.damaged:
                raise IntegrityError(
                    f"run {run_id!r} in {self.path} is damaged: {self.damaged[run_id]}",
                    path=self.path,
                )
            raise NotFoundError(f"no run {run_id!r} in {self.path}", run_id=run_id)
        from mlopskit.store import ArtifactRef
        from mlopskit.tracking._model import RunInput

        rec = records[0]
        for name, digest, size, kind, media in self._read(
            "SELECT name, digest, size, kind, media_type FROM artifacts WHERE run_id = ? "
            "ORDER BY name",
            (run_id,),
        ):
            rec.artifacts[name] = ArtifactRef(digest=digest, size=size, kind=kind, media_type=media)
        rec.inputs = [
            RunInput(digest=d, name=n, context=c)
            for d, n, c in self._read(
                "SELECT digest, name, context FROM inputs WHERE run_id = ? ORDER BY digest",
                (run_id,),
            )
        ]
        return rec

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float, float]]:
        """Every point of ``key`` in ``run_id``."""
        out: list[tuple[int, float, float]] = []
        for rowid, n, steps, vals, times, crc in self._read(
            "SELECT rowid, n, steps, vals, times, crc FROM metric_blocks "
            "WHERE run_id = ? AND key = ? ORDER BY rowid",
            (run_id, key),
        ):
            blobs = (steps, vals, times)
            if not all(isinstance(b, bytes) and len(b) == 8 * n for b in blobs) or (
                crc is not None and block_crc(run_id, key, *blobs) != crc
            ):
                raise IntegrityError(
                    f"metric {key!r} of run {run_id}: block {rowid} in {self.path} is damaged "
                    "(its CRC or size does not match); restore the database from a backup",
                    path=self.path,
                    expected=crc,
                )
            out.extend(zip(_unpack("q", steps), _unpack("d", vals), _unpack("d", times)))
        out.sort(key=_STEP_THEN_TIME)
        return out

    def metric_keys(self, run_id: str) -> list[str]:
        """Names of the metrics logged in ``run_id``."""
        return [
            r[0]
            for r in self._read(
                "SELECT key FROM latest_metrics WHERE run_id = ? ORDER BY key", (run_id,)
            )
        ]

    def list_runs(
        self,
        experiments: Collection[str] | None = None,
        *,
        run_ids: Collection[str] | None = None,
        keys: Collection[str] | None = None,
    ) -> list[RunRecord]:
        """Runs with params, latest metrics and tags (only ``keys`` when given)."""
        from mlopskit.tracking._deletion import apply_lifecycle
        from mlopskit.tracking._model import WriterInfo, stored_record

        if run_ids is not None:
            scope = "SELECT value FROM json_each(?)"
            arg: str = json.dumps(list(run_ids))
        elif experiments is not None:
            scope = "SELECT run_id FROM runs WHERE experiment IN (SELECT value FROM json_each(?))"
            arg = json.dumps(list(experiments))
        else:
            scope = "SELECT run_id FROM runs WHERE ?"
            arg = "1"
        wanted = _split_keys(keys)
        columns = ", ".join(f"r.{c.strip()}" for c in _RUN_COLUMNS.split(","))
        if wanted is None:  # every key: one JSON object per run, built in SQLite
            aggregates = ", ".join(
                f"(SELECT json_group_object(key, value) FROM {table} t WHERE t.run_id = r.run_id)"
                for table in ("params", "tags")
            )
        else:  # a few keys (often none): read below as (run, key, value) rows
            aggregates = "'{}', '{}'"
        rows = self._read(
            f"SELECT {columns}, {aggregates} FROM runs r WHERE r.run_id IN ({scope})", [arg]
        )
        loads = json.loads
        checks = _row_checks()
        records: dict[str, RunRecord] = {}
        for row in rows:
            why = _invalid_row(row, checks)
            if why is not None:
                self._report(str(row[0]), why)
                continue
            records[row[0]] = stored_record(
                run_id=row[0],
                experiment=row[1],
                name=row[2],
                status=row[3],
                start_time=row[4],
                end_time=row[5],
                parent_id=row[6],
                user=row[7] if isinstance(row[7], str) else "",
                host=row[8] if isinstance(row[8], str) else "",
                params={} if row[9] == "{}" else loads(row[9]),
                tags={} if row[10] == "{}" else loads(row[10]),
            )
        if wanted is not None and records:
            for table in ("params", "tags"):
                if wanted[table]:
                    self._read_keys(table, scope, arg, wanted[table], records)
        names = None if wanted is None else wanted["metrics"]
        if records and (names is None or names):
            # floats as SQL values (JSON text would keep only 15 digits)
            sql = f"SELECT run_id, key, value FROM latest_metrics WHERE run_id IN ({scope})"
            margs: list[Any] = [arg]
            if names is not None:
                sql += " AND key IN (SELECT value FROM json_each(?))"
                margs.append(json.dumps(sorted(names)))
            for run_id, key, value in self._read(sql, margs):
                rec = records.get(run_id)
                if rec is not None:
                    rec.metrics[key] = _NAN if value is None else value  # NULL is NaN
        if not records:
            return []
        running = [r for r in records.values() if r.status == "RUNNING"]
        if running:
            for run_id, wid, host, pid, beat, active in self._read(
                "SELECT rw.run_id, w.writer_id, w.host, w.pid, w.heartbeat, rw.active "
                "FROM run_writers rw JOIN writers w ON w.writer_id = rw.writer_id "
                "WHERE rw.run_id IN (SELECT value FROM json_each(?))",
                (json.dumps([r.run_id for r in running]),),
            ):
                records[run_id].writers.append(
                    WriterInfo(
                        writer_id=wid, host=host, pid=pid, heartbeat=beat, active=bool(active)
                    )
                )
        if run_ids is not None:
            where, where_args = f"name IN ({scope})", [arg]
        elif experiments is not None:  # per event row: no cost while nothing is deleted
            where = (
                "EXISTS (SELECT 1 FROM runs r WHERE r.run_id = lifecycle.name "
                "AND r.experiment IN (SELECT value FROM json_each(?)))"
            )
            where_args = [arg]
        else:
            where, where_args = "1", []
        apply_lifecycle(
            records.values(), self.lifecycle_events("run", scope=where, scope_args=where_args)
        )
        return list(records.values())

    def _read_keys(
        self,
        table: str,
        scope: str,
        arg: str,
        names: Collection[str],
        records: dict[str, RunRecord],
    ) -> None:
        """Fill ``records``' params or tags with the values of ``names`` only."""
        get = records.get
        for run_id, key, value in self._read(
            f"SELECT run_id, key, value FROM {table} WHERE key IN "
            f"(SELECT value FROM json_each(?)) AND run_id IN ({scope}) ORDER BY run_id, key",
            [json.dumps(sorted(names)), arg],
        ):
            rec = get(run_id)
            if rec is not None:
                getattr(rec, table)[key] = value

    def run_rows(
        self, experiments: Collection[str] | None = None, *, documents: bool = True
    ) -> RunRows | None:
        """Every run as plain values, checked: the listing path without records.

        The rows hold what :meth:`list_runs` builds records from, checked with
        ``_invalid_row``'s rules (or stricter ones: the types, statuses and times in SQL,
        the names with one regular expression over them all) and the ``user``/``host``
        fallbacks applied. With ``documents``, each run's params and tags come as the
        JSON object text SQLite builds (never decoded here) and the latest metrics as
        ``(run_id, key, value)`` rows in run id order (NULL, a NaN, as None).

        Returns None when the record path must answer: a row fails the checks (list_runs
        skips and reports it), some run has lifecycle events (deleted or restored runs),
        or a latest metric value is not a number. tests/cli/test_runs_ls_rows.py holds
        both paths to one listing.
        """
        if experiments is not None:
            scope = "r.experiment IN (SELECT value FROM json_each(?))"
            args: list[Any] = [json.dumps(list(experiments))]
            in_scope = f"run_id IN (SELECT r.run_id FROM runs r WHERE {scope})"
        else:
            scope, args, in_scope = "1", [], "1"

        def documents_of(conn: sqlite3.Connection, table: str) -> dict[str, str]:
            # grouped in primary-key order: one pass over the table, no lookup per run
            return dict(
                conn.execute(
                    f"SELECT run_id, json_group_object(key, value) FROM {table} "
                    f"WHERE {in_scope} GROUP BY run_id",
                    args,
                ).fetchall()
            )

        def read(conn: sqlite3.Connection) -> RunRows | None:
            if conn.execute("SELECT 1 FROM lifecycle WHERE kind = 'run' LIMIT 1").fetchone():
                return None
            rows = conn.execute(
                f"SELECT r.run_id, r.experiment, r.name, r.status, r.start_time, r.end_time, "
                "r.parent_id, CASE WHEN typeof(r.user) = 'text' THEN r.user ELSE '' END, "
                "CASE WHEN typeof(r.host) = 'text' THEN r.host ELSE '' END, "
                f"{_ROW_CHECK} FROM runs r WHERE {scope}",
                args,
            ).fetchall()
            if not (all(map(_LAST, rows)) and _names_ok(rows)):
                return None
            paused = dict(
                conn.execute(
                    f"SELECT run_id, value FROM tags WHERE key = ? AND {in_scope}",
                    [_PAUSED_TAG, *args],
                ).fetchall()
            )
            if not (documents and rows):
                return RunRows(rows, paused, {}, {}, [])
            if conn.execute(  # text or a blob where a number belongs: the record path
                "SELECT 1 FROM latest_metrics WHERE typeof(value) NOT IN ('real', 'null') LIMIT 1"
            ).fetchone():
                return None
            # the table's rows, not the packed values: with a few metrics per run (two in
            # bench_cli) parsing a value per run costs what the rows it saves cost
            metrics = conn.execute(
                f"SELECT run_id, key, value FROM latest_metrics WHERE {in_scope} "
                "ORDER BY run_id, key",
                args,
            ).fetchall()
            return RunRows(
                rows, paused, documents_of(conn, "params"), documents_of(conn, "tags"), metrics
            )

        return self._snapshot(read)

    def _snapshot(self, read: Callable[[sqlite3.Connection], T]) -> T:
        """``read(conn)`` inside one read transaction (one snapshot of every table it
        reads), with the backend's retries."""

        def attempt() -> T:
            with self._lock:
                conn = self._connect()
                conn.execute("BEGIN")
                try:
                    return read(conn)
                finally:
                    if conn.in_transaction:
                        conn.execute("COMMIT")

        return self._call("list runs", attempt)

    def run_values(
        self,
        experiments: Collection[str] | None = None,
        *,
        run_ids: Collection[str] | None = None,
        node: Node | None = None,
        most: int | None = None,
    ) -> RunValues | None:
        """Runs as plain values for a search's frame: no records, no JSON documents.

        The rows are :meth:`run_rows`' (checked the same way, ``user``/``host`` fallbacks
        applied), newest first (then by run id), scoped to ``run_ids`` when given, else to
        ``experiments`` (and to the runs that may match ``node``, as :meth:`candidates`
        narrows them; ``matched`` when SQL answered all of ``node``); params and tags
        come as one dict per run (decoded from the JSON object SQLite builds of them),
        latest metrics as ``(i, key, value)`` rows, ``i`` the position of the run in
        ``rows`` (a NaN latest value, stored as NULL, as None), all read in one snapshot.

        Returns None when the record path must answer: more than ``most`` runs (where it
        reads only the fields a filter or order needs), :meth:`run_rows`' reasons, or a
        param, tag or metric key or value of the wrong type (text for params and tags and
        keys, a REAL or NULL for metrics; params and tags are TEXT columns, which hold
        any value but a BLOB as text). tests/tracking/test_sql_frame.py holds both paths
        to one frame.
        """
        narrowing = self._narrow(experiments, node) if node is not None else None
        matched = False
        if run_ids is not None:
            scope = "r.run_id IN (SELECT value FROM json_each(?))"
            args: list[Any] = [json.dumps(list(run_ids))]
        elif narrowing is not None:
            scope, args, matched = narrowing
        elif experiments is not None:
            scope = "r.experiment IN (SELECT value FROM json_each(?))"
            args = [json.dumps(list(experiments))]
        else:
            scope, args = "1", []

        def documents(conn: sqlite3.Connection, ids: str, n: int) -> list[Any] | None:
            # each run's params and tags as one JSON object (SQLite's JSON text keeps any
            # text exactly, as list_runs reads them): two values per run, not two per key
            params: list[Any] = [None] * n
            tags: list[Any] = [None] * n
            try:
                found = conn.execute(_DOCUMENTS, [ids]).fetchall()
            except sqlite3.OperationalError as exc:
                if _BLOB_IN_JSON in str(exc).lower():  # a damaged value: the record path
                    return None
                raise
            # every object decoded in one call (a JSON array of them), not two per run
            texts = (text or "{}" for row in found for text in row[1:])
            decoded = json.loads("[" + ",".join(texts) + "]")
            for k, row in enumerate(found):
                params[row[0]], tags[row[0]] = decoded[2 * k], decoded[2 * k + 1]
            return [params, tags]

        def latest(
            conn: sqlite3.Connection, rows: list[Any], packed: list[Any], ids: str
        ) -> tuple[Any, Any, Any] | None:
            # each run's packed value (one per run, not one row per run and key); the
            # table for runs without a readable one (metrics logged before the run's row,
            # a damaged value). A wrong-typed row in the table is still the record path's
            # to report, as when the table was read whole: looked for in SQL, no row read.
            import numpy as np

            if conn.execute(_WRONG_TYPED_LATEST, [ids]).fetchone() is not None:
                return None
            runs, counts, keys, values, missing = unpack_latest(packed)
            positions = np.repeat(np.array(runs, np.intp), counts)
            floats = np.frombuffer(values, "<f8")
            if not missing:
                return positions, keys, floats
            # the run's position among `missing` (a small integer), not its id
            found = conn.execute(
                "SELECT j.key, t.key, t.value FROM json_each(?) j "
                "JOIN latest_metrics t ON t.run_id = j.value",
                [json.dumps([rows[i][0] for i in missing])],
            ).fetchall()
            if not found:
                return positions, keys, floats
            at, more_keys, more_values = zip(*found)
            if not (set(map(type, more_keys)) <= _TEXT and set(map(type, more_values)) <= _REAL):
                return None
            return (
                np.concatenate([positions, np.array(missing, np.intp)[list(at)]]),
                keys + list(more_keys),
                np.concatenate([floats, np.array(more_values, np.float64)]),
            )

        def read(conn: sqlite3.Connection) -> RunValues | None:
            # the last column is 0 for a row that fails the checks, or when some run has
            # lifecycle events (asked once: the subquery does not depend on the row)
            found_rows = conn.execute(
                f"SELECT r.run_id, r.experiment, r.name, r.status, r.start_time, r.end_time, "
                "r.parent_id, CASE WHEN typeof(r.user) = 'text' THEN r.user ELSE '' END, "
                "CASE WHEN typeof(r.host) = 'text' THEN r.host ELSE '' END, "
                f"{_ROW_CHECK} AND NOT EXISTS (SELECT 1 FROM lifecycle WHERE kind = 'run'), "
                f"r.latest FROM runs r WHERE {scope} ORDER BY r.start_time DESC, r.run_id"
                # one row past `most` tells that there are more: the others are not read
                + ("" if most is None else f" LIMIT {int(most) + 1}"),
                args,
            ).fetchall()
            if most is not None and len(found_rows) > most:
                return None
            packed = [row[-1] for row in found_rows]
            rows = [row[:-1] for row in found_rows]
            if not (all(map(_LAST, rows)) and _names_ok(rows)):
                return None
            if not rows:
                return RunValues(rows, [], [], ((), (), ()), matched)
            ids = json.dumps([row[0] for row in rows])
            docs = documents(conn, ids, len(rows))
            if docs is None:
                return None
            metrics = latest(conn, rows, packed, ids)
            if metrics is None:
                return None
            return RunValues(rows, docs[0], docs[1], metrics, matched)

        return self._snapshot(read)

    # -- lifecycle (deleting and restoring) ---------------------------------------------

    def set_lifecycle(self, event: LifecycleEvent) -> None:
        """Append one lifecycle event (the newest event of a run or experiment is its state)."""
        self._write(
            "record lifecycle",
            lambda conn: conn.execute(
                "INSERT INTO lifecycle (kind, name, state, time, user, reason, via) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    event.kind,
                    event.name,
                    event.state,
                    event.time.timestamp(),
                    event.user,
                    event.reason,
                    event.via,
                ),
            ),
        )

    def lifecycle_events(
        self,
        kind: str | None = None,
        name: str | None = None,
        *,
        scope: str = "1",
        scope_args: Sequence[Any] = (),
    ) -> list[LifecycleEvent]:
        """Lifecycle events (of ``kind``, of ``name``), in stored order; damaged rows are
        skipped and reported."""
        sql = f"SELECT seq, kind, name, state, time, user, reason, via FROM lifecycle WHERE {scope}"
        args: list[Any] = list(scope_args)
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        if name is not None:
            sql += " AND name = ?"
            args.append(name)
        from mlopskit.tracking._deletion import event_from

        out = []
        for seq, *values in self._read(sql + " ORDER BY seq", args):
            fields = dict(zip(("kind", "name", "state", "time", "user", "reason", "via"), values))
            try:
                event = event_from(f"{self.path}#lifecycle/{seq}", fields)
            except ValueError as exc:
                self._report(f"lifecycle/{seq}", str(exc))
                continue
            out.append(event)
        return out

    def purge_run(self, run_id: str) -> None:
        """Remove every row of ``run_id`` for good (``Tracker.gc``; its lifecycle events stay)."""

        def tx(conn: sqlite3.Connection) -> None:
            for table in (
                "params",
                "tags",
                "metric_blocks",
                "latest_metrics",
                "artifacts",
                "inputs",
                "run_writers",
                "runs",
            ):
                conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))

        self._write("purge run", tx)

    def purge_experiment(self, name: str) -> None:
        """Forget experiment ``name`` once it has no runs (``Tracker.gc``)."""
        self._write(
            "purge experiment",
            lambda conn: conn.execute(
                "DELETE FROM experiments WHERE name = ? AND NOT EXISTS "
                "(SELECT 1 FROM runs WHERE experiment = ?)",
                (name, name),
            ),
        )

    def _narrowing(
        self, experiments: Collection[str] | None, node: Node | None
    ) -> tuple[str, list[Any]] | None:
        """The SQL condition on ``runs r`` (and its arguments) that keeps the runs of
        ``experiments`` that may match ``node``; None when SQL cannot narrow
        (:meth:`_narrow` says which conjuncts it translates)."""
        narrowing = self._narrow(experiments, node)
        return None if narrowing is None else narrowing[:2]

    def _narrow(
        self, experiments: Collection[str] | None, node: Node | None
    ) -> tuple[str, list[Any], bool] | None:
        """:meth:`_narrowing`'s condition and arguments, and whether SQL answers the
        whole filter (every conjunct translated: the runs kept are exactly the matches).

        Only conjuncts SQL answers exactly as the Python filter does are translated, so
        the result is a superset of the matches (the caller still applies the whole
        filter to these runs, unless every conjunct was translated): ``metrics.k <op>
        number`` (a NaN latest value, stored as NULL, matches only ``!=``), ``params.k
        <op> 'text'`` and ``tags.k <op> 'text'`` for ``= != < <= > >=`` (text compares
        by code point in Python and by UTF-8 bytes in SQLite: the same order), and
        ``params.k IN ('a', 'b')`` (tags too).
        tests/tracking/test_sql_candidates.py holds SQL and Python to one answer.
        """
        from mlopskit.tracking._query import And, Compare, In

        items = node.items if isinstance(node, And) else (node,)
        where: list[str] = []
        args: list[Any] = []
        for item in items:
            if isinstance(item, In):
                if item.negated or item.field.kind not in ("params", "tags"):
                    continue
                if not item.values or not all(isinstance(v, str) for v in item.values):
                    continue
                where.insert(
                    0,
                    f"r.run_id IN (SELECT run_id FROM {item.field.kind} WHERE key = ? "
                    "AND value IN (SELECT value FROM json_each(?)))",
                )
                args[0:0] = [item.field.name, json.dumps(list(item.values))]
                continue
            if not isinstance(item, Compare) or item.op not in _SQL_OPS:
                continue
            kind, op, value = item.field.kind, item.op, item.value
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            if kind == "metrics" and numeric:
                try:
                    target = float(value)
                except OverflowError:
                    continue
                test = "(m.value IS NULL OR m.value != ?)" if op == "!=" else f"m.value {op} ?"
                where.append(
                    "EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_id = r.run_id "
                    f"AND m.key = ? AND {test})"
                )
                args.extend([item.field.name, target])
            elif kind in ("params", "tags") and isinstance(value, str):
                # first: the (key, value) index lists the runs, the rest probe those
                where.insert(
                    0, f"r.run_id IN (SELECT run_id FROM {kind} WHERE key = ? AND value {op} ?)"
                )
                args[0:0] = [item.field.name, value]
        if not where:
            return None
        whole = len(where) == len(items)  # one condition per conjunct translated
        # a metric conjunct is one primary-key probe per run left (as `run_id IN
        # (subquery)` it scanned every run's metrics); a comparison on a param or tag reads
        # the runs holding such a value from its (key, value) index (databases created
        # before the index: one scan of the table)
        if experiments is not None:
            where.insert(0, "r.experiment IN (SELECT value FROM json_each(?))")
            args.insert(0, json.dumps(list(experiments)))
        return " AND ".join(where), args, whole

    def candidates(
        self, experiments: Collection[str] | None, node: Node | None
    ) -> list[str] | None:
        """Run ids that may match ``node``, narrowed in SQL; None when SQL cannot narrow.

        The result is a superset of the matches (the caller still applies the whole
        filter to these runs); :meth:`_narrowing` says which conjuncts SQL answers.
        """
        narrowing = self._narrowing(experiments, node)
        if narrowing is None:
            return None
        where, args = narrowing
        rows = self._read(f"SELECT r.run_id FROM runs r WHERE {where}", args)
        return [str(row[0]) for row in rows]

    def experiments(self) -> list[str]:
        """Experiment names, sorted (invalid stored names are skipped)."""
        from mlopskit.tracking._validate import check_experiment

        out = []
        for (name,) in self._read("SELECT name FROM experiments ORDER BY name"):
            try:
                out.append(check_experiment(name))
            except ValueError:
                self._report(repr(name), f"invalid experiment name {name!r}")
        return out

    def _report(self, run_id: str, why: str) -> None:
        if run_id not in self.damaged:
            self.damaged[run_id] = why
            log.warning("damaged_run_skipped", path=self.path, run=run_id, error=why)
            warnings.warn(
                f"skipped a damaged run in {self.path}: {why}", RuntimeWarning, stacklevel=4
            )


class RunRows(NamedTuple):
    """Runs as plain values (:meth:`SQLiteBackend.run_rows`).

    ``rows`` are ``(run_id, experiment, name, status, start_time, end_time, parent_id,
    user, host, 1)``, times in epoch seconds; ``paused`` maps run id to the value of its
    ``mlopskit.paused`` tag; with ``documents``, ``params`` and ``tags`` map run id to a
    JSON object's text (a run without any is missing) and ``metrics`` are
    ``(run_id, key, latest value)`` rows sorted by run id.
    """

    rows: list[tuple[Any, ...]]
    paused: dict[str, Any]
    params: dict[str, str]
    tags: dict[str, str]
    metrics: list[tuple[str, str, float | None]]


#: ``PAUSED_TAG`` and ``_validate``'s time range, statuses and name rule (the records and
#: validators are not imported on the listing path; tests/cli/test_runs_ls_rows.py pins
#: them to theirs).
_PAUSED_TAG = "mlopskit.paused"
_MIN_TIME, _MAX_TIME = -62135596800.0, 253402300799.0
_STATUSES_SQL = "('RUNNING', 'FINISHED', 'FAILED', 'KILLED')"
_SEGMENT_HEAD, _SEGMENT_TAIL = "[A-Za-z0-9_]", "[A-Za-z0-9._@+=,-]"
#: Many names at once: each followed by a newline, which no name may hold.
_RUN_IDS = re.compile(f"(?:{_SEGMENT_HEAD}{_SEGMENT_TAIL}{{0,63}}\n)*")
_NAMES = re.compile(f"(?:{_SEGMENT_HEAD}{_SEGMENT_TAIL}{{0,199}}\n)*")


def _all_match(pattern: re.Pattern[str], names: Collection[str]) -> bool:
    """Whether every name (text) matches ``pattern`` (one pass over them all)."""
    if not names:
        return True
    text = "\n".join(names) + "\n"
    # a name holding a newline would split in two: the count of newlines catches it
    return text.count("\n") == len(names) and pattern.fullmatch(text) is not None


def _names_ok(rows: list[tuple[Any, ...]]) -> bool:
    """Whether the run ids, parent ids and experiment names of ``rows`` (text, as the SQL
    check made sure) are names ``_validate`` accepts."""
    parents = [row[6] for row in rows if row[6] is not None]
    return (
        _all_match(_RUN_IDS, [row[0] for row in rows])
        and _all_match(_RUN_IDS, parents)
        and _all_match(_NAMES, list({row[1] for row in rows}))
    )


def _time_sql(column: str) -> str:
    return (
        f"(typeof({column}) IN ('integer', 'real') "
        f"AND {column} BETWEEN {_MIN_TIME!r} AND {_MAX_TIME!r})"
    )


#: 1 when the types, status and times of a ``runs`` row pass ``_invalid_row``'s checks
#: (the names are checked by ``_names_ok``).
_ROW_CHECK = (
    f"(typeof(r.run_id) = 'text' AND typeof(r.experiment) = 'text' "
    f"AND r.status IN {_STATUSES_SQL} AND typeof(r.name) = 'text' "
    f"AND (r.parent_id IS NULL OR typeof(r.parent_id) = 'text') "
    f"AND {_time_sql('r.start_time')} AND (r.end_time IS NULL OR {_time_sql('r.end_time')}))"
)
_LAST = itemgetter(-1)
_STEP_THEN_TIME = itemgetter(0, 2)
#: Each run of a JSON array of run ids (``run_values``): its position, then its params
#: and its tags as JSON objects. The columns are TEXT: any value but a BLOB is stored as
#: text, and a BLOB value, which JSON cannot hold, fails the statement (_BLOB_IN_JSON).
_DOCUMENTS = (
    "SELECT j.key, "
    "(SELECT json_group_object(key, value) FROM params t WHERE t.run_id = j.value), "
    "(SELECT json_group_object(key, value) FROM tags t WHERE t.run_id = j.value) "
    "FROM json_each(?) j"
)
_BLOB_IN_JSON = "json cannot hold blob values"
#: A latest_metrics row of the runs in a JSON array of ids whose key is not text or value
#: not a REAL or NULL (a planted or damaged row).
_WRONG_TYPED_LATEST = (
    "SELECT 1 FROM json_each(?) j JOIN latest_metrics t ON t.run_id = j.value "
    "WHERE typeof(t.key) != 'text' OR typeof(t.value) NOT IN ('real', 'null') LIMIT 1"
)
#: The comparisons ``candidates`` translates to SQL (the same operator in both).
_SQL_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_NAN = float("nan")
#: The Python types a text column, and a latest metric value (REAL or NULL), come as.
_TEXT, _REAL = frozenset({str}), frozenset({float, type(None)})


def _unpack(code: str, data: bytes) -> array[Any]:
    arr = array(code)
    arr.frombytes(data)
    if sys.byteorder == "big":  # pragma: no cover - big-endian hosts
        arr.byteswap()
    return arr


class _RowChecks(NamedTuple):
    is_run_id: Callable[[object], bool]
    is_experiment: Callable[[object], bool]
    statuses: tuple[str, ...]
    min_time: float
    max_time: float


def _row_checks() -> _RowChecks:
    """What ``_invalid_row`` checks with (imported on first use: a listing of well-formed
    rows never needs the validators or the records)."""
    from mlopskit.tracking._model import STATUSES
    from mlopskit.tracking._validate import MAX_TIME, MIN_TIME, is_experiment, is_run_id

    return _RowChecks(is_run_id, is_experiment, STATUSES, MIN_TIME, MAX_TIME)


def _invalid_row(row: Sequence[Any], checks: _RowChecks) -> str | None:
    """Why a stored ``runs`` row (with its params and tags JSON) cannot be trusted."""
    is_run_id, is_experiment, statuses, low, high = checks
    run_id, experiment, name, status, start, end, parent = row[:7]
    if not is_run_id(run_id) or not (parent is None or is_run_id(parent)):
        return f"run {run_id!r}: an invalid run id (or parent id {parent!r})"
    if not is_experiment(experiment):
        return f"run {run_id!r}: an invalid experiment name {experiment!r}"
    if status not in statuses:
        return f"run {run_id!r}: invalid status {status!r}"
    if not isinstance(name, str):
        return f"run {run_id!r}: the name is not text"
    for value in (start, end) if end is not None else (start,):
        if not (isinstance(value, (int, float)) and low <= value <= high):
            return f"run {run_id!r}: a start or end time is not a time ({value!r})"
    return None


def _split_keys(keys: Collection[str] | None) -> dict[str, set[str]] | None:
    if keys is None:
        return None
    from mlopskit.tracking._model import PAUSED_TAG

    # the pause a resumed run's duration leaves out is read whatever was asked
    out: dict[str, set[str]] = {"params": set(), "metrics": set(), "tags": {PAUSED_TAG}}
    for key in keys:
        kind, _, name = key.partition(".")
        if kind in out:
            out[kind].add(name)
    return out
