"""drift.compare: a typo in method={...} or thresholds={...} is an error naming the column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlopskit as mk
from mlopskit.errors import NotFoundError


@pytest.fixture
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"income": rng.normal(size=200), "age": rng.normal(size=200)})
    cur = pd.DataFrame({"income": rng.normal(size=200) + 1, "age": rng.normal(size=200)})
    return ref, cur


def test_unknown_column_in_method(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """A method given for a column the data does not have names the closest column."""
    ref, cur = frames
    with pytest.raises(
        NotFoundError, match=r"names column 'incme'.*; did you mean 'income'"
    ) as info:
        mk.drift.compare(ref, cur, method={"incme": "psi"})
    assert info.value.name == "incme"


def test_unknown_key_in_thresholds(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """A threshold keyed by neither a column nor a method names the closest of either."""
    ref, cur = frames
    with pytest.raises(NotFoundError, match=r"names 'agee'.*; did you mean 'age'"):
        mk.drift.compare(ref, cur, thresholds={"agee": 0.1})
    with pytest.raises(NotFoundError, match="; did you mean 'psi'"):
        mk.drift.compare(ref, cur, thresholds={"pssi": 0.1})


def test_columns_and_methods_are_accepted_as_keys(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """Column names and method names (and their aliases) remain valid keys."""
    ref, cur = frames
    report = mk.drift.compare(
        ref,
        cur,
        columns=["income"],
        method={"income": "psi", "age": "ks"},  # 'age' exists, though not compared here
        thresholds={"income": 0.2, "ks": 0.01, "chisquare": 0.05},
    )
    assert report.to_frame()["method"].tolist() == ["psi"]
    assert report.to_frame()["threshold"].tolist() == [0.2]
