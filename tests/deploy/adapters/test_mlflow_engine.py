"""MLflow itself proves the exported directory (nox -s mlflow_export; skipped without
mlflow): pyfunc predictions, the scoring server on 127.0.0.1, and MLflow-written
directories read back."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _proc import free_port, post, start
from adapter_data import mixed_frame, mixed_model

from mlopskit.deploy import ModelPackage, Predictor
from mlopskit.deploy import mlflow as mlf

mlflow = pytest.importorskip("mlflow")
pytestmark = pytest.mark.filterwarnings("ignore")  # mlflow's own deprecation chatter


def _as_sent(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as MLflow takes it (and as JSON arrives): categories as plain strings,
    nullable ints as float64 with NaN (MLflow refuses Int64 for its ``double`` columns)."""
    return frame.astype(
        {
            c: (object if str(frame[c].dtype) == "category" else "float64")
            for c in frame.columns
            if str(frame[c].dtype) in ("category", "Int64")
        }
    )


@pytest.mark.parametrize("kind", ["regression", "binary", "multiclass"])
def test_pyfunc_load_model_predicts_like_predictor(kind: str, store: Any, tmp_path: Path) -> None:
    """mlflow.pyfunc.load_model(export).predict equals Predictor.predict on the example
    and on 1,000 random rows with numeric, categorical, nullable-int and string columns."""
    example = mixed_frame(5)
    pkg = ModelPackage.from_model(mixed_model(kind), name=kind, input_example=example, store=store)
    out = mlf.export(pkg, tmp_path / kind)
    model = mlflow.pyfunc.load_model(str(out))
    pred = Predictor(pkg)
    for rows in (example, mixed_frame(1000, seed=11)):
        got = np.asarray(model.predict(_as_sent(rows)))
        np.testing.assert_array_equal(got, pred.predict(rows))


def test_pyfunc_enforces_the_signature(mixed_package: Any, tmp_path: Path) -> None:
    """MLflow refuses input missing a signature column before the model runs."""
    model = mlflow.pyfunc.load_model(str(mlf.export(mixed_package, tmp_path / "m")))
    with pytest.raises(Exception, match="city"):
        model.predict(_as_sent(mixed_frame(3)).drop(columns="city"))


@pytest.mark.slow
def test_mlflow_models_serve_answers_like_predictor(mixed_package: Any, tmp_path: Path) -> None:
    """`mlflow models serve --env-manager local` on 127.0.0.1 answers
    serving_input_example.json as Predictor does, and a missing column with 400."""
    out = mlf.export(mixed_package, tmp_path / "m")
    exe = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    port = free_port()
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    cmd = [
        exe,
        "models",
        "serve",
        "-m",
        str(out),
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    with start(
        cmd,
        tmp_path / "serve.log",
        ready="/ping",
        url=f"http://127.0.0.1:{port}",
        timeout=180,
        env=env,
    ) as srv:
        body = (out / "serving_input_example.json").read_bytes()
        status, got = post(f"{srv.url}/invocations", body)
        assert status == 200, got
        assert (
            got["predictions"]
            == Predictor(mixed_package).predict(mixed_package.input_example()).tolist()
        )
        split = json.loads(body)["dataframe_split"]
        i = split["columns"].index("city")
        bad = {
            "dataframe_split": {
                "columns": [c for c in split["columns"] if c != "city"],
                "data": [r[:i] + r[i + 1 :] for r in split["data"]],
            }
        }
        status, err = post(f"{srv.url}/invocations", json.dumps(bad).encode())
        assert status == 400, err
        assert "city" in json.dumps(err)


def test_load_reads_a_directory_mlflow_wrote(store: Any, tmp_path: Path) -> None:
    """deploy.mlflow.load of mlflow.sklearn.save_model's output predicts as the model does."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
    y = (X["a"] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    d = tmp_path / "written-by-mlflow"
    kwargs: dict[str, Any] = {"input_example": X.head(3)}
    try:
        mlflow.sklearn.save_model(model, str(d), serialization_format="skops", **kwargs)
        trusted = False
    except Exception:  # an mlflow without skops support: its default is cloudpickle
        shutil.rmtree(d, ignore_errors=True)
        mlflow.sklearn.save_model(model, str(d), **kwargs)
        trusted = True
    pkg = mlf.load(d, name="lr", trusted=trusted, store=store)
    np.testing.assert_array_equal(Predictor(pkg).predict(X), model.predict(X))
