"""Batch scoring beyond one machine: Predictor.predict over a Dask DataFrame on a real cluster."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlopskit.deploy import ModelPackage, Predictor
from mlopskit.store import ArtifactStore

pytestmark = pytest.mark.slow  # a 2-process cluster: tens of seconds on a shared 2-core box

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")


def _workers_holding_predictors() -> int:
    from mlopskit.deploy import _predictor

    return len(_predictor._WORKER)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Two worker processes (not threads): each must load the package from the store itself."""
    with (
        distributed.LocalCluster(
            processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture
def package(tmp_path: Any, sk_model: Any, churn_data: Any) -> ModelPackage:
    X, _ = churn_data
    store = ArtifactStore(tmp_path / "store")
    return ModelPackage.from_model(sk_model, name="churn", store=store, input_example=X.head(5))


def _big(n: int = 5000) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame(rng.normal(size=(n, 4)), columns=["f0", "f1", "f2", "f3"])


class TestDask:
    def test_dask_predictions_equal_pandas(
        self, client: Any, package: ModelPackage, sk_model: Any
    ) -> None:
        """Scoring 8 partitions on 2 worker processes gives exactly the pandas predictions."""
        frame = _big()
        ddf = dd.from_pandas(frame, npartitions=8)
        pred = Predictor(package)
        lazy = pred.predict(ddf)
        assert lazy.dtype == np.int64 and lazy.name == "predict"  # meta from the signature
        got = lazy.compute()
        pd.testing.assert_index_equal(got.index, frame.index)
        assert np.array_equal(got.to_numpy(), sk_model.predict(frame))
        assert np.array_equal(got.to_numpy(), pred.predict(frame))

    def test_package_loaded_once_per_worker(self, client: Any, package: ModelPackage) -> None:
        """Each worker process loads the package once, however many partitions it scores."""
        client.run(_clear_worker_cache)
        Predictor(package).predict(dd.from_pandas(_big(), npartitions=16)).compute()
        held = client.run(_workers_holding_predictors)
        assert set(held.values()) <= {0, 1} and sum(held.values()) >= 1

    def test_predict_proba_is_a_frame(
        self, client: Any, package: ModelPackage, sk_model: Any
    ) -> None:
        """A 2-D output (predict_proba) comes back as a Dask DataFrame equal to pandas."""
        frame = _big(2000)
        got = Predictor(package).predict(
            dd.from_pandas(frame, npartitions=4), method="predict_proba"
        )
        assert list(got.columns) == ["predict_proba_0", "predict_proba_1"]
        assert np.allclose(got.compute().to_numpy(), sk_model.predict_proba(frame))

    def test_schema_errors_surface(self, client: Any, package: ModelPackage) -> None:
        """A partition that does not fit the signature raises the SchemaError on compute."""
        from mlopskit.errors import SchemaError

        bad = dd.from_pandas(_big(100).drop(columns=["f2"]), npartitions=2)
        with pytest.raises(SchemaError, match="f2"):
            Predictor(package).predict(bad).compute()


def _clear_worker_cache() -> None:
    from mlopskit.deploy import _predictor

    _predictor._WORKER.clear()
