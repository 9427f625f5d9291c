"""mk.autolog() with real XGBoost and LightGBM training: per-iteration metrics, early stopping.

Runs where xgboost / lightgbm are installed (``nox -s autolog``); skipped elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import mlopskit as mk
from mlopskit.tracking._autolog._boosting import metric_key

np = pytest.importorskip("numpy")


@pytest.fixture
def autologged(workspace: str) -> Iterator[str]:
    mk.autolog()
    try:
        yield workspace
    finally:
        mk.autolog(disable=True)


@pytest.fixture(scope="module")
def data() -> tuple[Any, Any, Any, Any]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 6))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=600) > 0).astype(int)
    return X[:400], y[:400], X[400:], y[400:]


def _only_run() -> mk.tracking.Run:
    runs = mk.search_runs("default")
    assert len(runs) == 1, list(runs["name"])
    return mk.get_run(runs["run_id"].iloc[0])


def test_metric_keys_are_valid_names() -> None:
    """Evaluation names with characters a metric name cannot hold are made valid."""
    assert metric_key("validation", "logloss") == "validation-logloss"
    assert metric_key("valid_0", "ndcg@5") == "valid_0-ndcg_5"


def test_xgboost_train_logs_each_iteration_and_early_stopping(autologged: str, data: Any) -> None:
    """xgboost.train logs params, one point per round per eval set, best/stopped rounds, model."""
    xgb = pytest.importorskip("xgboost")
    X, y, Xv, yv = data
    dtrain, dvalid = xgb.DMatrix(X, label=y), xgb.DMatrix(Xv, label=yv)
    params = {"objective": "binary:logistic", "eval_metric": "logloss", "max_depth": 2, "eta": 0.3}
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=200,
        evals=[(dtrain, "train"), (dvalid, "validation")],
        early_stopping_rounds=5,
        verbose_eval=False,
    )
    run = _only_run()
    assert run.params["max_depth"] == "2" and run.params["num_boost_round"] == "200"
    history = run.metric_history("validation-logloss")
    rounds = booster.num_boosted_rounds()
    assert list(history["step"]) == list(range(rounds))
    assert len(run.metric_history("train-logloss")) == rounds
    assert run.metrics["best_iteration"] == booster.best_iteration
    assert run.metrics["stopped_iteration"] == rounds - 1 < 199
    loaded = xgb.Booster()
    loaded.load_model(bytearray(run.load_artifact("model.ubj")))
    np.testing.assert_allclose(loaded.predict(dvalid), booster.predict(dvalid))


def test_lightgbm_train_logs_each_iteration_and_early_stopping(autologged: str, data: Any) -> None:
    """lightgbm.train logs params, per-iteration metrics, early stopping and the text model."""
    lgb = pytest.importorskip("lightgbm")
    X, y, Xv, yv = data
    train = lgb.Dataset(X, label=y)
    valid = lgb.Dataset(Xv, label=yv, reference=train)
    params = {"objective": "binary", "metric": "binary_logloss", "num_leaves": 7, "verbose": -1}
    booster = lgb.train(
        params,
        train,
        num_boost_round=300,
        valid_sets=[valid],
        valid_names=["validation"],
        callbacks=[lgb.early_stopping(5, verbose=False)],
    )
    run = _only_run()
    assert run.params["num_leaves"] == "7" and run.params["num_boost_round"] == "300"
    history = run.metric_history("validation-binary_logloss")
    stopped = run.metrics["stopped_iteration"]
    assert list(history["step"]) == list(range(int(stopped) + 1))
    assert run.metrics["best_iteration"] == booster.best_iteration < stopped < 300
    text = run.load_artifact("model.txt")
    loaded = lgb.Booster(model_str=text if isinstance(text, str) else text.decode())
    np.testing.assert_allclose(loaded.predict(Xv), booster.predict(Xv))


def test_disable_restores_train(workspace: str) -> None:
    """autolog(disable=True) puts the libraries' own train functions back."""
    import importlib
    from importlib.util import find_spec

    libs = [m for m in ("xgboost", "lightgbm") if find_spec(m) is not None]
    if not libs:
        pytest.skip("neither xgboost nor lightgbm is installed")
    before = {m: importlib.import_module(m).train for m in libs}
    mk.autolog()
    assert all(importlib.import_module(m).train is not before[m] for m in libs)
    mk.autolog(disable=True)
    assert all(importlib.import_module(m).train is before[m] for m in libs)


def test_xgboost_sklearn_wrapper_logs_one_run_with_history(autologged: str, data: Any) -> None:
    """XGBClassifier.fit is one run: its params, the eval history per round, the best round."""
    xgb = pytest.importorskip("xgboost")
    X, y, Xv, yv = data
    model = xgb.XGBClassifier(
        n_estimators=200, max_depth=2, early_stopping_rounds=5, eval_metric="logloss"
    )
    model.fit(X, y, eval_set=[(Xv, yv)], verbose=False)
    run = _only_run()
    assert run.params["max_depth"] == "2" and run.params["n_estimators"] == "200"
    history = run.metric_history("validation_0-logloss")
    assert list(history["step"]) == list(range(model.get_booster().num_boosted_rounds()))
    assert run.metrics["best_iteration"] == model.best_iteration
    assert "training_accuracy_score" in run.metrics


def test_lightgbm_sklearn_wrapper_logs_one_run_with_history(autologged: str, data: Any) -> None:
    """LGBMClassifier.fit is one run with the per-iteration eval history and the best one."""
    lgb = pytest.importorskip("lightgbm")
    X, y, Xv, yv = data
    model = lgb.LGBMClassifier(n_estimators=300, num_leaves=7, verbose=-1)
    model.fit(X, y, eval_X=(Xv,), eval_y=(yv,), callbacks=[lgb.early_stopping(5, verbose=False)])
    run = _only_run()
    assert run.params["num_leaves"] == "7"
    history = run.metric_history("valid_0-binary_logloss")
    assert len(history) > model.best_iteration_ > 0
    assert run.metrics["best_iteration"] == model.best_iteration_
