"""Predictor: loads once, validates every input shape against the signature, predicts."""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlopskit.deploy import ModelPackage, Predictor
from mlopskit.deploy._codec import encode_mlflow_request, encode_v2_request
from mlopskit.deploy._predictor import clear_cache
from mlopskit.errors import InvalidInputError, SchemaError
from mlopskit.registry import Registry
from mlopskit.store import ArtifactStore


@pytest.fixture
def churn_pkg(file_store: ArtifactStore, sk_model: Any, churn_data: Any) -> ModelPackage:
    X, _ = churn_data
    return ModelPackage.from_model(
        sk_model, name="churn", store=file_store, input_example=X.head(5)
    )


class TestInputs:
    def test_every_input_form_predicts_the_same(
        self, churn_pkg: ModelPackage, sk_model: Any, churn_data: Any
    ) -> None:
        """DataFrame, dict, records, rows, numpy, CSV, MLflow JSON and OIP V2 give the model's answer."""
        X, _ = churn_data
        rows = X.head(20)
        want = sk_model.predict(rows)
        pred = Predictor(churn_pkg)
        forms = [
            rows,
            rows.to_dict(orient="list"),
            rows.to_dict(orient="records"),
            rows.to_numpy().tolist(),
            rows.to_numpy(),
            rows.to_csv(index=False),
            encode_mlflow_request(rows, shape="dataframe_records"),
            encode_v2_request(rows),
        ]
        for form in forms:
            assert (np.asarray(pred.predict(form)) == want).all(), type(form)

    def test_predict_proba(self, churn_pkg: ModelPackage, sk_model: Any, churn_data: Any) -> None:
        """predict_proba is served when asked, per call or per predictor."""
        X, _ = churn_data
        assert np.allclose(
            Predictor(churn_pkg).predict(X, method="predict_proba"), sk_model.predict_proba(X)
        )
        assert np.allclose(
            Predictor(churn_pkg, method="predict_proba").predict(X), sk_model.predict_proba(X)
        )

    def test_schema_error_names_the_column(self, churn_pkg: ModelPackage) -> None:
        """An input missing a column is a SchemaError naming it; the model is never called."""
        with pytest.raises(SchemaError, match="f3") as err:
            Predictor(churn_pkg).predict({"f0": [1.0], "f1": [1.0], "f2": [1.0]})
        assert err.value.column == "f3"

    def test_wrong_type_is_refused(self, churn_pkg: ModelPackage) -> None:
        """Text in a double column is a SchemaError with expected and found."""
        rows = [{"f0": "high", "f1": 1.0, "f2": 1.0, "f3": 1.0}]
        with pytest.raises(SchemaError) as err:
            Predictor(churn_pkg).predict(rows)
        assert (err.value.column, err.value.expected) == ("f0", "double")

    def test_unknown_method(self, churn_pkg: ModelPackage) -> None:
        """A method the model lacks fails at construction, listing the methods it has."""
        with pytest.raises(InvalidInputError, match="predict_proba") as err:
            Predictor(churn_pkg, method="decision_path_x")
        assert err.value.method == "decision_path_x"

    def test_bad_target(self) -> None:
        """Something that is neither a package nor a URI is refused clearly."""
        with pytest.raises(InvalidInputError, match="ModelPackage"):
            Predictor(42)  # type: ignore[arg-type]


class TestModels:
    def test_numpy_fast_path_equals_dataframe_path(
        self, file_store: ArtifactStore, churn_data: Any
    ) -> None:
        """A pipeline served through numpy answers exactly what it answers on a DataFrame."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X, y = churn_data
        model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
        pred = Predictor(ModelPackage.from_model(model, name="p", store=file_store))
        assert np.array_equal(pred.predict(X, method="predict_proba"), model.predict_proba(X))
        assert hasattr(pred.model.steps[0][1], "feature_names_in_")  # the loaded model is intact
        frame = pred.prepare(X)  # what the server's codec hands over
        assert np.array_equal(
            pred.predict_prepared(frame, method="predict_proba"), model.predict_proba(X)
        )
        assert np.array_equal(pred.predict_prepared(frame), model.predict(X))

    def test_a_large_batch_is_checked_for_nulls_and_infinities_as_a_small_one(
        self, churn_pkg: ModelPackage, sk_model: Any, churn_data: Any
    ) -> None:
        """A batch large enough for the single-pass check answers what the model answers,
        and a null or an infinity in it is still refused (SchemaError / the model's error)."""
        X, _ = churn_data
        big = pd.concat([X] * 100, ignore_index=True)  # 40,000 rows x 4: 160,000 values
        pred = Predictor(churn_pkg)
        assert np.array_equal(pred.predict(big), sk_model.predict(big))
        assert np.array_equal(pred.predict_prepared(big), sk_model.predict(big))
        with_null = big.copy()
        with_null.iloc[30_000, 2] = np.nan
        with pytest.raises(SchemaError) as err:
            pred.predict(with_null)
        assert err.value.column == "f2"
        with_inf = big.copy()
        with_inf.iloc[30_000, 1] = np.inf
        with pytest.raises(ValueError, match="infinity"):
            pred.predict(with_inf)
        with pytest.raises(ValueError, match="infinity"):
            pred.predict_prepared(with_inf)

    def test_one_row_is_checked_as_a_large_batch(
        self, churn_pkg: ModelPackage, sk_model: Any, churn_data: Any
    ) -> None:
        """One row answers what the model answers; a null in it is a SchemaError naming
        the column and an infinity the model's own error, by predict and predict_prepared."""
        X, _ = churn_data
        pred = Predictor(churn_pkg)
        for i in range(5):
            row = X.iloc[[i]]
            assert np.array_equal(pred.predict(row), sk_model.predict(row))
            assert np.array_equal(pred.predict_prepared(row), sk_model.predict(row))
        with pytest.raises(SchemaError) as err:
            pred.predict(X.head(1).assign(f3=np.nan))
        assert err.value.column == "f3"
        for call in (pred.predict, pred.predict_prepared):
            with pytest.raises(ValueError, match="infinity"):
                call(X.head(1).assign(f1=np.inf))

    @pytest.mark.parametrize(
        "dtypes",
        [
            {"f0": "int64"},
            {"f1": "float32"},
            {"f2": "object"},
            {"f0": "int64", "f3": "int64"},
            {"f1": "Float64"},
        ],
    )
    def test_other_column_dtypes_take_the_careful_path(
        self, churn_pkg: ModelPackage, sk_model: Any, churn_data: Any, dtypes: dict[str, str]
    ) -> None:
        """A frame whose columns are not all the signature's float64 (ints, float32,
        objects, nullable floats) is never taken for one: the conformer sees the same
        dtypes pandas reports, and the answer is the careful path's."""
        from mlopskit.deploy._codec import Conformer, _dtypes_of

        X, _ = churn_data
        rows = X.head(7).round().astype(dtypes)
        assert _dtypes_of(rows) == rows.dtypes.tolist()
        pred = Predictor(churn_pkg)
        assert Conformer(pred.signature).checked_array(rows) == (None, False)
        want = sk_model.predict(rows.astype("float64"))
        assert np.array_equal(pred.predict(rows), want)

    def test_column_transformer_gets_a_dataframe(self, file_store: ArtifactStore) -> None:
        """A pipeline selecting columns by name (strings, nullable ints) is given a typed DataFrame."""
        from sklearn.compose import make_column_transformer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder

        X = pd.DataFrame({"city": ["a", "b", "c", "a"] * 10, "x": np.arange(40.0)})
        y = np.arange(40) % 2
        model = make_pipeline(
            make_column_transformer((OneHotEncoder(), ["city"]), remainder="passthrough"),
            LogisticRegression(),
        ).fit(X, y)
        pkg = ModelPackage.from_model(model, name="ct", store=file_store, input_example=X.head(4))
        pred = Predictor(pkg, trusted=True)
        got = pred.predict("city,x\na,1.0\nb,2.0\n")
        assert got.tolist() == model.predict(X.head(2).assign(x=[1.0, 2.0])).tolist()

    def test_plain_function(self, file_store: ArtifactStore) -> None:
        """A plain callable is a model: it is called with the conformed frame."""
        frame = pd.DataFrame({"a": [1.0, 2.0]})
        pkg = ModelPackage.from_model(
            lambda df: df["a"] * 10, name="fn", store=file_store, input_example=frame
        )
        assert Predictor(pkg).predict({"a": [3]}).tolist() == [30.0]

    def test_loaded_once_per_process(self, churn_pkg: ModelPackage) -> None:
        """A second Predictor of the same package reuses the loaded model; clearing the cache reloads."""
        first = Predictor(churn_pkg)
        assert Predictor(churn_pkg.digest, store=churn_pkg.store).model is first.model
        clear_cache()
        assert Predictor(churn_pkg).model is not first.model

    def test_threads_share_a_predictor(self, churn_pkg: ModelPackage, churn_data: Any) -> None:
        """Concurrent predictions from 8 threads on one Predictor all get the right answer."""
        X, _ = churn_data
        pred = Predictor(churn_pkg)
        want = pred.predict(X)
        bad: list[int] = []

        def work(i: int) -> None:
            for j in range(20):
                rows = X.iloc[(i * 20 + j) % 300 :][:7]
                if not np.array_equal(pred.predict(rows), want[rows.index]):
                    bad.append(i)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert bad == []


class TestMetadata:
    def test_oip_metadata_of_a_registered_version(
        self, file_store: ArtifactStore, sk_model: Any, churn_data: Any
    ) -> None:
        """metadata() has the OIP V2 model-metadata fields, with the registry version."""
        X, _ = churn_data
        reg = Registry(file_store)
        reg.register("churn", sk_model, input_example=X.head(3))
        reg.set_alias("churn", "champion", 1)
        pred = Predictor("churn@champion", store=file_store)
        meta = pred.metadata()
        assert meta["name"] == "churn" and meta["versions"] == ["1"]
        assert meta["platform"] == "sklearn"
        assert [i["name"] for i in meta["inputs"]] == list(X.columns)
        assert {i["datatype"] for i in meta["inputs"]} == {"FP64"}
        assert meta["outputs"][0]["name"] == "predict"
        assert meta["outputs"][0]["datatype"] == "INT64"
        json.dumps(meta)
        assert pred.ready and pred.version == "1" and pred.name == "churn"
        proba = Predictor("churn@champion", store=file_store, method="predict_proba").metadata()
        assert proba["outputs"] == [{"name": "predict_proba", "shape": [-1, 2], "datatype": "FP64"}]
