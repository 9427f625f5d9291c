"""One decoding path for every input shape, and the response encoders.

Every request body or in-process input becomes a :class:`pandas.DataFrame` (or, for a
tensor signature, a numpy array) through :func:`to_frame`, then is conformed to the
model's signature by :func:`conform` — so CSV, JSON records, OIP V2 tensors and a
DataFrame handed in directly can never disagree on dtypes (MLflow #5525).

Shapes understood by :func:`to_frame`:

- a DataFrame, a Series, a dict of columns, a list of records (dicts), numpy arrays
  (2-D, or 1-D for one column), a list of lists (rows);
- MLflow's JSON bodies: ``{"dataframe_split": {...}}``, ``{"dataframe_records": [...]}``,
  ``{"instances": ...}``, ``{"inputs": ...}`` (exactly one of them, plus ``params``);
- CSV text (header row first): every field is read as text and converted by
  :func:`conform` with the signature's dtypes, the same conversion JSON gets;
- Open Inference Protocol V2 inference requests (``{"inputs": [{name, shape,
  datatype, data}]}``): one tensor per column, or one ``[rows, columns]`` tensor.

Errors: a body that does not parse, or data that does not fit the signature, raises
:class:`~mlopskit.errors.InvalidInputError` / :class:`~mlopskit.errors.SchemaError`
naming the column, what was expected and what was found. How much of the caller's
input a message quotes is bounded by ``echo`` (characters; 0 = none, the default,
so errors never leak request data: MLflow #16537).
"""

from __future__ import annotations

import csv
import io
import json
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlopskit.errors import InvalidInputError, SchemaError

if TYPE_CHECKING:
    from mlopskit.registry import ColumnSpec, ModelSignature, TensorSpec

__all__ = [
    "MLFLOW_SHAPES",
    "V2_DATATYPES",
    "Conformer",
    "DecodedRequest",
    "conform",
    "decode_csv",
    "decode_mlflow",
    "decode_v2",
    "decode_v2_response",
    "encode_mlflow",
    "encode_mlflow_request",
    "encode_v2",
    "encode_v2_request",
    "signature_tensors",
    "to_frame",
]

MLFLOW_SHAPES = ("dataframe_split", "dataframe_records", "instances", "inputs")

# OIP V2 datatype -> numpy dtype (BYTES holds strings in JSON).
V2_DATATYPES: dict[str, str] = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "object",
}
_NUMPY_TO_V2 = {v: k for k, v in V2_DATATYPES.items() if k != "BYTES"}
_TRUE = frozenset({"true", "1", "t", "yes"})
_FALSE = frozenset({"false", "0", "f", "no"})
_NUMERIC = frozenset({"integer", "long", "float", "double"})


@dataclass(frozen=True)
class DecodedRequest:
    """A decoded request body.

    Attributes:
        frame: the inputs as a DataFrame, one column per signature input (for a
            tensor signature: a numpy array).
        id: the OIP V2 request ``id`` to echo back, if any.
        parameters: MLflow ``params`` / OIP ``parameters`` sent with the request.
        outputs: the OIP ``outputs`` the client asked for (names), or None for all.
    """

    frame: Any
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    outputs: list[str] | None = None


# -- quoting and errors ----------------------------------------------------------------------


def _quote(value: Any, echo: int) -> str:
    """``value`` as a message may show it: at most ``echo`` characters, or not at all."""
    if echo <= 0:
        return "<hidden>"
    text = repr(value)
    return text if len(text) <= echo else text[: max(echo - 1, 1)] + "…"


def _bad(message: str, **fields: Any) -> InvalidInputError:
    return InvalidInputError(message, **fields)


_FAST_JSON: list[Any] = []


def _fast_loads() -> Any:
    """orjson's ``loads`` when installed (the ``serve`` extra has it), else None."""
    if not _FAST_JSON:
        try:
            import orjson

            _FAST_JSON.append(orjson.loads)
        except ImportError:
            _FAST_JSON.append(None)
    return _FAST_JSON[0]


def _has_json_bool(body: bytes) -> bool:
    """Whether a JSON body may hold ``true`` or ``false`` (then numbers take the careful
    path: numpy would read a boolean among floats as 1.0).

    Each word is looked for only where its first letter is (``bytes.find`` of one byte
    is a memchr; a numeric body holds a handful of them, in its keys): about 100 times
    cheaper than ``b"true" in body`` on a 400 kB body.
    """
    for word in (b"true", b"false"):
        first = word[:1]
        i = body.find(first)
        while i != -1:
            if body.startswith(word, i):
                return True
            i = body.find(first, i + 1)
    return False


def _load_json(body: bytes | str, what: str) -> Any:
    fast = _fast_loads()
    if fast is not None:
        try:
            return fast(body)
        except ValueError:
            pass  # stdlib json decides (it also reads NaN and Infinity): same answer either way
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(
            f"the {what} body is not valid JSON ({exc.__class__.__name__} at "
            f"position {getattr(exc, 'pos', getattr(exc, 'start', '?'))}); send a JSON object",
            expected="JSON",
            found="invalid JSON",
        ) from None


# -- any shape -> frame ----------------------------------------------------------------------


def _column_names(signature: ModelSignature | None) -> list[str] | None:
    if signature is None or not signature.inputs.columns:
        return None
    return [str(c.name) for c in signature.inputs.columns]


def _tensor_spec(signature: ModelSignature | None) -> TensorSpec | None:
    return None if signature is None else signature.inputs.tensor


def _numeric_rows(
    rows: Sequence[Any], signature: ModelSignature | None, maybe_bool: bool = True
) -> Any:
    """Rows of numbers for an all-numeric signature as a typed frame, or None.

    The fast path of :func:`to_frame` (one numpy conversion instead of a DataFrame of
    Python objects); anything unusual — text, booleans, nulls where the signature
    allows none, non-integral values for an integer column — returns None so the
    general path runs and reports it.
    """
    conformer = conformer_for(signature)
    if not conformer.numeric or conformer.dtypes is None or not rows:
        return None
    if not isinstance(rows[0], (list, tuple)):
        return None
    if maybe_bool and any(v is True or v is False for row in rows for v in row):
        return None
    try:
        arr = np.array(rows)  # numbers only: text, nulls and ragged rows give other kinds
    except (TypeError, ValueError, OverflowError):
        return None
    names = conformer.names
    if arr.ndim != 2 or arr.shape[1] != len(names) or arr.dtype.kind not in "if":
        return None
    return _typed_block(arr.astype(np.float64), conformer)


def _typed_block(arr: np.ndarray, conformer: Conformer) -> Any:
    """A float matrix as a frame with the signature's numeric dtypes, or None if lossy."""
    dtypes = conformer.dtypes or []
    if not np.isfinite(arr.sum()):  # nulls (or infinities): the general path decides
        return None
    if all(d == np.float64 for d in dtypes):
        return pd.DataFrame(arr, columns=conformer.columns)
    cols: dict[str, Any] = {}
    for i, (name, dtype) in enumerate(zip(conformer.names, dtypes)):
        col = arr[:, i]
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            lo, hi = max(info.min, -(2**53)), min(info.max, 2**53)  # exact in a float64
            if not np.array_equal(col, np.trunc(col)) or (
                len(col) and (col.min() < lo or col.max() > hi)
            ):
                return None
        elif dtype.kind == "b":
            return None
        cols[name] = col.astype(dtype)
    return pd.DataFrame(cols, columns=conformer.columns)


def _rows_to_frame(rows: Sequence[Any], names: list[str] | None, echo: int) -> Any:
    if not rows:
        return pd.DataFrame(columns=names or [])
    first = rows[0]
    if isinstance(first, Mapping):
        return pd.DataFrame.from_records(list(rows))
    if isinstance(first, (list, tuple)):
        width = len(first)
        if names is not None and width != len(names):
            raise SchemaError(
                f"expected rows of {len(names)} values ({names}), found rows of {width}",
                expected=len(names),
                found=width,
            )
        for i, row in enumerate(rows):
            if not isinstance(row, (list, tuple)) or len(row) != width:
                raise _bad(
                    f"row {i} has a different length than row 0 ({width} values); "
                    f"found {_quote(row, echo)}",
                    expected=width,
                )
        return pd.DataFrame(list(rows), columns=names)
    # A flat list: one column.
    return pd.DataFrame({names[0] if names and len(names) == 1 else "0": list(rows)})


def to_frame(data: Any, *, signature: ModelSignature | None = None, echo: int = 0) -> Any:
    """Turn any supported input shape into a DataFrame (or an array for tensor models).

    Args:
        data: see the module docstring for the shapes understood.
        signature: the model's signature; names unnamed columns.
        echo: how many characters of the input an error message may quote.

    Raises:
        InvalidInputError: an input shape that is not understood.
    """
    tensor = _tensor_spec(signature)
    names = _column_names(signature)
    if isinstance(data, pd.DataFrame):
        return data.to_numpy() if tensor is not None else data
    if isinstance(data, pd.Series):
        if tensor is not None:
            return data.to_numpy()
        return data.to_frame(name=data.name if data.name is not None else (names or ["0"])[0])
    if isinstance(data, np.ndarray):
        if tensor is not None:
            return data
        if data.ndim == 1:
            if names is not None and len(names) != 1:
                raise SchemaError(
                    f"expected {len(names)} columns {names}, found a 1-D array",
                    expected=names,
                    found="1-D array",
                )
            return pd.DataFrame({(names or ["0"])[0]: data})
        if data.ndim != 2:
            raise _bad(
                f"expected a 1-D or 2-D array, found {data.ndim} dimensions",
                expected="ndim <= 2",
                found=data.ndim,
            )
        if names is not None and data.shape[1] != len(names):
            raise SchemaError(
                f"expected {len(names)} columns {names}, found an array with {data.shape[1]}",
                expected=len(names),
                found=data.shape[1],
            )
        # The signature's one Index object: no new Index per request, and the conformer
        # recognises its own columns by identity.
        return pd.DataFrame(data, columns=conformer_for(signature).columns if names else None)
    if isinstance(data, (bytes, bytearray)):
        return to_frame(_load_json(bytes(data), "request"), signature=signature, echo=echo)
    if isinstance(data, str):
        return decode_csv(data, signature=signature, echo=echo)
    if isinstance(data, Mapping):
        return _from_mapping(data, signature, echo)
    if isinstance(data, (list, tuple)):
        if tensor is not None:
            return _as_array(data, tensor.dtype, echo)
        fast = _numeric_rows(data, signature)
        return fast if fast is not None else _rows_to_frame(data, names, echo)
    raise _bad(
        f"cannot read a {type(data).__qualname__} as model input; pass a DataFrame, a dict "
        "of columns, a list of records or rows, a numpy array, CSV text, or an MLflow / "
        "OIP V2 JSON body",
        found=type(data).__qualname__,
    )


def _as_array(data: Any, dtype: str, echo: int) -> np.ndarray:
    try:
        return np.asarray(data, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise SchemaError(
            f"expected an array of {dtype}, found values that do not convert "
            f"({type(exc).__name__}); first row: {_quote(data[0] if len(data) else data, echo)}",
            expected=dtype,
        ) from None


def _is_v2_request(data: Mapping[str, Any]) -> bool:
    """An OIP V2 body: ``inputs`` is a list of tensors (objects with datatype and shape)."""
    inputs = data.get("inputs")
    return (
        isinstance(inputs, list)
        and bool(inputs)
        and all(isinstance(t, Mapping) and "datatype" in t and "shape" in t for t in inputs)
    )


def _from_mapping(data: Mapping[str, Any], signature: ModelSignature | None, echo: int) -> Any:
    if _is_v2_request(data):
        return _decode_v2_object(data, signature, echo).frame
    keys = [k for k in MLFLOW_SHAPES if k in data]
    if keys:
        return _from_mlflow(data, keys, signature, echo)
    # A dict of columns.
    if _tensor_spec(signature) is not None:
        raise SchemaError(
            "expected an array (the model takes a tensor), found a dict of columns",
            expected="array",
            found="dict",
        )
    cols = {}
    for key, value in data.items():
        if isinstance(value, (pd.Series, np.ndarray, list, tuple)):
            cols[key] = value
        else:
            cols[key] = [value]
    try:
        return pd.DataFrame(cols)
    except ValueError as exc:
        raise _bad(
            f"the dict's columns do not form a table: {exc}", expected="columns of equal length"
        ) from None


def _from_mlflow(
    data: Mapping[str, Any],
    keys: list[str],
    signature: ModelSignature | None,
    echo: int,
    maybe_bool: bool = True,
) -> Any:
    if len(keys) != 1:
        raise _bad(
            f"the JSON body must hold exactly one of {list(MLFLOW_SHAPES)}; found {keys}",
            expected=list(MLFLOW_SHAPES),
            found=keys,
        )
    key = keys[0]
    payload = data[key]
    names = _column_names(signature)
    tensor = _tensor_spec(signature)
    if key == "dataframe_split":
        if not isinstance(payload, Mapping) or "data" not in payload:
            raise _bad(
                "dataframe_split must be an object with 'columns' and 'data' "
                "(pandas' split orient)",
                expected="{'columns': [...], 'data': [[...]]}",
                found=type(payload).__name__,
            )
        rows = payload["data"]
        columns = payload.get("columns")
        if not isinstance(rows, list):
            raise _bad("dataframe_split.data must be a list of rows", found=type(rows).__name__)
        if tensor is None and (columns is None or list(columns) == names):
            fast = _numeric_rows(rows, signature, maybe_bool)
            if fast is not None:
                return fast
        frame = _rows_to_frame(rows, list(columns) if columns is not None else names, echo)
        return frame.to_numpy() if tensor is not None else frame
    if key == "dataframe_records":
        if not isinstance(payload, list) or not all(isinstance(r, Mapping) for r in payload):
            raise _bad(
                "dataframe_records must be a list of objects (pandas' records orient)",
                found=type(payload).__name__,
            )
        frame = pd.DataFrame.from_records(payload) if payload else pd.DataFrame(columns=names)
        return frame.to_numpy() if tensor is not None else frame
    # instances / inputs: rows, a dict of columns, or a tensor.
    if isinstance(payload, Mapping):
        if tensor is not None:
            raise SchemaError(
                "expected a tensor (the model takes an array), found named inputs",
                expected="array",
                found="object",
            )
        return _from_mapping(payload, signature, echo)
    if isinstance(payload, list):
        if tensor is not None:
            return _as_array(payload, tensor.dtype, echo)
        fast = _numeric_rows(payload, signature, maybe_bool)
        if fast is not None:
            return fast
        return _rows_to_frame(payload, names, echo)
    raise _bad(f"{key} must be a list or an object", found=type(payload).__name__)


# -- conforming to the signature ---------------------------------------------------------------


def conform(
    frame: Any, signature: ModelSignature | None, *, echo: int = 0, from_text: bool = False
) -> Any:
    """Check ``frame`` against ``signature`` and cast every column to its recorded dtype.

    Missing columns, values that cannot be converted losslessly (1.5 into an integer
    column, 300 into int8, "x" into a double), unseen categories and nulls in a
    non-nullable column raise :class:`SchemaError` (``column``, ``expected``,
    ``found``); extra columns are dropped; column order follows the signature.
    ``from_text=True`` (CSV) also parses numbers, booleans and times from text.
    """
    return conformer_for(signature, echo)(frame, from_text=from_text)


_CONFORMERS: dict[tuple[int, int], tuple[Any, Conformer]] = {}


def conformer_for(signature: ModelSignature | None, echo: int = 0) -> Conformer:
    """The :class:`Conformer` of ``signature`` (kept for the signature's lifetime, 64 at most)."""
    key = (id(signature), echo)
    hit = _CONFORMERS.get(key)
    if hit is not None and hit[0] is signature:
        return hit[1]
    made = Conformer(signature, echo=echo)
    if len(_CONFORMERS) >= 64:
        _CONFORMERS.clear()
    _CONFORMERS[key] = (signature, made)
    return made


_COLUMNS: dict[int, tuple[Any, pd.Index[Any]]] = {}


def _columns_of(signature: ModelSignature | None, names: list[str]) -> pd.Index[Any]:
    """The one ``pd.Index`` of ``signature``'s column names (kept while it lives, 64 at most)."""
    hit = _COLUMNS.get(id(signature))
    if hit is not None and hit[0] is signature:
        return hit[1]
    index: pd.Index[Any] = pd.Index(names)
    if len(_COLUMNS) >= 64:
        _COLUMNS.clear()
    _COLUMNS[id(signature)] = (signature, index)
    return index


class Conformer:
    """:func:`conform` for one signature, with its plan computed once (what a Predictor keeps).

    A frame that already has the signature's columns, in order, with the recorded
    dtypes and no nulls where none are allowed is returned as it is, after a check
    that costs a few microseconds.
    """

    def __init__(self, signature: ModelSignature | None, *, echo: int = 0) -> None:
        self.signature = signature
        self.echo = echo
        self.tensor = None if signature is None else signature.inputs.tensor
        self.specs = [] if signature is None else list(signature.inputs.columns or [])
        self.names = [str(s.name) for s in self.specs]
        # One Index object per signature, for every frame any conformer of it makes: the
        # conformer and the prediction logger recognise it by identity.
        self.columns = _columns_of(signature, self.names)
        self._matched = self.columns  # the last other Index found equal to the names
        self.dtypes: list[Any] | None = []
        for spec in self.specs:
            try:
                self.dtypes.append(pd.api.types.pandas_dtype(spec.dtype))
            except TypeError:
                self.dtypes = None  # a dtype this pandas cannot name: always the slow path
                break
        # Columns whose nulls must be looked for on the fast path.
        self._strict = [i for i, s in enumerate(self.specs) if not s.nullable]
        self.numeric = bool(self.specs) and all(
            isinstance(d, np.dtype) and d.kind in "biuf" for d in self.dtypes or [object]
        )
        self._uniform_float = (
            self.numeric and self.dtypes is not None and all(d.kind == "f" for d in self.dtypes)
        )

    def _same_columns(self, frame: pd.DataFrame) -> bool:
        cols = frame.columns
        if cols is self.columns or cols is self._matched:
            return True
        if cols.tolist() == self.names:  # an Index is immutable: remember this one
            self._matched = cols
            return True
        return False

    def fast(self, frame: Any) -> Any:
        """``frame`` if it already conforms (checked cheaply), else None."""
        if self.dtypes is None or not isinstance(frame, pd.DataFrame):
            return None
        if not self._same_columns(frame) or _dtypes_of(frame) != self.dtypes:
            return None
        if self._uniform_float:
            if self._strict and _has_nan(frame.to_numpy()):
                return None
            return frame
        for i in self._strict:
            if frame.iloc[:, i].hasnans:
                return None
        return frame

    def fast_array(self, frame: Any) -> np.ndarray | None:
        """``frame`` as one float array if it conforms and all its columns are floats.

        What a Predictor gives a numeric scikit-learn model: the check and the array
        cost one copy of the data, not two.
        """
        return self.checked_array(frame)[0]

    def checked_array(self, frame: Any) -> tuple[np.ndarray | None, bool]:
        """:meth:`fast_array`, and whether every value is finite (seen in the same pass
        over the data: a model given the array may skip its own finiteness check)."""
        if not self._uniform_float or not isinstance(frame, pd.DataFrame):
            return None, False
        if not self._same_columns(frame) or _dtypes_of(frame) != self.dtypes:
            return None, False
        arr: np.ndarray = frame.to_numpy()
        total = arr.sum()
        if np.isfinite(total):
            return arr, True
        if self._strict and np.isnan(total) and np.isnan(arr).any():
            return None, False  # a null where the signature allows none: the careful path
        return arr, False

    def __call__(self, frame: Any, *, from_text: bool = False) -> Any:
        """Conform ``frame`` (see :func:`conform`)."""
        if self.signature is None:
            return frame
        if self.tensor is not None:
            return _conform_tensor(frame, self.tensor, self.echo)
        if not from_text:
            done = self.fast(frame)
            if done is not None:
                return done
        echo = self.echo
        if not isinstance(frame, pd.DataFrame):
            frame = to_frame(frame, signature=self.signature, echo=echo)
        names = self.names
        have = frame.columns
        if list(have) != names:
            missing = [n for n in names if n not in have]
            if missing:
                raise SchemaError(
                    f"the input is missing column {missing[0]!r}"
                    + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                    + f"; expected columns {names}, found {[str(c) for c in have][:50]}",
                    column=missing[0],
                    expected=names,
                    found=[str(c) for c in have][:50],
                )
        out: dict[str, Any] = {}
        changed = list(have) != names
        for spec in self.specs:
            series = frame[spec.name]
            if isinstance(series, pd.DataFrame):
                raise SchemaError(
                    f"column {spec.name!r} appears more than once in the input",
                    column=spec.name,
                    found="duplicate column",
                )
            new = _conform_column(series, spec, echo, from_text)
            changed = changed or new is not series
            out[str(spec.name)] = new
        if not changed:
            return frame
        return pd.DataFrame(out, index=frame.index)


def _dtypes_of(frame: pd.DataFrame) -> list[Any]:
    """``frame.dtypes.tolist()`` without the Series (a tenth of the cost of predicting
    one row): read from pandas' block manager, or ``frame.dtypes`` if it has none."""
    get = getattr(getattr(frame, "_mgr", None), "get_dtypes", None)
    if get is not None:
        try:
            dtypes = get()
        except Exception:  # pragma: no cover - another pandas' internals: the public way
            dtypes = None
        if dtypes is not None and len(dtypes) == frame.shape[1]:
            out: list[Any] = dtypes.tolist()
            return out
    return frame.dtypes.tolist()  # pragma: no cover - a pandas without get_dtypes


def _has_nan(arr: np.ndarray) -> bool:
    """Whether a float array holds a NaN (a sum first: no temporary array when it does not)."""
    total = arr.sum()
    return bool(np.isnan(total)) and bool(np.isnan(arr).any())


def _conform_tensor(data: Any, spec: TensorSpec, echo: int) -> np.ndarray:
    arr = data.to_numpy() if isinstance(data, (pd.DataFrame, pd.Series)) else np.asarray(data)
    want = list(spec.shape)
    if arr.ndim != len(want):
        if arr.ndim == len(want) - 1 and len(want) >= 2:
            arr = arr.reshape(1, *arr.shape)  # one instance without the batch dimension
        else:
            raise SchemaError(
                f"expected an array of shape {want}, found shape {list(arr.shape)}",
                expected=want,
                found=list(arr.shape),
            )
    for axis, (w, g) in enumerate(zip(want, arr.shape)):
        if axis and w != -1 and w != g:
            raise SchemaError(
                f"expected an array of shape {want}, found shape {list(arr.shape)}",
                expected=want,
                found=list(arr.shape),
            )
    if str(arr.dtype) == spec.dtype:
        return arr
    target = np.dtype(spec.dtype)
    if arr.dtype.kind in "fc" and target.kind in "iu":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.trunc(arr)):
            raise SchemaError(
                f"expected an array of {spec.dtype}, found non-integer values",
                expected=spec.dtype,
                found=str(arr.dtype),
            )
    elif arr.dtype.kind not in "biuf" or (arr.dtype.kind == "b" and target.kind != "b"):
        raise SchemaError(
            f"expected an array of {spec.dtype}, found {arr.dtype}",
            expected=spec.dtype,
            found=str(arr.dtype),
        )
    if target.kind in "iu":
        info = np.iinfo(target)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            raise SchemaError(
                f"expected an array of {spec.dtype}, found values out of its range",
                expected=spec.dtype,
                found=str(arr.dtype),
            )
    return arr.astype(target)


def _kind(series: pd.Series) -> str:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        return str(pd.api.types.infer_dtype(series, skipna=True))
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "floating"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime64"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "timedelta64"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    return str(pd.api.types.infer_dtype(series, skipna=True))


def _mismatch(spec: ColumnSpec, found: str, echo: int, example: Any = None) -> SchemaError:
    shown = "" if example is None else f"; e.g. {_quote(example, echo)}"
    return SchemaError(
        f"column {spec.name!r}: expected {spec.type} ({spec.dtype}), found {found}{shown}",
        column=spec.name,
        expected=spec.type,
        found=found,
    )


def _first_bad(series: pd.Series, ok: Any) -> Any:
    bad = series[~ok]
    return bad.iloc[0] if len(bad) else None


def _conform_column(series: pd.Series, spec: ColumnSpec, echo: int, from_text: bool) -> Any:
    target: Any = spec.dtype
    if str(series.dtype) == target and (spec.nullable or not series.hasnans):
        if spec.type != "category":
            return series
        if list(series.cat.categories) == list(spec.categories or []):
            return series
    kind = _kind(series)
    mask = series.isna().to_numpy()
    if mask.any() and not spec.nullable:
        raise SchemaError(
            f"column {spec.name!r} has {int(mask.sum())} missing value(s) but the signature "
            f"does not allow nulls ({spec.type}, {spec.dtype})",
            column=spec.name,
            expected=f"{spec.type} without nulls",
            found=f"{int(mask.sum())} missing",
        )
    if kind == "empty" and spec.type not in (*_NUMERIC, "category"):
        return series.astype(target) if target != "object" else series
    if spec.type in _NUMERIC:
        return _to_number(series, spec, kind, mask, echo, from_text)
    if spec.type == "boolean":
        return _to_bool(series, spec, kind, mask, echo, from_text)
    if spec.type == "string":
        if kind not in ("string", "empty"):
            raise _mismatch(spec, kind, echo, series.dropna().iloc[0] if (~mask).any() else None)
        return series.astype(target) if target not in ("object", str(series.dtype)) else series
    if spec.type == "category":
        return _to_category(series, spec, mask, echo)
    if spec.type == "datetime":
        return _to_time(series, spec, kind, echo, _parse_datetime, ("datetime", "date"))
    if spec.type == "duration":
        return _to_time(series, spec, kind, echo, pd.to_timedelta, ("timedelta",))
    if spec.type == "binary":
        if kind not in ("bytes", "empty"):
            raise _mismatch(spec, kind, echo)
        return series
    return series  # pragma: no cover - every ColumnSpec type is handled above


def _to_number(
    series: pd.Series, spec: ColumnSpec, kind: str, mask: Any, echo: int, from_text: bool
) -> Any:
    if kind in ("string",) and from_text:
        num = pd.to_numeric(series, errors="coerce")
        bad = num.isna().to_numpy() & ~mask
        if bad.any():
            raise _mismatch(spec, "string", echo, series[bad].iloc[0])
        series, kind = num, "floating" if num.dtype.kind == "f" else "integer"
    if kind not in ("integer", "floating", "mixed-integer-float", "empty", "decimal"):
        example = series[~mask].iloc[0] if (~mask).any() else None
        raise _mismatch(spec, kind, echo, example)
    target: Any = spec.dtype
    try:
        np_target = np.dtype(getattr(pd.api.types.pandas_dtype(target), "numpy_dtype", target))
    except TypeError:  # pragma: no cover - a dtype string numpy cannot read
        np_target = np.dtype("float64")
    values = series.to_numpy(dtype="float64", na_value=np.nan) if series.dtype == object else None
    if np_target.kind in "iu":
        if values is None:
            if series.dtype.kind == "f" or pd.api.types.is_float_dtype(series.dtype):
                values = series.to_numpy(dtype="float64", na_value=np.nan)
            else:
                values = None
        if values is not None:
            present = values[~mask]
            integral = np.isfinite(present) & (present == np.trunc(present))
            if not integral.all():
                raise _mismatch(spec, "non-integer numbers", echo, present[~integral][0].item())
            check = present
        else:
            check = series.to_numpy()[~mask] if mask.any() else series.to_numpy()
        if len(check):
            info = np.iinfo(np_target)
            lo, hi = check.min(), check.max()
            if lo < info.min or hi > info.max:
                raise _mismatch(
                    spec, f"values out of the {np_target} range", echo, lo if lo < info.min else hi
                )
        if values is not None and series.dtype == object and not mask.any():
            return pd.Series(values.astype(np_target), index=series.index, name=series.name)
    try:
        if series.dtype == object and values is not None:
            base = pd.Series(values, index=series.index, name=series.name)
            return base.astype(target)
        return series.astype(target)
    except (TypeError, ValueError) as exc:
        raise _mismatch(spec, f"{kind} ({exc})", echo) from None


def _to_bool(
    series: pd.Series, spec: ColumnSpec, kind: str, mask: Any, echo: int, from_text: bool
) -> Any:
    if kind == "string" and from_text:
        lowered = series.str.strip().str.lower()
        mapped = lowered.map(lambda v: True if v in _TRUE else False if v in _FALSE else None)
        bad = mapped.isna().to_numpy() & ~mask
        if bad.any():
            raise _mismatch(spec, "string", echo, series[bad].iloc[0])
        series = mapped.astype("boolean")
        kind = "boolean"
    if kind not in ("boolean", "empty"):
        raise _mismatch(spec, kind, echo, series[~mask].iloc[0] if (~mask).any() else None)
    dtype: Any = spec.dtype
    return series.astype(dtype)


def _to_category(series: pd.Series, spec: ColumnSpec, mask: Any, echo: int) -> Any:
    cats = list(spec.categories or [])
    index = pd.Index(cats)
    values = series.astype(object) if isinstance(series.dtype, pd.CategoricalDtype) else series
    unseen = (index.get_indexer(values) == -1) & ~mask
    if unseen.any() and len(cats):
        # A category's values may arrive as text (CSV) when the categories are numbers.
        as_text = {str(c): c for c in cats}
        values = values.map(lambda v: as_text.get(str(v), v) if v is not None else v)
        unseen = (index.get_indexer(values) == -1) & ~mask
    if unseen.any():
        raise SchemaError(
            f"column {spec.name!r}: {int(unseen.sum())} value(s) are not among the "
            f"{len(cats)} categories the model knows; e.g. "
            f"{_quote(series[unseen].iloc[0], echo)}",
            column=spec.name,
            expected="a known category",
            found="unseen category",
        )
    result = pd.Categorical(values, categories=cats)
    return pd.Series(result, index=series.index, name=series.name)


def _parse_datetime(series: pd.Series) -> Any:
    if series.dtype.kind == "M":
        return series
    return pd.to_datetime(series, format="ISO8601")


def _to_time(
    series: pd.Series, spec: ColumnSpec, kind: str, echo: int, parse: Any, kinds: tuple[str, ...]
) -> Any:
    if kind not in (*kinds, f"{kinds[0]}64", "string", "empty"):
        raise _mismatch(spec, kind, echo)
    try:
        return parse(series).astype(spec.dtype)
    except (TypeError, ValueError) as exc:
        raise _mismatch(spec, f"{kind} that does not parse ({type(exc).__name__})", echo) from None


# -- CSV ----------------------------------------------------------------------------------


def decode_csv(
    text: str | bytes, *, signature: ModelSignature | None = None, echo: int = 0
) -> pd.DataFrame:
    """CSV text (header row first) → DataFrame of text, typed later by :func:`conform`.

    Every field is read as text and only empty fields are missing, so ``"NA"`` stays a
    string and ``"007"`` keeps its zeros until the signature says what a column is.
    """
    raw = text.encode() if isinstance(text, str) else bytes(text)
    if not raw.strip():
        raise _bad("the CSV body is empty; send a header row and data rows", found="empty")
    try:
        frame = _read_csv(
            raw, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=False
        )
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise _bad(f"the CSV body does not parse: {type(exc).__name__}", found="bad CSV") from None
    if signature is None:
        # Without a signature, let pandas infer the types (the best that can be done).
        return _read_csv(raw)
    return frame


def _read_csv(raw: bytes, **options: Any) -> pd.DataFrame:
    """``pd.read_csv`` of a request body, every line a row when there is one column.

    pandas skips blank and whitespace-only lines. In a one-column body such a line is a
    row (RFC 4180): ``" "`` is a value and an empty line an empty field, so they are
    kept there; with several columns a blank line is no record and is skipped.
    """
    first = raw.split(b"\n", 1)[0].decode("utf-8", "replace")
    one_column = len(next(csv.reader([first]), [])) == 1
    frame: pd.DataFrame = pd.read_csv(io.BytesIO(raw), skip_blank_lines=not one_column, **options)
    return frame


def _numeric_csv(raw: bytes, signature: ModelSignature | None) -> Any:
    """CSV of numbers for an all-numeric signature, parsed by pandas' C reader; or None.

    Only a header equal to the signature's columns and fields that all parse as
    finite numbers take this path; anything else goes through text and
    :func:`conform`, which reports it.
    """
    conformer = conformer_for(signature)
    if not conformer.numeric or conformer.dtypes is None:
        return None
    header = raw.split(b"\n", 1)[0].strip().decode("utf-8", "replace")
    if header.split(",") != conformer.names:
        return None
    try:
        arr = _read_csv(raw, dtype=np.float64, keep_default_na=False, na_values=[""]).to_numpy()
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
        return None
    return _typed_block(arr, conformer) if arr.ndim == 2 else None


# -- MLflow ---------------------------------------------------------------------------------


def _media(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def decode_mlflow(
    body: bytes,
    content_type: str,
    *,
    signature: ModelSignature | None = None,
    echo: int = 0,
) -> DecodedRequest:
    """An MLflow ``/invocations`` body (JSON in the four shapes, or CSV) → DecodedRequest.

    The frame is conformed to ``signature`` when one is given (CSV and JSON go through
    the same :func:`conform`).

    Raises:
        InvalidInputError: an unsupported content type, malformed JSON/CSV, or a JSON
            object without exactly one of ``dataframe_split``, ``dataframe_records``,
            ``instances``, ``inputs``.
        SchemaError: the data does not fit the signature.
    """
    media = _media(content_type or "application/json")
    if media == "text/csv":
        fast = _numeric_csv(bytes(body), signature)
        if fast is not None:
            return DecodedRequest(frame=conform(fast, signature, echo=echo))
        frame = decode_csv(body, signature=signature, echo=echo)
        return DecodedRequest(frame=conform(frame, signature, echo=echo, from_text=True))
    if media != "application/json":
        raise _bad(
            f"unsupported content type {content_type!r}; send application/json or text/csv",
            expected=["application/json", "text/csv"],
            found=content_type,
        )
    data = _load_json(body, "request")
    if not isinstance(data, dict):
        raise _bad(
            f"the JSON body must be an object with one of {list(MLFLOW_SHAPES)}",
            expected="object",
            found=type(data).__name__,
        )
    keys = [k for k in MLFLOW_SHAPES if k in data]
    if len(keys) != 1:
        raise _bad(
            f"the JSON body must hold exactly one of {list(MLFLOW_SHAPES)}; found "
            f"{keys or sorted(data)[:10]}",
            expected=list(MLFLOW_SHAPES),
            found=keys or sorted(data)[:10],
        )
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise _bad("params must be an object", found=type(params).__name__)
    maybe_bool = _has_json_bool(bytes(body))  # JSON booleans: the careful path
    frame = _from_mlflow(data, keys, signature, echo, maybe_bool)
    return DecodedRequest(frame=conform(frame, signature, echo=echo), parameters=params)


def _jsonable(values: Any) -> Any:
    """A numpy/pandas array → nested lists with None for missing values."""
    if isinstance(values, pd.DataFrame):
        return [_jsonable(values.iloc[i]) for i in range(len(values))]
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.array
    if isinstance(values, pd.api.extensions.ExtensionArray):
        obj = values.astype(object)
        return [None if _missing(v) else _py(v) for v in obj]
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        if np.isfinite(arr).all():
            return arr.tolist()
        obj = arr.astype(object)
        obj[~np.isfinite(arr)] = None
        return obj.tolist()
    if arr.dtype.kind in "biu":
        return arr.tolist()
    if arr.dtype.kind in "mM":
        return [
            None
            if pd.isna(v)
            else _py(pd.Timestamp(v) if arr.dtype.kind == "M" else pd.Timedelta(v))
            for v in arr.reshape(-1)
        ]
    return [_py(v) for v in arr.tolist()] if arr.ndim == 1 else _py(arr.tolist())


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def _py(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, pd.Timedelta):
        return str(v)
    if isinstance(v, list):
        return [_py(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _py(x) for k, x in v.items()}
    return None if v is pd.NA else v


def encode_mlflow(outputs: Any) -> dict[str, Any]:
    """Predictions → MLflow's response body ``{"predictions": ...}`` (JSON-able).

    A 1-D output is a list of values, 2-D a list of rows, a DataFrame a list of
    records (as MLflow writes them); NaN and missing values become ``null``.
    """
    if isinstance(outputs, pd.DataFrame):
        cols = [str(c) for c in outputs.columns]
        columns = [_jsonable(outputs[c]) for c in outputs.columns]
        return {"predictions": [dict(zip(cols, row)) for row in zip(*columns)]}
    if isinstance(outputs, Mapping):
        return {"predictions": {str(k): _jsonable(v) for k, v in outputs.items()}}
    return {"predictions": _jsonable(outputs)}


def encode_mlflow_request(frame: pd.DataFrame, *, shape: str = "dataframe_split") -> bytes:
    """A client's MLflow ``/invocations`` JSON body for ``frame`` (``shape``: one of the four)."""
    cols = [str(c) for c in frame.columns]
    columns = [_jsonable(frame[c]) for c in frame.columns]
    rows = [list(r) for r in zip(*columns)] if columns else []
    if shape == "dataframe_split":
        body: dict[str, Any] = {"dataframe_split": {"columns": cols, "data": rows}}
    elif shape == "dataframe_records":
        body = {"dataframe_records": [dict(zip(cols, r)) for r in rows]}
    elif shape in ("instances", "inputs"):
        body = {shape: dict(zip(cols, columns))}
    else:
        raise _bad(f"unknown MLflow shape {shape!r}", expected=list(MLFLOW_SHAPES), found=shape)
    return json.dumps(body, allow_nan=False).encode()


# -- Open Inference Protocol V2 -------------------------------------------------------------------


def _v2_datatype(values: Any) -> str:
    dtype = getattr(values, "dtype", None)
    if dtype is None:
        return "BYTES"
    numpy_dtype = getattr(dtype, "numpy_dtype", dtype)
    if isinstance(dtype, pd.CategoricalDtype):
        return _v2_datatype(dtype.categories)
    if isinstance(dtype, pd.StringDtype) or not isinstance(numpy_dtype, np.dtype):
        return "BYTES"
    return _NUMPY_TO_V2.get(str(numpy_dtype), "BYTES")


def _tensor(name: str, values: Any) -> dict[str, Any]:
    arr = values
    if isinstance(arr, (list, tuple)):
        arr = np.asarray(arr)
    shape = [len(arr)] if isinstance(arr, (pd.Series, pd.Index)) else list(np.shape(arr))
    if isinstance(arr, np.ndarray) and arr.ndim > 1:
        data = _jsonable(arr.reshape(-1))
    else:
        data = _jsonable(arr)
    return {"name": name, "shape": shape, "datatype": _v2_datatype(arr), "data": data}


def encode_v2(
    outputs: Any,
    *,
    model_name: str,
    model_version: str | None = None,
    id: str | None = None,
    name: str = "predict",
    parameters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Predictions → an OIP V2 inference response (``model_name``, ``id``, ``outputs``).

    Each output tensor carries ``name``, ``shape``, ``datatype`` (BOOL, INT*, UINT*,
    FP*, BYTES) and row-major ``data``; nulls in nullable outputs are ``null``. A
    DataFrame or mapping gives one tensor per column/key; an array is one tensor
    called ``name``.
    """
    if isinstance(outputs, pd.DataFrame):
        tensors = [_tensor(str(c), outputs[c]) for c in outputs.columns]
    elif isinstance(outputs, Mapping):
        tensors = [_tensor(str(k), v) for k, v in outputs.items()]
    elif isinstance(outputs, pd.Series):
        tensors = [_tensor(str(outputs.name) if outputs.name is not None else name, outputs)]
    else:
        tensors = [_tensor(name, outputs)]
    body: dict[str, Any] = {"model_name": model_name, "outputs": tensors}
    if model_version is not None:
        body["model_version"] = str(model_version)
    if id is not None:
        body["id"] = id
    if parameters:
        body["parameters"] = dict(parameters)
    return body


def encode_v2_request(
    data: pd.DataFrame | np.ndarray, *, id: str | None = None, name: str = "input-0"
) -> bytes:
    """A client's OIP V2 inference request body: one tensor per column (or one array)."""
    if isinstance(data, pd.DataFrame):
        inputs = [_tensor(str(c), data[c]) for c in data.columns]
    else:
        inputs = [_tensor(name, data)]
    body: dict[str, Any] = {"inputs": inputs}
    if id is not None:
        body["id"] = id
    return json.dumps(body, allow_nan=False).encode()


def _decode_tensor(
    item: Any, index: int, echo: int, maybe_bool: bool = True
) -> tuple[str, Any, list[int]]:
    if not isinstance(item, Mapping):
        raise _bad(f"inputs[{index}] must be an object", found=type(item).__name__)
    missing = [k for k in ("name", "shape", "datatype", "data") if k not in item]
    if missing:
        raise _bad(
            f"inputs[{index}] lacks {missing}; each input needs name, shape, datatype, data",
            expected=["name", "shape", "datatype", "data"],
            found=sorted(item),
        )
    name, shape, datatype, data = item["name"], item["shape"], item["datatype"], item["data"]
    if not isinstance(name, str):
        raise _bad(f"inputs[{index}].name must be a string", found=type(name).__name__)
    if datatype not in V2_DATATYPES:
        raise _bad(
            f"inputs[{index}] ({name!r}) has unknown datatype {_quote(datatype, max(echo, 20))}",
            expected=sorted(V2_DATATYPES),
            found=str(datatype)[:20],
            name=name,
        )
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise _bad(
            f"inputs[{index}] ({name!r}): shape must be a list of non-negative integers",
            found=str(shape)[:40],
            name=name,
        )
    flat = data if isinstance(data, np.ndarray) else _flatten(data)
    size = math.prod(shape) if shape else 1
    if len(flat) != size:
        raise _bad(
            f"inputs[{index}] ({name!r}): shape {shape} needs {size} values, found {len(flat)}",
            expected=size,
            found=len(flat),
            name=name,
        )
    if not maybe_bool and datatype.startswith("FP"):
        fast = _fast_floats(flat, V2_DATATYPES[datatype])
        if fast is not None:
            return name, fast, shape
    if isinstance(flat, np.ndarray):
        flat = flat.tolist()
    return name, _typed(flat, datatype, name, echo), shape


def _fast_floats(flat: Any, dtype: str) -> np.ndarray | None:
    """Float tensor data in one numpy conversion; None (the careful path) for anything odd
    (a value a narrower float overflows to infinity included: the careful path decides)."""
    if isinstance(flat, np.ndarray):  # read by simdjson: float64 numbers already
        arr = flat
    else:
        try:
            arr = np.array(flat)  # numbers only: text, nulls and nesting give other kinds
        except (TypeError, ValueError, OverflowError):
            return None
        if arr.ndim != 1 or arr.dtype.kind not in "if":
            return None
    # +inf and -inf (a float32 overflow both ways) sum to nan: "invalid", not an error
    with np.errstate(over="ignore", invalid="ignore"):
        arr = arr.astype(dtype, copy=False)  # FP64 data is float64 already: no copy
        finite = np.isfinite(arr.sum())
    return arr if finite else None


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    if data and isinstance(data[0], list):
        out: list[Any] = []
        for row in data:
            out.extend(_flatten(row))
        return out
    return data


def _typed(flat: list[Any], datatype: str, name: str, echo: int) -> Any:
    dtype = V2_DATATYPES[datatype]
    has_null = any(v is None for v in flat)
    if datatype == "BYTES":
        for v in flat:
            if v is not None and not isinstance(v, str):
                raise SchemaError(
                    f"input {name!r}: BYTES data must be strings, found {_quote(v, echo)}",
                    column=name,
                    expected="string",
                    found=type(v).__name__,
                )
        return pd.array(flat, dtype="string") if has_null else np.asarray(flat, dtype=object)
    for v in flat:
        if v is None:
            continue
        ok = (
            isinstance(v, bool)
            if datatype == "BOOL"
            else isinstance(v, (int, float)) and not isinstance(v, bool)
        )
        if not ok:
            raise SchemaError(
                f"input {name!r}: {datatype} data holds a {type(v).__name__} ({_quote(v, echo)})",
                column=name,
                expected=datatype,
                found=type(v).__name__,
            )
    if has_null:
        nullable: Any = (
            "boolean" if datatype == "BOOL" else dtype.capitalize().replace("Uint", "UInt")
        )
        if datatype == "FP16":
            nullable = "Float32"
        try:
            return pd.array(flat, dtype=nullable)
        except (OverflowError, TypeError, ValueError) as exc:  # 2**63 as INT64, say
            raise SchemaError(
                f"input {name!r}: values do not fit {datatype} ({exc})",
                column=name,
                expected=datatype,
            ) from None
    try:
        arr = np.asarray(flat, dtype=dtype)
    except (OverflowError, ValueError) as exc:
        raise SchemaError(
            f"input {name!r}: values do not fit {datatype} ({exc})", column=name, expected=datatype
        ) from None
    if datatype.startswith(("INT", "UINT")) and any(
        isinstance(v, float) and v != math.trunc(v) for v in flat
    ):
        raise SchemaError(
            f"input {name!r}: {datatype} data holds non-integer numbers",
            column=name,
            expected=datatype,
            found="float",
        )
    return arr


def decode_v2(
    body: bytes, *, signature: ModelSignature | None = None, echo: int = 0
) -> DecodedRequest:
    """An OIP V2 inference request body → DecodedRequest (``id``, ``parameters``, ``outputs``).

    One tensor per signature column (shape ``[n]`` or ``[n, 1]``), or a single
    ``[n, k]`` tensor whose columns follow the signature's order. The frame is
    conformed to ``signature`` when one is given.

    Raises:
        InvalidInputError: malformed JSON, an unknown datatype, or data whose length
            does not match its shape.
        SchemaError: the data does not fit the signature.
    """
    maybe_bool = _has_json_bool(bytes(body))
    data = None if maybe_bool or len(body) < _SIMD_MIN_BYTES else _simd_v2(body)
    if data is None:
        data = _load_json(body, "inference request")
    return _decode_v2_object(data, signature, echo, maybe_bool)


_SIMD: list[Any] = []  # [the simdjson module or None] once looked up
# Below this many bytes (about 10 rows of 20 numbers) orjson's parse is the faster one.
_SIMD_MIN_BYTES = 4096
_SIMD_PARSERS = threading.local()  # a simdjson parser holds one document: one per thread


def _simd_v2(body: bytes) -> dict[str, Any] | None:
    """An OIP V2 request as :func:`json.loads` reads it, except that each ``FP*`` tensor's
    numeric ``data`` is a float64 array read by simdjson straight from the text (no
    Python float per value: a third of the time of a 1,000 x 20 request); None when
    pysimdjson is not installed or the body is anything but a JSON object (then the
    caller's ordinary parse decides, with its errors).

    Data that is not all numbers (text, nulls) stays a list, as ``json.loads`` gives it.
    """
    if not _SIMD:
        try:
            import simdjson
        except ImportError:
            _SIMD.append(None)
        else:
            _SIMD.append(simdjson)
    simdjson = _SIMD[0]
    if simdjson is None:
        return None
    parser = getattr(_SIMD_PARSERS, "parser", None)
    if parser is None:
        parser = _SIMD_PARSERS.parser = simdjson.Parser()
    try:
        doc = parser.parse(bytes(body))
    except (ValueError, TypeError, RuntimeError):
        return None
    if not isinstance(doc, simdjson.Object):
        return None
    array = simdjson.Array

    def plain(value: Any) -> Any:
        if isinstance(value, simdjson.Object):
            return value.as_dict()
        if isinstance(value, array):
            return value.as_list()
        return value

    keys = list(doc.keys())
    if len(set(keys)) != len(keys):
        return None  # a repeated key: json.loads keeps the last one, simdjson the first
    out: dict[str, Any] = {}
    for key in keys:
        value = doc[key]  # containers stay simdjson proxies until asked for
        if key != "inputs" or not isinstance(value, array):
            out[key] = plain(value)
            continue
        tensors: list[Any] = []
        for item in value:
            if not isinstance(item, simdjson.Object):
                tensors.append(plain(item))
                continue
            names = list(item.keys())
            if len(set(names)) != len(names):
                return None
            tensor: dict[str, Any] = {}
            for k in names:
                v = item[k]
                tensor[k] = v if k == "data" and isinstance(v, array) else plain(v)
            data = tensor.get("data")
            if isinstance(data, array):
                datatype = tensor.get("datatype")
                values: Any = None
                if isinstance(datatype, str) and datatype.startswith("FP"):
                    try:  # numbers only (nested lists flattened); else TypeError
                        values = np.frombuffer(data.as_buffer(of_type="d"), dtype=np.float64)
                    except (TypeError, ValueError):
                        values = None
                tensor["data"] = data.as_list() if values is None else values
            tensors.append(tensor)
        out[key] = tensors
    return out


def _decode_v2_object(
    data: Any, signature: ModelSignature | None, echo: int, maybe_bool: bool = True
) -> DecodedRequest:
    if not isinstance(data, dict) or not isinstance(data.get("inputs"), list):
        raise _bad(
            "an inference request is an object with an 'inputs' list of tensors",
            expected="{'inputs': [{name, shape, datatype, data}]}",
            found=type(data).__name__ if not isinstance(data, dict) else sorted(data)[:10],
        )
    req_id = data.get("id")
    if req_id is not None and not isinstance(req_id, str):
        raise _bad("'id' must be a string", found=type(req_id).__name__)
    params = data.get("parameters") or {}
    if not isinstance(params, dict):
        raise _bad("'parameters' must be an object", found=type(params).__name__)
    outputs = data.get("outputs")
    names_out: list[str] | None = None
    if outputs is not None:
        if not isinstance(outputs, list) or not all(
            isinstance(o, Mapping) and isinstance(o.get("name"), str) for o in outputs
        ):
            raise _bad("'outputs' must be a list of objects with a 'name'", found="outputs")
        names_out = [o["name"] for o in outputs]
    tensors = [_decode_tensor(item, i, echo, maybe_bool) for i, item in enumerate(data["inputs"])]
    if not tensors:
        raise _bad("'inputs' is empty; send at least one tensor", found=0)
    tensor_spec = _tensor_spec(signature)
    if tensor_spec is not None or (
        len(tensors) == 1 and len(tensors[0][2]) >= 2 and tensors[0][2][1:] != [1]
    ):
        name, values, shape = tensors[0]
        arr = np.asarray(values).reshape(shape)
        if tensor_spec is not None:
            frame: Any = arr
        else:
            frame = to_frame(arr, signature=signature, echo=echo)
    else:
        cols: dict[str, Any] = {}
        length = None
        for name, values, shape in tensors:
            n = shape[0] if shape else 1
            if length is not None and n != length:
                raise _bad(
                    f"input {name!r} has {n} rows but the first input has {length}",
                    expected=length,
                    found=n,
                    name=name,
                )
            length = n
            cols[name] = values
        frame = pd.DataFrame(cols)
    return DecodedRequest(
        frame=conform(frame, signature, echo=echo),
        id=req_id,
        parameters=params,
        outputs=names_out,
    )


def decode_v2_response(body: bytes | Mapping[str, Any]) -> dict[str, Any]:
    """A client's view of an OIP V2 response: output name → array (shaped, typed)."""
    data = _load_json(body, "response") if not isinstance(body, Mapping) else body
    out: dict[str, Any] = {}
    for i, item in enumerate(data.get("outputs") or []):
        name, values, shape = _decode_tensor(item, i, 0)
        out[name] = np.asarray(values).reshape(shape) if len(shape) > 1 else values
    return out


def _spec_datatype(dtype: str, categories: list[Any] | None = None) -> str:
    if dtype == "category":
        if categories and all(
            isinstance(c, (int, float)) and not isinstance(c, bool) for c in categories
        ):
            return _v2_datatype(np.asarray(categories))
        return "BYTES"
    try:
        resolved = pd.api.types.pandas_dtype(dtype)
    except TypeError:
        return "BYTES"
    numpy_dtype = getattr(resolved, "numpy_dtype", resolved)
    if isinstance(resolved, pd.StringDtype) or not isinstance(numpy_dtype, np.dtype):
        return "BYTES"
    return _NUMPY_TO_V2.get(str(numpy_dtype), "BYTES")


def _schema_tensors(schema: Any, default: str) -> list[dict[str, Any]]:
    if schema is None:
        return []
    if schema.tensor is not None:
        return [
            {
                "name": default,
                "datatype": _spec_datatype(schema.tensor.dtype),
                "shape": list(schema.tensor.shape),
            }
        ]
    return [
        {
            "name": str(c.name) if c.name is not None else default,
            "datatype": _spec_datatype(c.dtype, c.categories),
            "shape": [-1],
            **({"parameters": {"nullable": True}} if c.nullable else {}),
        }
        for c in schema.columns or []
    ]


def signature_tensors(
    signature: ModelSignature | None, method: str = "predict"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OIP V2 metadata for a signature: ``(inputs, outputs)``, each ``{name, datatype, shape}``.

    A column input is a ``[-1]`` tensor named after the column; a tensor input is
    ``input-0``; outputs without a signature are one tensor named after ``method``.
    """
    if signature is None:
        return [], [{"name": method, "datatype": "BYTES", "shape": [-1]}]
    inputs = _schema_tensors(signature.inputs, "input-0")
    outputs = _schema_tensors(signature.outputs, method)
    if len(outputs) == 1:
        outputs[0]["name"] = method
    return inputs, outputs or [{"name": method, "datatype": "BYTES", "shape": [-1]}]
