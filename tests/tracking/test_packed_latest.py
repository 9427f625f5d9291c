"""Schema 5: each run's latest metrics packed in ``runs.latest``, which a search reads
instead of one ``latest_metrics`` row per run and key. The table stays the truth: the
packed value is rewritten from it in the same transaction, a missing or malformed one
is read from the table, and a file of schema 4 is filled when first opened."""

from __future__ import annotations

import math
import sqlite3
import struct
import threading
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlopskit.tracking import RunRecord, SQLiteBackend, Tracker
from mlopskit.tracking._search import _search_records
from mlopskit.tracking._sqlite import (
    LIFECYCLE_SCHEMA,
    SCHEMA,
    SCHEMA_VERSION,
    pack_latest,
    unpack_latest,
)

KEYS = st.text(min_size=1, max_size=8)
VALUES = st.one_of(
    st.none(), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0])
)


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


@settings(max_examples=400, deadline=None)
@given(runs=st.lists(st.dictionaries(KEYS, VALUES, max_size=6), max_size=6))
def test_packed_values_unpack_to_the_same_keys_and_bits(runs: list[dict[str, Any]]) -> None:
    """Whatever the keys (any text) and values (NaN, ±inf, -0.0, a NaN stored as None),
    unpacking gives each run's keys sorted and its values bit for bit, and a run with
    no metric has no packed value (it is read from the table)."""
    blobs = [pack_latest(list(run.items())) for run in runs]
    positions, counts, keys, values, missing = unpack_latest(blobs)
    assert missing == [i for i, run in enumerate(runs) if not run]
    assert positions == [i for i, run in enumerate(runs) if run]
    floats = struct.unpack(f"<{len(values) // 8}d", values)
    at = 0
    for i, n in zip(positions, counts):
        expected = sorted(runs[i].items())
        assert keys[at : at + n] == [k for k, _ in expected]
        for (_, v), got in zip(expected, floats[at : at + n]):
            assert math.isnan(got) if v is None else _bits(got) == _bits(v)
        at += n
    assert at == len(keys) == len(floats)


def test_a_damaged_row_in_the_table_packs_to_nothing() -> None:
    """A key that is not text or a value that is not a REAL is not packed: the reader
    goes to the table, whose checks decide."""
    assert pack_latest([("m", 1.0), (2, 1.0)]) is None
    assert pack_latest([("m", "text")]) is None
    assert pack_latest([("m", 1)]) is None
    assert pack_latest([]) is None


def _tracker(root: Path) -> Tracker:
    return Tracker(str(root), SQLiteBackend(root / "tracking.sqlite"))


def _run(tracker: Tracker, i: int, metrics: dict[str, float]) -> str:
    run_id = uuid.uuid4().hex
    tracker.backend.create_run(
        RunRecord(
            run_id=run_id,
            experiment="e",
            name=f"r{i}",
            status="RUNNING",
            start_time=1.7e9 + i,
            params={"p": str(i)},
        )
    )
    if metrics:
        tracker.backend.log_metrics(run_id, [(k, v, 0, 1.7e9 + i) for k, v in metrics.items()])
    tracker.backend.finish(run_id, "FINISHED", 1.7e9 + i + 1)
    return run_id


def _filled(root: Path) -> tuple[Tracker, list[str]]:
    tracker = _tracker(root)
    ids = [
        _run(tracker, 0, {"acc": 0.5, "loss": math.nan}),
        _run(tracker, 1, {"acc": 0.25}),
        _run(tracker, 2, {}),
        _run(tracker, 3, {"loss": math.inf, "f1": -0.0}),
    ]
    return tracker, ids


def _records_frame(tracker: Tracker, filter: str | None = None) -> pd.DataFrame:
    return _search_records(tracker, "e", filter, None, None, None, "active")


def _stored(path: Path, run_id: str) -> Any:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT latest FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0]


def _table(path: Path, run_id: str) -> list[tuple[str, Any]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT key, value FROM latest_metrics WHERE run_id = ?", (run_id,)
        ).fetchall()


@pytest.mark.parametrize(
    "planted",
    [
        None,
        b"",
        b"garbage",
        b"ML1\0",
        b"ML1\0\xff\xff\xff\x7f[]",  # a header longer than the value
        b"ML2\0\x02\x00\x00\x00[]",  # another format
        "ML1 as text",
        42,
        pack_latest([("acc", 0.5)])[:-1],  # type: ignore[index]  # a value cut short
        b'ML1\0\x0d\x00\x00\x00["b", "a"]' + bytes(16),  # keys out of order
        b"ML1\0\x08\x00\x00\x00[1, 2.5]" + bytes(16),  # keys that are not text
        b"ML1\0\x04\x00\x00\x00\xff\xfe[]",  # not UTF-8
    ],
)
def test_a_missing_or_malformed_packed_value_is_read_from_the_table(
    tmp_path: Path, planted: Any
) -> None:
    """Whatever sits in ``runs.latest`` of one run (nothing, bytes of another form, a
    value cut short, text, a number), the search shows that run's metrics as the table
    holds them, and the other runs' as before; no other run is affected."""
    tracker, ids = _filled(tmp_path)
    before = tracker.search_runs("e")
    pd.testing.assert_frame_equal(before, _records_frame(tracker))
    with sqlite3.connect(tmp_path / "tracking.sqlite") as conn:
        conn.execute("UPDATE runs SET latest = ? WHERE run_id = ?", (planted, ids[0]))
    after = tracker.search_runs("e")
    pd.testing.assert_frame_equal(after, before)


def test_every_write_repacks_the_run_from_the_table(tmp_path: Path) -> None:
    """An older step does not replace the latest value (the table's rule), a later one
    does, a new key joins: after each write the packed value is the table's rows."""
    tracker = _tracker(tmp_path)
    run_id = _run(tracker, 0, {"m": 1.0})
    path = tmp_path / "tracking.sqlite"
    writes = [
        [("m", 2.0, 5, 10.0)],
        [("m", 3.0, 3, 11.0)],  # an older step: the latest stays 2.0
        [("m", math.nan, 5, 12.0), ("b", 7.0, 0, 12.0)],  # same step, later: NaN wins
        [("a", -1.0, 0, 13.0)],
    ]
    for points in writes:
        tracker.backend.log_metrics(run_id, points)
        assert _stored(path, run_id) == pack_latest(_table(path, run_id))
    frame = tracker.search_runs("e")
    assert frame.loc[0, "metrics.a"] == -1.0 and frame.loc[0, "metrics.b"] == 7.0
    assert math.isnan(frame.loc[0, "metrics.m"])
    pd.testing.assert_frame_equal(frame, _records_frame(tracker))


def test_two_writers_on_one_run_leave_the_packed_value_equal_to_the_table(
    tmp_path: Path,
) -> None:
    """Two connections (each its own backend) logging different keys to one run at
    once: every transaction repacks from the table, so the last one leaves both keys."""
    tracker = _tracker(tmp_path)
    run_id = _run(tracker, 0, {})
    path = tmp_path / "tracking.sqlite"
    errors: list[BaseException] = []

    def write(key: str) -> None:
        backend = SQLiteBackend(path)
        try:
            for step in range(60):
                backend.log_metrics(run_id, [(key, float(step), step, 1.7e9 + step)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k,)) for k in ("x", "y")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _stored(path, run_id) == pack_latest(_table(path, run_id))
    frame = tracker.search_runs("e")
    assert frame.loc[0, "metrics.x"] == frame.loc[0, "metrics.y"] == 59.0


def test_a_schema_4_file_gains_the_packed_values_when_opened(tmp_path: Path) -> None:
    """A tracking.sqlite of schema 4 (no ``runs.latest``) opens as schema 5 with every
    run's metrics packed, and a search shows the values it stored."""
    path = tmp_path / "tracking.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA + ";" + LIFECYCLE_SCHEMA)  # schema 4's tables
        conn.execute("INSERT INTO experiments VALUES ('e', 1700000000)")
        for i, run_id in enumerate(("r1", "r2", "r3")):
            conn.execute(
                "INSERT INTO runs VALUES (?, 'e', ?, 'FINISHED', ?, ?, NULL, 'me', 'host')",
                (run_id, run_id, 1.7e9 + i, 1.7e9 + i + 1),
            )
        conn.executemany(
            "INSERT INTO latest_metrics VALUES (?, ?, 0, ?, 1700000000.5)",
            [("r1", "acc", 0.75), ("r1", "loss", None), ("r2", "acc", 0.125)],
        )
        conn.execute("PRAGMA user_version = 4")
    conn.close()
    tracker = _tracker(tmp_path)
    frame = tracker.search_runs("e")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    conn.close()
    assert _stored(path, "r1") == pack_latest([("acc", 0.75), ("loss", None)])
    assert _stored(path, "r2") == pack_latest([("acc", 0.125)])
    assert _stored(path, "r3") is None  # no metric: nothing packed
    by_id = frame.set_index("run_id")
    assert by_id.loc["r1", "metrics.acc"] == 0.75 and math.isnan(by_id.loc["r1", "metrics.loss"])
    assert by_id.loc["r2", "metrics.acc"] == 0.125 and math.isnan(by_id.loc["r3", "metrics.acc"])
    pd.testing.assert_frame_equal(frame, _records_frame(tracker))


def test_a_writer_that_does_not_pack_leaves_no_stale_value(tmp_path: Path) -> None:
    """A write to ``latest_metrics`` by anything that does not pack (an older mlopskit
    still attached to the file, a hand-made fix) clears the run's packed value, by a
    trigger in the file: the search shows the table's new value, never the old one."""
    tracker, ids = _filled(tmp_path)
    path = tmp_path / "tracking.sqlite"
    assert tracker.search_runs("e").set_index("run_id").loc[ids[1], "metrics.acc"] == 0.25
    with sqlite3.connect(path) as conn:  # schema 4's upsert, as mlopskit 4 ran it
        conn.execute(
            "INSERT INTO latest_metrics VALUES (?, 'acc', 9, 0.875, 1.8e9) ON CONFLICT "
            "(run_id, key) DO UPDATE SET step = excluded.step, value = excluded.value, "
            "timestamp = excluded.timestamp",
            (ids[1],),
        )
        conn.execute("INSERT INTO latest_metrics VALUES (?, 'new', 0, 2.5, 1.8e9)", (ids[3],))
        conn.execute("DELETE FROM latest_metrics WHERE run_id = ? AND key = 'loss'", (ids[0],))
    conn.close()
    assert _stored(path, ids[1]) is None and _stored(path, ids[3]) is None
    assert _stored(path, ids[0]) is None
    frame = tracker.search_runs("e").set_index("run_id")
    assert frame.loc[ids[1], "metrics.acc"] == 0.875
    assert frame.loc[ids[3], "metrics.new"] == 2.5
    assert math.isnan(frame.loc[ids[0], "metrics.loss"]) and frame.loc[ids[0], "metrics.acc"] == 0.5
    pd.testing.assert_frame_equal(tracker.search_runs("e"), _records_frame(tracker))
    tracker.backend.log_metrics(ids[1], [("acc", 0.5, 10, 1.9e9)])  # this version packs again
    assert _stored(path, ids[1]) == pack_latest(_table(path, ids[1]))
