"""Ramp: a canary raised in steps, each gated on its logged traffic; promote or roll back.

The in-process tests log traffic the way the server does (route, predict, log); the
HTTP tests at the end serve the router from subprocesses and ramp it from this process.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlopskit as mk
from mlopskit.deploy import (
    ModelPackage,
    PredictionLogger,
    PredictionRecord,
    Ramp,
    RampGate,
    Router,
)
from mlopskit.errors import IntegrityError, InvalidInputError, InvalidNameError, NotFoundError
from mlopskit.registry import Registry
from mlopskit.store import ArtifactStore

COLS = ["a", "b"]
ROWS = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 1.5, -1.0]})


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[ArtifactStore]:
    """A workspace with ``w``: v1 (2a + b) at champion, v2 (10a + 10b) at canary; v2's
    package holds a reference profile of standard-normal inputs."""
    root = tmp_path / "ws"
    rng = np.random.default_rng(0)
    with mk.Workspace(root) as workspace:
        mk.registry.register("w", np.array([2.0, 1.0]), input_example=ROWS.head(2))
        mk.registry.register("w", np.array([10.0, 10.0]), input_example=ROWS.head(2))
        mk.registry.set_alias("w", "champion", 1)
        mk.registry.set_alias("w", "canary", 2)
        reference = pd.DataFrame(rng.normal(size=(500, 2)), columns=COLS)
        ModelPackage.from_registry("w/2", store=workspace.store, reference=reference)
        yield workspace.store


def make_router(store: ArtifactStore, deployment: str | None = "w-prod", **kw: Any) -> Router:
    return Router(
        {"champion": "w@champion", "canary": "w@canary"},
        {"champion": 1.0, "canary": 0.0},
        store=store,
        deployment=deployment,
        sync_interval=0.0,
        **kw,
    )


def traffic(
    router: Router,
    plog: PredictionLogger,
    n: int,
    *,
    fail: str = "",
    latency_ms: float | None = None,
    shift: float = 0.0,
    seed: int = 1,
) -> dict[str, int]:
    """Send ``n`` keyed 5-row requests through the router and log them as the server does;
    ``fail`` names a variant whose every answer is an error. Returns answers by variant."""
    rng = np.random.default_rng(seed)
    seen: dict[str, int] = {}
    for i in range(n):
        frame = pd.DataFrame(rng.normal(loc=shift, size=(5, 2)), columns=COLS)
        name, predictor = router.route(f"user-{seed}-{i}")
        seen[name] = seen.get(name, 0) + 1
        t0 = time.perf_counter()
        error = outputs = None
        if name == fail:
            error = "RuntimeError: broken"
        else:
            outputs = predictor.predict(frame)
        ms = (time.perf_counter() - t0) * 1e3 if latency_ms is None else latency_ms
        plog.log(
            PredictionRecord(
                inputs=frame,
                outputs=outputs,
                model=predictor.digest,
                variant=name,
                latency_ms=ms,
                error=error,
            )
        )
    plog.flush()
    return seen


def drive(ramp: Ramp, router: Router, plog: PredictionLogger, rounds: int = 12, **kw: Any) -> list:
    """Step the ramp, sending traffic between steps, until it finishes."""
    actions = []
    for r in range(rounds):
        result = ramp.step()
        actions.append(result)
        if result.finished:
            break
        traffic(router, plog, 400, seed=r, **kw)
    return actions


GATE = RampGate(max_error_rate=0.05, max_p99_ms=500.0, min_requests=10)


class TestRamp:
    def test_healthy_canary_reaches_full_traffic_and_is_promoted(self, ws: ArtifactStore) -> None:
        """A canary whose traffic passes every step goes 5% → 25% → 50% → 100%, then the
        champion alias moves to its version with each step's evidence as a gate in the
        alias history, and all traffic goes to the champion slot now serving it."""
        router = make_router(ws)
        plog = PredictionLogger(ws, name="w-log")
        ramp = Ramp(router, "canary", gate=GATE, interval=0, log=plog)
        steps = drive(ramp, router, plog)
        assert [s.action for s in steps] == ["start", "advance", "advance", "advance", "promote"]
        assert [s.share for s in steps[:4]] == [0.05, 0.25, 0.5, 1.0]
        assert steps[-1].promoted is not None and steps[-1].promoted.number == 2
        reg = Registry(ws)
        assert reg.get("w@champion").number == 2
        last = reg.history("w", "champion")[-1]
        assert (last.action, last.from_version, last.to_version) == ("promote", 1, 2)
        assert len(last.gates) == 4 and all(g.passed for g in last.gates)
        assert last.gates[0].gate.startswith("ramp 5%:")
        assert "ramp" in last.message
        assert router.split == {"champion": 1.0, "canary": 0.0}
        assert router.predictor("champion").version == "2"
        assert ramp.step().action == "done"

    def test_erroring_canary_is_rolled_back_with_the_reason(self, ws: ArtifactStore) -> None:
        """A canary whose requests fail is sent no more traffic, the canary alias moves
        back to the champion's version with the reason as its registry history message,
        its version is tagged, and the champion alias does not move."""
        router = make_router(ws)
        plog = PredictionLogger(ws, name="w-log")
        ramp = Ramp(router, gate=GATE, interval=0, log=plog)
        steps = drive(ramp, router, plog, fail="canary")
        assert [s.action for s in steps] == ["start", "rollback"]
        assert "error rate 100.0%" in steps[-1].reason
        assert router.split["canary"] == 0.0
        assert {router.route(f"k{i}")[0] for i in range(300)} == {"champion"}
        reg = Registry(ws)
        event = reg.history("w", "canary")[-1]
        assert (event.action, event.to_version) == ("set_alias", 1)
        assert "rolled back: error rate" in event.message
        assert reg.get("w/2").tags["mlopskit.ramp"].startswith("rolled back: error rate")
        assert reg.get("w@champion").number == 1
        assert router.ramp_state is not None and router.ramp_state["status"] == "rolled_back"
        assert ramp.step().action == "done"

    def test_slow_canary_is_rolled_back(self, ws: ArtifactStore) -> None:
        """A canary whose latency p99 exceeds the gate's bound is rolled back, and the
        reason names the p99."""
        router = make_router(ws)
        plog = PredictionLogger(ws, name="w-log")
        ramp = Ramp(router, gate=GATE, interval=0, log=plog)
        steps = drive(ramp, router, plog, latency_ms=900.0)
        assert steps[-1].action == "rollback"
        assert "latency p99 900.0 ms" in steps[-1].reason
        assert router.split["canary"] == 0.0

    def test_drifted_canary_traffic_is_rolled_back(self, ws: ArtifactStore) -> None:
        """Traffic to the canary whose inputs drifted from the reference stored with its
        version rolls it back; the reason names the drifted columns."""
        router = make_router(ws)
        plog = PredictionLogger(ws, name="w-log")
        gate = RampGate(max_drift_share=0.5, min_requests=10)
        ramp = Ramp(router, gate=gate, interval=0, log=plog)
        steps = drive(ramp, router, plog, shift=3.0)
        assert steps[-1].action == "rollback"
        assert "2 of 2 columns drifted" in steps[-1].reason
        assert steps[-1].check is not None and steps[-1].check.drift_share == 1.0

    def test_waits_for_requests_and_for_the_interval(self, ws: ArtifactStore) -> None:
        """A step is judged only with min_requests canary requests, and held for
        ``interval`` seconds before the share rises."""
        router = make_router(ws)
        plog = PredictionLogger(ws, name="w-log")
        ramp = Ramp(router, gate=GATE, interval=3600, log=plog)
        assert ramp.step().action == "start"
        wait = ramp.step()
        assert (wait.action, wait.share) == ("wait", 0.05)
        assert "0 of 10 requests" in wait.reason
        traffic(router, plog, 400)
        held = ramp.step()
        assert held.action == "wait" and "the gate holds at 5%" in held.reason
        assert held.check is not None and held.check.requests >= 10
        assert router.split["canary"] == pytest.approx(0.05)

    def test_progress_survives_a_restart(self, ws: ArtifactStore) -> None:
        """A new router and ramp made with the same deployment name (a restarted process)
        see the split and the step the ramp had reached, and continue from it."""
        router = make_router(ws)
        plog = PredictionLogger(ws, name="w-log")
        ramp = Ramp(router, gate=GATE, interval=0, log=plog)
        ramp.step()
        traffic(router, plog, 400)
        assert ramp.step().action == "advance"
        again = make_router(ws)
        assert again.split == pytest.approx({"champion": 0.75, "canary": 0.25})
        ramp2 = Ramp(again, gate=GATE, interval=0, log=plog)
        assert ramp2.state is not None and ramp2.state["step"] == 1
        traffic(again, plog, 400, seed=9)
        nxt = ramp2.step()
        assert (nxt.action, nxt.share) == ("advance", 0.5)
        router.sync()
        assert router.split == pytest.approx({"champion": 0.5, "canary": 0.5})
        history = again.split_history()
        assert [h["op"] for h in history] == ["create", "ramp", "ramp", "ramp"]

    def test_reset_starts_over_with_the_new_canary(self, ws: ArtifactStore) -> None:
        """After a rollback and a new version at the canary alias, reset() lets the ramp
        start again (and it judges the new version)."""
        router = make_router(ws)
        plog = PredictionLogger(ws, name="w-log")
        ramp = Ramp(router, gate=GATE, interval=0, log=plog)
        drive(ramp, router, plog, fail="canary")
        Registry(ws).set_alias("w", "canary", 2, message="fixed")
        router.refresh()
        ramp.reset()
        assert ramp.step().action == "start"


class TestCli:
    def test_ramp_command_steps_and_exits_1_on_rollback(
        self, ws: ArtifactStore, tmp_path: Path
    ) -> None:
        """`mlopskit ramp` takes one gated step per call (JSON with --json) and exits 1
        once the canary was rolled back, so a scheduled job can alert on it."""
        import json

        from click.testing import CliRunner

        from mlopskit.cli import EXIT_FAILED, cli

        args = [
            "--workspace",
            str(tmp_path / "ws"),
            "ramp",
            "w@champion",
            "w@canary",
            "--deployment",
            "w-prod",
            "--log",
            "w-log",
            "--min-requests",
            "10",
            "--interval",
            "0",
            "--json",
        ]
        first = CliRunner().invoke(cli, args)
        assert first.exit_code == 0, first.output
        assert json.loads(first.output)["action"] == "start"
        router = make_router(ws)
        assert router.split["canary"] == pytest.approx(0.05)
        traffic(router, PredictionLogger(ws, name="w-log"), 400, fail="canary")
        second = CliRunner().invoke(cli, args)
        assert second.exit_code == EXIT_FAILED, second.output
        out = json.loads(second.output)
        assert out["action"] == "rollback" and "error rate" in out["reason"]
        assert CliRunner().invoke(cli, args).exit_code == EXIT_FAILED  # stays rolled back


class TestBadInput:
    def test_bad_steps(self, ws: ArtifactStore) -> None:
        """Steps that do not rise to 1.0 are refused, naming the steps."""
        router = make_router(ws)
        for steps in ([], [0.5, 0.25, 1.0], [0.1, 0.5], [0.0, 1.0], [0.5, 2.0], ["x"]):
            with pytest.raises(InvalidInputError, match="steps"):
                Ramp(router, steps=steps, log="l")  # type: ignore[arg-type]

    def test_unknown_or_champion_variant(self, ws: ArtifactStore) -> None:
        """Ramping a variant the router lacks, or the champion itself, is refused."""
        router = make_router(ws)
        with pytest.raises(NotFoundError, match="no variant 'nope'"):
            Ramp(router, "nope", log="l")
        with pytest.raises(InvalidInputError, match="is the champion"):
            Ramp(router, "champion", log="l")

    def test_drift_rule_needs_a_reference(self, ws: ArtifactStore) -> None:
        """A gate that judges drift for a canary version with no stored reference is
        refused up front (never a silent pass)."""
        Registry(ws).set_alias("w", "canary", 1)
        router = make_router(ws)
        with pytest.raises(InvalidInputError, match=r"no\s+reference profile"):
            Ramp(router, gate=RampGate(max_drift_share=0.2), log="l")

    def test_gate_bounds(self) -> None:
        """Out-of-range gate settings are refused when the gate is made."""
        from pydantic import ValidationError

        with pytest.raises(ValidationError):
            RampGate(max_error_rate=1.5)
        with pytest.raises(ValidationError):
            RampGate(min_requests=0)

    def test_bad_deployment_name(self, ws: ArtifactStore) -> None:
        """A deployment name that cannot be a ref segment is refused (nothing written)."""
        for bad in ("", "../x", "a/b", ".hidden"):
            with pytest.raises(InvalidNameError):
                make_router(ws, deployment=bad)
        assert ws.refs.list("deployments") == []

    def test_damaged_split_record(self, ws: ArtifactStore) -> None:
        """A split record that does not hold a split is an IntegrityError naming it."""
        make_router(ws)
        bad = ws.put_record({"schema": 1, "weights": {"champion": -1, "canary": "x"}})
        ws.refs.set("deployments/w-prod/split", bad)
        with pytest.raises(IntegrityError, match="deployments/w-prod/split"):
            make_router(ws)

    def test_other_variants_under_the_same_name(self, ws: ArtifactStore) -> None:
        """A router with other variants cannot take over a recorded deployment."""
        make_router(ws)
        with pytest.raises(InvalidInputError, match=r"another\s+deployment name"):
            Router({"a": "w@champion"}, store=ws, deployment="w-prod")

    def test_stale_writer_loses_the_compare_and_swap(self, ws: ArtifactStore) -> None:
        """Two processes' routers: a split change made from a stale read is refused
        (RefConflictError) and changes nothing; after sync() it goes through."""
        from mlopskit.errors import RefConflictError

        one, two = make_router(ws), make_router(ws)
        one.set_weights({"champion": 1, "canary": 1})
        with pytest.raises(RefConflictError):
            two.set_weights({"champion": 3, "canary": 1})
        assert make_router(ws).split == {"champion": 0.5, "canary": 0.5}
        two.sync()
        two.set_weights({"champion": 3, "canary": 1})
        assert make_router(ws).split == {"champion": 0.75, "canary": 0.25}


class Named:
    """A predictor answering its own name."""

    def __init__(self, name: str) -> None:
        self.name = name

    def predict(self, data: Any) -> str:
        return self.name


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.floats(0.01, 0.99), min_size=1, max_size=5, unique=True).map(
        lambda xs: [*sorted(xs), 1.0]
    ),
    keys=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=60, unique=True),
)
def test_stickiness_is_monotone_across_recorded_steps(steps: list[float], keys: list[str]) -> None:
    """Through every recorded step of a ramp, a key that reached the canary stays on it,
    and a second router reading the record (another process) routes every key the same."""
    store = ArtifactStore(f"memory://ramp-{uuid.uuid4().hex}")
    variants = {"champion": Named("champion"), "canary": Named("canary")}
    writer = Router(variants, {"champion": 1, "canary": 0}, store=store, deployment="d")
    reader = Router(
        variants, {"champion": 1, "canary": 0}, store=store, deployment="d", sync_interval=0
    )
    on_canary: set[str] = set()
    for share in steps:
        writer.ramp("canary", share)
        now = {k for k in keys if writer.route(k)[0] == "canary"}
        assert on_canary <= now
        assert {k for k in keys if reader.route(k)[0] == "canary"} == now
        on_canary = now
    assert on_canary == set(keys)
