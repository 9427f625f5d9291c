"""What ``@track`` does with a returned mapping it cannot log whole: the call's result is
returned, the run ends, and nothing stays active."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import pytest

import mlopskit as mk


def test_an_invalid_metric_name_is_a_warning_not_a_lost_result(workspace: str) -> None:
    """A returned key that cannot be a metric name is named in a RuntimeWarning; the
    other values are logged, the result is returned and the run ends FINISHED."""

    @mk.track(capture_env=False)
    def evaluate() -> dict[str, float]:
        return {"acc@5": 0.9, "acc": 0.8}

    with pytest.warns(RuntimeWarning, match=r"acc@5"):
        assert evaluate() == {"acc@5": 0.9, "acc": 0.8}
    (run_id,) = evaluate.runs()["run_id"]
    run = mk.get_run(run_id)
    assert (run.status, run.metrics) == ("FINISHED", {"acc": 0.8})
    assert mk.active_run() is None


def test_an_int_beyond_float64_logs_as_infinity(workspace: str) -> None:
    """A returned Python int too large for a float64 is logged as ±infinity (its float64
    value), never an OverflowError after the call succeeded."""

    @mk.track(capture_env=False)
    def count() -> dict[str, int]:
        return {"big": 10**400, "small": -(10**400)}

    count()
    (run_id,) = count.runs()["run_id"]
    run = mk.get_run(run_id)
    assert run.status == "FINISHED"
    assert (run.metrics["big"], run.metrics["small"]) == (math.inf, -math.inf)


class _LazyMetrics(Mapping[str, float]):
    """A mapping that computes each value when read; ``broken`` raises when read."""

    def __iter__(self) -> Iterator[str]:
        return iter(["loss", "broken"])

    def __len__(self) -> int:
        return 2

    def __getitem__(self, key: str) -> float:
        if key == "broken":
            raise ValueError("metric could not be computed")
        return 0.1


def test_a_failure_while_reading_the_result_ends_the_run(workspace: str) -> None:
    """If reading the returned mapping raises (a lazy metric that fails), the run ends
    FAILED with that error, the error propagates, and the next call is not nested in a
    run left active."""
    fail = True

    @mk.track(capture_env=False)
    def train() -> Mapping[str, float]:
        return _LazyMetrics() if fail else {"loss": 0.1}

    with pytest.raises(ValueError, match="could not be computed"):
        train()
    assert mk.active_run() is None
    fail = False
    train()
    runs = train.runs(order_by="attributes.start_time")
    assert runs["status"].tolist() == ["FAILED", "FINISHED"]
    assert runs["parent_id"].isna().all()
    failed = mk.get_run(runs["run_id"].iloc[0])
    assert "could not be computed" in failed.tags["mlopskit.error.message"]
