"""Hypothesis strategies for the drift tests, in one place."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# Finite floats from a small pool (ties are common) or anywhere in a moderate range.
_pool = st.sampled_from([-3.5, -1.0, -0.0, 0.0, 0.25, 1.0, 2.0, 1e-300, 7.0])
finite_floats = st.one_of(
    _pool,
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
)


def samples(min_size: int = 1, max_size: int = 60) -> st.SearchStrategy[np.ndarray]:
    """1-d float64 arrays of finite values, often with ties."""
    return hnp.arrays(np.float64, st.integers(min_size, max_size), elements=finite_floats)


messy_floats = st.one_of(finite_floats, st.sampled_from([np.nan, np.inf, -np.inf]))


@st.composite
def frames(draw: st.DrawFn, min_rows: int = 0, max_rows: int = 40) -> pd.DataFrame:
    """Small DataFrames with a numeric column (NaN/inf included), an int and a str column."""
    n = draw(st.integers(min_rows, max_rows))
    x = draw(hnp.arrays(np.float64, n, elements=messy_floats))
    k = draw(hnp.arrays(np.int64, n, elements=st.integers(-3, 3)))
    c = draw(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=n, max_size=n))
    return pd.DataFrame({"x": x, "k": k, "c": pd.Series(c, dtype=object)})


@st.composite
def partitions(draw: st.DrawFn, frame: pd.DataFrame, max_parts: int = 4) -> list[pd.DataFrame]:
    """Split a frame into consecutive, possibly empty, parts."""
    n = len(frame)
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=max_parts - 1)))
    bounds = [0, *cuts, n]
    return [frame.iloc[a:b] for a, b in itertools.pairwise(bounds)]
