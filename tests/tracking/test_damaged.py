"""Damaged or planted tracking data: clear mlopskit errors, never raw ones or silent wrong values."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from mlopskit.errors import IntegrityError, MlopskitError
from mlopskit.tracking import ObjectStoreBackend, SQLiteBackend, Tracker
from mlopskit.tracking._sqlite import SCHEMA, SCHEMA_VERSION


def _sqlite_tracker(root: Path) -> Tracker:
    return Tracker(str(root), SQLiteBackend(root / "tracking.sqlite"))


def _log_two_runs(tracker: Tracker) -> list[str]:
    ids = []
    for i in range(2):
        with tracker.start_run("exp", capture_env=False) as run:
            run.log_metric("loss", float(i))
        ids.append(run.run_id)
    return ids


class TestDamagedSQLite:
    def test_garbage_database_file_is_an_integrity_error(self, tmp_path: Path) -> None:
        """A tracking.sqlite overwritten with garbage raises IntegrityError, not sqlite3's error."""
        (tmp_path / "tracking.sqlite").write_bytes(b"this is not a database" * 400)
        tracker = _sqlite_tracker(tmp_path)
        with pytest.raises(IntegrityError, match="damaged"):
            tracker.search_runs("exp")
        with pytest.raises(MlopskitError):
            tracker.start_run("exp", capture_env=False)

    def test_flipped_bit_in_a_metric_block_names_run_and_metric(self, tmp_path: Path) -> None:
        """One flipped bit in a stored metric block is caught by its CRC, naming run and metric."""
        tracker = _sqlite_tracker(tmp_path)
        with tracker.start_run("exp", capture_env=False) as run:
            run.log_batch("loss", [0.5, 0.25, 0.125])
        conn = sqlite3.connect(tmp_path / "tracking.sqlite")
        (vals,) = conn.execute("SELECT vals FROM metric_blocks").fetchone()
        flipped = bytes([vals[0] ^ 0x01]) + vals[1:]
        conn.execute("UPDATE metric_blocks SET vals = ?", (flipped,))
        conn.commit()
        conn.close()
        with pytest.raises(IntegrityError, match=f"'loss' of run {run.run_id}"):
            tracker.get_run(run.run_id).metric_history("loss")

    def test_version_1_database_is_migrated_and_checked(self, tmp_path: Path) -> None:
        """A database of schema 1 (no CRC) opens, gains CRCs, and later damage is caught."""
        path = tmp_path / "tracking.sqlite"
        conn = sqlite3.connect(path)
        conn.executescript(SCHEMA.replace(", crc INTEGER", ""))
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO runs VALUES ('r1', 'exp', 'old', 'FINISHED', 1.0, 2.0, NULL, '', '')"
        )
        conn.execute(
            "INSERT INTO metric_blocks VALUES ('r1', 'm', 1, 0, 0, ?, ?, ?)",
            ((0).to_bytes(8, "little"), b"\x00" * 7 + b"\x40", b"\x00" * 8),
        )
        conn.commit()
        conn.close()
        tracker = _sqlite_tracker(tmp_path)
        assert tracker.backend.metric_history("r1", "m") == [(0, 2.0, 0.0)]
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT crc FROM metric_blocks").fetchone()[0] is not None
        conn.execute("UPDATE metric_blocks SET vals = ?", (b"\x00" * 7 + b"\x41",))
        conn.commit()
        conn.close()
        with pytest.raises(IntegrityError, match="'m' of run r1"):
            tracker.backend.metric_history("r1", "m")

    @pytest.mark.parametrize(
        ("column", "value"), [("status", "<b>DONE</b>"), ("run_id", "../../escape")]
    )
    def test_planted_run_row_is_skipped_and_reported(
        self, tmp_path: Path, column: str, value: str
    ) -> None:
        """A run row with an invalid status or id is skipped with a warning; the rest is served."""
        tracker = _sqlite_tracker(tmp_path)
        good, bad = _log_two_runs(tracker)
        conn = sqlite3.connect(tmp_path / "tracking.sqlite")
        conn.execute(f"UPDATE runs SET {column} = ? WHERE run_id = ?", (value, bad))
        conn.commit()
        conn.close()
        with pytest.warns(RuntimeWarning, match="skipped a damaged run"):
            frame = tracker.search_runs("exp")
        assert list(frame["run_id"]) == [good]
        if column == "status":
            with pytest.raises(IntegrityError, match="invalid status"):
                tracker.get_run(bad)


def _files_of(root: Path, run_id: str) -> list[Path]:
    """The segment files of ``run_id`` (docs/layout-tracking.md: time-ordered names)."""
    folder = root / "tracking" / "experiments" / "exp" / "segments"
    return sorted(p for p in folder.iterdir() if p.name.endswith(f".{run_id}.jsonl"))


class TestDamagedSegments:
    def _segment_of(self, root: Path, run_id: str) -> Path:
        return _files_of(root, run_id)[0]

    @pytest.mark.parametrize(
        "damage",
        [
            lambda data: data[:40] + b"\xff\xfe" + data[40:],  # invalid UTF-8
            lambda data: data.replace(b'"values"', b'"valuez"'),  # a missing field
            lambda data: data.replace(b'"e":"create"', b'"e":"create","run":7,"x"'),  # bad type
            lambda data: data[: len(data) // 2],  # torn
        ],
        ids=["utf8", "missing-field", "wrong-type", "torn"],
    )
    def test_damaged_segment_is_skipped_and_reported(self, tmp_path: Path, damage: object) -> None:
        """One damaged segment is skipped with a warning naming it; the experiment still reads."""
        tracker = Tracker(str(tmp_path), ObjectStoreBackend(tmp_path))
        good, bad = _log_two_runs(tracker)
        segments = _files_of(tmp_path, bad)
        for seg in segments:
            data = seg.read_bytes()
            if b'"e":"metrics"' in data or b'"e":"create"' in data:
                changed = damage(data)  # type: ignore[operator]
                if changed != data:
                    seg.write_bytes(changed)
        reader = Tracker(str(tmp_path), ObjectStoreBackend(tmp_path))
        with pytest.warns(RuntimeWarning, match="skipped a damaged tracking segment"):
            frame = reader.search_runs("exp")
        assert good in set(frame["run_id"])
        assert reader.get_run(good).metrics == {"loss": 0.0}
        assert any(bad in path for path in reader.backend.damaged)  # type: ignore[attr-defined]

    def test_planted_status_never_reaches_a_reader(self, tmp_path: Path) -> None:
        """A segment that sets an unknown status (markup) is skipped: the status stays valid."""
        tracker = Tracker(str(tmp_path), ObjectStoreBackend(tmp_path))
        _, run_id = _log_two_runs(tracker)
        run_dir = tmp_path / "tracking" / "experiments" / "exp" / "segments"
        planted = (
            '{"format":"mlopskit.tracking.segment/1","writer":"evil","seq":1,"time":9e9}\n'
            '{"e":"status","time":9e9,"status":"<script>x</script>","end_time":9e9}\n'
        )
        (run_dir / f"{'9' * 20}-evil-00000001.{run_id}.jsonl").write_text(planted)
        reader = Tracker(str(tmp_path), ObjectStoreBackend(tmp_path))
        with pytest.warns(RuntimeWarning, match="invalid status"):
            assert reader.get_run(run_id).status == "FINISHED"

    def test_run_directory_that_is_not_a_run_id_is_skipped(self, tmp_path: Path) -> None:
        """A directory planted under an experiment whose name is no valid run id is ignored."""
        tracker = Tracker(str(tmp_path), ObjectStoreBackend(tmp_path))
        good, _ = _log_two_runs(tracker)
        seg = self._segment_of(tmp_path, good)
        odd = tmp_path / "tracking" / "experiments" / "exp" / "-bad id"
        odd.mkdir()
        (odd / seg.name).write_bytes(seg.read_bytes())
        reader = Tracker(str(tmp_path), ObjectStoreBackend(tmp_path))
        with pytest.warns(RuntimeWarning, match="not a valid run id"):
            frame = reader.search_runs("exp")
        assert len(frame) == 2


def test_memory_backend_reports_undecodable_segment() -> None:
    """Invalid UTF-8 in a segment on an object store is reported, not a UnicodeDecodeError."""
    root = f"memory://damaged-{uuid.uuid4().hex[:8]}"
    tracker = Tracker(root, ObjectStoreBackend(root))
    good, bad = _log_two_runs(tracker)
    backend = ObjectStoreBackend(root)
    for path in backend.files.find(backend.files.path("experiments", "exp", "segments")):
        if f".{bad}." not in path:
            continue
        backend.files.fs.pipe_file(path, b"\xff" + backend.files.read(path))
    with pytest.warns(RuntimeWarning):
        frame = Tracker(root, backend).search_runs("exp")
    assert list(frame["run_id"]) == [good]
