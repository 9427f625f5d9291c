"""Damaged lineage records are IntegrityErrors naming the ref, never a raw exception."""

from __future__ import annotations

import pandas as pd
import pytest

import mlopskit as mk
from mlopskit.errors import IntegrityError
from mlopskit.tracking import start_run


def test_a_tampered_edge_ref_is_named(ws: mk.Workspace) -> None:
    """An index ref repointed at a record that is not an edge fails the walk clearly."""
    store = ws.store
    with start_run(experiment="e"):
        mk.datasets.load(mk.datasets.commit("d", pd.DataFrame({"a": [1]})).uri)
    (name,) = store.refs.list("lineage/in/dataset=3Ad=2F1/")
    store.refs.set(name, store.put_record({"not": "an edge"}), message="tamper")
    with pytest.raises(IntegrityError) as err:
        mk.lineage("d/1", direction="down")
    assert err.value.path == name


def test_a_tampered_node_index_is_named(ws: mk.Workspace) -> None:
    """A node-index ref repointed at garbage fails digest resolution clearly."""
    store = ws.store
    with start_run(experiment="e"):
        mv = mk.registry.register("m", {"w": 1})
    (name,) = store.refs.list(f"lineage/node/{mv.digest.replace(':', '=3A')}/")
    store.refs.set(name, store.put_record({"kind": "nonsense"}), message="tamper")
    with pytest.raises(IntegrityError) as err:
        mk.lineage(mv.digest)
    assert err.value.path == name
