"""XGBoost and LightGBM autologging: ``xgboost.train`` / ``lightgbm.train`` log a run.

A callback added to the call logs every evaluation result per iteration
(``<data>-<metric>``, e.g. ``validation-logloss`` at step = iteration); after training
the run gets the params, ``num_boost_round``, ``best_iteration`` and
``stopped_iteration`` when early stopping was used, and the booster in the library's
own format (``model.ubj`` for XGBoost, ``model.txt`` for LightGBM), never a pickle.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlopskit.tracking._autolog import Patches, autolog_run, config, safely, session
from mlopskit.tracking._flatten import flatten_params

if TYPE_CHECKING:
    from mlopskit.tracking._run import Run

__all__ = ["install", "metric_key"]

_BAD = re.compile(r"[^A-Za-z0-9_\-. /:]")


def metric_key(data: str, metric: str) -> str:
    """``<data>-<metric>`` with characters a metric name cannot hold replaced by ``_``."""
    return _BAD.sub("_", f"{data}-{metric}")


def install(flavor: str, patches: Patches) -> int:
    """Patch ``<flavor>.train`` (xgboost or lightgbm); 1 if patched."""
    module = importlib.import_module(flavor)
    make = _xgboost_train if flavor == "xgboost" else _lightgbm_train
    return int(patches.patch(module, "train", make))


def _bind(original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = inspect.signature(original).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound


def _log_params(run: Run, flavor: str, params: Any, extra: dict[str, Any]) -> None:
    run.set_tags({"mlopskit.autolog": flavor})
    run.log_params(flatten_params({**dict(params or {}), **extra}))


class _Points:
    """Metric points gathered by a callback, logged in one call per iteration."""

    def __init__(self, run: Run, flavor: str) -> None:
        self.run = run
        self.flavor = flavor
        self.last_step = -1

    def log(self, values: dict[str, float], step: int) -> None:
        self.last_step = max(self.last_step, step)
        if values:  # NaN and ±inf as the library reported them (a diverging eval)
            safely(self.flavor, self.run.log_metrics, values, step)


def _xgboost_train(original: Callable[..., Any]) -> Callable[..., Any]:
    import xgboost

    class _Callback(xgboost.callback.TrainingCallback):  # type: ignore[misc,unused-ignore]
        def __init__(self, points: _Points) -> None:
            self.points = points

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            values = {}
            for data, metrics in evals_log.items():
                for metric, history in metrics.items():
                    last = history[-1]
                    value = last[0] if isinstance(last, tuple) else last
                    values[metric_key(data, metric)] = float(value)
            self.points.log(values, epoch)
            return False

    @functools.wraps(original)
    def train(*args: Any, **kwargs: Any) -> Any:
        if not session.enter():
            return original(*args, **kwargs)
        try:
            bound = _bind(original, args, kwargs)
            with autolog_run() as run:
                points = _Points(run, "xgboost")
                bound.arguments["callbacks"] = [
                    *(bound.arguments["callbacks"] or []),
                    _Callback(points),
                ]
                booster = original(*bound.args, **bound.kwargs)
                extra = {
                    "num_boost_round": bound.arguments["num_boost_round"],
                    "early_stopping_rounds": bound.arguments["early_stopping_rounds"],
                }
                safely("xgboost", _record_xgboost, run, bound.arguments["params"], extra, booster)
            return booster
        finally:
            session.leave()

    return train


def _record_xgboost(run: Run, params: Any, extra: dict[str, Any], booster: Any) -> None:
    _log_params(run, "xgboost", params, extra)
    if extra["early_stopping_rounds"] is not None:
        best = booster.attr("best_iteration")
        if best is not None:
            run.log_metrics(
                {
                    "best_iteration": float(best),
                    "stopped_iteration": float(booster.num_boosted_rounds() - 1),
                }
            )
    if config.log_models:
        raw = booster.save_raw(raw_format="ubj")
        run.log_artifact(bytes(raw), name="model.ubj")
        run.set_tag("mlopskit.autolog.model", "model.ubj")


def _lightgbm_train(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def train(*args: Any, **kwargs: Any) -> Any:
        if not session.enter():
            return original(*args, **kwargs)
        try:
            bound = _bind(original, args, kwargs)
            with autolog_run() as run:
                points = _Points(run, "lightgbm")

                def callback(env: Any) -> None:
                    values = {
                        metric_key(data, name): float(value)
                        for data, name, value, *_ in env.evaluation_result_list or []
                    }
                    points.log(values, env.iteration)

                callback.order = 25  # type: ignore[attr-defined]  # before early stopping (30)
                bound.arguments["callbacks"] = [*(bound.arguments["callbacks"] or []), callback]
                booster = original(*bound.args, **bound.kwargs)
                extra = {"num_boost_round": bound.arguments["num_boost_round"]}
                safely(
                    "lightgbm",
                    _record_lightgbm,
                    run,
                    bound.arguments["params"],
                    extra,
                    booster,
                    points.last_step,
                )
            return booster
        finally:
            session.leave()

    return train


def _record_lightgbm(
    run: Run, params: Any, extra: dict[str, Any], booster: Any, last_step: int
) -> None:
    _log_params(run, "lightgbm", params, extra)
    best = getattr(booster, "best_iteration", 0) or 0
    if best > 0:  # early stopping: the booster returned is cut at the best iteration
        run.log_metrics({"best_iteration": float(best), "stopped_iteration": float(last_step)})
    if config.log_models:
        run.log_text(booster.model_to_string(), "model.txt")
        run.set_tag("mlopskit.autolog.model", "model.txt")
