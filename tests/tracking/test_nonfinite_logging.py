"""NaN and ±infinity from real computations reach the run: ``@track`` results and autolog
(scikit-learn, XGBoost, LightGBM) log them as MLflow does, on both backends."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import mlopskit as mk

np = pytest.importorskip("numpy")


@pytest.fixture(params=["sqlite", "objectstore"])
def backend_ws(
    workspace: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The test's workspace on each tracking backend."""
    monkeypatch.setenv("MLOPSKIT_TRACKING_BACKEND", request.param)
    backend = type(mk.tracking.current_tracker().backend).__name__
    assert (
        backend == {"sqlite": "SQLiteBackend", "objectstore": "ObjectStoreBackend"}[request.param]
    )
    return workspace


@pytest.fixture
def autologged(backend_ws: str) -> Iterator[str]:
    mk.autolog()
    try:
        yield backend_ws
    finally:
        mk.autolog(disable=True)


def _diverging_fit(lr: float) -> dict[str, Any]:
    """Gradient steps on f(w) = w⁴ from w = 3: a small rate converges; a large one
    overflows w to ±inf, the next step is inf - inf = NaN (numpy float64 arithmetic)."""
    w, peak = np.float64(3.0), np.float64(0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(50):
            w = w - lr * 4 * w**3
            peak = max(peak, np.abs(w))  # a NaN compares false: the peak stays inf
    return {"loss": w**4, "peak_abs_w": peak}


def test_track_logs_a_nan_loss_readable_searchable_ordered_last(backend_ws: str) -> None:
    """A @track function whose numpy loss diverged to NaN logs it (with the +inf peak
    next to it): the run and the search frame read NaN, `is not null` finds it while a
    comparison does not (as with NaN in numpy), and ordering puts it after every number,
    ascending and descending."""

    @mk.track(name="gd-{lr}", capture_env=False)
    def train(lr: float) -> dict[str, Any]:
        return _diverging_fit(lr)

    for lr in (0.001, 0.5, 0.002):
        train(lr)
    by_name = {r["name"]: r for _, r in train.runs().iterrows()}
    diverged = mk.get_run(by_name["gd-0.5"]["run_id"])
    assert math.isnan(diverged.metrics["loss"])
    assert diverged.metrics["peak_abs_w"] == math.inf
    assert math.isfinite(mk.get_run(by_name["gd-0.001"]["run_id"]).metrics["loss"])
    assert math.isnan(by_name["gd-0.5"]["metrics.loss"])  # the search frame holds it too
    assert len(train.runs(filter="metrics.loss is not null")) == 3  # NaN is a value, not missing
    assert sorted(train.runs(filter="metrics.loss < 1e300")["name"]) == ["gd-0.001", "gd-0.002"]
    assert train.runs(filter="metrics.peak_abs_w > 1e308")["name"].tolist() == ["gd-0.5"]
    assert train.runs(order_by="metrics.loss")["name"].tolist()[-1] == "gd-0.5"
    assert train.runs(order_by="metrics.loss DESC")["name"].tolist()[-1] == "gd-0.5"


def test_autolog_keeps_a_nan_training_score(autologged: str) -> None:
    """A regressor fitted on one sample has an undefined R² (scikit-learn returns NaN):
    the autologged run records training_score and training_r2_score as NaN, not nothing."""
    from sklearn.linear_model import LinearRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's UndefinedMetricWarning for R² of one sample
        LinearRegression().fit(np.array([[1.0]]), np.array([2.0]))
    (run_id,) = mk.search_runs("default")["run_id"]
    metrics = mk.get_run(run_id).metrics
    assert math.isnan(metrics["training_score"])
    assert math.isnan(metrics["training_r2_score"])
    assert metrics["training_mean_squared_error"] == 0.0
    found = mk.search_runs("default", filter="metrics.training_r2_score is not null")
    assert found["run_id"].tolist() == [run_id]


def test_autolog_search_logs_failed_candidates_as_nan(autologged: str) -> None:
    """A grid-search candidate whose fit fails (error_score=NaN) gets a child run with a
    NaN mean_test_score, which orders after every scored candidate."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    X, y = load_iris(return_X_y=True)
    grid = {"C": [0.1, 1.0, -1.0]}  # C must be positive: that candidate's fits fail
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FitFailedWarning and convergence warnings
        GridSearchCV(LogisticRegression(max_iter=200), grid, cv=3, error_score=np.nan).fit(X, y)
    runs = mk.search_runs("default", order_by="metrics.mean_test_score DESC")
    children = runs[runs["tags.mlopskit.autolog.candidate"].notna()]
    assert len(children) == 3
    last = mk.get_run(children["run_id"].iloc[-1])
    assert last.params["C"] == "-1.0"
    assert math.isnan(last.metrics["mean_test_score"])
    assert math.isnan(last.metrics["split0_test_score"])
    assert all(
        math.isfinite(mk.get_run(r).metrics["mean_test_score"]) for r in children["run_id"][:2]
    )


def test_lightgbm_logs_a_nan_evaluation_per_iteration(autologged: str) -> None:
    """A LightGBM custom metric that is NaN on odd iterations logs every point, NaN ones
    included, at its iteration's step."""
    lgb = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = X[:, 0] + rng.normal(scale=0.1, size=200)
    calls = iter(range(1000))

    def flaky(preds: Any, data: Any) -> tuple[str, float, bool]:
        mse = float(np.mean((preds - data.get_label()) ** 2))
        return "flaky", math.nan if next(calls) % 2 else mse, False

    train = lgb.Dataset(X, label=y)
    lgb.train(
        {"objective": "regression", "verbosity": -1},
        train,
        num_boost_round=6,
        valid_sets=[train],
        valid_names=["train"],
        feval=flaky,
    )
    (run_id,) = mk.search_runs("default")["run_id"]
    history = mk.tracking.current_tracker().backend.metric_history(run_id, "train-flaky")
    assert [step for step, _, _ in history] == list(range(6))
    assert [math.isnan(v) for _, v, _ in history] == [False, True] * 3
    assert math.isnan(mk.get_run(run_id).metrics["train-flaky"])


def test_xgboost_logs_an_infinite_evaluation(autologged: str) -> None:
    """An XGBoost custom metric that reports +inf is logged per round as +inf."""
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 4))
    y = X[:, 0] + rng.normal(scale=0.1, size=200)
    dtrain = xgb.DMatrix(X, label=y)

    def blowup(preds: Any, data: Any) -> tuple[str, float]:
        return "blowup", math.inf

    xgb.train(
        {"objective": "reg:squarederror", "disable_default_eval_metric": 1},
        dtrain,
        num_boost_round=3,
        evals=[(dtrain, "train")],
        custom_metric=blowup,
        verbose_eval=False,
    )
    (run_id,) = mk.search_runs("default")["run_id"]
    history = mk.tracking.current_tracker().backend.metric_history(run_id, "train-blowup")
    assert [(step, value) for step, value, _ in history] == [
        (0, math.inf),
        (1, math.inf),
        (2, math.inf),
    ]


def test_booster_wrapper_evaluation_history_keeps_nan(autologged: str) -> None:
    """A LightGBM scikit-learn wrapper's evaluation history (evals_result_) is logged per
    iteration with its NaN points, not with them left out; without early stopping there
    is no best_iteration (LightGBM's 0 means none)."""
    lgb = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 4))
    y = X[:, 0] + rng.normal(scale=0.1, size=200)
    calls = iter(range(1000))

    def flaky(y_true: Any, y_pred: Any) -> tuple[str, float, bool]:
        return "flaky", math.nan if next(calls) % 2 else 1.0, False

    model = lgb.LGBMRegressor(n_estimators=4, verbosity=-1)
    model.fit(X[:150], y[:150], eval_X=(X[150:],), eval_y=(y[150:],), eval_metric=flaky)
    (run_id,) = mk.search_runs("default")["run_id"]
    history = mk.tracking.current_tracker().backend.metric_history(run_id, "valid_0-flaky")
    assert [step for step, _, _ in history] == [0, 1, 2, 3]
    assert [math.isnan(v) for _, v, _ in history] == [False, True, False, True]
    assert "best_iteration" not in mk.get_run(run_id).metrics
