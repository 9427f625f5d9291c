"""Lineage nodes are versions and events, never bytes (issue 11, first point)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import mlopskit as mk
from mlopskit.errors import InvalidInputError, NotFoundError
from mlopskit.tracking import start_run


def _ids(g: Any) -> set[str]:
    """The recorded nodes of a walk (without the files tracking logged for a run)."""
    return {n.id for n in g.nodes if n.kind != "artifact"}


class TestSameBytesTwoNodes:
    def test_two_model_versions_with_identical_bytes_keep_their_own_runs_and_data(
        self, ws: mk.Workspace
    ) -> None:
        """m/1 and m/2 hold the same bytes, yet m/1's upstream names only m/1's run and data
        (not m/2's run, nor a dataset version committed after m/1 was registered)."""
        with start_run(experiment="e") as r1:
            mk.datasets.load(mk.datasets.commit("d", pd.DataFrame({"a": [1, 2]})).uri)
            m1 = mk.registry.register("m", {"w": 1.0})
        with start_run(experiment="e") as r2:
            d2 = mk.datasets.commit("d", pd.DataFrame({"a": [3, 4]}))
            mk.datasets.load(d2.uri)
            m2 = mk.registry.register("m", {"w": 1.0})
        assert m1.digest == m2.digest  # identical content...
        up1 = mk.lineage("m/1", direction="up")
        up2 = mk.lineage("m/2", direction="up")
        assert _ids(up1) == {"model:m/1", f"run:{r1.run_id}", "dataset:d/1"}
        assert _ids(up2) == {"model:m/2", f"run:{r2.run_id}", "dataset:d/2"}
        assert up1.root.digest == up2.root.digest  # ...kept as an attribute of each node

    def test_two_dataset_versions_with_identical_bytes_are_two_nodes(
        self, ws: mk.Workspace
    ) -> None:
        """d/1 and d/3 hold the same frame; walking down from d/1 never reaches d/3's run."""
        frame = pd.DataFrame({"a": [1.0, 2.0]})
        d1 = mk.datasets.commit("d", frame)
        mk.datasets.commit("d", pd.DataFrame({"a": [9.0]}))
        d3 = mk.datasets.commit("d", frame)
        assert d1.digest == d3.digest
        with start_run(experiment="e") as run:
            mk.datasets.load("d/3")
        down1 = mk.lineage(d1, direction="down")
        down3 = mk.lineage(d3, direction="down")
        assert len(down1) == 0
        assert _ids(down3) == {"dataset:d/3", f"run:{run.run_id}"}

    def test_a_digest_held_by_several_versions_asks_for_one(self, ws: mk.Workspace) -> None:
        """A bare digest shared by two versions is ambiguous: the error lists both ids."""
        with start_run(experiment="e"):
            m1 = mk.registry.register("m", [1, 2, 3])
            mk.registry.register("m", [1, 2, 3])
        with pytest.raises(InvalidInputError, match=r"model:m/1.*model:m/2"):
            mk.lineage(m1.digest)

    def test_a_digest_held_by_one_version_names_it(self, ws: mk.Workspace) -> None:
        """A digest only one recorded version holds resolves to that version's node."""
        with start_run(experiment="e"):
            mv = mk.registry.register("solo", [4, 5])
        assert mk.lineage(mv.digest).root.id == "model:solo/1"


class TestUris:
    def test_every_uri_a_version_prints_is_accepted(self, ws: mk.Workspace) -> None:
        """datasets.load, registry.get and mk.lineage accept the `.uri` each version prints."""
        dv = mk.datasets.commit("events", pd.DataFrame({"a": [1]}))
        mv = mk.registry.register("clf", {"w": 2})
        assert dv.uri == "events/1"
        assert mv.uri == "clf/1"
        pd.testing.assert_frame_equal(mk.datasets.load(dv.uri), pd.DataFrame({"a": [1]}))
        assert mk.registry.get(mv.uri).digest == mv.digest
        assert mk.lineage(dv.uri).root.id == "dataset:events/1"
        assert mk.lineage(mv.uri).root.id == "model:clf/1"
        mk.registry.set_alias("clf", "champion", 1)
        assert mk.lineage("clf@champion").root.id == "model:clf/1"

    def test_runs_and_steps_print_a_uri_lineage_accepts(self, ws: mk.Workspace) -> None:
        """A run's .uri (run:<id>) and a stored call's .uri (versioned:<fn>/<key>) name
        their nodes; an unknown call is NotFoundError."""

        @mk.versioned
        def step(x: list[int]) -> list[int]:
            return x[::-1]

        with start_run(experiment="e") as run:
            step([1, 2])
        assert run.uri == f"run:{run.run_id}"
        assert mk.lineage(run.uri).root.id == run.uri
        (call,) = step.versions()
        g = mk.lineage(call.uri, direction="down")
        assert g.root.id == mk.lineage(call).root.id
        assert run.uri in {n.id for n in g.nodes}
        with pytest.raises(NotFoundError):
            mk.lineage(f"versioned:{call.function}/{'0' * 64}")
