"""MLflow export without mlflow: the directory has every file MLflow reads, the loader
predicts like Predictor, and MLflow-written sklearn directories load back under the
trust rule. (MLflow itself proves the directory in test_mlflow_engine.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from adapter_data import mixed_frame, mixed_model

from mlopskit.deploy import ModelPackage, Predictor
from mlopskit.deploy import mlflow as mlf
from mlopskit.errors import InvalidInputError, UntrustedObjectError

yaml = pytest.importorskip("yaml")


def test_directory_has_what_mlflow_reads(mixed_package: Any, tmp_path: Path) -> None:
    """MLmodel names the loader, data, code and both env files; requirements list mlflow and
    the pins; the serving example is the /invocations body."""
    out = mlf.export(mixed_package, tmp_path / "m")
    doc = yaml.safe_load((out / "MLmodel").read_text())
    pf = doc["flavors"]["python_function"]
    assert pf["env"] == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
    assert (out / "code" / f"{pf['loader_module']}.py").is_file()
    assert (out / pf["data"] / "package.json").is_file()
    inputs = json.loads(doc["signature"]["inputs"])
    assert {c["name"]: c["type"] for c in inputs} == {
        "x": "double",
        "color": "string",
        "count": "double",
        "city": "string",
    }
    assert {c["name"]: c["required"] for c in inputs}["count"] is False
    reqs = (out / "requirements.txt").read_text().splitlines()
    assert reqs[0] == "mlflow"
    assert any(r.startswith("scikit-learn==") for r in reqs)
    assert any(r.startswith("skops==") for r in reqs)
    env = yaml.safe_load((out / "python_env.yaml").read_text())
    assert env["python"] == mixed_package.python_version
    serving = json.loads((out / "serving_input_example.json").read_text())
    assert serving["dataframe_split"]["columns"] == ["x", "color", "count", "city"]
    assert doc["saved_input_example_info"]["serving_input_path"] == "serving_input_example.json"


def test_export_refuses_a_non_empty_directory(mixed_package: Any, tmp_path: Path) -> None:
    """An existing non-empty path is refused and left as it was."""
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="not an empty directory"):
        mlf.export(mixed_package, tmp_path / "m")
    assert [p.name for p in (tmp_path / "m").iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("kind", ["regression", "binary", "multiclass"])
def test_loader_predicts_like_predictor(kind: str, store: Any, tmp_path: Path) -> None:
    """The pyfunc loader MLflow calls gives Predictor.predict's answers on 1,000 rows."""
    pkg = ModelPackage.from_model(
        mixed_model(kind), name=kind, input_example=mixed_frame(5), store=store
    )
    out = mlf.export(pkg, tmp_path / kind)
    rows = mixed_frame(1000, seed=3)
    got = mlf._load_pyfunc(str(out / "data")).predict(rows)
    np.testing.assert_array_equal(got, Predictor(pkg).predict(rows))


def _mlflow_like_dir(tmp_path: Path, model: Any, fmt: str) -> Path:
    """A directory laid out as mlflow.sklearn.save_model writes it (mlflow 3.x)."""
    import cloudpickle
    import skops.io as sio

    d = tmp_path / f"sk-{fmt}"
    d.mkdir()
    name = "model.skops" if fmt == "skops" else "model.pkl"
    (d / name).write_bytes(sio.dumps(model) if fmt == "skops" else cloudpickle.dumps(model))
    ex = {"columns": ["f0", "f1"], "data": [[0.1, 0.2], [0.3, -1.0]]}
    (d / "input_example.json").write_text(json.dumps(ex))
    doc = {
        "flavors": {
            "python_function": {"loader_module": "mlflow.sklearn", "model_path": name},
            "sklearn": {"pickled_model": name, "serialization_format": fmt},
        },
        "saved_input_example_info": {"artifact_path": "input_example.json", "type": "dataframe"},
        "signature": {
            "inputs": '[{"type": "double", "name": "f0", "required": true}, '
            '{"type": "double", "name": "f1", "required": true}]',
            "outputs": None,
            "params": None,
        },
    }
    (d / "MLmodel").write_text(yaml.safe_dump(doc))
    return d


def test_load_reads_an_mlflow_sklearn_directory(store: Any, tmp_path: Path) -> None:
    """A skops MLflow sklearn model becomes a package predicting as the model does; a
    pickle one is refused unless trusted."""
    from sklearn.linear_model import LinearRegression

    X = pd.DataFrame([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]], columns=["f0", "f1"])
    model = LinearRegression().fit(X, X.sum(axis=1))
    pkg = mlf.load(_mlflow_like_dir(tmp_path, model, "skops"), name="lr", store=store)
    assert [c.name for c in pkg.signature.inputs.columns] == ["f0", "f1"]
    np.testing.assert_allclose(Predictor(pkg).predict(X), model.predict(X))
    pickled = _mlflow_like_dir(tmp_path, model, "cloudpickle")
    with pytest.raises(UntrustedObjectError, match="trusted=True"):
        mlf.load(pickled, store=store)
    assert mlf.load(pickled, name="lr2", trusted=True, store=store).format == "skops"


def test_load_refuses_a_payload_path_outside_the_directory(store: Any, tmp_path: Path) -> None:
    """MLmodel is untrusted: a pickled_model naming ../ is refused before any read."""
    from sklearn.linear_model import LinearRegression

    X = pd.DataFrame([[0.0, 1.0]], columns=["f0", "f1"])
    d = _mlflow_like_dir(tmp_path, LinearRegression().fit(X, [1.0]), "skops")
    doc = yaml.safe_load((d / "MLmodel").read_text())
    doc["flavors"]["sklearn"]["pickled_model"] = "../../etc/passwd"
    (d / "MLmodel").write_text(yaml.safe_dump(doc))
    with pytest.raises(InvalidInputError, match="outside the model directory"):
        mlf.load(d, store=store)
