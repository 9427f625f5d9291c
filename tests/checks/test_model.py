"""Model checks: challenger vs champion (with a bootstrap CI), latency, signature, environment."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from checks_models import Threshold, make_frame
from hypothesis import given, settings
from hypothesis import strategies as st

import mlopskit as mk
from mlopskit.checks import check_environment, check_latency, check_model, check_signature
from mlopskit.errors import InvalidInputError, NotFoundError, SchemaError


class TestChallengerVsChampion:
    def test_equal_model_passes(self, ws: Any, holdout: str, models: dict[str, str]) -> None:
        """A challenger as good as the champion passes with tolerance 0."""
        r = check_model(models["same"], data=holdout, target="y")
        assert r.passed, r.summary()
        assert r.metrics["challenger.accuracy"] == r.metrics["champion.accuracy"] == 1.0

    def test_worse_model_fails(self, ws: Any, holdout: str, models: dict[str, str]) -> None:
        """A worse challenger fails, and the finding says by how much."""
        r = check_model(models["bad"], data=holdout, target="y", metrics=["accuracy", "f1"])
        assert not r.passed
        assert {f.rule for f in r.failures} == {"metric[accuracy]", "metric[f1]"}
        assert r.metrics["improvement.accuracy"] < 0

    def test_tolerance_lets_a_small_loss_pass(
        self, ws: Any, holdout: str, models: dict[str, str]
    ) -> None:
        """A loss within the per-metric tolerance passes; beyond it fails."""
        r = check_model(models["bad"], data=holdout, target="y", record=False)
        loss = -r.metrics["improvement.accuracy"]
        ok = check_model(models["bad"], data=holdout, target="y", metrics={"accuracy": loss + 0.01})
        assert ok.passed
        assert not check_model(
            models["bad"], data=holdout, target="y", metrics={"accuracy": loss / 2}
        ).passed

    def test_error_metrics_are_lower_is_better(self, ws: Any, holdout: str, models: Any) -> None:
        """For mae the rule is challenger <= champion + tolerance."""
        r = check_model(models["bad"], data=holdout, target="y", metrics=["mae"])
        assert not r.passed and r.metrics["challenger.mae"] > r.metrics["champion.mae"]

    def test_bootstrap_interval(self, ws: Any, holdout: str, models: dict[str, str]) -> None:
        """With bootstrap, the low end of the improvement's CI decides; results are seeded."""
        a = check_model(models["bad"], data=holdout, target="y", bootstrap=200, record=False)
        b = check_model(models["bad"], data=holdout, target="y", bootstrap=200, record=False)
        low, high = a.metrics["improvement_low.accuracy"], a.metrics["improvement_high.accuracy"]
        assert low <= a.metrics["improvement.accuracy"] <= high and not a.passed
        assert a.metrics == b.metrics
        ok = check_model(
            models["bad"],
            data=holdout,
            target="y",
            bootstrap=200,
            metrics={"accuracy": -low + 0.001},
        )
        assert ok.passed

    def test_no_champion_is_a_first_promotion(self, ws: Any, holdout: str) -> None:
        """Without a champion the check passes and says so; require_champion makes it fail."""
        mv = ws.registry.register("fresh", Threshold("f0", 0.0))
        r = check_model(mv.uri, data=holdout, target="y")
        assert r.passed and "no champion" in r.findings[0].message
        assert not check_model(mv.uri, data=holdout, target="y", require_champion=True).passed

    def test_recorded_with_lineage_to_both_models(
        self, ws: Any, holdout: str, models: dict[str, str]
    ) -> None:
        """The run links the challenger, the champion and the held-out data in lineage."""
        r = check_model(models["same"], data=holdout, target="y")
        for uri in ("model:churn/3", "model:churn/1", "dataset:holdout/2"):
            assert r.run_id in mk.lineage(uri, direction="down").to_frame().to_string()

    def test_bad_input(self, ws: Any, holdout: str, models: dict[str, str]) -> None:
        """Unknown metrics, targets, models and bootstrap sizes are clear errors."""
        with pytest.raises(InvalidInputError, match="unknown metric 'auc'"):
            check_model(models["same"], data=holdout, target="y", metrics=["auc"])
        with pytest.raises(SchemaError, match="target column 'label'"):
            check_model(models["same"], data=holdout, target="label")
        with pytest.raises(NotFoundError):
            check_model("churn/99", data=holdout, target="y")
        with pytest.raises(InvalidInputError, match="bootstrap"):
            check_model(models["same"], data=holdout, target="y", bootstrap=3)
        with pytest.raises(InvalidInputError, match="tolerance"):
            check_model(models["same"], data=holdout, target="y", metrics={"accuracy": -1})
        assert "checks" not in ws.tracker.experiments()


@settings(max_examples=15)
@given(seed=st.integers(0, 2**32 - 1))
def test_model_verdict_does_not_depend_on_row_order(seed: int, tmp_path_factory: Any) -> None:
    """Shuffling the held-out rows leaves every metric and the bootstrap verdict unchanged."""
    from mlopskit.workspace import Workspace

    path = tmp_path_factory.mktemp("order")
    with Workspace(path):
        reg = mk.registry.Registry()
        reg.register("m", Threshold("f0", 0.0))
        reg.register("m", Threshold("f0", 0.3))
        reg.set_alias("m", "champion", 1)
        frame = make_frame(seed=4, rows=80)
        shuffled = frame.iloc[np.random.default_rng(seed).permutation(len(frame))]
        kw: dict[str, Any] = {"target": "y", "bootstrap": 50, "record": False}
        a = check_model("m/2", data=frame, **kw)
        b = check_model("m/2", data=shuffled, **kw)
    assert a.metrics == b.metrics and a.passed == b.passed


class TestLatency:
    def test_generous_budget_passes(self, ws: Any, holdout: str, models: dict[str, str]) -> None:
        """A model under a (generous) p95 budget passes; the percentiles are metrics."""
        r = check_latency(models["good"], holdout, target="y", p95_ms=10_000, requests=20)
        assert r.passed and 0 < r.metrics["p95_ms"] < 10_000

    def test_impossible_budget_fails(self, ws: Any, holdout: str, models: dict[str, str]) -> None:
        """A budget no call can meet fails."""
        r = check_latency(models["good"], holdout, target="y", p50_ms=1e-9, requests=5)
        assert not r.passed and r.failures[0].rule == "latency[p50]"

    def test_bad_input(self, ws: Any, holdout: str, models: dict[str, str]) -> None:
        """No budget, a zero budget or zero requests are errors."""
        with pytest.raises(InvalidInputError, match="needs a budget"):
            check_latency(models["good"], holdout)
        with pytest.raises(InvalidInputError, match="p95_ms"):
            check_latency(models["good"], holdout, p95_ms=0)
        with pytest.raises(InvalidInputError, match="requests"):
            check_latency(models["good"], holdout, p95_ms=5, requests=0)


class TestSignature:
    def test_unchanged_passes(self, ws: Any, models: dict[str, str]) -> None:
        """Same inputs as the champion: pass."""
        assert check_signature(models["same"]).passed

    def test_dropped_input_column_is_compatible(self, ws: Any, models: dict[str, str]) -> None:
        """A challenger needing fewer columns still serves the champion's callers."""
        frame = make_frame(seed=3).drop(columns=["y", "city"])
        mv = ws.registry.register("churn", Threshold("f0", 0), signature=mk.infer_signature(frame))
        r = check_signature(mv.uri)
        assert r.passed and "compatibly" in r.findings[0].message

    def test_new_required_column_fails(self, ws: Any, models: dict[str, str]) -> None:
        """A challenger requiring a column callers never sent fails, naming it."""
        frame = make_frame(seed=3).drop(columns=["y"]).assign(age=1.0)
        mv = ws.registry.register("churn", Threshold("f0", 0), signature=mk.infer_signature(frame))
        r = check_signature(mv.uri)
        assert not r.passed and "'age'" in r.failures[0].message

    def test_missing_signature_fails(self, ws: Any, models: dict[str, str]) -> None:
        """A challenger without a signature cannot be shown compatible: fail, not pass."""
        mv = ws.registry.register("churn", Threshold("f0", 0))
        assert not check_signature(mv.uri).passed

    def test_bad_outputs_mode(self, ws: Any, models: dict[str, str]) -> None:
        """An unknown outputs mode is an error."""
        with pytest.raises(InvalidInputError, match="outputs"):
            check_signature(models["same"], outputs="loose")


class TestEnvironment:
    def test_same_interpreter_passes(self, ws: Any, models: dict[str, str]) -> None:
        """A model registered in this interpreter matches it."""
        r = check_environment(models["good"])
        assert r.passed, r.summary()

    def test_recorded_version_mismatch_fails(self, ws: Any) -> None:
        """A requirement pinned to another version fails unless ignored."""
        mv = ws.registry.register("envm", Threshold("f0", 0), requirements={"numpy": "0.0.1"})
        r = check_environment(mv.uri)
        assert not r.passed and r.failures[0].rule == "env[numpy]"
        assert check_environment(mv.uri, ignore=["numpy"]).passed
