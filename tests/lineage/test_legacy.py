"""Stores written by the first lineage layout (edges keyed by content digest, runs' used
edges without an output) still answer, version by version; damaged ones fail clearly.

The layout is built by hand, as ``versioning/_edges.py`` wrote it before nodes had ids
(``git show abc43eb^:src/mlopskit/versioning/_edges.py``)::

    lineage/out/<output digest as sha256-hex>/<edge digest as sha256-hex>
    lineage/in/<input digest as sha256-hex>/<edge digest as sha256-hex>
    lineage/run/<run id>/<edge digest as sha256-hex>
"""

from __future__ import annotations

import uuid
from typing import Any

import pandas as pd
import pytest

from mlopskit import lineage
from mlopskit.errors import IntegrityError
from mlopskit.registry import Registry
from mlopskit.store import ArtifactStore
from mlopskit.versioning import Datasets


class _NoRuns:
    """A tracker that knows no run: the walk reads lineage records only."""

    def get_run(self, run_id: str) -> Any:
        raise KeyError(run_id)


def _seg(digest: str) -> str:
    return digest.replace(":", "-")


def _old_edge(store: ArtifactStore, edge: dict[str, Any]) -> str:
    """Write ``edge`` as the first layout did; returns its out-index ref name (or '')."""
    body = {"schema_version": 1, "function": None, "code_hash": None, "run_id": None, **edge}
    ref = store.put_record(body)
    names = [f"lineage/in/{_seg(e['digest'])}/{_seg(ref.digest)}" for e in body["inputs"].values()]
    out = ""
    if body.get("output"):
        out = f"lineage/out/{_seg(body['output']['digest'])}/{_seg(ref.digest)}"
        names.append(out)
    if body["run_id"]:
        names.append(f"lineage/run/{body['run_id']}/{_seg(ref.digest)}")
    for name in names:
        store.refs.set(name, ref, expected=None)
    return out


@pytest.fixture
def old_store() -> tuple[ArtifactStore, dict[str, str]]:
    """d/1 and d/2 hold the same bytes; d/1 -> feat step -> run 1 -> m/1, and d/2 -> run 2
    -> m/2 (m/1 and m/2 hold the same bytes too): all lineage in the first layout."""
    store = ArtifactStore(f"memory://legacy-{uuid.uuid4().hex}")
    ds, reg = Datasets(store), Registry(store)
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    d1 = ds.commit("d", frame)
    d2 = ds.commit("d", frame.assign(x=[3.0, 4.0]))
    d2 = ds.commit("d", frame)  # d/3: the same bytes as d/1 again
    m1, m2 = reg.register("m", {"w": 1}), reg.register("m", {"w": 1})
    for name in store.refs.list("lineage/"):  # only the old layout remains
        store.refs.delete(name)
    assert d1.digest == d2.digest and m1.digest == m2.digest
    run1, run2 = uuid.uuid4().hex, uuid.uuid4().hex
    feat = {"digest": store.put_record({"features": 1}).digest, "kind": "versioned"}
    feat["label"] = "feat[0123abcd]"
    dn1 = {"digest": d1.digest, "kind": "dataset", "label": d1.uri}
    dn2 = {"digest": d2.digest, "kind": "dataset", "label": d2.uri}
    _old_edge(
        store,
        {"relation": "derived", "inputs": {"df": dn1}, "output": feat, "function": "f.feat"},
    )
    _old_edge(store, {"relation": "used", "inputs": {"d": dn1}, "run_id": run1})
    _old_edge(store, {"relation": "used", "inputs": {"feat": feat}, "run_id": run1})
    out = _old_edge(
        store,
        {
            "relation": "registered",
            "inputs": {"input0": feat},
            "output": {"digest": m1.digest, "kind": "model", "label": m1.uri},
            "run_id": run1,
        },
    )
    _old_edge(store, {"relation": "used", "inputs": {"d": dn2}, "run_id": run2})
    _old_edge(
        store,
        {
            "relation": "registered",
            "inputs": {},
            "output": {"digest": m2.digest, "kind": "model", "label": m2.uri},
            "run_id": run2,
        },
    )
    return store, {"run1": f"run:{run1}", "run2": f"run:{run2}", "feat": feat["digest"], "out": out}


class TestOldLayout:
    def test_walking_up_from_an_old_model_keeps_versions_apart(
        self, old_store: tuple[ArtifactStore, dict[str, str]]
    ) -> None:
        """m/1 reaches its step, run and dataset version; never m/2's run or d/3, whose
        bytes are the same."""
        store, ids = old_store
        graph = lineage("model:m/1", "up", store=store, tracker=_NoRuns())
        assert {n.id for n in graph.upstream()} == {ids["feat"], ids["run1"], "dataset:d/1"}
        graph = lineage("model:m/2", "up", store=store, tracker=_NoRuns())
        assert {n.id for n in graph.upstream()} == {ids["run2"], "dataset:d/3"}

    def test_walking_down_from_an_old_dataset_and_run(
        self, old_store: tuple[ArtifactStore, dict[str, str]]
    ) -> None:
        """d/1 reaches the step, run 1 and m/1 (not m/2); a run id reaches what it made."""
        store, ids = old_store
        graph = lineage("dataset:d/1", "down", store=store, tracker=_NoRuns())
        assert {n.id for n in graph.downstream()} == {ids["feat"], ids["run1"], "model:m/1"}
        graph = lineage(ids["run2"], "both", store=store, tracker=_NoRuns())
        assert {n.id for n in graph.downstream()} == {"model:m/2"}
        assert {n.id for n in graph.upstream()} == {"dataset:d/3"}

    def test_old_edges_read_as_sentences(
        self, old_store: tuple[ArtifactStore, dict[str, str]]
    ) -> None:
        """explain() over old records names the function and the relation (no time: the
        first layout did not record one)."""
        store, _ = old_store
        text = lineage("model:m/1", "up", store=store, tracker=_NoRuns()).explain()
        assert "derived from dataset d/1 by f.feat" in text
        assert "registered from" in text

    def test_a_damaged_old_edge_is_an_integrity_error(
        self, old_store: tuple[ArtifactStore, dict[str, str]]
    ) -> None:
        """An old index entry repointed at garbage, or at an edge about another object, is
        an IntegrityError naming the ref."""
        store, ids = old_store
        store.refs.set(ids["out"], store.put_record({"relation": 7}), message="tamper")
        with pytest.raises(IntegrityError) as err:
            lineage("model:m/1", "up", store=store, tracker=_NoRuns())
        assert err.value.path == ids["out"]
        other = store.refs.get(next(iter(store.refs.list(f"lineage/out/{_seg(ids['feat'])}/"))))
        store.refs.set(ids["out"], other, message="misfiled")
        with pytest.raises(IntegrityError) as err:
            lineage("model:m/1", "up", store=store, tracker=_NoRuns())
        assert err.value.path == ids["out"]
