"""Ramp over real HTTP: routers served from subprocesses, ramped from this process.

The server and the ramp are different processes sharing one workspace: the ramp writes
the durable split, the served router reads it (``sync_interval``) — the same path two
worker processes or a restarted server take.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from _servers import start_server  # noqa: E402

import mlopskit as mk  # noqa: E402
from mlopskit.deploy import Ramp, RampGate, Router  # noqa: E402
from mlopskit.registry import Registry  # noqa: E402

ROWS = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 1.5, -1.0]})
BODY = {"inputs": {"a": ROWS["a"].tolist(), "b": ROWS["b"].tolist()}}
CHAMPION = [2.5, 5.5, 5.0]  # 2a + b
CANARY = [15.0, 35.0, 20.0]  # 10a + 10b
GATE = RampGate(max_error_rate=0.05, min_requests=5)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """``w``: v1 (2a + b) at champion, v2 (10a + 10b) at canary."""
    root = tmp_path / "ws"
    with mk.Workspace(root):
        mk.registry.register("w", np.array([2.0, 1.0]), input_example=ROWS.head(2))
        mk.registry.register("w", np.array([10.0, 10.0]), input_example=ROWS.head(2))
        mk.registry.set_alias("w", "champion", 1)
        mk.registry.set_alias("w", "canary", 2)
    return root


def spec(root: Path, deployment: str, **router: Any) -> dict[str, Any]:
    return {
        "workspace": str(root),
        "target": {
            "router": {
                "variants": {"champion": "w@champion", "canary": "w@canary"},
                "weights": {"champion": 1, "canary": 0},
                "deployment": deployment,
                "sync_interval": 0.05,
                **router,
            }
        },
        "logger": {"name": deployment, "max_rows": 30},
    }


def local_router(root: Path, deployment: str) -> Router:
    return Router(
        {"champion": "w@champion", "canary": "w@canary"},
        {"champion": 1, "canary": 0},
        store=mk.Workspace(root).store,
        deployment=deployment,
        sync_interval=0,
    )


def send(url: str, n: int, prefix: str = "user") -> list[tuple[str, int, Any]]:
    """``n`` keyed requests to /invocations: (variant, status, predictions) each."""
    out = []
    with httpx.Client(base_url=url, timeout=30) as c:
        for i in range(n):
            r = c.post("/invocations", json=BODY, headers={"x-mlopskit-key": f"{prefix}-{i}"})
            out.append((r.headers.get("x-mlopskit-variant", ""), r.status_code, r.json()))
    return out


def settle() -> None:
    """Longer than the served router's sync_interval (and the logger's segment cadence)."""
    time.sleep(0.3)


class TestRampOverHTTP:
    def test_erroring_canary_is_rolled_back(self, workspace: Path, tmp_path: Path) -> None:
        """A served canary whose model raises gets its share from the ramp, fails its
        requests, and is rolled back: the server then answers every request from the
        champion, and the registry history says why."""
        s = spec(workspace, "err", faults={"canary": "error"})
        with start_server(s, tmp_path / "log") as proc:
            router = local_router(workspace, "err")
            ramp = Ramp(router, steps=[0.3, 1.0], gate=GATE, interval=0, log="err")
            assert ramp.step().action == "start"
            settle()
            answers = send(proc.url, 120)
            failed = [a for a in answers if a[0] == "canary"]
            assert failed and all(status == 500 for _, status, _ in failed)
            assert all(p == {"predictions": CHAMPION} for v, _, p in answers if v == "champion")
            send(proc.url, 40, prefix="flush")  # fills the last log segment
            settle()
            result = ramp.step()
            assert result.action == "rollback", result.reason
            assert "error rate 100.0%" in result.reason
            settle()
            after = send(proc.url, 120)
            assert {v for v, _, _ in after} == {"champion"}
            assert {status for _, status, _ in after} == {200}
        event = Registry(mk.Workspace(workspace).store).history("w", "canary")[-1]
        assert "rolled back: error rate" in event.message

    def test_healthy_canary_is_promoted_and_served(self, workspace: Path, tmp_path: Path) -> None:
        """A healthy canary passes each step of traffic through the server and is promoted;
        the server then answers every request from the champion slot with the promoted
        version (it follows the alias move recorded in the split)."""
        with start_server(spec(workspace, "ok", lazy=True), tmp_path / "log") as proc:
            router = local_router(workspace, "ok")
            ramp = Ramp(router, steps=[0.3, 1.0], gate=GATE, interval=0, log="ok")
            actions = [ramp.step().action]
            for round_ in range(6):
                settle()
                answers = send(proc.url, 60, prefix=f"r{round_}")
                for variant, status, payload in answers:
                    assert status == 200
                    assert payload["predictions"] == (CANARY if variant == "canary" else CHAMPION)
                settle()
                actions.append(ramp.step().action)
                if actions[-1] == "promote":
                    break
            assert actions == ["start", "advance", "promote"]
            settle()
            after = send(proc.url, 30, prefix="after")
            assert {v for v, _, _ in after} == {"champion"}
            assert all(p == {"predictions": CANARY} for _, _, p in after)
            r = httpx.post(f"{proc.url}/v2/models/champion/infer", json=v2(ROWS), timeout=30)
            assert r.json()["model_version"] == "2"
        last = Registry(mk.Workspace(workspace).store).history("w", "champion")[-1]
        assert last.action == "promote" and len(last.gates) == 2

    @pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
    def test_two_workers_and_a_restart_share_the_split(
        self, workspace: Path, tmp_path: Path
    ) -> None:
        """A split recorded before the server starts wins over the one in its code; both
        worker processes route every key as the recorded split says, and both follow a
        change made while they run."""
        router = local_router(workspace, "workers")
        router.set_weights({"champion": 1, "canary": 1})
        s = {**spec(workspace, "workers"), "workers": 2}
        s["target"]["router"]["pid_outputs"] = True
        with start_server(s, tmp_path / "log") as proc:
            for share in (None, 0.9):
                if share is not None:
                    router.ramp("canary", share)
                    settle()
                pids: set[int] = set()
                # "Connection: close": a new connection each time, so either worker answers.
                with httpx.Client(base_url=proc.url, timeout=30) as c:
                    for i in range(60):
                        key = f"k{i % 30}"
                        r = c.post(
                            "/invocations",
                            json=BODY,
                            headers={"x-mlopskit-key": key, "connection": "close"},
                        )
                        assert r.headers["x-mlopskit-variant"] == router.route(key)[0]
                        pids.add(r.json()["predictions"][0])
                assert len(pids) == 2


def v2(frame: pd.DataFrame) -> dict[str, Any]:
    return {
        "inputs": [
            {"name": c, "shape": [len(frame)], "datatype": "FP64", "data": frame[c].tolist()}
            for c in frame.columns
        ]
    }
