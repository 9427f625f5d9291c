"""A real workspace with runs, datasets, models and lineage, built through the public API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mlopskit import _context


def build_workspace(root: Path) -> dict[str, Any]:
    """Fill ``root`` with two experiments, a dataset in two versions and a model with an alias."""
    import numpy as np
    import pandas as pd

    import mlopskit as mk

    facts: dict[str, Any] = {"root": root}
    with mk.Workspace(root):
        v1 = mk.datasets.commit(
            "iris", pd.DataFrame({"id": [1, 2, 3], "x": [1.0, 2.0, 3.0]}), message="first"
        )
        v2 = mk.datasets.commit(
            "iris",
            pd.DataFrame(
                {"id": [1, 2, 3, 4], "x": [1.0, 2.0, 30.0, 4.0], "y": ["a", "b", "a", "b"]}
            ),
            message="second",
        )
        facts["datasets"] = [v1, v2]
        runs = []
        for i, lr in enumerate([0.1, 0.01, 0.001]):
            with mk.start_run("mnist", params={"lr": lr}, tags={"team": "vision"}) as run:
                run.log_metric("acc", 0.5 + i * 0.2)
                run.log_input(v2)
                run.log_artifact({"weights": [i, i + 1]}, name="weights.json")
                mk.registry.register("clf", {"lr": lr}, metrics={"acc": 0.5 + i * 0.2})
            runs.append(run.run_id)
        with mk.start_run("other", params={"depth": 3}) as run:
            run.log_metric("loss", float(np.float64(0.25)))
        runs.append(run.run_id)
        facts["runs"] = runs
        mk.registry.set_alias("clf", "champion", 1)
        mk.registry.set_alias("clf", "champion", 2)
    return facts


@pytest.fixture
def populated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A workspace under tmp_path with runs, datasets and models (see build_workspace)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLOPSKIT_HOME", raising=False)
    monkeypatch.setenv("MLOPSKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MLOPSKIT_PROGRESS", "off")
    monkeypatch.setattr(_context, "_process_workspace", [None])
    return build_workspace(tmp_path / "ws")


@pytest.fixture
def mk_cli(populated: dict[str, Any]) -> Callable[..., Result]:
    """Run the CLI in-process against the populated workspace: ``mk_cli("runs", "ls")``."""
    from mlopskit.cli import cli

    def run(*args: str, workspace: Path | None = None, **kwargs: Any) -> Result:
        root = populated["root"] if workspace is None else workspace
        return CliRunner().invoke(cli, ["--workspace", str(root), *args], **kwargs)

    return run
