"""The metrics a model check compares, and a paired bootstrap of their difference.

Each metric takes ``(y_true, y_pred)`` as numpy arrays and says whether higher is
better. Rows are put in a canonical order first (sorted by ``(y, challenger,
champion)``), so the point values and the bootstrap resamples — and so the verdict —
never depend on the order of the held-out rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlopskit.errors import InvalidInputError

__all__ = ["METRICS", "Metric", "canonical_order", "metric", "paired_bootstrap"]


@dataclass(frozen=True)
class Metric:
    """A named metric: ``fn(y_true, y_pred) -> float``; ``higher_is_better`` gives its sense."""

    name: str
    fn: Callable[[Any, Any], float]
    higher_is_better: bool


def _accuracy(y: Any, p: Any) -> float:
    return float(np.mean(y == p)) if len(y) else float("nan")


def _f1_macro(y: Any, p: Any) -> float:
    labels = np.unique(np.concatenate([y, p]))
    scores = []
    for label in labels:
        tp = float(np.sum((p == label) & (y == label)))
        fp = float(np.sum((p == label) & (y != label)))
        fn = float(np.sum((p != label) & (y == label)))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(scores)) if scores else float("nan")


def _numeric(y: Any, p: Any) -> tuple[Any, Any]:
    try:
        return np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInputError(
            "a regression metric (mae, mse, rmse, r2) needs numeric targets and predictions; "
            "use accuracy or f1 for labels",
            expected="numbers",
            found=str(np.asarray(y).dtype),
        ) from None


def _mae(y: Any, p: Any) -> float:
    a, b = _numeric(y, p)
    return float(np.mean(np.abs(a - b)))


def _mse(y: Any, p: Any) -> float:
    a, b = _numeric(y, p)
    return float(np.mean((a - b) ** 2))


def _rmse(y: Any, p: Any) -> float:
    return float(np.sqrt(_mse(y, p)))


def _r2(y: Any, p: Any) -> float:
    a, b = _numeric(y, p)
    total = float(np.sum((a - a.mean()) ** 2))
    resid = float(np.sum((a - b) ** 2))
    if total == 0.0:
        return 1.0 if resid == 0.0 else 0.0
    return 1.0 - resid / total


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", _accuracy, True),
        Metric("f1", _f1_macro, True),
        Metric("mae", _mae, False),
        Metric("mse", _mse, False),
        Metric("r2", _r2, True),
        Metric("rmse", _rmse, False),
    )
}


def metric(name: str) -> Metric:
    """The built-in metric ``name`` (InvalidInputError listing the known ones otherwise)."""
    found = METRICS.get(name) if isinstance(name, str) else None
    if found is None:
        raise InvalidInputError(
            f"unknown metric {name!r}; known metrics: {sorted(METRICS)}",
            expected=sorted(METRICS),
            found=name,
            key="metrics",
        )
    return found


def canonical_order(y: Any, a: Any, b: Any) -> tuple[Any, Any, Any]:
    """``y``, ``a``, ``b`` with their rows sorted by ``(y, a, b)``: an order-free form."""
    import pandas as pd

    frame = pd.DataFrame({"y": y, "a": a, "b": b})
    try:
        frame = frame.sort_values(["y", "a", "b"], kind="mergesort", ignore_index=True)
    except TypeError:  # mixed types in a column: order by their text instead
        keys = frame.astype(str)
        frame = frame.iloc[keys.sort_values(["y", "a", "b"], kind="mergesort").index]
    return frame["y"].to_numpy(), frame["a"].to_numpy(), frame["b"].to_numpy()


def paired_bootstrap(
    m: Metric,
    y: Any,
    challenger: Any,
    champion: Any,
    *,
    resamples: int,
    confidence: float,
    seed: int,
) -> tuple[float, float]:
    """The ``confidence`` interval of the challenger's improvement over the champion
    (positive = better, in the metric's sense), resampling rows together."""
    rng = np.random.default_rng(seed)
    n = len(y)
    sign = 1.0 if m.higher_is_better else -1.0
    diffs = np.empty(resamples)
    for i in range(resamples):
        idx = rng.integers(0, n, size=n)
        diffs[i] = sign * (m.fn(y[idx], challenger[idx]) - m.fn(y[idx], champion[idx]))
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(diffs, [alpha, 1.0 - alpha])
    return float(low), float(high)
