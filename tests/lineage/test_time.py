"""Time order within a run: what a run used after it made X is not upstream of X."""

from __future__ import annotations

import pandas as pd

import mlopskit as mk
from mlopskit.tracking import start_run


def _ids(nodes: list[mk.LineageNode]) -> set[str]:
    return {n.id for n in nodes}


def test_data_loaded_after_a_registration_is_not_its_upstream(ws: mk.Workspace) -> None:
    """A run that registers m/1 and only then loads 'late' and registers m/2: 'late' is
    upstream of m/2 and of the run, not of m/1; walking down from it finds m/2 only."""
    early = mk.datasets.commit("early", pd.DataFrame({"x": [1.0]}))
    late = mk.datasets.commit("late", pd.DataFrame({"x": [2.0]}))
    with start_run(experiment="e") as run:
        mk.datasets.load(early.uri)
        mk.registry.register("m", {"w": 1})
        mk.datasets.load(late.uri)
        mk.registry.register("m", {"w": 2})
    up1 = _ids(mk.lineage("model:m/1", direction="up").upstream())
    assert up1 == {"dataset:early/1", f"run:{run.run_id}"}
    assert "dataset:late/1" in _ids(mk.lineage("model:m/2", direction="up").upstream())
    assert "dataset:late/1" in _ids(mk.lineage(run, direction="up").upstream())
    down = _ids(mk.lineage("dataset:late/1", direction="down").downstream())
    assert {f"run:{run.run_id}", "model:m/2"} <= down
    assert "model:m/1" not in down
