"""Module-level functions, the active run per thread and task, validation at the call."""

from __future__ import annotations

import asyncio
import math
import threading
from pathlib import Path
from typing import Any

import pytest

import mlopskit as mk
from mlopskit.errors import InvalidInputError, InvalidNameError, MlopskitError, NoActiveRunError
from mlopskit.tracking import Tracker


class TestActiveRun:
    def test_start_run_makes_it_active_until_it_ends(self, workspace: str) -> None:
        """Inside the block the run is active; after it, the previous one is."""
        assert mk.active_run() is None
        with mk.start_run("e") as outer:
            assert mk.active_run() is outer
            with mk.start_run() as inner:
                assert mk.active_run() is inner
            assert mk.active_run() is outer
        assert mk.active_run() is None

    def test_start_run_without_with_then_end_run(self, workspace: str) -> None:
        """start_run() alone activates the run; end_run() ends it and deactivates it."""
        run = mk.start_run("e")
        mk.log_metric("x", 1.0)
        mk.end_run()
        assert mk.active_run() is None
        assert run.status == "FINISHED"
        assert run.metrics == {"x": 1.0}

    def test_active_run_is_per_thread(self, workspace: str) -> None:
        """Another thread does not see this thread's active run and can have its own."""
        seen: list[object] = []

        def other() -> None:
            seen.append(mk.active_run())
            with mk.start_run("e") as mine:
                seen.append(mine.parent_id)

        with mk.start_run("e"):
            t = threading.Thread(target=other)
            t.start()
            t.join()
        assert seen == [None, None]

    def test_active_run_is_per_asyncio_task(self, workspace: str) -> None:
        """Concurrent tasks each log to their own run."""

        async def job(i: int) -> str:
            with mk.start_run("e", name=f"job{i}") as run:
                for step in range(3):
                    mk.log_metric("i", float(i), step=step)
                    await asyncio.sleep(0)
                return run.run_id

        async def main() -> list[str]:
            return list(await asyncio.gather(*(job(i) for i in range(4))))

        ids = asyncio.run(main())
        assert [mk.get_run(r).metrics["i"] for r in ids] == [0.0, 1.0, 2.0, 3.0]

    def test_logging_without_a_run_says_how_to_start_one(self, workspace: str) -> None:
        """A run-level call with no active run raises NoActiveRunError with advice."""
        with pytest.raises(NoActiveRunError, match="start_run"):
            mk.log_metric("x", 1.0)

    def test_parent_none_starts_a_top_level_run(self, workspace: str) -> None:
        """parent=None ignores the active run."""
        with mk.start_run("e"), mk.start_run("f", parent=None) as top:
            assert top.parent_id is None


class TestWorkspaceAtCallTime:
    def test_calls_use_the_workspace_in_effect(self, tmp_path: Path) -> None:
        """The same function writes to whichever workspace is current when it is called."""
        for name in ("one", "two"):
            with mk.Workspace(tmp_path / name), mk.start_run("e", name=name):
                pass
        with mk.Workspace(tmp_path / "one"):
            assert list(mk.search_runs()["name"]) == ["one"]
        assert (tmp_path / "two" / "tracking.sqlite").exists()

    def test_workspace_tracker_property(self, tmp_path: Path) -> None:
        """Workspace.tracker is the SQLite tracker of a local root."""
        tracker = mk.Workspace(tmp_path / "w").tracker
        assert isinstance(tracker, Tracker)
        assert type(tracker.backend).__name__ == "SQLiteBackend"
        assert type(mk.Workspace("memory://w").tracker.backend).__name__ == "ObjectStoreBackend"

    def test_backend_can_be_forced(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """MLOPSKIT_TRACKING_BACKEND=objectstore puts a local workspace's runs in segments."""
        monkeypatch.setenv("MLOPSKIT_TRACKING_BACKEND", "objectstore")
        with mk.Workspace(tmp_path / "w"), mk.start_run("e"):
            mk.log_metric("x", 1.0)
        assert list((tmp_path / "w" / "tracking" / "experiments" / "e").iterdir())


class TestValidation:
    @pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
    def test_non_finite_metric_is_kept(self, workspace: str, value: float) -> None:
        """NaN and infinities are logged as they are (a diverged loss is recorded, as MLflow
        records it), not refused."""
        with mk.start_run("e") as run:
            mk.log_metric("loss", value)
        assert repr(mk.get_run(run.run_id).metrics["loss"]) == repr(value)

    @pytest.mark.parametrize("value", ["0.5", None, True, [1.0], 1j])
    def test_non_numeric_metric_fails_at_the_call(self, workspace: str, value: object) -> None:
        """Strings, None, booleans, lists and complex numbers are not metric values."""
        with mk.start_run("e"), pytest.raises(InvalidInputError, match="real number"):
            mk.log_metric("loss", value)  # type: ignore[arg-type]

    @pytest.mark.parametrize("name", ["", "/abs", "a..b", "bad\nname", "x" * 251, 3])
    def test_bad_names_fail_at_the_call(self, workspace: str, name: object) -> None:
        """Empty, absolute, '..', control characters, over-long and non-str names fail."""
        with mk.start_run("e"), pytest.raises(InvalidNameError):
            mk.log_metric(name, 1.0)  # type: ignore[arg-type]

    def test_bad_experiment_name(self, workspace: str) -> None:
        """An experiment name must be one path segment."""
        with pytest.raises(InvalidNameError, match="experiment"):
            mk.start_run("a/b")

    def test_numpy_scalars_are_metrics(self, workspace: str) -> None:
        """numpy numbers and integer-valued float steps are accepted."""
        np = pytest.importorskip("numpy")
        with mk.start_run("e") as run:
            mk.log_metric("x", np.float32(0.5), step=np.int64(2))
        assert run.metric_history("x")["step"].tolist() == [2]

    def test_fractional_step_fails(self, workspace: str) -> None:
        """A step must be an integer."""
        with mk.start_run("e"), pytest.raises(InvalidInputError, match="integer"):
            mk.log_metric("x", 1.0, step=1.5)  # type: ignore[arg-type]

    def test_auto_step_counts_per_key(self, workspace: str) -> None:
        """Without a step, each key counts its own steps from 0."""
        with mk.start_run("e") as run:
            for _ in range(3):
                mk.log_metric("a", 1.0)
            mk.log_metric("b", 1.0)
        assert run.metric_history("a")["step"].tolist() == [0, 1, 2]
        assert run.metric_history("b")["step"].tolist() == [0]


class TestArtifactsAndReading:
    def test_files_directories_text_and_objects(self, workspace: str, tmp_path: Path) -> None:
        """Files, directories, text, dicts and objects are stored and read back."""
        (tmp_path / "d").mkdir()
        (tmp_path / "d" / "a.txt").write_text("a")
        (tmp_path / "f.bin").write_bytes(b"f")
        with mk.start_run("e") as run:
            mk.log_artifact(tmp_path / "f.bin")
            mk.log_artifact(str(tmp_path / "d"))
            mk.log_text("hello", "notes.txt")
            mk.log_dict({"b": 2}, "cfg.json")
            mk.log_artifact([1, 2, 3], name="list.json")
            with pytest.raises(InvalidInputError, match="name"):
                mk.log_artifact([1])
            with pytest.raises(KeyError):
                mk.log_artifact(tmp_path / "missing")
        assert set(run.artifacts) == {"f.bin", "d", "notes.txt", "cfg.json", "list.json"}
        assert run.load_artifact("notes.txt") == b"hello"
        assert run.load_artifact("list.json") == [1, 2, 3]
        assert run.artifacts["d"].kind == "tree"

    def test_log_figure(self, workspace: str) -> None:
        """A figure is saved in the format its name asks for (anything with savefig)."""

        class Figure:
            def savefig(self, buf: Any, format: str) -> None:
                buf.write(f"<svg>{format}</svg>".encode())

        with mk.start_run("e") as run:
            ref = mk.log_figure(Figure(), "plot.svg")
        assert ref.media_type == "image/svg+xml"
        assert run.load_artifact("plot.svg") == b"<svg>svg</svg>"

    def test_log_figure_refuses_other_objects(self, workspace: str) -> None:
        """log_figure says what it takes (or which extra to install)."""
        with mk.start_run("e"), pytest.raises(MlopskitError, match="matplotlib"):
            mk.log_figure(object())

    def test_get_run_exposes_lineage_fields(self, workspace: str) -> None:
        """get_run gives inputs (digests) and artifacts (name → ref) for lineage."""
        store = mk.Workspace(workspace).store
        data = store.put_bytes(b"data")
        with mk.start_run("e") as run:
            mk.log_input(data, context="training")
            out = mk.log_artifact(b"model", name="model.bin")
        got = mk.get_run(run.run_id)
        assert [(i.digest, i.context) for i in got.inputs] == [(data.digest, "training")]
        assert got.artifacts == {"model.bin": out}
        assert got.run_id == run.run_id
        assert got.experiment == "e"

    def test_repr_html_and_compare(self, workspace: str) -> None:
        """_repr_html_ shows params and metrics; compare_runs puts runs side by side."""
        with mk.start_run("e", params={"lr": 0.1}) as a:
            mk.log_metric("acc", 0.5)
        with mk.start_run("e", params={"lr": 0.2}) as b:
            mk.log_metric("acc", 0.5)
        page = a._repr_html_()
        assert "params.lr" in page
        assert "0.1" in page
        frame = mk.compare_runs([a, b.run_id], only_differences=True)
        assert list(frame.columns) == [a.run_id, b.run_id]
        assert "params.lr" in frame.index
        assert "metrics.acc" not in frame.index

    def test_search_runs_frame_columns(self, workspace: str) -> None:
        """search_runs returns info columns then params, metrics and tags."""
        with mk.start_run("e", params={"p": 1}, tags={"t": "v"}, capture_env=False):
            mk.log_metric("m", 2.0)
        frame = mk.search_runs("e")
        assert list(frame.columns) == [
            "run_id",
            "experiment",
            "name",
            "status",
            "start_time",
            "end_time",
            "duration",
            "parent_id",
            "user",
            "host",
            "params.p",
            "metrics.m",
            "tags.t",
        ]
        assert frame["duration"].iloc[0] >= 0
        assert str(frame["start_time"].dt.tz) == "UTC"


def test_search_runs_takes_mlflows_keyword_names(workspace: str) -> None:
    """An MLflow user's mk.search_runs(experiment_names=, filter_string=, max_results=,
    run_view_type=) returns what mlopskit's own names return; naming one argument both
    ways is an InvalidInputError."""
    for i in range(3):
        with mk.start_run(experiment="e", name=f"r{i}") as run:
            run.log_metric("acc", i / 10)
    with mk.start_run(experiment="other", name="x"):
        pass
    ours = mk.search_runs("e", filter="metrics.acc > 0.05", order_by="metrics.acc DESC", limit=1)
    theirs = mk.search_runs(
        experiment_names=["e"],
        filter_string="metrics.acc > 0.05",
        order_by=["metrics.acc DESC"],
        max_results=1,
        run_view_type="ACTIVE_ONLY",
    )
    assert list(theirs["name"]) == list(ours["name"]) == ["r2"]
    with pytest.raises(InvalidInputError, match="filter_string"):
        mk.search_runs("e", filter="metrics.acc > 0", filter_string="metrics.acc > 1")
