"""mk.lineage: walking datasets, @versioned outputs, runs and model versions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import mlopskit as mk
from mlopskit import _context
from mlopskit.errors import InvalidInputError, NotFoundError
from mlopskit.lineage import Lineage, lineage
from mlopskit.registry import Registry
from mlopskit.store import ArtifactStore
from mlopskit.versioning import Datasets, versioned


class FakeRun:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.experiment = "exp"


class Model:
    def __init__(self, w: float) -> None:
        self.w = w


@pytest.fixture
def pipeline() -> Iterator[dict[str, Any]]:
    """raw dataset → features (versioned) → train (versioned) → registered model, in a run."""
    store = ArtifactStore(f"memory://lineage-{uuid.uuid4().hex}")
    ds, reg = Datasets(store), Registry(store)
    raw = ds.commit("raw", pd.DataFrame({"x": [1.0, 2.0, 3.0]}))

    @versioned(store=store)
    def features(df: pd.DataFrame) -> pd.DataFrame:
        return df.assign(x2=df["x"] ** 2)

    @versioned(store=store)
    def train(df: pd.DataFrame) -> Model:
        return Model(float(df["x2"].mean()))

    run = FakeRun(f"run{uuid.uuid4().hex[:10]}")
    token = _context.set_active_run(run)
    try:
        feats = features(ds.load("raw"))
        model = train(feats)
        mv = reg.register("clf", model)
    finally:
        _context.reset_active_run(token)
    reg.set_alias("clf", "champion", 1)
    return {"store": store, "raw": raw, "mv": mv, "run": run, "features": features}


class TestWalk:
    def test_upstream_of_a_model_reaches_the_raw_data_and_the_run(
        self, pipeline: dict[str, Any]
    ) -> None:
        """From a model version, walking up finds the steps, the dataset and the run."""
        g = lineage(pipeline["mv"], "up", store=pipeline["store"])
        kinds = {(n.kind, n.label) for n in g.upstream()}
        assert ("dataset", "raw/1") in kinds
        assert ("run", pipeline["run"].run_id) in kinds
        assert {n.kind for n in g.upstream()} >= {"dataset", "versioned", "run"}
        assert all(r.direction == "up" for r in g)

    def test_downstream_of_a_dataset_reaches_the_model(self, pipeline: dict[str, Any]) -> None:
        """From a dataset version, walking down finds the steps and the model built on it."""
        g = lineage(pipeline["raw"], "down", store=pipeline["store"])
        labels = {(n.kind, n.label) for n in g.downstream()}
        assert ("model", "clf/1") in labels
        assert ("run", pipeline["run"].run_id) in labels  # the run used the dataset
        derived = [r for r in g if r.relation == "derived"]
        assert derived
        assert derived[0].function is not None
        assert derived[0].code_hash is not None

    def test_depth_limits_the_walk(self, pipeline: dict[str, Any]) -> None:
        """depth=1 keeps only direct neighbours."""
        g = lineage(pipeline["raw"], "down", depth=1, store=pipeline["store"])
        assert {r.depth for r in g} == {1}
        assert ("model", "clf/1") not in {(n.kind, n.label) for n in g.nodes}

    def test_both_directions_from_a_middle_step(self, pipeline: dict[str, Any]) -> None:
        """From a @versioned output, 'both' finds the dataset upstream and the model downstream."""
        (call,) = pipeline["features"].versions()
        g = lineage(call, store=pipeline["store"])
        assert ("dataset", "raw/1") in {(n.kind, n.label) for n in g.upstream()}
        assert ("model", "clf/1") in {(n.kind, n.label) for n in g.downstream()}


class TestTargets:
    def test_uris_digests_and_runs_are_accepted(self, pipeline: dict[str, Any]) -> None:
        """Strings name datasets, models, runs and digests; all resolve to the same nodes."""
        store = pipeline["store"]
        digest = pipeline["raw"].digest
        for target in ("dataset:raw/1", "raw/1", "raw@latest", digest):
            assert lineage(target, store=store).root.id == digest
        mv = pipeline["mv"]
        for target in ("model:clf@champion", "clf@champion", "models:/clf/1", mv):
            assert lineage(target, store=store).root.id == mv.digest
        run = lineage(f"run:{pipeline['run'].run_id}", store=store)
        assert run.root.kind == "run"
        assert len(run) >= 2

    def test_bad_targets(self, pipeline: dict[str, Any]) -> None:
        """Unknown names and unsupported objects are clear errors."""
        with pytest.raises(NotFoundError):
            lineage("nothing/9", store=pipeline["store"])
        with pytest.raises(InvalidInputError):
            lineage(3.5, store=pipeline["store"])
        with pytest.raises(InvalidInputError):
            lineage(pipeline["raw"], "sideways", store=pipeline["store"])  # type: ignore[arg-type]


class TestRendering:
    def test_frame_mermaid_and_dot(self, pipeline: dict[str, Any]) -> None:
        """A walk renders as a DataFrame, a Mermaid graph and a DOT digraph."""
        g = lineage(pipeline["mv"], store=pipeline["store"])
        frame = g.to_frame()
        assert list(frame.columns[:4]) == ["source_kind", "source", "source_digest", "relation"]
        assert len(frame) == len(g)
        mermaid = g.to_mermaid()
        assert mermaid.startswith("graph LR")
        assert "-->|derived|" in mermaid  # the model is the train step's stored output
        dot = g.to_dot()
        assert dot.startswith("digraph lineage {")
        assert dot.rstrip().endswith("}")
        assert "clf/1" in repr(g)

    def test_an_isolated_node_has_an_empty_lineage(self) -> None:
        """A fresh dataset with no edges has no records, but renders."""
        store = ArtifactStore(f"memory://lineage-{uuid.uuid4().hex}")
        v = Datasets(store).commit("alone", pd.DataFrame({"a": [1]}))
        g = lineage(v, store=store)
        assert isinstance(g, Lineage)
        assert len(g) == 0
        assert g.to_frame().empty
        assert g.to_mermaid().startswith("graph LR")


class TestFacade:
    def test_mk_lineage_is_callable_whichever_way_it_was_imported(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """mk.lineage(x) works, and so does the module mlopskit.lineage called directly."""
        import mlopskit.lineage as lineage_module

        monkeypatch.setenv("MLOPSKIT_HOME", str(tmp_path / "ws"))
        v = mk.datasets.commit("d", pd.DataFrame({"a": [1, 2]}))
        assert len(mk.lineage(v)) == 0
        assert lineage_module(v).root.label == "d/1"

    def test_runs_from_tracking_contribute_inputs_and_artifacts(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A tracked run's logged inputs and artifacts appear around the run node."""
        tracking = pytest.importorskip("mlopskit.tracking")
        monkeypatch.setenv("MLOPSKIT_HOME", str(tmp_path / "ws"))
        v = mk.datasets.commit("train", pd.DataFrame({"a": [1.0, 2.0]}))
        with tracking.start_run(experiment="lineage") as run:
            run.log_input(v)
            ref = mk.current_workspace().store.put_bytes(b"report")
            run.log_artifact(ref, "report.txt")
        g = mk.lineage(f"run:{run.run_id}")
        assert v.digest in {n.digest for n in g.upstream()}
        assert ref.digest in {n.digest for n in g.downstream()}
        # the logged dataset version is the dataset node itself, not an anonymous artifact
        (source,) = [n for n in g.upstream() if n.digest == v.digest]
        assert source.kind == "dataset"
        assert source.label == "train/1"
