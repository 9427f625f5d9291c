"""Pruning old run-index generations through Tracker.compact and `mlopskit runs compact`."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlopskit.errors import InvalidInputError
from mlopskit.tracking import ObjectStoreBackend, Tracker


@pytest.fixture
def root(tmp_path: Path) -> str:
    """An object-store tracking workspace with three index generations, each superseded
    two hours ago (past the grace period)."""
    where = str(tmp_path / "ws")
    tracker = Tracker(where, ObjectStoreBackend(where, compact_after=None))
    for i in range(3):
        with tracker.start_run("exp", params={"i": str(i)}, capture_env=False, git=False):
            pass
        tracker.compact()
    past = time.time() - 7200
    for index in _indexes(where):
        os.utime(index, (past, past))
    return where


def _indexes(root: str) -> list[Path]:
    return sorted((Path(root) / "tracking" / "index" / "exp").glob("*.parquet"))


def _run_ids(root: str) -> set[str]:
    fresh = Tracker(root, ObjectStoreBackend(root, compact_after=None))
    return {r.run_id for r in fresh.backend.list_runs(None, keys=())}


def test_compact_prune_keeps_only_the_newest_generations(root: str) -> None:
    """tracker.compact(prune=1) writes a new index and deletes the generations superseded
    past the grace period (3, superseded just now, stays for readers); no run is lost."""
    runs = _run_ids(root)
    tracker = Tracker(root, ObjectStoreBackend(root, compact_after=None))
    created = tracker.compact(prune=1)
    assert [Path(p).name for p in created] == ["000000000004.parquet"]
    assert [p.name for p in _indexes(root)] == ["000000000003.parquet", "000000000004.parquet"]
    assert _run_ids(root) == runs and len(runs) == 3


def test_compact_without_prune_keeps_every_generation(root: str) -> None:
    """compact() with no prune deletes nothing."""
    Tracker(root, ObjectStoreBackend(root, compact_after=None)).compact()
    assert len(_indexes(root)) == 4


@pytest.mark.parametrize("bad", [0, -1, True, "2"])
def test_a_bad_prune_is_refused_before_anything_is_written(root: str, bad: object) -> None:
    """prune below 1 (or not an integer) is an InvalidInputError; no index is written."""
    before = _indexes(root)
    tracker = Tracker(root, ObjectStoreBackend(root, compact_after=None))
    with pytest.raises(InvalidInputError, match="prune must be an integer >= 1"):
        tracker.compact(prune=bad)  # type: ignore[arg-type]
    assert _indexes(root) == before


def test_cli_runs_compact_prune(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`mlopskit runs compact --prune 2` leaves the two newest generations."""
    from mlopskit.cli import cli

    monkeypatch.setenv("MLOPSKIT_TRACKING_BACKEND", "objectstore")
    result = CliRunner().invoke(cli, ["-w", root, "runs", "compact", "exp", "--prune", "2"])
    assert result.exit_code == 0, result.output
    assert "1 index object(s) written" in result.output
    names = [p.name for p in _indexes(root)]
    assert names == ["000000000003.parquet", "000000000004.parquet"]
    bad = CliRunner().invoke(cli, ["-w", root, "runs", "compact", "--prune", "0"])
    assert bad.exit_code == 2 and "prune must be an integer >= 1" in bad.output
    assert [p.name for p in _indexes(root)] == names
