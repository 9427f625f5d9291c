"""mk.autolog() with real scikit-learn fits: what a user finds in the run afterwards."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlopskit as mk

sklearn = pytest.importorskip("sklearn")

import numpy as np  # noqa: E402
from sklearn.datasets import load_diabetes, load_iris  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

from mlopskit.tracking._autolog import patches  # noqa: E402


@pytest.fixture
def autologged(workspace: str) -> Iterator[str]:
    """Autolog on for the test, undone afterwards whatever happens."""
    mk.autolog()
    try:
        yield workspace
    finally:
        mk.autolog(disable=True)


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any]:
    return load_iris(return_X_y=True, as_frame=True)


def _runs(experiment: str = "default") -> Any:
    return mk.search_runs(experiment)


def _only_run() -> mk.tracking.Run:
    runs = _runs()
    assert len(runs) == 1, list(runs["name"])
    return mk.get_run(runs["run_id"].iloc[0])


def _load_model(run: mk.tracking.Run) -> Any:
    name = run.tags["mlopskit.autolog.model"]
    if name.endswith(".skops"):
        import skops.io as sio

        data = run.load_artifact(name)
        return sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    return run.load_artifact(name, trusted=True)


def test_nothing_is_patched_until_autolog_is_called() -> None:
    """Importing mlopskit (and its tracking) leaves scikit-learn's methods untouched."""
    code = (
        "from sklearn.linear_model import LogisticRegression as L\n"
        "before = L.__dict__['fit']\n"
        "import mlopskit as mk, mlopskit.tracking\n"
        "mk.start_run\n"
        "assert L.__dict__['fit'] is before\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_disable_restores_every_original_method(workspace: str, iris: Any) -> None:
    """autolog(disable=True) puts back the very same functions and fits stop logging."""
    before = dict(LogisticRegression.__dict__)
    mk.autolog()
    assert len(patches) > 50
    assert LogisticRegression.__dict__["fit"] is not before["fit"]
    mk.autolog()  # a second call patches nothing twice
    mk.autolog(disable=True)
    assert len(patches) == 0
    assert LogisticRegression.__dict__["fit"] is before["fit"]
    LogisticRegression(max_iter=500).fit(*iris)
    assert mk.Workspace(workspace).tracker.experiments() == []  # no run was made


def test_classifier_fit_logs_params_metrics_data_and_model(autologged: str, iris: Any) -> None:
    """A plain fit records every get_params key, training metrics, the data and the model."""
    X, y = iris
    model = LogisticRegression(C=0.5, max_iter=500).fit(X, y)
    run = _only_run()
    assert run.status == "FINISHED"
    assert set(model.get_params(deep=True)) <= set(run.params)
    assert run.params["C"] == "0.5"
    assert run.tags["estimator_name"] == "LogisticRegression"
    assert run.metrics["training_accuracy_score"] == pytest.approx(model.score(X, y))
    for key in ("training_f1_score", "training_log_loss", "training_roc_auc", "training_score"):
        assert key in run.metrics
    (inp,) = run.inputs
    assert inp.name == "training_data" and inp.context == "training"
    schema = run.load_artifact("training_data.schema.json")
    if isinstance(schema, bytes):
        import json

        schema = json.loads(schema)
    assert [c["name"] for c in schema["inputs"]["columns"]] == list(X.columns)
    loaded = _load_model(run)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_same_data_same_digest_other_data_other_digest(autologged: str, iris: Any) -> None:
    """The training-data digest identifies the data: equal data, equal digest."""
    X, y = iris
    LogisticRegression(max_iter=500).fit(X, y)
    DecisionTreeClassifier(random_state=0).fit(X.copy(), y.copy())
    DecisionTreeClassifier(random_state=0).fit(X.iloc[:100], y.iloc[:100])
    digests = [mk.get_run(r).inputs[0].digest for r in _runs()["run_id"]]
    assert len(digests) == 3 and len(set(digests)) == 2


def test_pipeline_is_one_run_with_nested_params(autologged: str, iris: Any) -> None:
    """A Pipeline logs one run; step params are nested keys, steps read as class+params."""
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=2.0))])
    pipe.fit(*iris)
    run = _only_run()
    assert run.params["clf__C"] == "2.0"
    assert run.params["clf"] == "LogisticRegression(C=2.0)"
    assert run.params["scale"] == "StandardScaler()"
    assert not any("0x" in v for v in run.params.values())
    assert run.tags["estimator_name"] == "Pipeline"


def test_grid_search_logs_a_child_run_per_candidate(autologged: str, iris: Any) -> None:
    """GridSearchCV: best params and score on the parent, one child run per candidate."""
    grid = {"C": [0.1, 1.0, 10.0], "fit_intercept": [True, False]}
    search = GridSearchCV(LogisticRegression(max_iter=1000), grid, cv=3).fit(*iris)
    runs = _runs()
    parents = runs[runs["parent_id"].isna()]
    assert len(parents) == 1
    parent = mk.get_run(parents["run_id"].iloc[0])
    children = runs[runs["parent_id"] == parent.run_id]
    assert len(children) == 6
    assert parent.params["best_C"] == str(search.best_params_["C"])
    assert parent.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert "cv_results.csv" in parent.artifacts
    seen = {(c["params.C"], c["params.fit_intercept"]) for _, c in children.iterrows()}
    assert seen == {(str(c), str(f)) for c in grid["C"] for f in grid["fit_intercept"]}
    best = children[children["params.C"] == str(search.best_params_["C"])]
    assert best["metrics.rank_test_score"].min() == 1
    assert "params.max_iter" in children and set(children["params.max_iter"]) == {"1000"}


def test_max_tuning_runs_keeps_the_best_ranked(workspace: str, iris: Any) -> None:
    """max_tuning_runs=2 logs child runs for the two best-ranked candidates only."""
    mk.autolog(max_tuning_runs=2)
    try:
        RandomizedSearchCV(
            DecisionTreeClassifier(random_state=0),
            {"max_depth": [1, 2, 3, 4, 5]},
            n_iter=5,
            cv=3,
            random_state=0,
        ).fit(*iris)
    finally:
        mk.autolog(disable=True)
    children = _runs().dropna(subset=["parent_id"])
    assert sorted(children["metrics.rank_test_score"]) in ([1.0, 2.0], [1.0, 1.0])


def test_fit_inside_an_active_run_logs_into_it(autologged: str, iris: Any) -> None:
    """Inside `with mk.start_run()` the fit logs into that run rather than a new one."""
    with mk.start_run("default") as run:
        LogisticRegression(max_iter=500).fit(*iris)
    assert len(_runs()) == 1
    assert "training_score" in run.metrics and "C" in run.params


def test_failed_fit_marks_its_run_failed(autologged: str) -> None:
    """A fit that raises still raises, and the run autolog started ends FAILED."""
    with pytest.raises(ValueError):
        LogisticRegression().fit(np.zeros((4, 2)), np.zeros(4))  # one class only
    run = _only_run()
    assert run.status == "FAILED"


def test_regressor_metrics_and_no_model_when_asked(workspace: str) -> None:
    """Regressors get MSE/RMSE/MAE/R²; log_models=False stores no model."""
    X, y = load_diabetes(return_X_y=True)
    mk.autolog(log_models=False)
    try:
        model = LinearRegression().fit(X, y)
    finally:
        mk.autolog(disable=True)
    run = _only_run()
    assert run.metrics["training_r2_score"] == pytest.approx(model.score(X, y))
    assert run.metrics["training_root_mean_squared_error"] == pytest.approx(
        run.metrics["training_mean_squared_error"] ** 0.5
    )
    assert not any(name.startswith("model") for name in run.artifacts)


def test_negative_max_tuning_runs_is_refused() -> None:
    """A negative max_tuning_runs is a clear error and patches nothing."""
    with pytest.raises(mk.errors.InvalidInputError, match="max_tuning_runs"):
        mk.autolog(max_tuning_runs=-1)
    assert len(patches) == 0


def test_dict_valued_params_stay_one_param(autologged: str, iris: Any) -> None:
    """A search's param_grid is one param (its dict), as scikit-learn and MLflow see it."""
    GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]}, cv=2).fit(*iris)
    runs = _runs()
    parent = mk.get_run(runs[runs["parent_id"].isna()]["run_id"].iloc[0])
    assert parent.params["param_grid"] == "{'C': [0.1, 1.0]}"
    assert not any(key.startswith("param_grid.") for key in parent.params)


def test_pipeline_fit_transform_and_fit_predict_are_one_run_each(
    autologged: str, iris: Any
) -> None:
    """fit_transform / fit_predict of a Pipeline log one run, not one per step."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    X = iris[0]
    Pipeline([("scale", StandardScaler()), ("pca", PCA(2))]).fit_transform(X)
    Pipeline([("scale", StandardScaler()), ("km", KMeans(3, n_init=2))]).fit_predict(X)
    runs = _runs()
    assert sorted(runs["tags.estimator_name"]) == ["Pipeline", "Pipeline"]
    assert set(runs["params.pca__n_components"].dropna()) == {"2"}


@given(
    st.integers(1, 20),
    st.integers(1, 5),
    st.integers(0, 2**32 - 1),
    st.sampled_from(["float64", "float32", "int64"]),
)
@settings(max_examples=40, deadline=None)
def test_data_digest_follows_content(rows: int, cols: int, seed: int, dtype: str) -> None:
    """Equal data gives equal digests; changing one value, the dtype or the target changes it."""
    from mlopskit.tracking._autolog._sklearn import data_digest

    rng = np.random.default_rng(seed)
    X = rng.integers(0, 100, size=(rows, cols)).astype(dtype)
    y = rng.integers(0, 2, size=rows)
    digest, schema = data_digest(X, y)
    assert data_digest(X.copy(), y.copy())[0] == digest
    assert schema["inputs"] == {"kind": "array", "shape": [rows, cols], "dtype": dtype}
    changed = X.copy()
    changed[rng.integers(rows), rng.integers(cols)] += 1
    assert data_digest(changed, y)[0] != digest
    assert data_digest(X.astype("float16"), y)[0] != digest
    assert data_digest(X, 1 - y)[0] != digest
    assert data_digest(X)[0] != digest


def test_autologged_model_registers_by_mlflows_uri(autologged: str, iris: Any) -> None:
    """After mk.autolog(), registering ``runs:/<id>/model`` (MLflow's habit) registers the
    fitted estimator autolog stored, and loading it predicts as the estimator does."""
    X, y = iris
    model = DecisionTreeClassifier(random_state=0).fit(X, y)
    run = _only_run()
    mv = mk.registry.register("tree", f"runs:/{run.run_id}/model")
    loaded = mk.registry.load(mv.uri)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
