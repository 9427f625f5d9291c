"""Model payload formats: safe ones first, pickle only under the store's trust rule.

| format | for | stored as | loading runs code? |
| --- | --- | --- | --- |
| ``skops`` | scikit-learn estimators and pipelines (extra ``sklearn``) | skops zip, entries dated 1980-01-01 so equal models are equal bytes | no: skops' default trusted types plus scikit-learn's own classes (``sklearn.*``, e.g. tree internals) load; anything else (``builtins.eval`` in a FunctionTransformer, your classes) needs ``trusted=True`` |
| ``npy`` | a numpy weight array ``W``: ``predict(X) = X @ W`` | ``.npy`` (``allow_pickle=False``) | no |
| ``onnx`` | an ONNX model the user gives (bytes, a ``.onnx`` path, or a ``ModelProto``), run with onnxruntime (extra ``onnx``) | the ONNX bytes | no |
| ``pickle`` | anything else with ``predict`` or a plain callable | the store's cloudpickle codec | yes: loads only if this store wrote it or ``trusted=True`` |
"""

from __future__ import annotations

import io
import os
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mlopskit._optional import import_optional
from mlopskit.errors import InvalidInputError
from mlopskit.serialize import decode

if TYPE_CHECKING:
    from mlopskit.store import ArtifactRef, ArtifactStore

__all__ = ["FORMATS", "Format", "LinearWeights", "OnnxModel", "load_payload", "store_payload"]

Format = Literal["skops", "npy", "onnx", "pickle"]
FORMATS: tuple[str, ...] = ("skops", "npy", "onnx", "pickle")
_MEDIA = {
    "skops": "application/vnd.mlopskit.skops+zip",
    "npy": "application/x-npy",
    "onnx": "application/vnd.onnx",
}
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class StoredPayload:
    """The stored model: its ref, format, class path and the modules it needs."""

    ref: ArtifactRef
    format: Format
    flavor: str
    modules: frozenset[str]


class LinearWeights:
    """A plain ``.npy`` weight array served as ``predict(X) = X @ weights``."""

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = weights

    def predict(self, X: Any) -> np.ndarray:
        """``X @ weights`` (X as a float array)."""
        rows = np.asarray(X, dtype=np.result_type(self.weights.dtype, np.float64))
        out: np.ndarray = rows @ self.weights
        return out


class OnnxModel:
    """An ONNX model run with onnxruntime: ``predict`` → first output, ``predict_proba`` → second."""

    def __init__(self, data: bytes) -> None:
        ort = import_optional("onnxruntime", "onnx", purpose="running ONNX models")
        self._session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        self._inputs = self._session.get_inputs()
        self._outputs = [o.name for o in self._session.get_outputs()]

    def _run(self, X: Any, index: int) -> Any:
        feeds = self._feeds(X)
        out = self._session.run([self._outputs[index]], feeds)[0]
        if isinstance(out, list) and out and isinstance(out[0], dict):  # ZipMap output
            keys = sorted(out[0])
            return np.array([[row[k] for k in keys] for row in out])
        return out

    def _feeds(self, X: Any) -> dict[str, Any]:
        import pandas as pd

        if len(self._inputs) > 1 and isinstance(X, pd.DataFrame):
            return {
                i.name: X[i.name].to_numpy().reshape(-1, 1).astype(_ort_dtype(i.type))
                for i in self._inputs
            }
        arr = X.to_numpy() if isinstance(X, pd.DataFrame) else np.asarray(X)
        first = self._inputs[0]
        return {first.name: arr.astype(_ort_dtype(first.type))}

    def predict(self, X: Any) -> Any:
        """The model's first output."""
        return self._run(X, 0)

    def predict_proba(self, X: Any) -> Any:
        """The model's second output (class probabilities for skl2onnx classifiers)."""
        if len(self._outputs) < 2:
            raise InvalidInputError(
                "this ONNX model has one output; predict_proba needs a second",
                method="predict_proba",
            )
        return self._run(X, 1)


def _ort_dtype(type_name: str) -> str:
    inner = (
        type_name[type_name.find("(") + 1 : type_name.rfind(")")] if "(" in type_name else "float"
    )
    return {"float": "float32", "double": "float64", "string": "object"}.get(inner, inner)


def _is_sklearn(model: Any) -> bool:
    if "sklearn" not in sys.modules:
        return False
    from sklearn.base import BaseEstimator

    return isinstance(model, BaseEstimator)


def _onnx_bytes(model: Any) -> bytes | None:
    if isinstance(model, (str, os.PathLike)) and str(model).endswith(".onnx"):
        return Path(model).read_bytes()
    if type(model).__name__ == "ModelProto" and hasattr(model, "SerializeToString"):
        data: bytes = model.SerializeToString()
        return data
    return None


_SKOPS_ID = re.compile(rb'"__id__": (\d+)|"(\d+)\.npy"')


def _normalise_skops(data: bytes) -> bytes:
    """The same skops archive made deterministic: equal models give equal bytes.

    skops names objects by their memory address (``__id__`` and ``<id>.npy`` entries)
    and dates zip entries with the current time; both are replaced — ids by their
    order of first appearance in ``schema.json``, dates by 1980-01-01 — and entries
    are written in name order. The archive loads exactly as before.
    """
    src = zipfile.ZipFile(io.BytesIO(data))
    schema = src.read("schema.json")
    ids: dict[bytes, bytes] = {}
    for match in _SKOPS_ID.finditer(schema):
        found = match.group(1) or match.group(2)
        ids.setdefault(found, str(len(ids) + 1).encode())

    def renumber(match: re.Match[bytes]) -> bytes:
        if match.group(1) is not None:
            return b'"__id__": ' + ids[match.group(1)]
        return b'"' + ids[match.group(2)] + b'.npy"'

    entries = {"schema.json": _SKOPS_ID.sub(renumber, schema)}
    for info in src.infolist():
        if info.filename == "schema.json":
            continue
        stem = info.filename[: -len(".npy")].encode() if info.filename.endswith(".npy") else None
        name = f"{ids[stem].decode()}.npy" if stem in ids else info.filename
        entries[name] = src.read(info.filename)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name in sorted(entries):
            fixed = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, entries[name])
    return out.getvalue()


def store_payload(store: ArtifactStore, model: Any, *, format: str | None = None) -> StoredPayload:
    """Store ``model`` in the safest format that takes it (or the one named).

    Raises:
        InvalidInputError: ``format`` is unknown or does not fit the model.
        MissingExtraError: skops / onnx is needed but not installed.
    """
    if format is not None and format not in FORMATS:
        raise InvalidInputError(
            f"unknown model format {format!r}", expected=list(FORMATS), found=format
        )
    onnx = _onnx_bytes(model)
    if format == "onnx" or (format is None and onnx is not None):
        if onnx is None:
            if isinstance(model, (bytes, bytearray)):
                onnx = bytes(model)
            else:
                raise InvalidInputError(
                    "format='onnx' takes ONNX bytes, a .onnx path or an onnx.ModelProto",
                    found=type(model).__qualname__,
                )
        ref = store.put_bytes(onnx, media_type=_MEDIA["onnx"])
        return StoredPayload(ref, "onnx", "onnx", frozenset({"onnxruntime", "numpy"}))
    if format == "npy" or (format is None and isinstance(model, np.ndarray)):
        if not isinstance(model, np.ndarray) or model.dtype.hasobject:
            raise InvalidInputError(
                "format='npy' takes a numeric numpy array of weights",
                found=type(model).__qualname__,
            )
        ref = store.put(model)  # the store's npy codec: header + the array's memory, no copy
        return StoredPayload(ref, "npy", "numpy.ndarray", frozenset({"numpy"}))
    flavor = f"{type(model).__module__}.{type(model).__qualname__}"
    if format == "skops" or (format is None and _is_sklearn(model)):
        sio = import_optional("skops.io", "sklearn", purpose="storing scikit-learn models safely")
        data = _normalise_skops(sio.dumps(model))
        ref = store.put_bytes(data, media_type=_MEDIA["skops"])
        return StoredPayload(
            ref, "skops", flavor, frozenset({"sklearn", "skops", "numpy", "scipy"})
        )
    if not (callable(model) or hasattr(model, "predict")):
        raise InvalidInputError(
            f"a {type(model).__qualname__} has no predict method and is not callable; "
            "package an object with predict (or predict_proba), or a function",
            found=type(model).__qualname__,
        )
    ref = store.put(model)  # the store's codec: cloudpickle, marked as written here
    modules = frozenset({type(model).__module__.split(".")[0], "cloudpickle"})
    return StoredPayload(ref, "pickle", flavor, modules)


def load_payload(
    store: ArtifactStore, ref: ArtifactRef, format: str, *, trusted: bool | None = None
) -> Any:
    """Load a stored model, verified by digest, under each format's trust rule.

    Raises:
        UntrustedObjectError: a pickle not written by this store, or a skops file
            holding types beyond scikit-learn/numpy/scipy, without ``trusted=True``.
        IntegrityError: the bytes do not match their digest.
    """
    if format == "pickle":
        return store.get(ref, trusted=trusted)
    data = store.get_bytes(ref)
    if format == "npy":
        return LinearWeights(np.load(io.BytesIO(data), allow_pickle=False))
    if format == "onnx":
        return OnnxModel(data)
    if format == "skops":  # the skops codec (mlopskit.serialize) applies the trust rule
        return decode(data, _MEDIA["skops"], trusted=bool(trusted), name=ref.digest)
    raise InvalidInputError(
        f"unknown model format {format!r}", expected=list(FORMATS), found=format
    )
