"""The bundle every adapter carries: predictions survive the round trip for any rows, the
export is recorded on the registry version it came from, and bad bundles are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from adapter_data import mixed_frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlopskit.deploy import ModelPackage, Predictor
from mlopskit.deploy._targets import load_bundle, write_bundle
from mlopskit.errors import IntegrityError, NotFoundError, UntrustedObjectError


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    from adapter_data import mixed_model

    from mlopskit.store import ArtifactStore

    store = ArtifactStore(tmp_path_factory.mktemp("store"))
    pkg = ModelPackage.from_model(
        mixed_model("multiclass"), name="mc", input_example=mixed_frame(5), store=store
    )
    return Predictor(pkg), load_bundle(write_bundle(pkg, tmp_path_factory.mktemp("b")))


rows = st.lists(
    st.tuples(
        st.floats(-1e6, 1e6, allow_nan=False),
        st.sampled_from(["red", "green", "blue"]),
        st.one_of(st.none(), st.integers(-(2**40), 2**40)),
        st.text(max_size=8),
    ),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows)
def test_bundle_round_trip_predicts_the_same(bundled: tuple[Any, Any], data: list[Any]) -> None:
    """For any rows (numeric, categorical, nullable-int, string), the bundle's Predictor
    answers what the stored package's Predictor answers."""
    frame = pd.DataFrame(data, columns=["x", "color", "count", "city"])
    frame["color"] = pd.Categorical(frame["color"], categories=["blue", "green", "red"])
    frame["count"] = frame["count"].astype("Int64")
    original, from_bundle = bundled
    np.testing.assert_array_equal(from_bundle.predict(frame), original.predict(frame))


def test_npy_and_pickle_payloads(store: Any, tmp_path: Path) -> None:
    """An .npy package round-trips; a pickle bundle needs trusted=True (a file on disk is not
    something this store wrote)."""
    w = ModelPackage.from_model(np.array([2.0, -1.0]), name="w", store=store)
    assert load_bundle(write_bundle(w, tmp_path / "w")).predict([[1.0, 1.0]]).tolist() == [1.0]
    fn = ModelPackage.from_model(lambda X: np.asarray(X).sum(axis=1), name="fn", store=store)
    d = write_bundle(fn, tmp_path / "fn")
    with pytest.raises(UntrustedObjectError):
        load_bundle(d, trusted=False)
    assert load_bundle(d, trusted=True).predict([[1.0, 2.0]]).tolist() == [3.0]


def test_damaged_bundles_are_refused(mixed_package: Any, tmp_path: Path) -> None:
    """No package.json, a damaged one, or a payload name that is a path: clear errors."""
    with pytest.raises(NotFoundError, match=r"package\.json"):
        load_bundle(tmp_path)
    d = write_bundle(mixed_package, tmp_path / "b")
    meta = json.loads((d / "package.json").read_text())
    (d / "package.json").write_text("{not json")
    with pytest.raises(IntegrityError, match="damaged"):
        load_bundle(d)
    meta["payload"] = "../../etc/passwd"
    (d / "package.json").write_text(json.dumps(meta))
    with pytest.raises(IntegrityError, match="payload"):
        load_bundle(d)


def test_export_of_a_registry_package_is_on_the_version(tmp_path: Path) -> None:
    """A package made from "name/1" records each export as the version tag deploy.<target>
    and as a lineage edge from the package."""
    from sklearn.linear_model import LinearRegression

    from mlopskit.registry import Registry
    from mlopskit.store import ArtifactStore
    from mlopskit.versioning import edges_from

    store = ArtifactStore(tmp_path / "store")
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [1.0, 0.0, 1.0]})
    reg = Registry(store)
    reg.register("lr", LinearRegression().fit(X, [0.0, 1.0, 2.0]), input_example=X, run=None)
    pkg = ModelPackage.from_registry("lr/1", store=store)
    pkg.to("sagemaker", tmp_path / "sm")
    tags = reg.get("lr/1").tags
    assert tags["deploy.sagemaker"].split()[0] == pkg.digest
    edges = edges_from(store, pkg.digest)
    deployed = [e.output for e in edges if e.relation == "deployed" and e.output]
    assert [(d.kind, d.label) for d in deployed] == [("deployment", f"sagemaker-{pkg.name}")]
