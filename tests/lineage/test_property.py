"""Property: over random workflows, every node's upstream (and downstream) set is exactly
what the workflow did — never more, never less — and down and up are inverses.

Time counts: what a run used after it made X did not go into X. The ground truth models
it with one pseudo-node per thing a run made, ``run:<id>#<tick>``, whose inputs are what
the run had used by then; the walk's answer names the run itself."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlopskit import _context, lineage
from mlopskit._provenance import node_of
from mlopskit.registry import Registry
from mlopskit.store import ArtifactStore
from mlopskit.versioning import Datasets, versioned


class _NoRuns:
    """A tracker that knows no run: the walk reads lineage edges only."""

    def get_run(self, run_id: str) -> Any:
        raise KeyError(run_id)


class _Run:
    def __init__(self) -> None:
        self.run_id = uuid.uuid4().hex
        self.experiment = "prop"


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("commit"), st.integers(0, 1), st.integers(0, 1)),
        st.tuples(st.just("load"), st.integers(0, 1), st.just(0)),
        st.tuples(st.just("step"), st.integers(0, 1), st.integers(0, 5)),
        st.tuples(st.just("register"), st.integers(0, 1), st.integers(0, 5)),
        st.tuples(st.just("run"), st.just(0), st.just(0)),
        st.tuples(st.just("end"), st.just(0), st.just(0)),
    ),
    min_size=1,
    max_size=20,
)


def _closure(edges: dict[str, set[str]], start: str) -> set[str]:
    """Every node reachable from ``start``, pseudo-nodes named as their run."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    named = {n.partition("#")[0] for n in seen}
    named.discard(start)
    return named


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
@example(  # a run uses d1 only after it registered m0/1: d1 is not upstream of m0/1
    [
        ("commit", 0, 0),
        ("commit", 1, 1),
        ("run", 0, 0),
        ("load", 0, 0),
        ("register", 0, 0),
        ("load", 1, 0),
        ("step", 0, 1),
        ("register", 1, 2),
        ("end", 0, 0),
    ]
)
@example(  # one step on two dataset versions with the same bytes, in two runs
    [
        ("commit", 0, 1),
        ("commit", 1, 1),
        ("run", 0, 0),
        ("load", 0, 0),
        ("step", 0, 0),
        ("register", 0, 1),
        ("end", 0, 0),
        ("run", 0, 0),
        ("load", 1, 0),
        ("step", 0, 2),
        ("register", 0, 3),
    ]
)
def test_walks_match_the_ground_truth_log(ops: list[tuple[str, int, int]]) -> None:
    """Commits (identical contents included), loads, @versioned calls (cache hits included),
    registrations and runs: up/down from every node equal the log's ancestors/descendants."""
    store = ArtifactStore(f"memory://prop-{uuid.uuid4().hex}")
    ds, reg = Datasets(store), Registry(store)

    @versioned(store=store)
    def scale(df: pd.DataFrame) -> pd.DataFrame:
        return df * 2

    @versioned(store=store)
    def shift(df: pd.DataFrame) -> pd.DataFrame:
        return df + 1

    steps = [scale, shift]
    up: dict[str, set[str]] = defaultdict(set)  # truth: node -> what it was made from
    nodes: set[str] = set()
    latest: dict[str, tuple[int, int]] = {}  # dataset -> (number, content)
    handles: list[tuple[Any, str]] = []  # objects in hand and the node they came from
    run: _Run | None = None
    token: Any = None
    models = 0
    step_ids: dict[str, str] = {}
    step_of: dict[str, str] = {}
    used: dict[str, list[tuple[int, str]]] = defaultdict(list)  # run -> (tick, input)
    made: list[tuple[str, int, str]] = []  # (run, tick, what it made)

    def edge(src: str, dst: str) -> None:
        if src.startswith("run:"):  # made by a run: from what it had used by now
            made.append((src, tick, dst))
        else:
            up[dst].add(src)
            if dst.startswith("run:"):
                used[dst].append((tick, src))
        nodes.update((src, dst))

    tick = 0
    for i, (op, a, b) in enumerate(ops):
        tick = i  # edge() stamps what it records with the op's position
        run_node = f"run:{run.run_id}" if run else None
        if op == "run" and run is None:
            run = _Run()
            token = _context.set_active_run(run)
        elif op == "end" and run is not None:
            _context.reset_active_run(token)
            run = None
        elif op == "commit":
            name = f"d{a}"
            v = ds.commit(name, pd.DataFrame({"x": [float(b)]}))  # contents repeat across names
            if latest.get(name, (0, -1))[1] != b:
                latest[name] = (v.number, b)
                nodes.add(f"dataset:{v.uri}")
                if run_node:
                    edge(run_node, f"dataset:{v.uri}")
            assert v.number == latest[name][0]
        elif op == "load" and f"d{a}" in latest:
            node = f"dataset:d{a}/{latest[f'd{a}'][0]}"
            handles.append((ds.load(node.partition(":")[2]), node))
            if run_node:
                edge(node, run_node)
        elif op == "step" and handles:
            obj, src = handles[b % len(handles)]
            out = steps[a](obj)
            found = node_of(out)
            assert found is not None
            # truth: one node per (step, input version), whatever the bytes; the library's
            # id for it must be one id per such pair, never shared by two pairs
            truth = f"step{a}<-{src}"
            assert step_ids.setdefault(truth, found.id) == found.id
            assert step_of.setdefault(found.id, truth) == truth, (truth, step_of[found.id])
            edge(src, found.id)
            if run_node:
                edge(found.id, run_node)
            handles.append((out, found.id))
        elif op == "register" and handles:
            obj, src = handles[b % len(handles)]
            mv = reg.register(f"m{a}", obj)
            models += 1
            edge(src, f"model:{mv.uri}")
            if run_node:
                edge(run_node, f"model:{mv.uri}")
    if run is not None:
        _context.reset_active_run(token)

    down: dict[str, set[str]] = defaultdict(set)
    pseudos: dict[str, set[str]] = defaultdict(set)  # a run, as of each thing it made
    for run_node, when, out in made:
        pseudo = f"{run_node}#{when}"
        up[out].add(pseudo)
        up[pseudo] = {src for t, src in used[run_node] if t < when}
        pseudos[run_node].add(pseudo)
    for dst, srcs in up.items():
        for src in srcs:
            down[src].add(dst)
    for node in nodes:
        g_up = lineage(node, "up", store=store, tracker=_NoRuns())
        g_down = lineage(node, "down", store=store, tracker=_NoRuns())
        assert g_up.root.id == node
        assert {n.id for n in g_up.upstream()} == _closure(up, node), node
        below = _closure(down, node)  # a run made all its pseudo-nodes' outputs
        for pseudo in pseudos.get(node, ()):
            below |= _closure(down, pseudo) - {node}
        assert {n.id for n in g_down.downstream()} == below, node
        for other in g_down.downstream():  # down and up are inverses
            assert node in _closure(up, other.id)
