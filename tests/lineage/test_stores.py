"""Lineage lives in the store: it works on every backend (S3 included) with writers
racing, and loses no edge."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd

from mlopskit import _context, lineage
from mlopskit.registry import Registry
from mlopskit.store import ArtifactStore
from mlopskit.versioning import Datasets, LineageEdge, edges_from, record_edge, record_use


class _Run:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.experiment = "e"


class _NoRuns:
    def get_run(self, run_id: str) -> Any:
        raise KeyError(run_id)


def test_the_chain_walks_on_every_backend(any_store: ArtifactStore) -> None:
    """dataset → run → model, recorded and walked on memory, local and S3 stores."""
    ds, reg = Datasets(any_store), Registry(any_store)
    dv = ds.commit("d", pd.DataFrame({"a": [1, 2]}))
    token = _context.set_active_run(_Run("run0001"))
    try:
        ds.load(dv.uri)
        reg.register("m", {"w": 1})
    finally:
        _context.reset_active_run(token)
    g = lineage("m/1", "up", store=any_store, tracker=_NoRuns())
    assert {n.id for n in g.upstream()} == {"run:run0001", "dataset:d/1"}
    down = lineage(dv, "down", store=any_store, tracker=_NoRuns())
    assert {n.id for n in down.downstream()} == {"run:run0001", "model:m/1"}


def test_racing_writers_lose_no_edge(any_store: ArtifactStore) -> None:
    """Eight writers record uses of one dataset by 40 runs, each edge twice, at once:
    every run is found, and each edge is stored once."""
    dv = Datasets(any_store).commit("shared", pd.DataFrame({"a": [1]}))
    runs = [f"run{i:04d}" for i in range(40)]

    def write(run_id: str) -> None:
        record_use(any_store, run_id, {"data": dv.__mlopskit_node__})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, runs + runs))
    edges = edges_from(any_store, "dataset:shared/1")
    assert sorted(e.run_id or "" for e in edges) == runs
    g = lineage(dv, "down", store=any_store, tracker=_NoRuns())
    assert {n.id for n in g.downstream()} == {f"run:{r}" for r in runs}
    again = record_edge(
        any_store,
        LineageEdge(relation="used", inputs={"data": dv.__mlopskit_node__}, run_id=runs[0]),
    )
    assert again in {any_store.refs.get(n) for n in any_store.refs.list("lineage/run/run0000/")}
