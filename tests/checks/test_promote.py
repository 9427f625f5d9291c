"""Gated promotion: the alias moves only when every gate passes; races stay consistent."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import mlopskit as mk
from mlopskit.checks import Gate
from mlopskit.errors import IntegrityError, InvalidInputError, RefConflictError
from mlopskit.registry import PromotionRefusedError


class TestPromote:
    def test_passing_gates_move_the_alias_and_are_recorded(
        self, ws: Any, holdout: str, models: dict[str, str]
    ) -> None:
        """All gates pass: the alias moves, and its history holds each gate's run."""
        gates = [Gate("model", data=holdout, target="y"), Gate("signature")]
        mv = ws.registry.promote("churn", 3, require=gates)
        assert mv.number == 3 and ws.registry.aliases("churn")["champion"] == 3
        last = ws.registry.history("churn", "champion")[-1]
        assert (last.action, last.from_version, last.to_version) == ("promote", 1, 3)
        assert [g.gate for g in last.gates] == ["model", "signature"]
        assert all(g.passed for g in last.gates)
        for g in last.gates:
            assert mk.get_run(g.run_id).tags["verdict"] == "pass"

    def test_failing_gate_leaves_the_alias(
        self, ws: Any, holdout: str, models: dict[str, str]
    ) -> None:
        """A failing gate refuses the promotion; every gate still ran; nothing moved."""
        before = ws.registry.history("churn", "champion")
        gates = [Gate("model", data=holdout, target="y"), Gate("signature")]
        with pytest.raises(PromotionRefusedError, match="failed gate") as info:
            ws.registry.promote("churn", 2, require=gates)
        assert [o.passed for o in info.value.outcomes] == [False, True]
        assert ws.registry.aliases("churn")["champion"] == 1
        assert ws.registry.history("churn", "champion") == before

    def test_first_promotion_creates_the_alias(self, ws: Any, models: dict[str, str]) -> None:
        """Promoting to an alias that does not exist yet creates it (with the gates)."""
        mv = mk.registry.promote("churn", 2, to="staging", require=[Gate("environment")])
        assert mv.number == 2 and mk.registry.aliases("churn")["staging"] == 2

    def test_rollback_after_promotion(self, ws: Any, models: dict[str, str]) -> None:
        """A promotion is an ordinary move for rollback: rolling back restores the old target."""
        ws.registry.promote("churn", 3)
        assert ws.registry.rollback("churn", "champion").number == 1

    def test_bad_gates(self, ws: Any, models: dict[str, str]) -> None:
        """A non-callable gate, or one returning no bool verdict, is an error; nothing moves."""
        with pytest.raises(InvalidInputError, match="callables"):
            ws.registry.promote("churn", 3, require=["model"])  # type: ignore[list-item]
        with pytest.raises(InvalidInputError, match=r"no bool \.passed"):
            ws.registry.promote("churn", 3, require=[lambda mv: "yes"])
        with pytest.raises(InvalidInputError, match="unknown check"):
            Gate("accuracy")
        with pytest.raises(InvalidInputError, match="unknown option"):
            Gate("model", dataset="holdout/2")
        assert ws.registry.aliases("churn")["champion"] == 1

    def test_alias_moved_during_gates_conflicts(self, ws: Any, models: dict[str, str]) -> None:
        """If the alias moves while the gates run, the promotion raises and changes nothing."""

        def sneaky(mv: Any) -> Any:
            ws.registry.set_alias("churn", "champion", 2)
            return SimpleNamespace(passed=True, run_id=None)

        with pytest.raises(RefConflictError):
            ws.registry.promote("churn", 3, require=[sneaky])
        assert ws.registry.aliases("churn")["champion"] == 2

    def test_damaged_gate_record_is_an_integrity_error(
        self, ws: Any, models: dict[str, str]
    ) -> None:
        """An alias record whose gates field is damaged reads as IntegrityError naming it."""
        ref = ws.store.refs.get("models/churn/v/3")
        ws.store.refs.set(
            "models/churn/aliases/champion", ref, meta={"version": 3, "op": "promote", "gates": 7}
        )
        with pytest.raises(IntegrityError, match="models/churn/aliases/champion"):
            ws.registry.history("churn", "champion")


_WORKER = textwrap.dedent(
    """
    import json, sys, time
    from types import SimpleNamespace
    import mlopskit as mk
    from mlopskit.errors import RefConflictError

    root, version, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    mk.set_workspace(root)

    def slow_gate(mv):
        time.sleep(0.05)
        return SimpleNamespace(passed=True, run_id=None)

    outcomes = []
    while time.time() < start:
        time.sleep(0.005)
    for _ in range(3):
        try:
            mk.registry.promote("m", version, require=[slow_gate])
            outcomes.append("ok")
        except RefConflictError:
            outcomes.append("conflict")
    print(json.dumps(outcomes))
    """
)


@pytest.mark.slow
def test_promotion_race_across_processes_keeps_one_consistent_history(tmp_path: Path) -> None:
    """Processes promoting different versions at once: each move's from is the previous
    move's to, the moves equal the successes, and the alias ends at the last move."""
    from mlopskit.workspace import Workspace

    root = tmp_path / "ws"
    with Workspace(root) as w:
        for i in range(4):
            w.registry.register("m", {"w": i})
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    start = time.time() + 3.0
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(root), str(v), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for v in (1, 2, 3, 4)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results += json.loads(out.strip().splitlines()[-1])
    with Workspace(root) as w:
        events = w.registry.history("m", "champion")
        records = w.store.refs.history("models/m/aliases/champion")
        final = w.registry.aliases("m")["champion"]
    assert len(events) == len(records) == results.count("ok") >= 1
    assert "conflict" in results  # the race really happened
    # what each promoter read before its gates is what the previous move wrote
    assert records[0].meta["from"] is None
    for prev, cur in itertools.pairwise(records):
        assert cur.meta["from"] == prev.meta["version"]
        assert cur.seq == prev.seq + 1
    assert all(e.action == "promote" and e.gates[0].gate == "slow_gate" for e in events)
    assert final == events[-1].to_version
