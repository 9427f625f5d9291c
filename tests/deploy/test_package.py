"""ModelPackage: safe payload formats, content addressing, the trust rule, environments, lineage."""

from __future__ import annotations

import fractions
import warnings
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from mlopskit.deploy import ModelPackage, Predictor
from mlopskit.deploy._package import PackageManifest
from mlopskit.errors import (
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    UntrustedObjectError,
)
from mlopskit.registry import PackageVersionWarning, Registry
from mlopskit.store import ArtifactStore
from mlopskit.versioning import edges_into


class Doubler:
    """A plain object with predict: packaged with cloudpickle under the trust rule."""

    def predict(self, X: Any) -> Any:
        return np.asarray(X, dtype=float).sum(axis=1) * 2


class TestFormats:
    def test_sklearn_is_stored_with_skops(self, file_store: ArtifactStore, sk_model: Any) -> None:
        """A scikit-learn estimator is stored with skops, never pickle, and predicts the same."""
        pkg = ModelPackage.from_model(sk_model, name="churn", store=file_store)
        assert pkg.format == "skops"
        assert pkg.manifest.flavor.endswith("LogisticRegression")
        assert "scikit-learn" in pkg.requirements and "skops" in pkg.requirements
        X = pd.DataFrame(np.ones((3, 4)), columns=["f0", "f1", "f2", "f3"])
        assert (pkg.load_model().predict(X) == sk_model.predict(X)).all()

    def test_same_model_packaged_twice_is_one_object(
        self, file_store: ArtifactStore, churn_data: Any
    ) -> None:
        """Two equal models (fitted separately) give one package digest: skops output is made deterministic."""
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        pytest.importorskip("skops")
        X, y = churn_data

        def fit() -> Any:
            return make_pipeline(
                StandardScaler(), RandomForestClassifier(n_estimators=3, random_state=0)
            ).fit(X, y)

        a = ModelPackage.from_model(fit(), name="rf", store=file_store, input_example=X.head(3))
        b = ModelPackage.from_model(fit(), name="rf", store=file_store, input_example=X.head(3))
        assert a.digest == b.digest
        assert a.manifest.model.digest == b.manifest.model.digest
        assert len(ModelPackage.list("rf", store=file_store)) == 1

    def test_numpy_weights_are_npy(self, file_store: ArtifactStore) -> None:
        """A weight array is stored as plain .npy and served as X @ W."""
        pkg = ModelPackage.from_model(np.array([1.0, -1.0]), name="lin", store=file_store)
        assert pkg.format == "npy"
        assert pkg.payload_bytes()[:6] == b"\x93NUMPY"
        assert Predictor(pkg).predict(np.array([[3.0, 1.0]])).tolist() == [2.0]

    def test_onnx_model_runs_with_onnxruntime(
        self, file_store: ArtifactStore, sk_model: Any, churn_data: Any
    ) -> None:
        """An ONNX model given by the user is stored as its bytes and run with onnxruntime."""
        pytest.importorskip("onnxruntime")
        skl2onnx = pytest.importorskip("skl2onnx")
        from skl2onnx.common.data_types import FloatTensorType

        X, _ = churn_data
        onx = skl2onnx.convert_sklearn(sk_model, initial_types=[("X", FloatTensorType([None, 4]))])
        pkg = ModelPackage.from_model(onx, name="onnx", store=file_store)
        assert pkg.format == "onnx"
        got = Predictor(pkg).predict(X.to_numpy(dtype="float32"))
        assert (np.asarray(got) == sk_model.predict(X)).mean() > 0.99

    def test_plain_object_is_pickled_and_trusted_here(self, file_store: ArtifactStore) -> None:
        """An object with predict is stored with cloudpickle and loads because this store wrote it."""
        pkg = ModelPackage.from_model(Doubler(), name="dbl", store=file_store)
        assert pkg.format == "pickle"
        assert Predictor(pkg).predict([[1.0, 2.0]]).tolist() == [6.0]

    def test_object_without_predict_is_refused(self, file_store: ArtifactStore) -> None:
        """Packaging something that cannot predict is an InvalidInputError that names its type."""
        with pytest.raises(InvalidInputError, match="dict"):
            ModelPackage.from_model({"a": 1}, name="x", store=file_store)

    def test_unknown_format_is_refused(self, file_store: ArtifactStore) -> None:
        """A format name that does not exist is refused with the list of formats."""
        with pytest.raises(InvalidInputError, match="format") as err:
            ModelPackage.from_model(Doubler(), name="x", store=file_store, format="joblib")
        assert "skops" in err.value.expected


class TestTrust:
    def _foreign_pickle_package(self, store: ArtifactStore) -> str:
        """A package whose payload is a pickle this store did not write (put as raw bytes)."""
        ref = store.put_bytes(
            cloudpickle.dumps(Doubler()), media_type="application/vnd.mlopskit.cloudpickle"
        )
        manifest = PackageManifest(
            name="foreign", model=ref, format="pickle", flavor="Doubler", python_version="3.11.7"
        )
        return store.put_record(manifest.model_dump(mode="json"), links=[ref]).digest

    def test_foreign_pickle_is_refused_unless_trusted(self, file_store: ArtifactStore) -> None:
        """A pickle payload not written by this store loads only with trusted=True."""
        digest = self._foreign_pickle_package(file_store)
        pkg = ModelPackage.load(digest, store=file_store)
        with pytest.raises(UntrustedObjectError):
            pkg.load_model(warn=False)
        assert Predictor(pkg, trusted=True).predict([[1.0]]).tolist() == [2.0]

    def test_skops_with_foreign_types_is_refused_unless_trusted(
        self, file_store: ArtifactStore, churn_data: Any
    ) -> None:
        """A skops file holding types beyond sklearn/numpy/scipy needs trusted=True to load."""
        from sklearn.linear_model import LogisticRegression

        X, y = churn_data
        model = LogisticRegression().fit(X, y)
        model.note_ = fractions.Fraction(1, 3)
        pkg = ModelPackage.from_model(model, name="odd", store=file_store)
        with pytest.raises(UntrustedObjectError, match=r"fractions\.Fraction"):
            pkg.load_model(warn=False)
        assert pkg.load_model(trusted=True, warn=False).note_ == fractions.Fraction(1, 3)

    def test_functions_that_would_run_on_requests_are_refused(
        self, file_store: ArtifactStore
    ) -> None:
        """A pipeline calling builtins.eval on its input does not load without trusted=True."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer

        model = make_pipeline(FunctionTransformer(eval), LogisticRegression())
        pkg = ModelPackage.from_model(model, name="evil", store=file_store)
        with pytest.raises(UntrustedObjectError, match=r"builtins\.eval"):
            Predictor(pkg)

    def test_sklearn_internals_are_trusted(
        self, file_store: ArtifactStore, churn_data: Any
    ) -> None:
        """Tree models (whose internals skops does not list) load without trusted=True."""
        from sklearn.ensemble import RandomForestClassifier

        X, y = churn_data
        model = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
        pred = Predictor(ModelPackage.from_model(model, name="rf", store=file_store))
        assert np.array_equal(pred.predict(X), model.predict(X))

    def test_an_imputing_pipeline_loads_without_trust(
        self, file_store: ArtifactStore, churn_data: Any
    ) -> None:
        """A pipeline with SimpleImputer (it keeps a numpy.dtype) loads without trusted=True."""
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        X, y = churn_data
        model = make_pipeline(SimpleImputer(), LogisticRegression(max_iter=500)).fit(X, y)
        pred = Predictor(ModelPackage.from_model(model, name="imputed", store=file_store))
        assert np.array_equal(pred.predict(X), model.predict(X))


class TestManifest:
    def test_signature_and_outputs_come_from_the_example(
        self, file_store: ArtifactStore, sk_model: Any, churn_data: Any
    ) -> None:
        """The input example gives the input signature and, by predicting it, the outputs."""
        X, _ = churn_data
        pkg = ModelPackage.from_model(sk_model, name="c", store=file_store, input_example=X.head(5))
        assert [c.name for c in pkg.signature.inputs.columns] == list(X.columns)
        assert pkg.signature.outputs.tensor.dtype == "int64"
        pd.testing.assert_frame_equal(pkg.input_example(), X.head(5))

    def test_reference_profile_is_stored(
        self, file_store: ArtifactStore, sk_model: Any, churn_data: Any
    ) -> None:
        """Training data given as reference is stored as a drift profile with the package."""
        X, _ = churn_data
        pkg = ModelPackage.from_model(sk_model, name="c", store=file_store, reference=X)
        prof = pkg.reference()
        assert prof is not None and prof.rows == len(X)
        assert sorted(prof.columns) == sorted(X.columns)

    def test_load_by_digest_round_trips(self, file_store: ArtifactStore) -> None:
        """A package read back by digest (or package: URI) equals the one stored."""
        pkg = ModelPackage.from_model(Doubler(), name="dbl", store=file_store)
        assert ModelPackage.load(pkg.digest, store=file_store) == pkg
        assert ModelPackage.load(pkg.uri, store=file_store).manifest == pkg.manifest

    def test_unknown_digest_is_not_found(self, file_store: ArtifactStore) -> None:
        """Loading a digest the store does not hold is a NotFoundError naming it."""
        with pytest.raises(NotFoundError):
            ModelPackage.load("sha256:" + "0" * 64, store=file_store)

    def test_a_record_that_is_not_a_package(self, file_store: ArtifactStore) -> None:
        """A digest of some other record is an IntegrityError, not a half-built package."""
        other = file_store.put_record({"kind": "something else"})
        with pytest.raises(IntegrityError, match="not a model package"):
            ModelPackage.load(other.digest, store=file_store)

    def test_damaged_manifest(self, file_store: ArtifactStore) -> None:
        """A package record with missing fields is an IntegrityError naming the digest."""
        bad = file_store.put_record({"kind": "mlopskit.package", "name": "x"})
        with pytest.raises(IntegrityError, match=bad.digest):
            ModelPackage.load(bad.digest, store=file_store)

    def test_stored_name_that_escapes_is_damage(self, file_store: ArtifactStore) -> None:
        """A stored package whose name could escape a path is an IntegrityError when read."""
        good = ModelPackage.from_model(Doubler(), name="dbl", store=file_store)
        payload = good.manifest.model_dump(mode="json") | {"name": "../../etc"}
        bad = file_store.put_record(payload)
        with pytest.raises(IntegrityError, match=bad.digest):
            ModelPackage.load(bad.digest, store=file_store)

    def test_invalid_name(self, file_store: ArtifactStore) -> None:
        """A name that could escape a ref path is refused."""
        with pytest.raises(InvalidInputError):
            ModelPackage.from_model(Doubler(), name="../x", store=file_store)


class TestEnvironment:
    def test_matching_environment_is_empty(self, file_store: ArtifactStore, sk_model: Any) -> None:
        """A package made in this interpreter has no environment differences."""
        pkg = ModelPackage.from_model(sk_model, name="c", store=file_store)
        assert pkg.check_environment() == {}

    def test_differences_are_listed_and_warned(self, file_store: ArtifactStore) -> None:
        """Recorded pins that differ from the running versions are listed and warned on load."""
        pkg = ModelPackage.from_model(
            Doubler(),
            name="dbl",
            store=file_store,
            requirements={"numpy": "0.0.1", "surely-not-installed-dist": "1.0"},
        )
        diff = pkg.check_environment()
        assert diff["numpy"] == ("0.0.1", np.__version__)
        assert diff["surely-not-installed-dist"] == ("1.0", None)
        with pytest.warns(PackageVersionWarning, match=r"numpy 0\.0\.1") as rec:
            pkg.load_model()
        assert rec[0].message.diff == diff  # type: ignore[union-attr]


class TestFromRegistry:
    def _registered(self, store: ArtifactStore, sk_model: Any, X: pd.DataFrame) -> Registry:
        reg = Registry(store)
        reg.register("churn", sk_model, input_example=X.head(3))
        reg.set_alias("churn", "champion", 1)
        return reg

    def test_package_of_alias(
        self, file_store: ArtifactStore, sk_model: Any, churn_data: Any
    ) -> None:
        """A package made from ``name@alias`` records its source version and predicts like the model."""
        X, _ = churn_data
        self._registered(file_store, sk_model, X)
        pkg = ModelPackage.from_registry("churn@champion", store=file_store)
        assert pkg.version == "1" and pkg.manifest.source.name == "churn"
        assert pkg.format == "skops"
        assert (Predictor(pkg).predict(X) == sk_model.predict(X)).all()

    def test_second_packaging_reuses_the_package(
        self, file_store: ArtifactStore, sk_model: Any, churn_data: Any
    ) -> None:
        """Packaging a version again (and every Predictor of its URI) reuses the stored package."""
        X, _ = churn_data
        self._registered(file_store, sk_model, X)
        first = ModelPackage.from_registry("churn/1", store=file_store)
        again = ModelPackage.from_registry("churn@champion", store=file_store)
        assert again.digest == first.digest
        assert Predictor("churn@champion", store=file_store).digest == first.digest

    def test_lineage_edge_model_version_to_package(
        self, file_store: ArtifactStore, sk_model: Any, churn_data: Any
    ) -> None:
        """Packaging records a lineage edge from the model version to the package."""
        X, _ = churn_data
        reg = self._registered(file_store, sk_model, X)
        pkg = ModelPackage.from_registry("churn/1", store=file_store)
        (edge,) = edges_into(file_store, pkg.digest)
        assert edge.relation == "derived"
        assert edge.inputs["model"].digest == reg.get("churn/1").digest
        assert edge.inputs["model"].label == "churn/1"

    def test_reference_given_later_replaces_the_version_package(
        self, file_store: ArtifactStore, sk_model: Any, churn_data: Any
    ) -> None:
        """Packaging with reference= makes that package the version's package from then on."""
        X, _ = churn_data
        self._registered(file_store, sk_model, X)
        plain = ModelPackage.from_registry("churn/1", store=file_store)
        with_ref = ModelPackage.from_registry("churn/1", store=file_store, reference=X)
        assert with_ref.digest != plain.digest
        assert ModelPackage.from_registry("churn@champion", store=file_store) == with_ref
        assert with_ref.reference() is not None

    def test_registered_onnx_file(
        self, file_store: ArtifactStore, sk_model: Any, churn_data: Any, tmp_path: Path
    ) -> None:
        """A model registered as an .onnx file is packaged as ONNX and served by onnxruntime."""
        pytest.importorskip("onnxruntime")
        skl2onnx = pytest.importorskip("skl2onnx")
        from skl2onnx.common.data_types import FloatTensorType

        X, _ = churn_data
        onx = skl2onnx.convert_sklearn(sk_model, initial_types=[("X", FloatTensorType([None, 4]))])
        path = tmp_path / "churn.onnx"
        path.write_bytes(onx.SerializeToString())
        Registry(file_store).register("onnx-churn", path)
        pkg = ModelPackage.from_registry("onnx-churn/1", store=file_store)
        assert pkg.format == "onnx" and pkg.version == "1"
        got = Predictor(pkg).predict(X.to_numpy(dtype="float32"))
        assert (np.asarray(got) == sk_model.predict(X)).mean() > 0.99

    def test_registered_file_that_is_not_a_model(
        self, file_store: ArtifactStore, tmp_path: Path
    ) -> None:
        """A registered file that is no ONNX model is an InvalidInputError, not a crash."""
        pytest.importorskip("onnxruntime")
        path = tmp_path / "notes.txt"
        path.write_text("not a model")
        Registry(file_store).register("notes", path)
        with pytest.raises(InvalidInputError, match="not an ONNX model"):
            ModelPackage.from_registry("notes/1", store=file_store)

    def test_unknown_alias(self, file_store: ArtifactStore) -> None:
        """A URI naming nothing is a NotFoundError."""
        with pytest.raises(NotFoundError):
            ModelPackage.from_registry("nope@champion", store=file_store)


@pytest.mark.s3
def test_package_and_predict_on_s3(s3_bucket: str, sk_model: Any, churn_data: Any) -> None:
    """A package stored on S3 (moto on 127.0.0.1) loads, verifies and predicts the same."""
    X, _ = churn_data
    store = ArtifactStore(f"s3://{s3_bucket}/ws", cache=False)
    pkg = ModelPackage.from_model(sk_model, name="churn", store=store, input_example=X.head(3))
    fresh = ArtifactStore(f"s3://{s3_bucket}/ws", cache=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pred = Predictor(pkg.digest, store=fresh)
    assert (pred.predict(X) == sk_model.predict(X)).all()


class TestPublicSurface:
    def test_all_is_the_lazy_map_and_resolves(self) -> None:
        """mlopskit.deploy's __all__ is sorted, equals its lazy map, and every name loads."""
        import mlopskit
        import mlopskit.deploy as deploy

        assert deploy.__all__ == sorted(deploy._LAZY)
        for name in deploy.__all__:
            assert getattr(deploy, name) is not None
        assert mlopskit.deploy is deploy

    def test_import_is_cheap(self) -> None:
        """Importing mlopskit.deploy loads neither pandas, scikit-learn nor starlette."""
        import subprocess
        import sys

        code = (
            "import sys, mlopskit.deploy\n"
            "heavy = [m for m in ('pandas', 'sklearn', 'starlette', 'skops') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
