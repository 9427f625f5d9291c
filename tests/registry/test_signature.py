"""infer_signature and schema validation, nullable pandas dtypes included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlopskit.errors import SchemaError
from mlopskit.registry import ModelSignature, infer_signature


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i64": np.array([1, 2, 3]),
            "i32": np.array([1, 2, 3], dtype="int32"),
            "f64": [0.5, 1.5, 2.5],
            "nint": pd.array([1, None, 3], dtype="Int64"),
            "nbool": pd.array([True, None, False], dtype="boolean"),
            "nfloat": pd.array([1.0, None, 2.0], dtype="Float64"),
            "text": pd.array(["a", None, "c"], dtype="string"),
            "cat": pd.Categorical(["x", "y", "x"]),
            "when": pd.to_datetime(["2024-01-01", "2024-01-02", None]),
            "tz": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]).tz_localize("UTC"),
        }
    )


class TestInfer:
    def test_nullable_pandas_dtypes_get_a_signature(self) -> None:
        """Every nullable dtype maps to its logical type with nullable=True (mlflow#25593)."""
        sig = infer_signature(frame())
        cols = {c.name: c for c in sig.inputs.columns or []}
        assert (cols["nint"].type, cols["nint"].nullable) == ("long", True)
        assert (cols["nbool"].type, cols["nbool"].nullable) == ("boolean", True)
        assert (cols["nfloat"].type, cols["nfloat"].nullable) == ("double", True)
        assert (cols["text"].type, cols["text"].nullable) == ("string", True)
        assert (cols["i64"].type, cols["i64"].nullable) == ("long", False)
        assert cols["i32"].type == "integer"
        assert cols["cat"].type == "category"
        assert cols["cat"].categories == ["x", "y"]
        assert (cols["when"].type, cols["when"].nullable) == ("datetime", True)
        assert cols["tz"].type == "datetime"

    def test_arrays_series_and_outputs(self) -> None:
        """Arrays become tensors with a -1 batch dimension; outputs are inferred too."""
        sig = infer_signature(np.zeros((10, 4), dtype="float32"), pd.Series([1, 0], name="y"))
        assert sig.inputs.tensor is not None
        assert sig.inputs.tensor.shape == [-1, 4]
        assert sig.outputs is not None
        assert sig.outputs.columns is not None
        assert sig.outputs.columns[0].name == "y"

    def test_uninferable_columns_are_errors_naming_them(self) -> None:
        """A mixed object column is a SchemaError naming the column, never a silent None."""
        with pytest.raises(SchemaError, match="'mixed'"):
            infer_signature(pd.DataFrame({"mixed": [1, "a"]}))
        with pytest.raises(SchemaError):
            infer_signature(object())

    def test_signature_round_trips_through_json(self) -> None:
        """A signature survives model_dump/model_validate unchanged."""
        sig = infer_signature(frame(), np.array([1.0]), params={"threshold": 0.5})
        assert ModelSignature.model_validate(sig.model_dump(mode="json")) == sig


class TestValidate:
    def test_matching_data_passes_and_widening_is_allowed(self) -> None:
        """Data of the signature's types (or narrower ints) validates."""
        sig = infer_signature(
            pd.DataFrame({"a": [1.0, 2.0], "b": pd.array([1, None], dtype="Int64")})
        )
        sig.inputs.validate_data(
            pd.DataFrame({"a": [1, 2], "b": pd.array([None, 2], dtype="Int64")})
        )

    def test_missing_columns_wrong_types_and_unexpected_nulls_fail(self) -> None:
        """Each mismatch is a SchemaError naming the column."""
        sig = infer_signature(pd.DataFrame({"a": [1, 2], "s": ["x", "y"]}))
        with pytest.raises(SchemaError, match="'s' is missing"):
            sig.inputs.validate_data(pd.DataFrame({"a": [1]}))
        with pytest.raises(SchemaError, match="column 'a'"):
            sig.inputs.validate_data(pd.DataFrame({"a": ["x"], "s": ["y"]}))
        with pytest.raises(SchemaError, match="missing values"):
            sig.inputs.validate_data(
                pd.DataFrame({"a": [1], "s": pd.array([None], dtype="string")})
            )

    def test_tensor_shapes(self) -> None:
        """Tensor inputs check dtype and the non-batch dimensions."""
        sig = infer_signature(np.zeros((3, 4)))
        sig.inputs.validate_data(np.ones((7, 4)))
        with pytest.raises(SchemaError):
            sig.inputs.validate_data(np.ones((7, 5)))
        with pytest.raises(SchemaError):
            sig.inputs.validate_data(np.ones((7, 4), dtype="float32"))
