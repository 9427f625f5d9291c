"""mk.lineage: walking datasets, @versioned outputs, runs and model versions."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mlopskit as mk
from mlopskit import Lineage, LineageNode, LineageRecord, _context, lineage
from mlopskit.errors import InvalidInputError, NotFoundError
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
        for target in ("dataset:raw/1", "raw/1", "raw@latest", digest, pipeline["raw"].uri):
            assert lineage(target, store=store).root.id == "dataset:raw/1"
        mv = pipeline["mv"]
        for target in ("model:clf@champion", "clf@champion", "models:/clf/1", mv, mv.uri):
            assert lineage(target, store=store).root.id == "model:clf/1"
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
        assert list(frame.columns[:6]) == ["from", "relation", "to", "when", "who", "run"]
        assert frame["when"].notna().all()
        assert frame["who"].notna().all()
        assert len(frame) == len(g)
        mermaid = g.to_mermaid()
        assert mermaid.startswith("graph LR")
        assert '-->|"registered"|' in mermaid  # the model was registered from the step output
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
    def test_mk_lineage_is_a_plain_function(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """mk.lineage is a function (no module doubling as one) and reads the workspace."""
        import types

        monkeypatch.setenv("MLOPSKIT_HOME", str(tmp_path / "ws"))
        v = mk.datasets.commit("d", pd.DataFrame({"a": [1, 2]}))
        assert isinstance(mk.lineage, types.FunctionType)
        assert mk.lineage is lineage
        assert len(mk.lineage(v)) == 0
        assert mk.lineage(v).root.label == "d/1"

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


def _graph(labels: list[str], relation: str = "derived") -> Lineage:
    nodes = [
        LineageNode(kind=kind, id=f"sha256:{i:064x}", digest=f"sha256:{i:064x}", label=label)
        for i, (kind, label) in enumerate(
            zip(["dataset", "model", "run", "versioned", "artifact"] * 8, labels)
        )
    ]
    records = [
        LineageRecord(source=a, target=b, relation=relation, depth=1, direction="down")
        for a, b in itertools.pairwise(nodes)
    ]
    return Lineage(nodes[0], records)


_MERMAID_NODE = re.compile(r'^    n\d+(\[\(|\(\[|\{\{|\[)"([^"\n]*)"(\)\]|\]\)|\}\}|\])$')
_MERMAID_EDGE = re.compile(r'^    n\d+ -->\|"([^"\n|]*)"\| n\d+$')
_DOT_NODE = re.compile(r'^  n\d+ \[label="((?:[^"\\\n]|\\.)*)", shape=\w+\];$')
_DOT_EDGE = re.compile(r'^  n\d+ -> n\d+ \[label="((?:[^"\\\n]|\\.)*)"\];$')


def _unmermaid(text: str) -> str:
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), text)


def _undot(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


class TestLabelEscaping:
    @given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=5), st.text(max_size=20))
    def test_mermaid_labels_cannot_break_out(self, labels: list[str], relation: str) -> None:
        """Whatever a stored name holds (quotes, brackets, newlines, '#'), every Mermaid
        line is one node or one edge and its label reads back as the name."""
        g = _graph(labels, relation)
        lines = g.to_mermaid().split("\n")
        assert lines[0] == "graph LR"
        nodes = [_MERMAID_NODE.match(line) for line in lines[1 : 1 + len(g.nodes)]]
        edges = [_MERMAID_EDGE.match(line) for line in lines[1 + len(g.nodes) :]]
        assert all(nodes), lines
        assert all(edges), lines
        assert len(edges) == len(g.records)
        assert [_unmermaid(m.group(2)) for m in nodes if m] == [
            f"{n.kind}: {n.label}" for n in g.nodes
        ]
        assert all(_unmermaid(m.group(1)) == relation for m in edges if m)

    @given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=5), st.text(max_size=20))
    def test_dot_labels_cannot_break_out(self, labels: list[str], relation: str) -> None:
        """Backslashes, quotes and newlines in names stay inside their DOT label, which
        reads back as the name (other control characters shown as '?')."""
        g = _graph(labels, relation)
        lines = g.to_dot().split("\n")
        assert lines[:2] == ["digraph lineage {", "  rankdir=LR;"]
        assert lines[-1] == "}"
        body = lines[2:-1]
        nodes = [_DOT_NODE.match(line) for line in body[: len(g.nodes)]]
        edges = [_DOT_EDGE.match(line) for line in body[len(g.nodes) :]]
        assert all(nodes), body
        assert all(edges), body

        def shown(text: str) -> str:
            return "".join("?" if (ord(c) < 32 or ord(c) == 127) and c != "\n" else c for c in text)

        assert [_undot(m.group(1)) for m in nodes if m] == [
            f"{n.kind}\n{shown(n.label)}" for n in g.nodes
        ]
        assert all(_undot(m.group(1)) == shown(relation) for m in edges if m)

    def test_a_planted_label_is_escaped(self) -> None:
        """A label written to break out of the DOT and Mermaid syntax stays one label."""
        evil = 'x"];\n  evil [label="pwned"];\\ ]) --> n0'
        g = _graph(["ok", evil])
        dot, mermaid = g.to_dot(), g.to_mermaid()
        assert not any(line.lstrip().startswith("evil") for line in dot.split("\n"))
        assert len(dot.split("\n")) == 2 + len(g.nodes) + len(g.records) + 1
        assert len(mermaid.split("\n")) == 1 + len(g.nodes) + len(g.records)
        assert '"pwned"' not in mermaid


class TestCheckoutStaysClean:
    def test_lineage_with_a_store_never_touches_the_current_directory(self, tmp_path: Path) -> None:
        """mk.lineage(..., store=...) reads runs from that store's workspace, so a walk
        through a run node writes no ./.mlopskit into the current directory."""
        cwd = tmp_path / "cwd"
        cwd.mkdir()
        store_dir = tmp_path / "ws"
        code = f"""
import pandas as pd
import mlopskit as mk
from mlopskit import _context
from mlopskit.store import ArtifactStore
from mlopskit.versioning import Datasets

class Run:
    run_id = "run0123456789"
    experiment = "exp"

store = ArtifactStore({str(store_dir)!r})
token = _context.set_active_run(Run())
v = Datasets(store).commit("d", pd.DataFrame({{"a": [1]}}))
Datasets(store).load("d")
_context.reset_active_run(token)
g = mk.lineage(v, store=store)
assert any(n.kind == "run" for n in g.nodes), g
mk.lineage("run:run0123456789", store=store)
"""
        env = {k: v for k, v in os.environ.items() if k != "MLOPSKIT_HOME"}
        env["MLOPSKIT_CACHE_DIR"] = str(tmp_path / "cache")
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert sorted(os.listdir(cwd)) == []
