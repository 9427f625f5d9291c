"""import_mlflow against stores written by MLflow itself (run by ``nox -s mlflow``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import mlopskit as mk
from mlopskit.tracking import import_mlflow

mlflow = pytest.importorskip("mlflow")

# MLflow and SQLAlchemy warn about their own internals; those are not ours to fix.
pytestmark = [
    pytest.mark.slow,  # MLflow's import and store setup take seconds
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]


def _write_with_mlflow(uri: str) -> dict[str, str]:
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("interop exp")
    ids = {}
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_params({"lr": 0.1, "opt": "adam"})
        mlflow.set_tag("team", "x")
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("acc", 0.9)
        ids["parent"], ids["child"] = parent.info.run_id, child.info.run_id
    try:
        with mlflow.start_run(run_name="failed") as failed:
            ids["failed"] = failed.info.run_id
            _ = 1 / 0
    except ZeroDivisionError:
        pass
    return ids


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_import_store_written_by_mlflow(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs, params, tags, metric histories, parents and statuses survive the import."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.chdir(tmp_path)
    uri = f"file://{tmp_path}/mlruns" if kind == "file" else f"sqlite:///{tmp_path}/mlflow.db"
    ids = _write_with_mlflow(uri)
    with mk.Workspace(tmp_path / "ws"):
        report = import_mlflow(uri)
        assert report.runs == 3
        assert "interop_exp" in report.experiments
        parent = mk.get_run(ids["parent"])
        assert parent.params == {"lr": "0.1", "opt": "adam"}
        assert parent.tags["team"] == "x"
        assert parent.status == "FINISHED"
        assert parent.metric_history("loss")["value"].tolist() == [1.0, 0.5, 1 / 3, 0.25, 0.2]
        assert mk.get_run(ids["child"]).parent_id == ids["parent"]
        assert mk.get_run(ids["failed"]).status == "FAILED"
        assert import_mlflow(uri).skipped_runs == 3
    os.environ.pop("MLFLOW_TRACKING_URI", None)
