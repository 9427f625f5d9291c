"""Mistakes in a query are errors naming the closest existing names, never an empty answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import mlopskit as mk
from mlopskit._suggest import did_you_mean
from mlopskit.errors import NotFoundError


@pytest.fixture
def runs(workspace: str) -> str:
    """Two runs in 'breast-cancer' with metric 'accuracy', param 'max_depth', tag 'team'."""
    for depth in (3, 5):
        with mk.start_run(experiment="breast-cancer", params={"max_depth": depth}) as run:
            run.log_metric("accuracy", depth / 10)
            run.set_tag("team", "ml")
    return workspace


class TestDidYouMean:
    def test_close_names_are_suggested(self) -> None:
        """A near miss names the closest existing names, closest first."""
        assert did_you_mean("breast-cancr", ["iris", "breast-cancer"]) == (
            "; did you mean 'breast-cancer'?"
        )

    def test_no_close_name_lists_the_names(self) -> None:
        """With nothing close, the existing names are listed (at most ten, then a count)."""
        names = [f"exp{i:02}" for i in range(12)]
        hint = did_you_mean("zzz", names, noun="experiments")
        assert hint.startswith("; experiments: 'exp00', 'exp01'")
        assert hint.endswith("and 2 more")

    def test_nothing_to_suggest(self) -> None:
        """With no names at all, the hint says there are none."""
        assert did_you_mean("x", [], noun="models") == "; there are no models"


class TestSearchRuns:
    def test_unknown_experiment(self, runs: str) -> None:
        """search_runs of an experiment that does not exist says so, with the closest name."""
        with pytest.raises(
            NotFoundError, match="no experiment named 'breast_cancer'; did you mean 'breast-cancer'"
        ) as info:
            mk.search_runs("breast_cancer")
        assert info.value.name == "breast_cancer"

    def test_unknown_experiment_beside_a_known_one(self, runs: str) -> None:
        """One misspelt experiment among several is an error even when the others match."""
        with pytest.raises(NotFoundError, match="no experiment named 'iris'; experiments: "):
            mk.search_runs(["breast-cancer", "iris"])

    def test_unknown_metric_in_filter(self, runs: str) -> None:
        """A metric no run in scope has is an error, not an empty frame."""
        with pytest.raises(
            NotFoundError,
            match="no run of 'breast-cancer' has a metric named 'acuracy'; did you mean 'accuracy'",
        ):
            mk.search_runs("breast-cancer", filter="metrics.acuracy > 0.1")

    def test_unknown_param_and_tag(self, runs: str) -> None:
        """Params and tags are checked the same way."""
        with pytest.raises(NotFoundError, match="param named 'maxdepth'; did you mean 'max_depth'"):
            mk.search_runs(filter="params.maxdepth = '3'")
        with pytest.raises(NotFoundError, match="tag named 'teams'; did you mean 'team'"):
            mk.search_runs(filter="tags.teams = 'ml'")

    def test_unknown_order_by_key(self, runs: str) -> None:
        """An order_by key no run has is an error even when runs match."""
        with pytest.raises(NotFoundError, match="metric named 'acc'; metrics: 'accuracy'"):
            mk.search_runs(order_by=["metrics.acc DESC"])

    def test_known_key_with_no_match_is_an_empty_answer(self, runs: str) -> None:
        """A filter on existing names that nothing satisfies is still an empty frame."""
        assert mk.search_runs("breast-cancer", filter="metrics.accuracy > 0.9").empty
        assert len(mk.search_runs(order_by=["metrics.accuracy"])) == 2

    def test_track_runs_before_any_call_is_empty(self, runs: str) -> None:
        """A @track function's .runs() before its first call is empty (a library tag)."""

        @mk.track(experiment="t")
        def train() -> None:
            return None

        assert train.runs().empty  # type: ignore[attr-defined]

    def test_compact_of_an_unknown_experiment(self, runs: str) -> None:
        """tracker.compact() names the closest experiment too (the same helper)."""
        with (
            mk.Workspace(runs) as ws,
            pytest.raises(
                NotFoundError, match="no experiment named 'breast-cancers'; did you mean"
            ),
        ):
            ws.tracker.compact(["breast-cancers"])


class TestNoWorkspace:
    """A read from a directory with no workspace says so and creates nothing."""

    @pytest.mark.parametrize(
        "read",
        [
            lambda: mk.search_runs(),
            lambda: mk.get_run("a" * 32),
            lambda: mk.runs_report(),
            lambda: mk.compare_runs(["a" * 32]),
        ],
    )
    def test_read_says_there_is_no_workspace(self, tmp_path: Path, read: Any) -> None:
        """search_runs, get_run, runs_report, compare_runs: NotFoundError naming the path."""
        root = tmp_path / "nothing-here"
        with (
            mk.Workspace(root),
            pytest.raises(NotFoundError, match=r"no mlopskit workspace at .*here"),
        ):
            read()
        assert not root.exists()

    def test_writers_still_create_it(self, tmp_path: Path) -> None:
        """Starting a run creates the workspace; reads then work."""
        root = tmp_path / "fresh"
        with mk.Workspace(root):
            with mk.start_run(experiment="e"):
                pass
            assert len(mk.search_runs()) == 1


def test_the_object_store_backend_answers_the_same(tmp_path: Path) -> None:
    """On the object-store backend too: unknown names raise, known ones answer empty."""
    from mlopskit.tracking import ObjectStoreBackend, Tracker

    tracker = Tracker(str(tmp_path), ObjectStoreBackend(tmp_path))
    with tracker.start_run("breast-cancer", params={"max_depth": 3}) as run:
        run.log_metric("accuracy", 0.5)
    assert tracker.search_runs("breast-cancer", filter="metrics.accuracy > 0.9").empty
    with pytest.raises(NotFoundError, match="metric named 'acuracy'; did you mean 'accuracy'"):
        tracker.search_runs("breast-cancer", filter="metrics.acuracy > 0.9")
    with pytest.raises(NotFoundError, match="no experiment named 'breast_cancer'; did you mean"):
        tracker.search_runs("breast_cancer")
