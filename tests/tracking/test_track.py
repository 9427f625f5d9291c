"""@track: one run per call, params from arguments, metrics from results, failures."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mlopskit as mk
from mlopskit.tracking import _env


def _last_run() -> mk.tracking.Run:
    frame = mk.search_runs(order_by=["start_time DESC"], limit=1)
    return mk.get_run(frame["run_id"].iloc[0])


class TestTrack:
    def test_bare_decorator_logs_params_and_result(self, workspace: str) -> None:
        """Bound arguments (defaults included) become params; a numeric mapping, metrics."""

        @mk.track
        def train(lr: float, epochs: int = 3) -> dict[str, Any]:
            mk.log_metric("loss", 0.25)
            return {"acc": 0.9, "note": "text is skipped", "flag": True}

        assert train(0.1) == {"acc": 0.9, "note": "text is skipped", "flag": True}
        run = _last_run()
        assert run.params == {"lr": "0.1", "epochs": "3"}
        assert run.metrics == {"acc": 0.9, "loss": 0.25}
        assert run.status == "FINISHED"
        assert run.name.endswith("train")
        assert float(run.tags["mlopskit.duration"]) >= 0

    def test_numpy_scalar_arguments_log_as_written(self, workspace: str) -> None:
        """A numpy float32/float16 argument logs as the number the user wrote ("0.1"), not
        its float64 widening ("0.10000000149011612"); integers and bools as themselves."""

        @mk.track(capture_env=False)
        def train(lr: Any, wd: Any, epochs: Any, shuffle: Any, big: Any) -> None:
            pass

        train(np.float32(0.1), np.float16(0.001), np.int32(3), np.bool_(True), np.float64(1e-7))
        assert _last_run().params == {
            "lr": "0.1",
            "wd": "0.001",
            "epochs": "3",
            "shuffle": "True",
            "big": "1e-07",
        }

    def test_decorator_with_arguments_and_runs(self, workspace: str) -> None:
        """@track(experiment=…) files runs there; .runs() lists this function's runs."""

        @mk.track(experiment="exp1", name="fit", tags={"team": "a"}, params=["x"])
        def fit(x: int, y: int) -> None:
            return None

        fit(1, 2)
        fit(3, 4)
        frame = fit.runs()  # type: ignore[attr-defined]
        assert sorted(frame["params.x"]) == ["1", "3"]
        assert "params.y" not in frame.columns
        assert set(frame["experiment"]) == {"exp1"}
        assert set(frame["tags.team"]) == {"a"}

    def test_secrets_are_redacted(self, workspace: str) -> None:
        """Arguments named like secrets, or listed in redact, are logged as ***."""

        @mk.track(redact=["salt"])
        def connect(user: str, password: str, api_key: str, db_token: str, salt: str) -> None:
            return None

        connect("me", "hunter2", "k", "t", "s")
        params = _last_run().params
        assert params == {
            "user": "me",
            "password": "***",
            "api_key": "***",
            "db_token": "***",
            "salt": "***",
        }

    def test_arrays_and_frames_become_shape_and_digest(self, workspace: str) -> None:
        """Non-plain arguments are described; arrays and frames carry a content digest; a
        dict argument is flattened to dotted names."""

        @mk.track
        def fit(X: Any, df: Any, other: Any, **extra: Any) -> None:
            return None

        fit(np.zeros((3, 2)), pd.DataFrame({"a": [1, 2]}), {"k": [1, 2]}, seed=7)
        params = _last_run().params
        assert params["X"].startswith("ndarray(shape=(3, 2), dtype=float64) sha256:")
        assert params["df"].startswith("DataFrame(shape=(2, 1)) sha256:")
        assert params["other.k"] == "[1, 2]"
        assert "other" not in params
        assert params["seed"] == "7"
        fit(np.ones((3, 2)), pd.DataFrame({"a": [1, 2]}), None)
        assert _last_run().params["X"] != params["X"]

    def test_failure_is_recorded_and_reraised(self, workspace: str) -> None:
        """An exception ends the run FAILED with type, message and traceback, and propagates."""

        @mk.track
        def boom() -> None:
            mk.log_metric("progress", 0.5)
            raise ValueError("bad things")

        with pytest.raises(ValueError, match="bad things"):
            boom()
        run = _last_run()
        assert run.status == "FAILED"
        assert run.metrics == {"progress": 0.5}
        assert run.tags["mlopskit.error.type"] == "builtins.ValueError"
        assert run.tags["mlopskit.error.message"] == "bad things"
        assert "raise ValueError" in run.tags["mlopskit.error.traceback"]
        assert mk.active_run() is None

    def test_keyboard_interrupt_is_killed(self, workspace: str) -> None:
        """An interrupt ends the run KILLED."""

        @mk.track
        def stop() -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            stop()
        assert _last_run().status == "KILLED"

    def test_async_functions(self, workspace: str) -> None:
        """An async function gets one run per call, awaited inside the run."""

        @mk.track(experiment="async")
        async def step(i: int) -> dict[str, float]:
            await asyncio.sleep(0)
            mk.log_metric("inside", float(i))
            return {"out": float(i)}

        async def main() -> None:
            await asyncio.gather(step(1), step(2))

        asyncio.run(main())
        frame = mk.search_runs("async")
        assert sorted(frame["metrics.out"]) == [1.0, 2.0]
        assert sorted(frame["metrics.inside"]) == [1.0, 2.0]

    def test_nested_inside_active_run(self, workspace: str) -> None:
        """A tracked call inside a run becomes its child."""

        @mk.track
        def child() -> None:
            return None

        with mk.start_run("outer") as parent:
            child()
        frame = mk.search_runs("outer", filter=f"parent_id = '{parent.run_id}'")
        assert len(frame) == 1

    def test_methods_skip_self(self, workspace: str) -> None:
        """On a method, self is not a param."""

        class Model:
            @mk.track
            def fit(self, alpha: float) -> None:
                return None

        Model().fit(0.5)
        assert _last_run().params == {"alpha": "0.5"}


class TestEnvironment:
    def test_env_tags_are_recorded(self, workspace: str) -> None:
        """Host, user, Python, packages and the command line are tags."""

        @mk.track
        def f() -> None:
            return None

        f()
        tags = _last_run().tags
        for key in (
            "mlopskit.host",
            "mlopskit.user",
            "mlopskit.python",
            "mlopskit.command",
            "mlopskit.package.numpy",
        ):
            assert tags[key], key
        assert "mlopskit.git.commit" not in tags  # the test runs outside any repository

    def test_git_commit_branch_dirty_and_diff(
        self, workspace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """In a dirty git checkout the commit, branch, dirty flag and diff are recorded."""
        repo = tmp_path / "repo"
        repo.mkdir()
        git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
        subprocess.run([*git, "init", "-q", "-b", "main", str(repo)], check=True)
        (repo / "train.py").write_text("print(1)\n")
        subprocess.run([*git, "-C", str(repo), "add", "."], check=True)
        subprocess.run([*git, "-C", str(repo), "commit", "-qm", "init"], check=True)
        (repo / "train.py").write_text("print(2)\n")
        monkeypatch.chdir(repo)
        _env.clear_cache()

        @mk.track
        def f() -> None:
            return None

        f()
        _env.clear_cache()
        run = _last_run()
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert run.tags["mlopskit.git.commit"] == head
        assert run.tags["mlopskit.git.branch"] == "main"
        assert run.tags["mlopskit.git.dirty"] == "true"
        diff = run.load_artifact("mlopskit/git.diff")
        assert b"+print(2)" in diff
        assert run.artifacts["mlopskit/git.diff"].digest == run.tags["mlopskit.git.diff"]
