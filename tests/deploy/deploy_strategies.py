"""Hypothesis strategies for the deploy tests: frames of every dtype a signature records."""

from __future__ import annotations

import datetime as dt
import string

import numpy as np
import pandas as pd
from hypothesis import strategies as st

# Text that survives CSV, JSON and OIP BYTES alike (no empty string: CSV cannot tell
# it from a missing value, which is documented).
_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " ,;\"'-_é", min_size=1, max_size=8)
_FLOATS = st.floats(
    allow_nan=False, allow_infinity=False, width=64, min_value=-1e12, max_value=1e12
)
_FLOAT32 = st.floats(allow_nan=False, allow_infinity=False, width=32, min_value=-1e6, max_value=1e6)


def _column(kind: str, n: int) -> st.SearchStrategy[pd.Series]:
    if kind == "float64":
        return st.lists(_FLOATS, min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="float64")
        )
    if kind == "float32":
        return st.lists(_FLOAT32, min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="float32")
        )
    if kind == "int64":
        return st.lists(st.integers(-(2**53), 2**53), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="int64")
        )
    if kind == "bigint64":
        return st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="int64")
        )
    if kind == "int32":
        return st.lists(st.integers(-(2**31), 2**31 - 1), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="int32")
        )
    if kind == "int8":
        return st.lists(st.integers(-128, 127), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="int8")
        )
    if kind == "uint8":
        return st.lists(st.integers(0, 255), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="uint8")
        )
    if kind == "bool":
        return st.lists(st.booleans(), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="bool")
        )
    if kind == "Int64":
        return st.lists(
            st.one_of(st.none(), st.integers(-(2**53), 2**53)), min_size=n, max_size=n
        ).map(lambda v: pd.Series(pd.array(v, dtype="Int64")))
    if kind == "boolean":
        return st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n).map(
            lambda v: pd.Series(pd.array(v, dtype="boolean"))
        )
    if kind == "Float64":
        return st.lists(st.one_of(st.none(), _FLOATS), min_size=n, max_size=n).map(
            lambda v: pd.Series(pd.array(v, dtype="Float64"))
        )
    if kind == "string":
        return st.lists(st.one_of(st.none(), _TEXT), min_size=n, max_size=n).map(
            lambda v: pd.Series(pd.array(v, dtype="string"))
        )
    if kind == "str":
        return st.lists(_TEXT, min_size=n, max_size=n).map(lambda v: pd.Series(v, dtype="str"))
    if kind == "category":
        return st.lists(
            st.one_of(st.none(), st.sampled_from(["red", "green", "blue"])), min_size=n, max_size=n
        ).map(lambda v: pd.Series(pd.Categorical(v, categories=["blue", "green", "red"])))
    if kind == "datetime":
        return st.lists(
            st.one_of(st.none(), st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(2100, 1, 1))),
            min_size=n,
            max_size=n,
        ).map(lambda v: pd.Series(pd.array(v, dtype="datetime64[us]")))
    if kind == "timedelta":
        return st.lists(
            st.one_of(st.none(), st.timedeltas(dt.timedelta(days=-999), dt.timedelta(days=999))),
            min_size=n,
            max_size=n,
        ).map(lambda v: pd.Series(pd.array(v, dtype="timedelta64[us]")))
    raise AssertionError(kind)


KINDS = (
    "float64",
    "float32",
    "int64",
    "int32",
    "int8",
    "uint8",
    "bool",
    "Int64",
    "boolean",
    "Float64",
    "string",
    "str",
    "category",
    "datetime",
    "timedelta",
)


@st.composite
def typed_frames(draw: st.DrawFn, min_rows: int = 1, max_rows: int = 6) -> pd.DataFrame:
    """Small frames with 1-4 columns, each of a dtype a signature can record."""
    n = draw(st.integers(min_rows, max_rows))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=4))
    cols = {f"c{i}_{k}": draw(_column(k, n)) for i, k in enumerate(kinds)}
    return pd.DataFrame(cols)


NUMERIC_KINDS = ("float64", "float32", "int64", "bigint64", "int32", "int8", "uint8")


@st.composite
def numeric_frames(draw: st.DrawFn, min_rows: int = 1, max_rows: int = 6) -> pd.DataFrame:
    """Frames of numeric numpy columns only: what the decoders' fast paths take."""
    n = draw(st.integers(min_rows, max_rows))
    kinds = draw(st.lists(st.sampled_from(NUMERIC_KINDS), min_size=1, max_size=4))
    return pd.DataFrame({f"c{i}_{k}": draw(_column(k, n)) for i, k in enumerate(kinds)})


def numeric_rows(rng: np.random.Generator, n: int, columns: list[str]) -> pd.DataFrame:
    """``n`` rows of standard-normal floats in ``columns``."""
    return pd.DataFrame(rng.normal(size=(n, len(columns))), columns=columns)
