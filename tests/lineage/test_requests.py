"""A served response's request id leads to its audit trail: prediction -> package -> model
version -> run -> dataset, through the prediction log's request index."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

import mlopskit as mk
from mlopskit.deploy import ModelPackage, PredictionLogger, PredictionRecord
from mlopskit.errors import IntegrityError, NotFoundError
from mlopskit.registry import ModelVersion
from mlopskit.tracking import start_run

ROWS = pd.DataFrame({"a": [1.0, 2.0], "b": [0.5, 1.5]})


def _servers() -> ModuleType:
    """tests/deploy/_servers.py (model servers in subprocesses, stopped by pid)."""
    if "_servers" in sys.modules:
        return sys.modules["_servers"]
    path = Path(__file__).resolve().parents[1] / "deploy" / "_servers.py"
    spec = importlib.util.spec_from_file_location("_servers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_servers"] = module
    spec.loader.exec_module(module)
    return module


def _trained(ws: mk.Workspace, name: str, weights: list[float]) -> ModelVersion:
    """Dataset ``<name>-data/1`` loaded in a run that registers model ``name``."""
    dv = mk.datasets.commit(f"{name}-data", ROWS.assign(w=weights[0]))
    with start_run(experiment="train"):
        mk.datasets.load(dv.uri)
        return mk.registry.register(name, np.array(weights), input_example=ROWS)


def _ids(graph: mk.Lineage) -> set[str]:
    return {n.id for n in graph.nodes}


class TestServedOverHttp:
    def test_the_request_id_of_a_response_walks_back_to_the_dataset(
        self, ws: mk.Workspace, tmp_path: Path
    ) -> None:
        """A request answered by a real server (subprocess, HTTP on 127.0.0.1): the id in
        its x-request-id header, bare or as prediction:<id>, walks up to the package, the
        model version, the run and the dataset, and explain() says so in order."""
        pytest.importorskip("uvicorn")
        pytest.importorskip("starlette")
        httpx = pytest.importorskip("httpx")
        mv = _trained(ws, "w", [2.0, 1.0])
        spec = {
            "workspace": str(tmp_path / "ws"),
            "target": {"uri": mv.uri},
            "logger": {"name": "served", "max_rows": 1_000_000},
        }
        body = {"inputs": {"a": ROWS["a"].tolist(), "b": ROWS["b"].tolist()}}
        with (
            _servers().start_server(spec, tmp_path / "server.log") as proc,
            httpx.Client(base_url=proc.url, timeout=30) as client,
        ):
            answer = client.post("/invocations", json=body)
            client.post("/invocations", json=body, headers={"x-request-id": "other"})
        assert answer.status_code == 200
        request_id = answer.headers["x-request-id"]
        graph = mk.lineage(request_id, direction="up")
        assert graph.root.id == f"prediction:{request_id}"
        assert {"dataset:w-data/1", "model:w/1", f"run:{mk.search_runs('train').run_id[0]}"} <= (
            _ids(graph)
        )
        (package,) = [n for n in graph.nodes if n.kind == "package"]
        assert ("model:w/1", package.id) in {(r.source.id, r.target.id) for r in graph}
        assert _ids(mk.lineage(f"prediction:{request_id}", direction="up")) == _ids(graph)
        text = graph.explain()
        assert f"prediction request {request_id} (log served)" in text
        order = [text.index(s) for s in ("dataset w-data/1", "model w/1", "served by package")]
        assert order == sorted(order), text


class TestRequestIndex:
    def test_each_request_leads_to_the_package_that_answered_it(self, ws: mk.Workspace) -> None:
        """Two packages answering in one segment: each request's trail holds its own model
        only, and a request answered twice (two segments) holds both."""
        m1, m2 = _trained(ws, "a", [1.0, 1.0]), _trained(ws, "b", [3.0, 0.0])
        p1, p2 = ModelPackage.from_registry(m1.uri), ModelPackage.from_registry(m2.uri)
        with PredictionLogger(ws.store, name="ab") as plog:
            plog.log(PredictionRecord(ROWS, [0, 1], p1.digest, "x", request_id="r-a"))
            plog.log(PredictionRecord(ROWS, [0, 1], p2.digest, "y", request_id="r-b"))
            plog.flush()
            plog.log(PredictionRecord(ROWS, [0, 1], p2.digest, "y", request_id="r-a"))
        assert "model:a/1" not in _ids(mk.lineage("r-b", direction="up"))
        assert {"model:a/1", "model:b/1"} <= _ids(mk.lineage("r-a", direction="up"))

    def test_an_unknown_request_id_is_not_found(self, ws: mk.Workspace) -> None:
        """An id no logged segment holds is a NotFoundError that says what is indexed."""
        with pytest.raises(NotFoundError, match="no logged prediction has request id"):
            mk.lineage("prediction:nobody", direction="up")
        with pytest.raises(NotFoundError, match="prediction request id"):
            mk.lineage("nobody", direction="up")

    def test_a_damaged_request_index_is_named(self, ws: mk.Workspace) -> None:
        """An index record replaced by garbage, or one copied under another segment's
        name, is an IntegrityError naming the ref; nothing is answered from it."""
        mv = _trained(ws, "c", [1.0, 2.0])
        pkg = ModelPackage.from_registry(mv.uri)
        for log_name in ("one", "two"):
            with PredictionLogger(ws.store, name=log_name) as plog:
                plog.log(PredictionRecord(ROWS, [0, 1], pkg.digest, request_id=log_name))
        first, second = sorted(ws.store.refs.list("lineage/request/"))
        ws.store.refs.set(first, ws.store.refs.get(second), message="copied")
        with pytest.raises(IntegrityError) as err:
            mk.lineage("two", direction="up")
        assert err.value.path == first
        ws.store.refs.set(first, ws.store.put_record({"segment": 3}), message="tamper")
        with pytest.raises(IntegrityError) as err:
            mk.lineage("prediction:two", direction="up")
        assert err.value.path == first
