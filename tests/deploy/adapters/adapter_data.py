"""Models and frames the adapter tests share: three kinds of model (regression, binary,
multi-class) over numeric, categorical, nullable-int and string columns."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
import pytest


def mixed_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """Numeric, categorical, nullable-int and string columns."""
    rng = np.random.default_rng(seed)
    ints = pd.array(rng.integers(0, 10, n), dtype="Int64")
    ints[rng.random(n) < 0.2] = pd.NA
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "color": pd.Categorical(
                rng.choice(["red", "green", "blue"], n), categories=["blue", "green", "red"]
            ),
            "count": ints,
            "city": rng.choice(["paris", "oslo", "lima"], n).astype(object),
        }
    )


def mixed_model(kind: str) -> Any:
    """A scikit-learn pipeline over :func:`mixed_frame` columns: ``regression``,
    ``binary`` or ``multiclass`` (fitted once per session)."""
    pytest.importorskip("sklearn")
    pytest.importorskip("skops")
    return _fitted(kind)


@functools.cache
def _fitted(kind: str) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    # No SimpleImputer: its fitted dtype (numpy.dtype) is outside skops' trusted types.
    X = mixed_frame(300, seed=1)
    prep = ColumnTransformer(
        [
            ("num", "passthrough", ["x", "count"]),
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ["color", "city"],
            ),
        ]
    ).set_output(transform="pandas")
    score = X["x"] + X["count"].fillna(0).astype(float) / 5 + (X["city"] == "oslo")
    est: Any
    if kind == "regression":
        y, est = score.to_numpy(), HistGradientBoostingRegressor(max_iter=30)
    elif kind == "binary":
        y = (score > score.median()).astype(int).to_numpy()
        est = HistGradientBoostingClassifier(max_iter=30)
    else:
        y = np.digitize(score, np.quantile(score, [0.33, 0.66]))
        est = HistGradientBoostingClassifier(max_iter=30)
    return make_pipeline(prep, est).fit(X, y)
