"""The chain data → @versioned step → run → model → package → deployment → prediction
never breaks (issue 11, second point), and the walk renders as frame, text and HTML."""

from __future__ import annotations

from typing import Any

import pandas as pd

import mlopskit as mk
from mlopskit.tracking import start_run
from mlopskit.versioning import Endpoint, LineageEdge, record_edge


def _ids(g: Any) -> set[str]:
    """The recorded nodes of a walk (without the files tracking logged for a run)."""
    return {n.id for n in g.nodes if n.kind != "artifact"}


def _edges(g: Any) -> set[tuple[str, str, str]]:
    return {(r.source.id, r.relation, r.target.id) for r in g.records}


def _readme_workflow() -> dict[str, Any]:
    """The README quickstart: a dataset, a @versioned step outside the run, a @track run."""
    raw = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    data = mk.datasets.commit("events", raw, message="nightly export")

    @mk.versioned
    def features(df: pd.DataFrame) -> pd.DataFrame:
        return df.assign(x2=df["x"] ** 2)

    runs: list[str] = []

    @mk.track(experiment="demo")
    def train(df: pd.DataFrame, alpha: float = 0.1) -> dict[str, float]:
        mk.log_input(data)
        runs.append(mk.active_run().run_id)
        mk.registry.register("demo-model", {"alpha": alpha})
        return {"score": float(df["x2"].mean()) * alpha}

    train(features(mk.datasets.load("events")))
    (call,) = features.versions()
    return {
        "data": data,
        "run": f"run:{runs[0]}",
        "step": mk.lineage(call).root.id,
    }


class TestReadmeChain:
    def test_the_model_reaches_the_step_and_the_dataset_through_the_run(
        self, ws: mk.Workspace
    ) -> None:
        """Up from the model: model ← run ← @versioned step ← dataset, each edge present."""
        w = _readme_workflow()
        g = mk.lineage("demo-model/1", direction="up")
        edges = _edges(g)
        assert (w["run"], "registered", "model:demo-model/1") in edges
        assert (w["step"], "used", w["run"]) in edges  # the @track argument
        assert ("dataset:events/1", "derived", w["step"]) in edges
        assert ("dataset:events/1", "used", w["run"]) in edges  # mk.log_input
        assert _ids(g) == {"model:demo-model/1", w["run"], w["step"], "dataset:events/1"}

    def test_walking_down_from_the_dataset_finds_the_run_and_the_model(
        self, ws: mk.Workspace
    ) -> None:
        """Down from the dataset: the step, the run that used it, the model it registered."""
        w = _readme_workflow()
        g = mk.lineage(w["data"], direction="down")
        assert {w["step"], w["run"], "model:demo-model/1"} <= _ids(g)

    def test_down_and_up_agree(self, ws: mk.Workspace) -> None:
        """Every node below the dataset has the dataset above it."""
        w = _readme_workflow()
        for node in mk.lineage(w["data"], direction="down").nodes:
            if node.kind != "artifact" and node.id != "dataset:events/1":
                assert "dataset:events/1" in _ids(mk.lineage(node.id, direction="up"))


class TestRunInputs:
    def test_log_input_alone_is_found_walking_down(self, ws: mk.Workspace) -> None:
        """A run that only called log_input is found from the dataset (the reverse index)."""
        dv = mk.datasets.commit("t", pd.DataFrame({"a": [1]}))
        with start_run(experiment="e") as run:
            run.log_input(dv)
        assert f"run:{run.run_id}" in _ids(mk.lineage(dv, direction="down"))

    def test_loading_a_model_inside_a_run_makes_it_an_input(self, ws: mk.Workspace) -> None:
        """registry.load inside a run records the model version as used by the run."""
        mk.registry.register("base", {"w": 1})
        with start_run(experiment="e") as run:
            mk.registry.load("base/1")
            mk.registry.register("tuned", {"w": 2})
        g = mk.lineage("tuned/1", direction="up")
        assert ("model:base/1", "used", f"run:{run.run_id}") in _edges(g)

    def test_a_cache_hit_in_another_run_is_used_by_that_run(self, ws: mk.Workspace) -> None:
        """An identical re-run hits the @versioned cache; the second run still uses the step."""

        @mk.versioned
        def double(x: list[int]) -> list[int]:
            return [2 * v for v in x]

        with start_run(experiment="e") as a:
            double([1, 2])
        with start_run(experiment="e") as b:
            double([1, 2])
        (call,) = double.versions()
        g = mk.lineage(call, direction="down")
        assert {f"run:{a.run_id}", f"run:{b.run_id}"} <= _ids(g)


class TestProvenanceOfPlainObjects:
    def test_a_dict_returned_by_a_step_links_the_model_registered_from_it(
        self, ws: mk.Workspace
    ) -> None:
        """A dict (not weak-referenceable) returned by @versioned is still known as the
        step's output when registered, outside any run."""
        mk.datasets.commit("c", pd.DataFrame({"x": [1.0, 3.0]}))

        @mk.versioned
        def fit(df: pd.DataFrame) -> dict[str, float]:
            return {"mean": float(df["x"].mean())}

        mv = mk.registry.register("churn", fit(mk.datasets.load("c/1")))
        g = mk.lineage(mv, direction="up")
        assert {n.kind for n in g.upstream()} == {"versioned", "dataset"}

    def test_long_step_names_make_valid_refs(self, ws: mk.Workspace) -> None:
        """A node id longer than a file name allows is still recorded and walked."""
        long = Endpoint(kind="deployment", label="d" * 400)
        dv = mk.datasets.commit("c", pd.DataFrame({"x": [1.0]}))
        record_edge(
            ws.store,
            LineageEdge(relation="deployed", inputs={"d": dv.__mlopskit_node__}, output=long),
        )
        assert long.id in {n.id for n in mk.lineage(dv, direction="down").nodes}
        assert mk.lineage(long.id, direction="up").upstream()[0].id == "dataset:c/1"


class TestDeploymentChain:
    def test_package_deployment_and_prediction_nodes_are_named(self, ws: mk.Workspace) -> None:
        """Edges deployment records with kinds package/deployment/prediction extend the chain
        from a prediction batch back to the dataset, and explain() reads it oldest first."""
        dv = mk.datasets.commit("events", pd.DataFrame({"x": [1.0]}))
        with start_run(experiment="e"):
            mk.datasets.load(dv.uri)
            mv = mk.registry.register("clf", {"w": 1})
        store = ws.store
        pkg = Endpoint(digest="sha256:" + "ab" * 32, kind="package", label="clf")
        dep = Endpoint(kind="deployment", label="prod")
        batch = Endpoint(digest="sha256:" + "cd" * 32, kind="prediction", label="prod-log")
        record_edge(
            store,
            LineageEdge(relation="derived", inputs={"model": mv.__mlopskit_node__}, output=pkg),
        )
        record_edge(store, LineageEdge(relation="deployed", inputs={"package": pkg}, output=dep))
        record_edge(store, LineageEdge(relation="served", inputs={"deployment": dep}, output=batch))
        assert pkg.id == f"package:{pkg.digest}"
        assert batch.id == f"prediction:prod-log/{batch.digest}"
        g = mk.lineage(batch.id, direction="up")
        assert {"dataset:events/1", "model:clf/1", pkg.id, "deployment:prod"} <= _ids(g)
        text = g.explain()
        order = [
            text.index(s)
            for s in ("dataset events/1", "model clf/1", "package clf", "deployment prod")
        ]
        assert order == sorted(order)
        assert "registered from" in text
        assert "dataset events/1 (committed by " in text  # who and when, from the record
        assert "FINISHED" in text  # the run, described from tracking
        assert batch.id in _ids(mk.lineage(dv, direction="down"))
