"""mk.log_model stores a model as a deployment package on a run; mk.registry.register
promotes it from ``runs:/<run_id>/<name>`` without copying it, with lineage run → model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mlopskit as mk
from mlopskit import _context
from mlopskit.errors import InvalidInputError, NoActiveRunError, NotFoundError

sklearn = pytest.importorskip("sklearn")
pytest.importorskip("skops")

from sklearn.linear_model import LogisticRegression  # noqa: E402


class Doubler:
    """A model with predict (stored with cloudpickle)."""

    def predict(self, x: Any) -> Any:
        return np.asarray(x, dtype=float).sum(axis=1) * 2


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh local workspace, current for the test, cwd outside git."""
    monkeypatch.chdir(tmp_path)
    root = str(tmp_path / "ws")
    with _context.using_workspace(root):
        yield root


def _data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    y = (X["a"] + X["b"] > 0).astype(int).to_numpy()
    return X, y


def _store_bytes(root: str) -> int:
    return sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file())


class TestLogModel:
    def test_sklearn_model_is_a_skops_package_artifact_of_the_run(self, ws: str) -> None:
        """log_model stores a scikit-learn model with skops, its flavor, inferred signature
        and pinned requirements, and the run records the package as artifact ``name``."""
        X, y = _data()
        clf = LogisticRegression().fit(X, y)
        with mk.start_run("clf") as run:
            logged = mk.log_model(clf, "clf", input_example=X.head(3))
        pkg = logged.package
        assert pkg.format == "skops"
        assert pkg.manifest.flavor == "sklearn.linear_model._logistic.LogisticRegression"
        assert pkg.signature is not None
        assert [c.name for c in pkg.signature.inputs.columns] == ["a", "b"]
        assert pkg.signature.outputs is not None
        assert "scikit-learn" in pkg.requirements
        assert run.artifacts["clf"] == logged.artifact
        assert logged.artifact.digest == pkg.digest
        assert logged.uri == f"runs:/{run.run_id}/clf"
        back = mk.deploy.ModelPackage.load(run.artifacts["clf"].digest).load_model()
        np.testing.assert_array_equal(back.predict(X), clf.predict(X))

    def test_numpy_weights_and_plain_objects_take_their_formats(self, ws: str) -> None:
        """A weight array is stored as .npy; an object with predict as a pickle."""
        with mk.start_run("fmt"):
            w = mk.log_model(np.ones((2, 1)), "weights")
            p = mk.log_model(Doubler(), "doubler")
        assert w.package.format == "npy"
        assert p.package.format == "pickle"

    def test_without_a_run_it_is_an_error_and_stores_nothing(self, ws: str) -> None:
        """Outside a run log_model raises NoActiveRunError saying how to start one."""
        with pytest.raises(NoActiveRunError, match="start_run"):
            mk.log_model(np.ones(2), "w")
        with pytest.raises(NotFoundError, match="no mlopskit workspace"):  # not even created
            mk.registry.names()

    def test_an_invalid_name_is_refused(self, ws: str) -> None:
        """A model name with '/' is refused before anything is logged."""
        with mk.start_run("bad") as run, pytest.raises(InvalidInputError):
            mk.log_model(np.ones(2), "a/b")
        assert run.artifacts == {}

    def test_run_argument_logs_to_a_run_that_is_not_active(self, ws: str) -> None:
        """run= logs to a stored run's handle."""
        with mk.start_run("later") as run:
            pass
        mk.log_model(np.ones(3), "w", run=mk.get_run(run.run_id))
        assert "w" in mk.get_run(run.run_id).artifacts


class TestRegisterFromRun:
    def test_register_reuses_the_logged_bytes_and_loads(self, ws: str) -> None:
        """register(name, 'runs:/<id>/<name>') copies no model bytes: the version's digest is
        the logged payload's, and registry.load, ModelPackage.from_registry and Predictor
        all predict as the original model."""
        X, y = _data()
        clf = LogisticRegression(C=0.5).fit(X, y)
        with mk.start_run("clf"):
            logged = mk.log_model(clf, "clf", input_example=X.head(3))
        mv = mk.registry.register("clf", logged.uri)
        assert mv.digest == logged.model.digest == logged.package.manifest.model.digest
        assert mv.model == logged.model
        assert mv.run_id == logged.run_id
        assert mv.signature == logged.package.signature
        assert mv.requirements["scikit-learn"] == logged.package.requirements["scikit-learn"]
        expected = clf.predict(X)
        np.testing.assert_array_equal(mk.registry.load("clf/1").predict(X), expected)
        pkg = mk.deploy.ModelPackage.from_registry("clf/1")
        assert pkg.manifest.model == logged.model
        assert pkg.version == "1"
        out = mk.deploy.Predictor("clf/1").predict(X)
        np.testing.assert_array_equal(np.asarray(out).ravel(), expected)

    def test_registering_writes_no_second_copy(self, ws: str) -> None:
        """Registering a logged 2 MB model grows the workspace by records only."""
        weights = np.random.default_rng(1).normal(size=(250_000, 1))
        with mk.start_run("big"):
            logged = mk.log_model(weights, "big")
        before = _store_bytes(ws)
        mv = mk.registry.register("big", logged.uri)
        assert mv.digest == logged.model.digest
        assert _store_bytes(ws) - before < 100_000 < logged.model.size

    def test_lineage_links_the_run_to_the_model(self, ws: str) -> None:
        """The registered version's lineage goes up to the run that logged it."""
        with mk.start_run("lin") as run:
            logged = mk.log_model(np.ones((2, 1)), "w")
        mk.registry.register("w", logged.uri)
        edges = {
            (r.source.id, r.relation, r.target.id)
            for r in mk.lineage("w/1", direction="up").records
        }
        assert (f"run:{run.run_id}", "registered", "model:w/1") in edges

    def test_numpy_and_pickle_models_load_from_the_registry(self, ws: str) -> None:
        """A logged weight array and a logged pickle load back from their versions."""
        with mk.start_run("fmt"):
            w = mk.log_model(np.arange(4.0).reshape(2, 2), "w")
            d = mk.log_model(Doubler(), "d")
        mk.registry.register("w", w.uri)
        mk.registry.register("d", d.uri)
        np.testing.assert_array_equal(mk.registry.load("w/1"), np.arange(4.0).reshape(2, 2))
        assert mk.registry.load("d/1").predict([[1.0, 2.0]]).tolist() == [6.0]
        assert mk.deploy.Predictor("w/1").predict([[1.0, 1.0]]) is not None

    def test_an_onnx_model_registers_as_a_file_and_serves(self, ws: str) -> None:
        """A logged ONNX model registers as the file model.onnx (registry.load gives its
        path) and a Predictor runs it with onnxruntime."""
        skl2onnx = pytest.importorskip("skl2onnx")
        pytest.importorskip("onnxruntime")
        from skl2onnx.common.data_types import FloatTensorType

        X, y = _data()
        clf = LogisticRegression().fit(X.to_numpy(np.float32), y)
        onx = skl2onnx.convert_sklearn(clf, initial_types=[("X", FloatTensorType([None, 2]))])
        with mk.start_run("onnx"):
            logged = mk.log_model(onx.SerializeToString(), "lr", format="onnx")
        mv = mk.registry.register("lr", logged.uri)
        assert (mv.kind, mv.filename, mv.digest) == ("file", "model.onnx", logged.model.digest)
        assert Path(mk.registry.load("lr/1")).read_bytes() == onx.SerializeToString()
        out = mk.deploy.Predictor("lr/1").predict(X.to_numpy(np.float32))
        np.testing.assert_array_equal(np.asarray(out).ravel(), clf.predict(X.to_numpy(np.float32)))

    def test_unknown_run_is_not_found(self, ws: str) -> None:
        """A run id that does not exist: NotFoundError naming it; nothing registered."""
        with pytest.raises(NotFoundError, match="0" * 32):
            mk.registry.register("m", f"runs:/{'0' * 32}/model")
        assert mk.registry.names() == []

    def test_unknown_artifact_lists_the_logged_models(self, ws: str) -> None:
        """An artifact the run does not have: NotFoundError listing its models."""
        with mk.start_run("x") as run:
            mk.log_model(np.ones(2), "weights")
        with pytest.raises(NotFoundError, match=r"no artifact 'model'.*\['weights'\]"):
            mk.registry.register("m", f"runs:/{run.run_id}/model")

    def test_an_artifact_that_is_not_a_model_is_refused(self, ws: str) -> None:
        """A logged dict is not a model: InvalidInputError saying which artifacts are."""
        with mk.start_run("x") as run:
            mk.log_dict({"a": 1}, "config.json")
            mk.log_model(np.ones(2), "weights")
        with pytest.raises(InvalidInputError, match=r"not a model logged.*\['weights'\]"):
            mk.registry.register("m", f"runs:/{run.run_id}/config.json")
        assert mk.registry.names() == []

    def test_a_malformed_uri_says_the_expected_form(self, ws: str) -> None:
        """'runs:/<id>' without an artifact name is refused with the expected form."""
        with pytest.raises(InvalidInputError, match="runs:/<run_id>/<artifact name>"):
            mk.registry.register("m", "runs:/abc")

    def test_a_contradicting_run_argument_is_refused(self, ws: str) -> None:
        """run= naming another run than the URI's is an error, not a silent choice."""
        with mk.start_run("x") as run:
            logged = mk.log_model(np.ones(2), "w")
        with pytest.raises(InvalidInputError, match=run.run_id):
            mk.registry.register("w", logged.uri, run="f" * 32)


class TestRegisterAutologged:
    def test_an_autologged_model_registers_from_its_run(self, ws: str) -> None:
        """mk.autolog's model.skops artifact registers from runs:/ without a copy and loads
        as the fitted estimator."""
        X, y = _data()
        mk.autolog()
        try:
            clf = LogisticRegression().fit(X, y)
        finally:
            mk.autolog(disable=True)
        run_id = mk.search_runs()["run_id"].iloc[0]
        artifact = mk.get_run(run_id).tags["mlopskit.autolog.model"]
        assert artifact == "model.skops"
        mv = mk.registry.register("auto", f"runs:/{run_id}/{artifact}")
        assert mv.digest == mk.get_run(run_id).artifacts[artifact].digest
        assert "scikit-learn" in mv.requirements
        np.testing.assert_array_equal(mk.registry.load("auto/1").predict(X), clf.predict(X))
        out = mk.deploy.Predictor("auto/1").predict(X)
        np.testing.assert_array_equal(np.asarray(out).ravel(), clf.predict(X))

    def test_an_autologged_pickle_registers_when_skops_is_missing(self, ws: str) -> None:
        """Without skops autolog stores the estimator pickled and tags it: that artifact
        registers too, and loads (this store wrote the pickle)."""
        X, y = _data()
        clf = LogisticRegression().fit(X, y)
        with mk.start_run("nosk") as run:  # what autolog's fallback records
            run.log_artifact(clf, name="model")
            run.set_tag("mlopskit.autolog.model", "model")
            run.log_artifact(Doubler(), name="other")  # a pickle nobody tagged: not a model
        mv = mk.registry.register("nosk", f"runs:/{run.run_id}/model")
        assert "scikit-learn" in mv.requirements
        np.testing.assert_array_equal(mk.registry.load("nosk/1").predict(X), clf.predict(X))
        with pytest.raises(InvalidInputError, match=r"logged models: \['model'\]"):
            mk.registry.register("nosk", f"runs:/{run.run_id}/other")

    def test_a_file_named_skops_that_is_not_one_is_refused(self, ws: str) -> None:
        """A '.skops' artifact holding other bytes is InvalidInputError, nothing registered."""
        with mk.start_run("fake") as run:
            mk.log_artifact(b"not a zip", name="model.skops")
        with pytest.raises(InvalidInputError, match="not a skops archive"):
            mk.registry.register("m", f"runs:/{run.run_id}/model.skops")
        assert mk.registry.names() == []


class TestOnS3:
    def test_log_register_and_load_on_an_s3_workspace(self, s3_url: str) -> None:
        """On S3 (moto), a model logged to a run registers from runs:/ without a copy, also
        through a Registry bound to the store, and loads back."""
        X, y = _data()
        clf = LogisticRegression().fit(X, y)
        with _context.using_workspace(s3_url):
            with mk.start_run("s3", capture_env=False):
                logged = mk.log_model(clf, "clf", input_example=X.head(2))
            mv = mk.registry.register("clf", logged.uri)
            assert mv.digest == logged.model.digest
            bound = mk.registry.Registry(mk.ArtifactStore(s3_url))
            mv2 = bound.register("clf", logged.uri)
            assert (mv2.number, mv2.digest) == (2, mv.digest)
            np.testing.assert_array_equal(mk.registry.load("clf/2").predict(X), clf.predict(X))
