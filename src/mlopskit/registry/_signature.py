"""Model signatures: the input and output schema a model expects, inferred from data.

Nullable pandas dtypes (``Int64``, ``boolean``, ``string``, ``Float64``, …) map to
their logical type with ``nullable=True`` — a signature is never dropped silently
(mlflow#25593). A column whose type cannot be inferred is a :class:`SchemaError`
naming it.
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mlopskit.errors import SchemaError

__all__ = ["ColumnSpec", "ModelSignature", "Schema", "TensorSpec", "infer_signature"]

# A value of the key type may be passed where the value type is expected.
_WIDENS = {
    "integer": {"integer", "long", "float", "double"},
    "long": {"long", "double"},
    "float": {"float", "double"},
    "boolean": {"boolean"},
}


class ColumnSpec(BaseModel):
    """One column: logical ``type``, the exact ``dtype`` seen, and whether nulls are allowed.

    Types: ``boolean``, ``integer`` (≤ 32 bits), ``long``, ``float``, ``double``,
    ``string``, ``binary``, ``datetime``, ``duration``, ``category``.
    """

    model_config = ConfigDict(frozen=True)

    name: str | None = None
    type: str
    dtype: str
    nullable: bool = False
    categories: list[Any] | None = None


class TensorSpec(BaseModel):
    """An array input: dtype and shape, ``-1`` for the batch dimension."""

    model_config = ConfigDict(frozen=True)

    dtype: str
    shape: list[int]


class Schema(BaseModel):
    """Columns (tabular data) or a tensor (arrays)."""

    model_config = ConfigDict(frozen=True)

    columns: list[ColumnSpec] | None = None
    tensor: TensorSpec | None = None

    def validate_data(self, data: Any) -> None:
        """Raise :class:`SchemaError` if ``data`` does not fit this schema.

        Missing columns, a type that cannot be converted losslessly, and nulls in a
        non-nullable column are errors; extra columns are allowed.
        """
        found = _infer(data, "data")
        if self.tensor is not None:
            if found.tensor is None:
                raise SchemaError(
                    f"expected an array {self.tensor}, found columns", found=str(found)
                )
            want, got = self.tensor, found.tensor
            if want.dtype != got.dtype or len(want.shape) != len(got.shape):
                raise SchemaError(
                    f"expected an array of {want.dtype} with shape {want.shape}, found "
                    f"{got.dtype} with shape {got.shape}",
                    expected=want.model_dump(),
                    found=got.model_dump(),
                )
            for w, g in zip(want.shape[1:], got.shape[1:]):
                if w != -1 and w != g:
                    raise SchemaError(f"expected shape {want.shape}, found {got.shape}")
            return
        have = {c.name: c for c in found.columns or []}
        for col in self.columns or []:
            got_col = have.get(col.name)
            if got_col is None:
                raise SchemaError(
                    f"column {col.name!r} is missing; expected columns "
                    f"{[c.name for c in self.columns or []]}",
                    column=col.name,
                )
            if got_col.type != col.type and col.type not in _WIDENS.get(got_col.type, set()):
                raise SchemaError(
                    f"column {col.name!r}: expected {col.type} ({col.dtype}), found "
                    f"{got_col.type} ({got_col.dtype})",
                    column=col.name,
                    expected=col.type,
                    found=got_col.type,
                )
            if got_col.nullable and not col.nullable and _has_nulls(data, col.name):
                raise SchemaError(
                    f"column {col.name!r} has missing values but the signature does not allow them",
                    column=col.name,
                )


class ModelSignature(BaseModel):
    """What a model takes (``inputs``) and returns (``outputs``)."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    inputs: Schema
    outputs: Schema | None = None
    params: dict[str, Any] = Field(default_factory=dict)


def _has_nulls(data: Any, column: str | None) -> bool:
    import pandas as pd

    if isinstance(data, pd.DataFrame) and column in data.columns:
        return bool(data[column].isna().any())
    return False


def _column(name: str | None, series: Any) -> ColumnSpec:
    import pandas as pd

    dtype = series.dtype
    text = str(dtype)
    has_nulls = bool(series.isna().any())
    # Dtypes whose missing value is pd.NA (Int64, boolean, Float64, string, Arrow types)
    # are chosen to hold nulls: such a column is nullable even if this sample has none.
    nullable_ext = getattr(dtype, "na_value", None) is pd.NA
    nullable = has_nulls or nullable_ext
    if isinstance(dtype, pd.CategoricalDtype):
        return ColumnSpec(
            name=name,
            type="category",
            dtype=text,
            nullable=has_nulls,
            categories=[c.item() if hasattr(c, "item") else c for c in dtype.categories],
        )
    if pd.api.types.is_bool_dtype(dtype):
        kind = "boolean"
    elif pd.api.types.is_integer_dtype(dtype):
        size = getattr(getattr(dtype, "numpy_dtype", dtype), "itemsize", 8)
        unsigned = pd.api.types.is_unsigned_integer_dtype(dtype)
        kind = "integer" if size < 4 or (size == 4 and not unsigned) else "long"
    elif pd.api.types.is_float_dtype(dtype):
        size = getattr(getattr(dtype, "numpy_dtype", dtype), "itemsize", 8)
        kind = "float" if size <= 4 else "double"
    elif pd.api.types.is_datetime64_any_dtype(dtype):
        kind = "datetime"
    elif pd.api.types.is_timedelta64_dtype(dtype):
        kind = "duration"
    elif isinstance(dtype, pd.StringDtype):
        kind = "string"
    elif pd.api.types.is_object_dtype(dtype):
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred == "string":
            kind = "string"
        elif inferred == "bytes":
            kind = "binary"
        elif inferred == "empty":
            kind = "string"
        else:
            raise SchemaError(
                f"cannot infer a type for column {name!r}: object dtype holding {inferred} "
                "values; convert it (e.g. .astype('string')) or pass signature= explicitly",
                column=name,
                found=inferred,
            )
    else:
        raise SchemaError(
            f"cannot infer a type for column {name!r} of dtype {text}; convert it or pass "
            "signature= explicitly",
            column=name,
            found=text,
        )
    return ColumnSpec(name=name, type=kind, dtype=text, nullable=nullable)


def _infer(data: Any, what: str) -> Schema:
    if "pandas" in sys.modules:
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            return Schema(columns=[_column(str(c), data[c]) for c in data.columns])
        if isinstance(data, pd.Series):
            return Schema(columns=[_column(None if data.name is None else str(data.name), data)])
    import numpy as np

    if isinstance(data, dict) and data:
        return Schema(columns=[_column(str(k), _as_series(v, str(k))) for k, v in data.items()])
    if isinstance(data, (list, tuple)):
        data = np.asarray(data)
    if isinstance(data, np.ndarray):
        if data.dtype.hasobject:
            raise SchemaError(
                f"cannot infer a signature for {what}: an object array; pass a DataFrame "
                "or a typed array",
                found="object",
            )
        shape = [-1, *data.shape[1:]] if data.ndim else []
        return Schema(tensor=TensorSpec(dtype=str(data.dtype), shape=[int(s) for s in shape]))
    raise SchemaError(
        f"cannot infer a signature for {what}: a {type(data).__qualname__}; pass a "
        "DataFrame, Series, numpy array, dict of columns, or signature= explicitly",
        found=type(data).__qualname__,
    )


def _as_series(values: Any, name: str) -> Any:
    import pandas as pd

    return values if isinstance(values, pd.Series) else pd.Series(values, name=name)


def infer_signature(
    model_input: Any, model_output: Any = None, params: dict[str, Any] | None = None
) -> ModelSignature:
    """Infer a :class:`ModelSignature` from example inputs (and outputs).

    Args:
        model_input: a DataFrame, Series, numpy array or dict of columns.
        model_output: predictions in the same forms, or None.
        params: inference parameters and their defaults, recorded as they are.

    Raises:
        SchemaError: a column or value whose type cannot be inferred (never a
            silently missing signature).

    Example:
        >>> import pandas as pd
        >>> sig = infer_signature(pd.DataFrame({"a": pd.array([1, None], dtype="Int64")}))
        >>> sig.inputs.columns[0].type, sig.inputs.columns[0].nullable
        ('long', True)
    """
    return ModelSignature(
        inputs=_infer(model_input, "the input"),
        outputs=None if model_output is None else _infer(model_output, "the output"),
        params=dict(params or {}),
    )
