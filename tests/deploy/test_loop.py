"""The loop: prediction log → drift against the stored reference → opt-in rollback in the registry."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlopskit.deploy import (
    DeploymentLoop,
    ModelPackage,
    PredictionLogger,
    PredictionRecord,
    Predictor,
    RollbackPolicy,
)
from mlopskit.errors import NotFoundError
from mlopskit.registry import Registry
from mlopskit.store import ArtifactStore

COLS = ["f0", "f1", "f2", "f3"]


@pytest.fixture
def deployed(file_store: ArtifactStore, churn_data: Any) -> tuple[Registry, Predictor]:
    """churn/1 then churn/2 at champion; churn/2's package holds the training data's profile."""
    from sklearn.linear_model import LogisticRegression

    X, y = churn_data
    reg = Registry(file_store)
    reg.register("churn", LogisticRegression().fit(X, y), input_example=X.head(3))
    reg.register("churn", LogisticRegression(C=0.3).fit(X, y), input_example=X.head(3))
    reg.set_alias("churn", "champion", 1)
    reg.set_alias("churn", "champion", 2)
    ModelPackage.from_registry("churn/2", store=file_store, reference=X)
    return reg, Predictor("churn@champion", store=file_store)


def _serve(plog: PredictionLogger, pred: Predictor, rows: pd.DataFrame, fail: int = 0) -> None:
    """Log 20-row requests as a server does; the first ``fail`` requests fail."""
    for i, start in enumerate(range(0, len(rows), 20)):
        batch = rows.iloc[start : start + 20].reset_index(drop=True)
        if i < fail:
            plog.log(PredictionRecord(inputs=batch, model=pred.digest, error="boom"))
        else:
            plog.log(PredictionRecord(inputs=batch, outputs=pred.predict(batch), model=pred.digest))
    plog.flush()


def _traffic(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(rng.normal(loc=shift, size=(n, 4)), columns=COLS)


class TestLoop:
    def test_stable_traffic_keeps_the_alias(
        self, file_store: ArtifactStore, deployed: tuple[Registry, Predictor]
    ) -> None:
        """Traffic like the training data reports no drift and leaves the alias where it is."""
        reg, pred = deployed
        plog = PredictionLogger(file_store, name="churn")
        loop = DeploymentLoop("churn", log=plog, policy=RollbackPolicy(min_rows=100))
        _serve(plog, pred, _traffic(np.random.default_rng(1), 400))
        check = loop.check()
        assert (check.rows, check.requests, check.errors) == (400, 20, 0)
        assert check.report is not None and not check.drifted
        assert check.rolled_back_to is None and reg.get("churn@champion").number == 2

    def test_shifted_traffic_rolls_back_with_the_reason(
        self, file_store: ArtifactStore, deployed: tuple[Registry, Predictor]
    ) -> None:
        """Drifted inputs roll champion back to the previous version, the reason in the history."""
        reg, pred = deployed
        plog = PredictionLogger(file_store, name="churn")
        loop = DeploymentLoop("churn", log=plog, policy=RollbackPolicy(min_rows=100))
        _serve(plog, pred, _traffic(np.random.default_rng(2), 400, shift=2.5))
        check = loop.check()
        assert check.drifted and check.rolled_back_to is not None
        assert check.rolled_back_to.number == 1
        assert reg.get("churn@champion").number == 1
        last = reg.history("churn", "champion")[-1]
        assert last.action == "rollback" and (last.from_version, last.to_version) == (2, 1)
        assert "input drift on churn/2" in last.message

    def test_without_policy_only_reports(
        self, file_store: ArtifactStore, deployed: tuple[Registry, Predictor]
    ) -> None:
        """With no policy the loop reports drift and never moves the alias."""
        reg, pred = deployed
        plog = PredictionLogger(file_store, name="churn")
        _serve(plog, pred, _traffic(np.random.default_rng(3), 200, shift=3.0))
        check = DeploymentLoop("churn", log=plog).check()
        assert check.drifted and check.rolled_back_to is None
        assert reg.get("churn@champion").number == 2

    def test_error_rate_rolls_back(
        self, file_store: ArtifactStore, deployed: tuple[Registry, Predictor]
    ) -> None:
        """An error rate over the policy's limit rolls back even without drift."""
        reg, pred = deployed
        plog = PredictionLogger(file_store, name="churn")
        policy = RollbackPolicy(on_drift=False, max_error_rate=0.2, min_rows=100)
        _serve(plog, pred, _traffic(np.random.default_rng(4), 400), fail=5)
        check = DeploymentLoop("churn", log=plog, policy=policy).check()
        assert check.error_rate == pytest.approx(5 / 20)
        assert check.rolled_back_to is not None and "error rate 25.0%" in check.reason
        assert "error rate" in reg.history("churn", "champion")[-1].message

    def test_too_few_rows_judge_nothing(
        self, file_store: ArtifactStore, deployed: tuple[Registry, Predictor]
    ) -> None:
        """Below min_rows the loop neither reports nor acts."""
        reg, pred = deployed
        plog = PredictionLogger(file_store, name="churn")
        _serve(plog, pred, _traffic(np.random.default_rng(5), 40, shift=3.0))
        check = DeploymentLoop("churn", log=plog, policy=RollbackPolicy(min_rows=100)).check()
        assert check.report is None and check.rolled_back_to is None
        assert reg.get("churn@champion").number == 2

    def test_each_check_reads_new_rows_only(
        self, file_store: ArtifactStore, deployed: tuple[Registry, Predictor]
    ) -> None:
        """A second check judges only what was logged after the first one."""
        _, pred = deployed
        plog = PredictionLogger(file_store, name="churn")
        loop = DeploymentLoop("churn", log=plog)
        _serve(plog, pred, _traffic(np.random.default_rng(6), 100))
        assert loop.check().rows == 100
        _serve(plog, pred, _traffic(np.random.default_rng(7), 60))
        assert loop.check().rows == 60

    def test_late_segments_are_not_lost(
        self, file_store: ArtifactStore, deployed: tuple[Registry, Predictor]
    ) -> None:
        """Rows logged before a check but written after it are judged by the next check."""
        _, pred = deployed
        plog = PredictionLogger(file_store, name="churn")
        loop = DeploymentLoop("churn", log=plog)
        batch = _traffic(np.random.default_rng(11), 30)
        plog.log(PredictionRecord(inputs=batch, outputs=pred.predict(batch), model=pred.digest))
        assert loop.check().rows == 0  # still buffered
        plog.flush()
        assert loop.check().rows == 30
        assert loop.check().rows == 0

    def test_rows_of_other_versions_are_ignored(
        self, file_store: ArtifactStore, deployed: tuple[Registry, Predictor]
    ) -> None:
        """Rows logged by another version (a canary) do not count for the alias's version."""
        _, pred = deployed
        canary = Predictor("churn/1", store=file_store)
        plog = PredictionLogger(file_store, name="churn")
        _serve(plog, canary, _traffic(np.random.default_rng(8), 100, shift=3.0))
        _serve(plog, pred, _traffic(np.random.default_rng(9), 100))
        check = DeploymentLoop("churn", log=plog).check()
        assert check.rows == 100 and not check.drifted

    def test_reference_from_the_training_dataset(
        self, file_store: ArtifactStore, churn_data: Any
    ) -> None:
        """With no stored profile, the version's training dataset is profiled once and stored."""
        from sklearn.linear_model import LogisticRegression

        from mlopskit.versioning import Datasets

        X, y = churn_data
        train = Datasets(file_store).commit("train", X.assign(label=y))
        reg = Registry(file_store)
        reg.register(
            "fraud", LogisticRegression().fit(X, y), inputs=[train], input_example=X.head(3)
        )
        reg.set_alias("fraud", "champion", 1)
        pred = Predictor("fraud@champion", store=file_store)
        assert pred.package.reference() is None
        plog = PredictionLogger(file_store, name="fraud")
        _serve(plog, pred, _traffic(np.random.default_rng(10), 200, shift=3.0))
        check = DeploymentLoop("fraud", log=plog).check()
        assert check.drifted and sorted(c.column for c in check.report.columns) == COLS
        stored = ModelPackage.from_registry("fraud/1", store=file_store).reference()
        assert stored is not None and stored.rows == len(X) and "label" not in stored.columns

    def test_unknown_alias(self, file_store: ArtifactStore) -> None:
        """Checking an alias that does not exist is a NotFoundError."""
        with pytest.raises(NotFoundError):
            DeploymentLoop("nope", log="x", store=file_store).check()
