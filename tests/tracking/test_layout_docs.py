"""docs/tracking.md specifies the on-disk layouts: what a tracker writes matches them."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from mlopskit.tracking import ObjectStoreBackend, SQLiteBackend, Tracker

DOC = Path(__file__).resolve().parents[2] / "docs" / "tracking.md"


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(title)
    end = text.find("\n### ", start + len(title))
    return text[start : end if end >= 0 else len(text)]


def _documented_paths() -> list[re.Pattern[str]]:
    """The object-store layout block's paths as patterns (``<name>`` is one path part)."""
    block = _section("### Object store (`tracking/`)").split("```text", 1)[1].split("```", 1)[0]
    patterns = []
    for line in block.splitlines():
        if not line.startswith("tracking/"):
            continue
        path = line.split()[0]
        parts = re.split(r"(<[^>]+>)", path)
        body = "".join("[^/]+" if p.startswith("<") else re.escape(p) for p in parts)
        patterns.append(re.compile(body + (".*" if path.endswith("/") else "") + "$"))
    return patterns


def _delete_and_restore(tracker: Tracker) -> None:
    with tracker.start_run("exp", params={"lr": 0.1}, capture_env=False) as run:
        run.log_metric("loss", 0.5)
    with tracker.start_run("other", capture_env=False):
        pass
    tracker.delete_run(run.run_id, reason="typo")
    tracker.restore_run(run.run_id)
    tracker.delete_experiment("other", reason="done")


class TestDocumentedLayout:
    def test_sqlite_schema_version_is_the_documented_one(self, tmp_path: Path) -> None:
        """The heading's ``PRAGMA user_version`` is the one a new tracking.sqlite has, and
        the table list names every table in it."""
        db = tmp_path / "tracking.sqlite"
        _delete_and_restore(Tracker(str(tmp_path), SQLiteBackend(db)))
        section = _section("### SQLite (`tracking.sqlite`")
        documented = re.search(r"`PRAGMA user_version` (\d+)", section)
        assert documented is not None
        with sqlite3.connect(db) as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {
                r[0]
                for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                if not r[0].startswith("sqlite_")
            }
        conn.close()
        assert int(documented.group(1)) == version
        listed = set(re.findall(r"^\| `(\w+)`(?:, `(\w+)`)?", section, re.M))
        assert tables <= {name for pair in listed for name in pair if name}

    def test_every_object_store_file_is_in_the_documented_layout(self, tmp_path: Path) -> None:
        """Runs, deletions and restores on the object-store backend write only files the
        layout block of docs/tracking.md names."""
        _delete_and_restore(Tracker(str(tmp_path), ObjectStoreBackend(tmp_path)))
        patterns = _documented_paths()
        written = [
            p.relative_to(tmp_path).as_posix()
            for p in (tmp_path / "tracking").rglob("*")
            if p.is_file()
        ]
        assert any("/lifecycle/" in w for w in written)  # the case this test is about
        undocumented = [w for w in written if not any(p.match(w) for p in patterns)]
        assert undocumented == []
