"""One decoding path for every input shape, and the response encoders.

Every request body or in-process input becomes a :class:`pandas.DataFrame` (or, for a
tensor signature, a numpy array) through :func:`to_frame`, then is conformed to the
model's signature by :func:`conform` — so CSV, JSON records, OIP V2 tensors and a
DataFrame handed in directly can never disagree on dtypes (MLflow #5525).

Shapes understood by :func:`to_frame`:

- a DataFrame, a Series, a dict of columns, a list of records (dicts), numpy arrays
  (2-D, or 1-D for one column), a list of lists;
- MLflow's JSON bodies: ``{"dataframe_split": {...}}``, ``{"dataframe_records": [...]}``,
  ``{"instances": ...}``, ``{"inputs": ...}`` (exactly one of them, plus ``params``);
- CSV text (header row first), decoded with the signature's dtypes;
- Open Inference Protocol V2 inference requests (``{"inputs": [{name, shape,
  datatype, data}]}``).

Errors: a body that does not parse, or data that does not fit the signature, raises
:class:`~mlopskit.errors.InvalidInputError` / :class:`~mlopskit.errors.SchemaError`
naming the column, what was expected and what was found. How much of the caller's
input a message echoes is bounded by ``echo`` (characters; 0 = none, the default:
MLflow #16537).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mlopskit.registry import ModelSignature

__all__ = [
    "DecodedRequest",
    "conform",
    "decode_csv",
    "decode_mlflow",
    "decode_v2",
    "encode_mlflow",
    "encode_v2",
    "to_frame",
]


@dataclass(frozen=True)
class DecodedRequest:
    """A decoded request body.

    Attributes:
        frame: the inputs as a DataFrame (columns named as the signature's inputs;
            a tensor input is one column per trailing position, or the array itself
            held in ``frame.attrs["tensor"]``).
        id: the OIP V2 request ``id`` to echo back, if any.
        parameters: MLflow ``params`` / OIP ``parameters`` sent with the request.
        outputs: the OIP ``outputs`` the client asked for (names), or None for all.
    """

    frame: pd.DataFrame
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    outputs: list[str] | None = None


def to_frame(data: Any, *, signature: ModelSignature | None = None, echo: int = 0) -> Any:
    """Turn any supported input shape into a DataFrame (or an array for tensor models).

    Args:
        data: see the module docstring for the shapes understood.
        signature: the model's signature; names unnamed columns and drives CSV dtypes.
        echo: how many characters of the input an error message may quote.

    Raises:
        InvalidInputError: an input shape that is not understood.
    """
    raise NotImplementedError


def conform(
    frame: pd.DataFrame, signature: ModelSignature | None, *, echo: int = 0
) -> pd.DataFrame:
    """Check ``frame`` against ``signature`` and cast every column to its recorded dtype.

    Missing columns, values that cannot be converted losslessly and nulls in a
    non-nullable column raise :class:`SchemaError` (``column``, ``expected``, ``found``);
    extra columns are dropped; column order follows the signature.
    """
    raise NotImplementedError


def decode_csv(
    text: str | bytes, *, signature: ModelSignature | None = None, echo: int = 0
) -> pd.DataFrame:
    """CSV text (header row first) → DataFrame, typed by the signature."""
    raise NotImplementedError


def decode_mlflow(
    body: bytes,
    content_type: str,
    *,
    signature: ModelSignature | None = None,
    echo: int = 0,
) -> DecodedRequest:
    """An MLflow ``/invocations`` body (JSON in the four shapes, or CSV) → DecodedRequest.

    Raises:
        InvalidInputError: an unsupported content type, malformed JSON/CSV, or a JSON
            object without exactly one of ``dataframe_split``, ``dataframe_records``,
            ``instances``, ``inputs``.
    """
    raise NotImplementedError


def decode_v2(
    body: bytes, *, signature: ModelSignature | None = None, echo: int = 0
) -> DecodedRequest:
    """An OIP V2 inference request body → DecodedRequest (``id``, ``parameters``, ``outputs``).

    Raises:
        InvalidInputError: malformed JSON, an unknown datatype, or data whose length
            does not match its shape.
    """
    raise NotImplementedError


def encode_mlflow(outputs: Any) -> dict[str, Any]:
    """Predictions → MLflow's response body ``{"predictions": ...}`` (JSON-able)."""
    raise NotImplementedError


def encode_v2(
    outputs: Any,
    *,
    model_name: str,
    model_version: str | None = None,
    id: str | None = None,
) -> dict[str, Any]:
    """Predictions → an OIP V2 inference response (``model_name``, ``id``, ``outputs``).

    Each output tensor carries ``name``, ``shape``, ``datatype`` (BOOL, INT*, UINT*,
    FP*, BYTES) and row-major ``data``; nulls in nullable outputs are ``null``.
    """
    raise NotImplementedError
