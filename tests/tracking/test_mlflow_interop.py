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


def _write_everything(uri: str, workdir: Path) -> dict[str, str]:
    """What a daily MLflow user leaves: autolog, inputs, artifacts, models, aliases, deletes."""
    import numpy as np
    import pandas as pd
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(uri)
    exp_id = mlflow.set_experiment("everything").experiment_id
    mlflow.set_experiment_tag("project", "demo")
    frame = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    target = (frame.a > 9).astype(int)
    ids: dict[str, str] = {}
    notes = workdir / "notes.txt"
    notes.write_text("hello")
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_input(mlflow.data.from_pandas(frame, name="train-df"), context="training")
        mlflow.log_metric("dup", 2.0, step=0, timestamp=1700000000000)
        mlflow.log_metric("dup", 1.0, step=0, timestamp=1700000000000)
        mlflow.log_metric("nanm", 1.0, step=0)
        mlflow.log_metric("nanm", float("nan"), step=1)
        mlflow.log_metric("infm", float("inf"), step=0)
        mlflow.log_metric("infm", float("-inf"), step=1)
        mlflow.log_artifact(str(notes))
        mlflow.log_artifact(str(notes), artifact_path="sub")
        ids["parent"] = parent.info.run_id
    with mlflow.start_run(run_name="logged") as logged:
        model = LogisticRegression().fit(frame, target)
        mlflow.sklearn.log_model(model, name="model", registered_model_name="clf")
        ids["logged"] = logged.info.run_id
    client = MlflowClient()
    client.set_registered_model_alias("clf", "champion", "1")
    client.set_registered_model_tag("clf", "owner", "ann")
    with mlflow.start_run(run_name="gone") as gone:
        ids["gone"] = gone.info.run_id
    client.delete_run(ids["gone"])
    ids["open"] = client.create_run(exp_id, run_name="open").info.run_id
    read = client.get_run(ids["parent"]).data.metrics
    ids["mlflow_dup"], ids["mlflow_nanm"] = str(read["dup"]), str(read["nanm"])
    for key in ("nanm", "infm"):  # every point as MLflow reads it back, and the latest
        history = client.get_metric_history(ids["parent"], key)
        ids[f"mlflow_history_{key}"] = repr(sorted((m.step, m.value) for m in history))
        ids[f"mlflow_latest_{key}"] = repr(read[key])
    return ids


@pytest.mark.filterwarnings("ignore::UserWarning")  # MLflow's type-hint and pickle notices
@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_import_everything_written_by_mlflow(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Artifacts, inputs, experiment tags, logged and registered models with aliases (into
    the workspace's registry without being asked), the deleted marker, open runs and
    MLflow's latest values all survive the import, once."""
    pytest.importorskip("sklearn")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.chdir(tmp_path)
    uri = f"file://{tmp_path}/mlruns" if kind == "file" else f"sqlite:///{tmp_path}/mlflow.db"
    ids = _write_everything(uri, tmp_path)
    assert (ids["mlflow_dup"], ids["mlflow_nanm"]) == ("2.0", "nan")  # what MLflow reads
    with mk.Workspace(tmp_path / "ws") as ws:
        report = import_mlflow(uri, include_deleted=True)  # models: this workspace's registry
        parent = mk.get_run(ids["parent"])
        assert parent.metrics["dup"] == 2.0
        assert str(parent.metrics["nanm"]) == ids["mlflow_nanm"]  # NaN, as MLflow reads it
        for key in ("nanm", "infm"):  # non-finite points come across as MLflow reads them
            frame = parent.metric_history(key)
            points = sorted(zip(frame["step"].tolist(), frame["value"].tolist()))
            assert repr(points) == ids[f"mlflow_history_{key}"]
            assert repr(parent.metrics[key]) == ids[f"mlflow_latest_{key}"]
        arts = parent.artifacts
        assert set(arts) >= {"notes.txt", "sub"}  # MLflow's top-level entries
        assert arts["notes.txt"].digest in ws.store.get_bytes(arts["sub"]).decode()
        assert parent.tags["mlflow.experimentTag.project"] == "demo"
        assert ("train-df", "training") in [(i.name, i.context) for i in parent.inputs]
        (version,) = ws.registry.versions("clf")
        assert version.run_id == ids["logged"]
        assert version.digest == mk.get_run(ids["logged"]).artifacts["model"].digest
        assert ws.registry.aliases("clf") == {"champion": version.number}
        assert ws.registry.tags("clf")["owner"] == "ann"
        assert mk.get_run(ids["gone"]).tags["mlflow.lifecycle_stage"] == "deleted"
        assert mk.get_run(ids["open"]).record().end_time is None
        assert report.malformed_lines == 0
        again = import_mlflow(uri, registry=ws.registry, include_deleted=True)
        assert (again.runs, again.model_versions) == (0, 0)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
