"""Every script in examples/ runs as a user would run it, and the quickstart says what it did."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script: Path, tmp_path: Path) -> None:
    """The script exits 0 from a fresh process in an unrelated directory."""
    env = dict(os.environ, MLOPSKIT_CACHE_DIR=str(tmp_path / "cache"), TMPDIR=str(tmp_path))
    env.pop("MLOPSKIT_HOME", None)
    out = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]


def test_quickstart_walks_the_whole_lifecycle(tmp_path: Path) -> None:
    """The quickstart reports every step, ends with a verified store, and leaves no workspace
    in the current directory."""
    script = next(p for p in EXAMPLES if p.name == "quickstart.py")
    env = dict(os.environ, MLOPSKIT_CACHE_DIR=str(tmp_path / "cache"), TMPDIR=str(tmp_path))
    out = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    for step in (
        "1. stored",
        "2. dataset customers/1",
        "3. features",
        "4. best of 2 runs",
        "5. champion is churn/1 after rollback",
        "6. drift:",
        "7. lineage",
        "ok=True",
        "8. deploy",
        "9. Lineage of prediction request ",
    ):
        assert step in out
    assert "cached call" in out
    # the served prediction's audit trail reaches the data through the step and the run
    trail = out.split("9. ", 1)[1]
    for node in ("dataset customers/1", "versioned make_features", "run ", "model churn/1"):
        assert node in trail, trail
    assert not (tmp_path / ".mlopskit").exists()
