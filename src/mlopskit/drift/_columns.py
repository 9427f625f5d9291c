"""Turning user input into per-column numeric arrays or category counts.

A column is *numeric* when its dtype is a number (integers, floats, pandas nullable
numbers; not bool) and *categorical* when it is bool, object, string or category.
Anything else (datetimes, complex, intervals) is refused with a :class:`SchemaError`.

Missing values are separated from the values a statistic sees: for numeric columns
NaN (and ``pd.NA``), ``+inf`` and ``-inf`` are counted apart; for categorical columns
``None``/NaN/``pd.NA`` are missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mlopskit.errors import InvalidInputError, SchemaError

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import NDArray

__all__ = [
    "Category",
    "CategoryCounts",
    "Kind",
    "as_frame",
    "category_counts",
    "column_kind",
    "dtype_label",
    "missing_counts",
    "sort_categories",
]

Kind = Literal["numeric", "categorical"]
Category = bool | int | float | str


@dataclass(frozen=True)
class CategoryCounts:
    """Counts of the distinct non-missing values of one categorical column."""

    values: list[Category]  # canonical order (see sort_categories)
    counts: NDArray[np.int64]
    rows: int
    missing: int


def as_frame(data: Any, *, what: str) -> pd.DataFrame:
    """A pandas DataFrame from a DataFrame, a mapping of columns or a list of records."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, Mapping):
        try:
            frame = pd.DataFrame(dict(data))
        except ValueError as exc:
            raise InvalidInputError(f"{what} is not a valid table of columns: {exc}") from exc
    elif isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        if not all(isinstance(rec, Mapping) for rec in data):
            raise InvalidInputError(
                f"{what} must be a DataFrame, a mapping of columns or a list of record dicts; "
                "found a sequence whose items are not all mappings"
            )
        frame = pd.DataFrame.from_records(list(data))
    else:
        raise InvalidInputError(
            f"{what} must be a pandas DataFrame, a mapping of columns, a list of record dicts "
            f"or a ReferenceProfile; found {type(data).__name__}"
        )
    if not all(isinstance(c, str) for c in frame.columns):
        frame = frame.rename(columns=str)
    if frame.columns.has_duplicates:
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise SchemaError(f"{what} has duplicate column names {dupes}; rename them first")
    return frame


def column_kind(series: pd.Series, *, name: str) -> Kind:
    """``"numeric"`` or ``"categorical"`` from the dtype, or a SchemaError."""
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return "numeric"
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype):
        return "categorical"
    if pd.api.types.is_string_dtype(dtype):
        return "categorical"
    raise SchemaError(
        f"column {name!r} has dtype {dtype}, which drift statistics do not handle; "
        "convert it to numbers or strings, or leave it out with columns=[...]",
        column=name,
        found=str(dtype),
    )


def dtype_label(series: pd.Series) -> str:
    """A stable name for a column's dtype: numeric dtypes lower-cased (``Int64`` is
    ``int64``), every string dtype ``string``, plus ``bool``, ``category`` and ``object``."""
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_object_dtype(dtype):
        return "object"
    if pd.api.types.is_string_dtype(dtype):
        return "string"
    return str(dtype).lower()


def numeric_array(series: Any) -> NDArray[np.float64]:
    """float64 values with NaN for missing (no copy for a float64 column)."""
    import pandas as pd

    if isinstance(series, pd.Series):
        if series.dtype == np.float64:
            return np.asarray(series.to_numpy())
        return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan))
    return np.asarray(series, dtype=np.float64)


def missing_counts(values: NDArray[np.float64]) -> tuple[int, int, int]:
    """Counts of NaN, +inf and -inf."""
    n_finite = int(np.count_nonzero(np.isfinite(values)))
    if n_finite == values.shape[0]:
        return 0, 0, 0
    posinf = int(np.count_nonzero(values == np.inf))
    neginf = int(np.count_nonzero(values == -np.inf))
    return int(values.shape[0]) - n_finite - posinf - neginf, posinf, neginf


def _canonical(value: Any, *, column: str) -> Category:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float, str)):
        return value
    raise SchemaError(
        f"column {column!r} holds a value of type {type(value).__name__} ({value!r}); "
        "categories must be str, int, float or bool: convert with .astype(str)",
        column=column,
        found=type(value).__name__,
    )


_TYPE_RANK = {bool: 0, int: 1, float: 1, str: 2}


def _sort_key(value: Category) -> tuple[int, Any]:
    return (_TYPE_RANK[type(value)], value)


def sort_categories(
    values: Sequence[Category], counts: NDArray[np.int64]
) -> tuple[list[Category], NDArray[np.int64]]:
    """Categories in canonical order: bools, then numbers, then strings, each ascending."""
    order = sorted(range(len(values)), key=lambda i: _sort_key(values[i]))
    return [values[i] for i in order], np.asarray(counts, dtype=np.int64)[order]


def category_counts(series: pd.Series, *, name: str) -> CategoryCounts:
    """Counts per distinct non-missing value of a categorical column."""
    import pandas as pd

    rows = len(series)
    try:
        counts = series.value_counts(dropna=True, sort=False)
    except TypeError as exc:
        raise SchemaError(
            f"column {name!r} holds unhashable values ({exc}); convert them with .astype(str)",
            column=name,
        ) from exc
    counts = counts[counts.to_numpy() > 0]
    missing = rows - int(counts.to_numpy().sum())
    raw = counts.index.tolist()
    if isinstance(series.dtype, pd.CategoricalDtype):
        raw = [v.item() if isinstance(v, np.generic) else v for v in raw]
    values = [_canonical(v, column=name) for v in raw]
    ordered, ordered_counts = sort_categories(values, counts.to_numpy(dtype=np.int64))
    return CategoryCounts(ordered, ordered_counts, rows, missing)
