"""mk.autolog records everything mlflow.sklearn.autolog records for the same fits.

Runs where MLflow is installed (``nox -s autolog_compat``); skipped elsewhere.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import mlopskit as mk

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("sklearn")

from sklearn.datasets import load_diabetes, load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def _iris_pipeline() -> Any:
    X, y = load_iris(return_X_y=True, as_frame=True)
    Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=0.5))]).fit(X, y)


def _diabetes_ridge() -> Any:
    X, y = load_diabetes(return_X_y=True)
    Ridge(alpha=0.3).fit(X, y)


def _grid() -> Any:
    X, y = load_iris(return_X_y=True)
    GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]}, cv=3).fit(X, y)


def _mlflow_record(fit: Callable[[], Any], tmp_path: Path) -> tuple[dict[str, str], set[str]]:
    """Params and metric names of the parent run MLflow's autolog logs for ``fit``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
        mlflow.sklearn.autolog(log_models=False, log_datasets=False, silent=True)
        try:
            fit()
        finally:
            mlflow.sklearn.autolog(disable=True)
        client = mlflow.tracking.MlflowClient()
        runs = client.search_runs(["0"])
        (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    return dict(parent.data.params), set(parent.data.metrics)


def _our_record(fit: Callable[[], Any]) -> tuple[dict[str, str], set[str]]:
    mk.autolog(log_models=False)
    try:
        fit()
    finally:
        mk.autolog(disable=True)
    runs = mk.search_runs("default")
    (parent,) = runs[runs["parent_id"].isna()]["run_id"]
    run = mk.get_run(parent)
    return run.params, set(run.metrics)


@pytest.mark.parametrize("fit", [_iris_pipeline, _diabetes_ridge, _grid], ids=lambda f: f.__name__)
def test_every_mlflow_param_and_metric_is_recorded(
    fit: Callable[[], Any], workspace: str, tmp_path: Path
) -> None:
    """Each param key and training metric MLflow's autolog logs is logged by ours too."""
    theirs, their_metrics = _mlflow_record(fit, tmp_path)
    ours, our_metrics = _our_record(fit)
    assert set(theirs) <= set(ours), sorted(set(theirs) - set(ours))
    scalars = {k: v for k, v in theirs.items() if "(" not in v and "[" not in v}
    assert {k: ours[k] for k in scalars} == scalars
    assert their_metrics <= our_metrics, sorted(their_metrics - our_metrics)


def _one_sample_regression() -> Any:
    import numpy as np
    from sklearn.linear_model import LinearRegression

    LinearRegression().fit(np.array([[1.0]]), np.array([2.0]))  # R² of one sample: NaN


def _grid_with_a_failing_candidate() -> Any:
    import numpy as np

    X, y = load_iris(return_X_y=True)
    grid = {"C": [0.1, 1.0, -1.0]}  # C=-1 fails: its scores are NaN (error_score)
    GridSearchCV(LogisticRegression(max_iter=500), grid, cv=3, error_score=np.nan).fit(X, y)


def _nan_keys(metrics: dict[str, float]) -> set[str]:
    return {k for k, v in metrics.items() if v != v}


@pytest.mark.parametrize(
    "fit", [_one_sample_regression, _grid_with_a_failing_candidate], ids=lambda f: f.__name__
)
def test_non_finite_metrics_are_logged_where_mlflow_logs_them(
    fit: Callable[[], Any], workspace: str, tmp_path: Path
) -> None:
    """Every metric MLflow's autolog logs as NaN — on the parent run and on each
    candidate's child run (by its params) — is logged as NaN by ours too."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
        mlflow.sklearn.autolog(log_models=False, log_datasets=False, silent=True)
        try:
            fit()
        finally:
            mlflow.sklearn.autolog(disable=True)
        theirs = {
            r.data.params.get("C", "parent")
            if "mlflow.parentRunId" in r.data.tags
            else "parent": _nan_keys(r.data.metrics)
            for r in mlflow.tracking.MlflowClient().search_runs(["0"])
        }
        mk.autolog(log_models=False)
        try:
            fit()
        finally:
            mk.autolog(disable=True)
    ours = {}
    for _, row in mk.search_runs("default").iterrows():
        run = mk.get_run(row["run_id"])
        ours[run.params.get("C", "parent") if isinstance(row["parent_id"], str) else "parent"] = (
            _nan_keys(run.metrics)
        )
    assert any(theirs.values())  # the fit does produce NaN in MLflow
    assert set(theirs) == set(ours)
    for run, keys in theirs.items():
        assert keys <= ours[run], (run, sorted(keys - ours[run]))
