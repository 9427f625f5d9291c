"""scikit-learn autologging: ``fit`` / ``fit_transform`` / ``fit_predict`` log a run.

Patches the methods where scikit-learn defines them (so subclasses are covered once)
and records, after a successful top-level fit: params, training metrics, the training
data's digest and schema, the fitted model, and for a hyper-parameter search one child
run per candidate plus ``best_*`` params and ``best_cv_score`` on the parent.
"""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlopskit._log import get_logger
from mlopskit.tracking._autolog import Patches, autolog_run, config, safely, session
from mlopskit.tracking._flatten import describe_params, describe_value

if TYPE_CHECKING:
    from mlopskit.tracking._run import Run

__all__ = ["data_digest", "install", "training_metrics"]

_log = get_logger("mlopskit.tracking")

_METHODS = ("fit", "fit_transform", "fit_predict")
_WRAPPERS = {
    "xgboost.sklearn": ("XGBClassifier", "XGBRegressor", "XGBRanker"),
    "lightgbm.sklearn": ("LGBMClassifier", "LGBMRegressor", "LGBMRanker"),
}
FLAVOR = "sklearn"


def install(patches: Patches) -> int:
    """Patch every scikit-learn estimator's fit methods; the number of methods patched."""
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.utils import all_estimators

    from mlopskit._optional import is_available

    classes = [cls for _, cls in all_estimators()]
    classes += [Pipeline, FeatureUnion, GridSearchCV, RandomizedSearchCV]
    for module, names in _WRAPPERS.items():  # the boosters' scikit-learn estimators
        if is_available(module.partition(".")[0]):
            mod = importlib.import_module(module)
            classes += [getattr(mod, name) for name in names if hasattr(mod, name)]
    count = 0
    for est_cls in classes:
        for klass in est_cls.__mro__:
            if not klass.__module__.startswith(("sklearn", "xgboost", "lightgbm")):
                continue
            for name in _METHODS:
                attr = klass.__dict__.get(name)
                if inspect.isfunction(attr):
                    count += patches.patch(klass, name, _wrap)
                elif inspect.isfunction(getattr(attr, "fn", None)):  # @available_if methods
                    count += patches.patch(klass, name, _wrap_descriptor)
    return count


def _wrap_descriptor(descriptor: Any) -> Any:
    """A copy of an ``available_if`` descriptor whose function is wrapped."""
    patched = copy.copy(descriptor)
    patched.fn = _wrap(descriptor.fn)
    return patched


def _wrap(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not session.enter():  # a fit inside a logged fit: not a run of its own
            return original(self, *args, **kwargs)
        try:
            return _logged_fit(original, self, args, kwargs)
        finally:
            session.leave()

    return patched


def _fit_inputs(
    original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], est: Any
) -> tuple[Any, Any, Any]:
    """``(X, y, sample_weight)`` of a fit call (None where absent)."""
    try:
        sig = inspect.signature(original)
        bound = sig.bind(est, *args, **kwargs)
    except (TypeError, ValueError):
        return None, None, None
    names = list(sig.parameters)
    found = bound.arguments
    X = found.get(names[1]) if len(names) > 1 else None
    y = found.get("y", found.get("Y"))
    extra = found.get("fit_params") or found.get("params") or found.get("kwargs") or {}
    weight = found.get(
        "sample_weight", extra.get("sample_weight") if isinstance(extra, dict) else None
    )
    return X, y, weight


def _logged_fit(
    original: Callable[..., Any], est: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    X, y, weight = _fit_inputs(original, args, kwargs, est)
    tags = {
        "mlopskit.autolog": FLAVOR,
        "estimator_name": type(est).__name__,
        "estimator_class": f"{type(est).__module__}.{type(est).__qualname__}",
    }
    with autolog_run() as run:
        result = original(est, *args, **kwargs)
        safely(FLAVOR, _record, run, est, X, y, weight, tags)
    return result


def _record(run: Run, est: Any, X: Any, y: Any, weight: Any, tags: dict[str, str]) -> None:
    run.set_tags(tags)
    run.log_params(describe_params(est.get_params(deep=True)))
    if _is_search(est):
        _record_search(run, est)
    _record_evals(run, est)
    if config.log_training_metrics and X is not None:
        metrics = training_metrics(est, X, y, weight)
        if metrics:
            run.log_metrics(metrics)
    if config.log_datasets and X is not None:
        digest, schema = data_digest(X, y)
        run.log_dict(schema, "training_data.schema.json")
        run.log_input(digest, name="training_data", context="training")
    if config.log_models:
        log_model(run, est)


def log_model(run: Run, est: Any, name: str = "model") -> None:
    """Store the fitted ``est`` as artifact ``name`` (skops when installed)."""
    from mlopskit._optional import is_available

    if is_available("skops"):
        import skops.io as sio  # type: ignore[import-not-found,unused-ignore]

        run.log_artifact(sio.dumps(est), name=f"{name}.skops")
        run.set_tag("mlopskit.autolog.model", f"{name}.skops")
    else:
        run.log_artifact(est, name=name)
        run.set_tag("mlopskit.autolog.model", name)


def _record_evals(run: Run, est: Any) -> None:
    """A booster wrapper's evaluation history (``evals_result``): one point per iteration
    as ``<data>-<metric>``, and ``best_iteration`` when early stopping kept one."""
    from mlopskit.tracking._autolog._boosting import metric_key

    history = getattr(est, "evals_result_", None)
    if history is None and callable(getattr(est, "evals_result", None)):
        try:
            history = est.evals_result()
        except Exception:  # fitted without an eval set
            history = None
    if not isinstance(history, dict) or not history:
        return
    steps: dict[int, dict[str, float]] = {}
    for data, metrics in history.items():
        for metric, values in metrics.items():
            for step, value in enumerate(values):  # NaN and ±inf as they are
                steps.setdefault(step, {})[metric_key(str(data), str(metric))] = float(value)
    for step in sorted(steps):
        run.log_metrics(steps[step], step=step)
    best = getattr(est, "best_iteration_", None)  # LightGBM: from 1; 0 without early stopping
    if best == 0:
        best = None
    elif best is None:
        try:
            best = getattr(est, "best_iteration", None)
        except Exception:  # xgboost raises when there was no early stopping
            best = None
    if isinstance(best, int) and best >= 0:
        run.log_metrics({"best_iteration": float(best), "stopped_iteration": float(max(steps))})


def _is_search(est: Any) -> bool:
    return hasattr(est, "cv_results_") and hasattr(est, "estimator")


def _record_search(run: Run, search: Any) -> None:
    """``best_*`` params and ``best_cv_score`` on the parent, a child run per candidate."""
    if hasattr(search, "best_params_"):
        run.log_params(describe_params({f"best_{k}": v for k, v in search.best_params_.items()}))
    best = getattr(search, "best_score_", None)
    if isinstance(best, (int, float)):  # NaN when every candidate failed (error_score)
        run.log_metric("best_cv_score", float(best))
    cv = search.cv_results_
    n = len(cv["params"])
    order = list(range(n))
    ranks = cv.get("rank_test_score")
    if ranks is not None:
        order.sort(key=lambda i: (int(ranks[i]), i))
    if config.max_tuning_runs is not None:
        order = order[: config.max_tuning_runs]
    base = search.estimator.get_params(deep=True)
    columns = [k for k in cv if not k.startswith("param")]
    tracker = run.tracker
    for i in order:
        with tracker.start_run(
            run.experiment,
            parent=run,
            capture_env=False,
            tags={"mlopskit.autolog": FLAVOR, "mlopskit.autolog.candidate": str(i)},
        ) as child:
            child.log_params(describe_params({**base, **cv["params"][i]}))
            metrics = {}
            for key in columns:
                value = cv[key][i]
                if isinstance(value, (int, float)) or hasattr(value, "dtype"):
                    metrics[key] = float(value)  # a failed candidate's score is NaN
            if metrics:
                child.log_metrics(metrics)
    from mlopskit._optional import is_available

    if is_available("pandas"):
        import pandas as pd

        frame = pd.DataFrame(cv)
        for col in frame.columns:
            if frame[col].dtype == object:
                frame[col] = frame[col].map(lambda v: str(describe_value(v)))
        run.log_text(frame.to_csv(index=False), "cv_results.csv")


def training_metrics(est: Any, X: Any, y: Any, weight: Any = None) -> dict[str, float]:
    """MLflow's training metrics: ``training_score`` and, by estimator kind, the
    classification (accuracy, precision, recall, F1, log loss, ROC AUC) or regression
    (MSE, RMSE, MAE, R²) scores on the training data. Ones that do not apply (raise) are
    left out; NaN and ±infinity are kept, as MLflow logs them."""
    from sklearn import metrics as skm
    from sklearn.base import is_classifier, is_regressor

    out: dict[str, float] = {}

    def put(name: str, compute: Callable[[], Any]) -> None:
        try:
            value = float(compute())
        except Exception as exc:  # a metric that does not apply to this model/data
            _log.debug("autolog: %s not computed: %r", name, exc)
            return
        out[name] = value  # NaN or ±inf as computed (r2 of one sample is NaN)

    if hasattr(est, "score"):
        if y is None:
            put("training_score", lambda: est.score(X))
        elif weight is not None:
            put("training_score", lambda: est.score(X, y, sample_weight=weight))
        else:
            put("training_score", lambda: est.score(X, y))
    if y is None or not hasattr(est, "predict"):
        return out
    kind = est.best_estimator_ if _is_search(est) and hasattr(est, "best_estimator_") else est
    try:
        pred = est.predict(X)
    except Exception as exc:
        _log.debug("autolog: predict on the training data failed: %r", exc)
        return out
    w = {"sample_weight": weight}
    if is_classifier(kind):
        put("training_accuracy_score", lambda: skm.accuracy_score(y, pred, **w))
        for metric in ("precision", "recall", "f1"):
            fn = getattr(skm, f"{metric}_score")
            put(
                f"training_{metric}_score",
                functools.partial(fn, y, pred, average="weighted", zero_division=0, **w),
            )
        if hasattr(est, "predict_proba"):
            try:
                proba = est.predict_proba(X)
            except Exception:
                proba = None
            if proba is not None:
                labels = getattr(est, "classes_", None)
                put("training_log_loss", lambda: skm.log_loss(y, proba, labels=labels, **w))
                if proba.shape[1] == 2:
                    put("training_roc_auc", lambda: skm.roc_auc_score(y, proba[:, 1], **w))
                else:
                    put(
                        "training_roc_auc",
                        lambda: skm.roc_auc_score(y, proba, multi_class="ovr", labels=labels, **w),
                    )
    elif is_regressor(kind):
        put("training_mean_squared_error", lambda: skm.mean_squared_error(y, pred, **w))
        put(
            "training_root_mean_squared_error",
            lambda: math.sqrt(skm.mean_squared_error(y, pred, **w)),
        )
        put("training_mean_absolute_error", lambda: skm.mean_absolute_error(y, pred, **w))
        put("training_r2_score", lambda: skm.r2_score(y, pred, **w))
    return out


def data_digest(X: Any, y: Any = None) -> tuple[str, dict[str, Any]]:
    """A content digest of the training data (X, and y when given) and X's schema.

    Arrays hash their dtype, shape and bytes; frames their column names, dtypes and
    ``hash_pandas_object`` values; sparse matrices their format, shape and buffers.
    """
    import numpy as np

    from mlopskit.hashing import new_digester

    h = new_digester()
    for part in (X, y):
        if part is None:
            h.update(b"\x00none")
            continue
        h.update(b"\x00part")
        _feed(h, part, np)
    return h.digest(), _schema(X, y, np)


def _feed(h: Any, part: Any, np: Any) -> None:
    module = type(part).__module__
    if module.startswith("pandas"):
        import pandas as pd

        if isinstance(part, pd.DataFrame):
            h.update(repr([(str(c), str(t)) for c, t in part.dtypes.items()]).encode())
        else:
            h.update(repr((str(part.name), str(part.dtype))).encode())
        h.update(pd.util.hash_pandas_object(part, index=True).to_numpy().tobytes())
        return
    if module.startswith("scipy") and hasattr(part, "tocsr"):
        csr = part.tocsr()
        h.update(f"csr{csr.shape}{csr.dtype.str}".encode())
        for buf in (csr.data, csr.indices, csr.indptr):
            h.update(np.ascontiguousarray(buf).tobytes())
        return
    arr = np.asarray(part)
    h.update(f"{arr.dtype.str}{arr.shape}".encode())
    if arr.dtype.hasobject:
        h.update(repr(arr.tolist()).encode())
    else:
        h.update(np.ascontiguousarray(arr).tobytes())


def _schema(X: Any, y: Any, np: Any) -> dict[str, Any]:
    def one(part: Any) -> dict[str, Any]:
        if hasattr(part, "dtypes") and hasattr(part, "columns"):
            return {
                "kind": "dataframe",
                "rows": int(part.shape[0]),
                "columns": [{"name": str(c), "type": str(t)} for c, t in part.dtypes.items()],
            }
        if hasattr(part, "tocsr"):
            return {"kind": "sparse", "shape": list(part.shape), "dtype": str(part.dtype)}
        if hasattr(part, "dtype") and hasattr(part, "name") and hasattr(part, "index"):
            return {
                "kind": "series",
                "rows": len(part),
                "name": str(part.name),
                "type": str(part.dtype),
            }
        arr = np.asarray(part)
        return {"kind": "array", "shape": list(arr.shape), "dtype": str(arr.dtype)}

    out = {"inputs": one(X)}
    if y is not None:
        out["targets"] = one(y)
    return out
