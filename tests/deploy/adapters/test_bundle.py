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
    """A package made from "name/1" records each export as an ``export`` event of the
    model's history (who, when, target, path, package digest) and, once, as a lineage edge
    from the package."""
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
    pkg.to("sagemaker", tmp_path / "sm2")
    exports = [e for e in reg.history("lr") if e.action == "export"]
    assert [(e.target, e.path, e.package, e.to_version) for e in exports] == [
        ("sagemaker", str(tmp_path / "sm"), pkg.digest, 1),
        ("sagemaker", str(tmp_path / "sm2"), pkg.digest, 1),
    ]
    assert all(e.user and e.time.tzinfo is not None for e in exports)
    assert reg.history("lr")[0].action == "register"
    assert not [e for e in reg.history("lr", "champion") if e.action == "export"]
    edges = edges_from(store, pkg.digest)
    deployed = [e.output for e in edges if e.relation == "deployed" and e.output]
    assert [(d.kind, d.label) for d in deployed] == [("deployment", f"sagemaker-{pkg.name}")]


def test_export_of_a_package_without_a_version_is_in_its_export_log(tmp_path: Path) -> None:
    """A package made straight from a model records every export (target, path, who, when)
    in its own export log, and its lineage edge to the deployment once."""
    from mlopskit.store import ArtifactStore
    from mlopskit.versioning import edges_from

    store = ArtifactStore(tmp_path / "store")
    pkg = ModelPackage.from_model(np.ones(3), name="w", store=store)
    for i in range(3):
        pkg.to("docker", tmp_path / f"ctx{i}")
    log = store.refs.history(f"deploy/exports/w/{pkg.digest.replace(':', '-')}")
    assert [(r.meta["target"], r.meta["path"]) for r in log] == [
        ("docker", str(tmp_path / f"ctx{i}")) for i in range(3)
    ]
    assert all(r.target is not None and r.target.digest == pkg.digest for r in log)
    assert all(r.user for r in log)
    deployed = [e for e in edges_from(store, pkg.digest) if e.relation == "deployed"]
    assert len(deployed) == 1


def test_export_event_for_an_unknown_version_is_refused(tmp_path: Path) -> None:
    """Registry.record_export of a version that does not exist is NotFoundError and writes
    nothing to the model's history."""
    from mlopskit.registry import Registry
    from mlopskit.store import ArtifactStore

    store = ArtifactStore(tmp_path / "store")
    reg = Registry(store)
    reg.register("w", np.ones(3), run=None)
    pkg_ref = store.put_record({"any": "record"})
    with pytest.raises(NotFoundError, match="no version 7"):
        reg.record_export("w", 7, target="docker", path="/x", package=pkg_ref)
    assert [e.action for e in reg.history("w")] == ["register"]


def test_damaged_export_event_is_an_integrity_error(tmp_path: Path) -> None:
    """An export record whose fields were altered in the store reads as IntegrityError
    naming the ref, never as a wrong event."""
    from mlopskit.registry import Registry
    from mlopskit.store import ArtifactStore

    store = ArtifactStore(tmp_path / "store")
    reg = Registry(store)
    reg.register("w", np.ones(3), run=None)
    pkg_ref = store.put_record({"any": "record"})
    event = reg.record_export("w", 1, target="docker", path="/ctx", package=pkg_ref)
    assert (event.action, event.target, event.path, event.to_version) == (
        "export",
        "docker",
        "/ctx",
        1,
    )
    (log_file,) = [p for p in (tmp_path / "store").rglob("*.json") if "exports" in p.as_posix()]
    raw = json.loads(log_file.read_text())
    raw["meta"]["version"] = "one"
    log_file.write_text(json.dumps(raw))
    store = ArtifactStore(tmp_path / "store")
    with pytest.raises(IntegrityError, match="models/w/exports"):
        Registry(store).history("w")
