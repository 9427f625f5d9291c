"""Predictor: a package loaded once, inputs validated against its signature, predictions.

A Predictor is safe to share between threads (the model is read-only after load) and
is what ``serve()``, ``Router`` and batch scoring call. ``predict`` takes every shape
:func:`mlopskit.deploy._codec.to_frame` understands, and a Dask DataFrame (scored with
``map_partitions``, the package loaded once per worker process).

Loaded models are cached per process by (store URL, package digest): a second
Predictor of the same package costs a ref read, not a load.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from mlopskit._log import get_logger
from mlopskit.deploy._codec import Conformer, to_frame
from mlopskit.deploy._package import ModelPackage
from mlopskit.errors import InvalidInputError
from mlopskit.store import current_store

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from mlopskit.registry import ModelSignature
    from mlopskit.store import ArtifactStore

__all__ = ["Predictor", "clear_cache"]

log = get_logger("mlopskit.deploy")

_MODELS: dict[tuple[str, str], Any] = {}
_MODELS_LOCK = threading.Lock()
_V2_PLATFORM = {"skops": "sklearn", "onnx": "onnx", "npy": "numpy", "pickle": "python"}


def clear_cache() -> None:
    """Forget every model loaded in this process (the next Predictor loads again)."""
    with _MODELS_LOCK:
        _MODELS.clear()


def _load(package: ModelPackage, trusted: bool | None) -> Any:
    key = (package.store.url, package.digest)
    model = _MODELS.get(key)
    if model is not None:
        return model
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            model = package.load_model(trusted=trusted)
            _MODELS[key] = model
            log.info("model_loaded", name=package.name, digest=package.digest)
    return model


def _resolve(target: ModelPackage | str, store: ArtifactStore | None) -> ModelPackage:
    if isinstance(target, ModelPackage):
        return target
    if not isinstance(target, str):
        raise InvalidInputError(
            "Predictor takes a ModelPackage, a package digest ('sha256:…' or "
            "'package:sha256:…') or a registry URI ('name@alias', 'name/3')",
            found=type(target).__qualname__,
        )
    store = store if store is not None else current_store()
    if target.startswith(("package:", "sha256:", "blake3:")):
        return ModelPackage.load(target, store=store)
    return ModelPackage.from_registry(target, store=store)


_CONFORMERS: dict[tuple[str, int], Conformer] = {}


class PredictedBatch(NamedTuple):
    """What :meth:`Predictor.predict_prepared_many` returns: per frame, its outputs and
    the float array of its rows the model was given; ``columns`` names the arrays' columns."""

    outputs: list[Any]
    inputs: list[Any]
    columns: tuple[str, ...]


class Predictor:
    """A model package loaded for prediction.

    Args:
        package_or_uri: a :class:`ModelPackage`, a package digest (``sha256:…`` or
            ``package:sha256:…``), or a registry URI (``"churn@champion"``, ``"churn/3"``).
        store: the store to read from (default: the current workspace's).
        method: the model method to call: ``"predict"``, ``"predict_proba"`` or any
            method name; a plain callable model is called.
        echo: how many characters of a caller's input an error message may quote
            (0: none — errors name columns and types, never values).
        trusted: allow a payload that could run code and was not written by this store.

    Attributes:
        name: the model's name. version: the registry version (str) or None.
        digest: the package digest. signature: the input/output signature (or None).
        package: the :class:`ModelPackage`. ready: True once the model is loaded.

    Example:
        >>> import numpy as np
        >>> from mlopskit.store import ArtifactStore
        >>> store = ArtifactStore("memory://predictor-doctest")
        >>> pkg = ModelPackage.from_model(np.array([2.0, 1.0]), name="w", store=store)
        >>> Predictor(pkg).predict([[1.0, 3.0]]).tolist()
        [5.0]
    """

    def __init__(
        self,
        package_or_uri: ModelPackage | str,
        *,
        store: ArtifactStore | None = None,
        method: str = "predict",
        echo: int = 0,
        trusted: bool | None = None,
    ) -> None:
        self.ready = False
        self.package = _resolve(package_or_uri, store)
        self.name: str = self.package.name
        self.version: str | None = self.package.version
        self.digest: str = self.package.digest
        self.signature: ModelSignature | None = self.package.signature
        self.method = method
        self.echo = int(echo)
        self.trusted = trusted
        self.model = _load(self.package, trusted)
        # A package's signature never changes (its digest names it): its conformer, and
        # the signature object the codec's caches key on, are made once per process.
        key = (self.digest, self.echo)
        conform = _CONFORMERS.get(key)
        if conform is None:
            conform = Conformer(self.signature, echo=self.echo)
            if len(_CONFORMERS) >= 64:
                _CONFORMERS.clear()
            _CONFORMERS[key] = conform
        else:
            self.signature = conform.signature
        self._conform = conform
        # A scikit-learn model fed numpy (names checked by the Conformer): 5-10× faster
        # on small batches than the same model fed a DataFrame.
        self._array_model = (
            _numpy_twin(self.model, self._conform.names) if self._conform.numeric else None
        )
        # An estimator that reads X itself (no pipeline or meta-estimator inside, whose
        # later steps could make values non-finite) may skip the finiteness pass over a
        # large batch the Conformer has just seen to be finite.
        self._reads_x = self._array_model is not None and type(
            self._array_model
        ).__module__.startswith(_READS_X)
        self._methods: dict[str, Callable[[Any], Any]] = {}
        self._columns = tuple(self._conform.names) if self._array_model is not None else ()
        self._array_methods: dict[str, Callable[[Any], Any]] = {}
        self._method(method)  # fail now, not at the first request
        self.ready = True

    def __repr__(self) -> str:
        v = f"/{self.version}" if self.version else ""
        return f"Predictor({self.name}{v}, {self.digest[:19]}…, method={self.method!r})"

    def _method(self, method: str) -> Callable[[Any], Any]:
        fn = self._methods.get(method)
        if fn is not None:
            return fn
        attr = getattr(self.model, method, None)
        if callable(attr):
            fn = attr
            twin = getattr(self._array_model, method, None) if self._array_model else None
            if twin is not None:
                self._array_methods[method] = twin
                fn = _via_numpy(twin)
        elif method in ("predict", "__call__") and callable(self.model):
            fn = self.model
        else:
            available = self.package.manifest.methods
            raise InvalidInputError(
                f"model {self.name!r} has no method {method!r}; it has {available}",
                method=method,
                expected=available,
                found=method,
            )
        self._methods[method] = fn
        return fn

    def prepare(self, data: Any) -> Any:
        """``data`` decoded and conformed to the signature: what the model is given.

        Raises:
            SchemaError: the input does not fit the signature (names the column).
        """
        conform = self._conform
        if conform.tensor is None and isinstance(data, pd.DataFrame):
            return conform(data)
        frame = to_frame(data, signature=self.signature, echo=self.echo)
        return conform(frame, from_text=isinstance(data, str))  # CSV text: parse by type

    def predict(self, data: Any, *, method: str | None = None) -> Any:
        """Validate ``data`` against the signature and return the model's outputs.

        Args:
            data: any input shape the codec understands (DataFrame, dict of columns,
                records, rows, numpy array, CSV text, MLflow or OIP V2 JSON body as
                bytes), or a Dask DataFrame (then a lazy Dask Series/DataFrame is
                returned, its meta taken from the signature).
            method: override the method chosen at construction.

        Returns:
            What the model returns (a numpy array for scikit-learn models).

        Raises:
            SchemaError: the input does not fit the signature (names the column).
            InvalidInputError: the input shape is not understood, or no such method.
        """
        name = method or self.method
        fn = self._method(name)
        if self._array_model is not None:
            twin = self._array_methods.get(name)
            if twin is not None:
                arr, finite = self._conform.checked_array(data)
                if arr is not None:
                    return self._call_array(twin, arr, finite)
        if "dask.dataframe" in sys.modules and _is_dask(data):
            return _predict_dask(self, data, name)
        return fn(self.prepare(data))

    def predict_prepared(self, frame: Any, *, method: str | None = None) -> Any:
        """Predict on input already decoded and conformed (by the server's codec).

        A numeric frame goes to the model as one float array when the model takes one
        (scikit-learn's feature-name check on a DataFrame costs more than the
        prediction of 1,000 rows).
        """
        name = method or self.method
        fn = self._method(name)
        if self._array_model is not None:
            twin = self._array_methods.get(name)
            if twin is not None:
                arr, finite = self._conform.checked_array(frame)
                if arr is not None:
                    return self._call_array(twin, arr, finite)
        return fn(frame)

    @property
    def batchable(self) -> bool:
        """Whether :meth:`predict_prepared_many` gives several requests' rows to the
        model in one call (a numeric scikit-learn model: its predictions are row by row)."""
        return self._array_model is not None and bool(self._array_methods.get(self.method))

    def predict_prepared_many(
        self, frames: Sequence[Any], *, method: str | None = None
    ) -> PredictedBatch | None:
        """:meth:`predict_prepared` of several frames in one call of the model: each
        frame's outputs, in order; None when they cannot be predicted together.

        Only a numeric scikit-learn model (:attr:`batchable`: its predictions are row by
        row) is given several requests' rows at once (its input validation costs more than
        the arithmetic of a few rows); any other model, or a frame that does not convert
        to the model's float array, gives None, and each frame goes alone. The outputs
        are split back by each frame's rows.
        """
        name = method or self.method
        self._method(name)
        twin = self._array_methods.get(name) if self._array_model is not None else None
        if twin is None:
            return None
        arrays = []
        finite = True
        for frame in frames:
            arr, seen_finite = self._conform.checked_array(frame)
            if arr is None:
                return None
            arrays.append(arr)
            finite = finite and seen_finite
        sizes = [len(a) for a in arrays]
        out = self._call_array(twin, np.concatenate(arrays), finite)
        if not isinstance(out, np.ndarray) or out.ndim == 0 or len(out) != sum(sizes):
            return None
        return PredictedBatch(np.split(out, np.cumsum(sizes[:-1])), arrays, self._columns)

    def _call_array(self, twin: Callable[[Any], Any], arr: Any, finite: bool) -> Any:
        """``twin(arr)``; a batch seen finite skips scikit-learn's own check of it (which
        costs more than the context switch at every size: ~8 us of a one-row call)."""
        if finite and self._reads_x:
            import sklearn

            with sklearn.config_context(assume_finite=True):
                return twin(arr)
        return twin(arr)

    def metadata(self) -> dict[str, Any]:
        """OIP V2 model metadata: ``name``, ``versions``, ``platform``, ``inputs``, ``outputs``."""
        from mlopskit.deploy._codec import encode_v2, signature_tensors

        inputs, outputs = signature_tensors(self.signature, self.method)
        if self.method != "predict":  # the signature's outputs are predict's: ask the model
            example = self.package.input_example()
            if example is not None:
                try:
                    out = encode_v2(self.predict(example), model_name=self.name, name=self.method)
                    outputs = [{**t, "shape": [-1, *t["shape"][1:]]} for t in out["outputs"]]
                    for t in outputs:
                        t.pop("data", None)
                except Exception as exc:  # metadata never fails: keep the signature's guess
                    log.info("metadata_outputs_not_inferred", error=type(exc).__name__)
        return {
            "name": self.name,
            "versions": [self.version] if self.version is not None else [],
            "platform": _V2_PLATFORM.get(self.package.format, "python"),
            "inputs": inputs,
            "outputs": outputs,
            "parameters": {"digest": self.digest, "flavor": self.package.manifest.flavor},
        }


# scikit-learn estimators that validate X and compute from it directly.
_READS_X = (
    "sklearn.linear_model",
    "sklearn.svm",
    "sklearn.neighbors",
    "sklearn.tree",
    "sklearn.naive_bayes",
    "sklearn.discriminant_analysis",
)


def _via_numpy(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def call(frame: Any) -> Any:
        return fn(frame.to_numpy() if isinstance(frame, pd.DataFrame) else frame)

    return call


def _numpy_twin(model: Any, names: list[str]) -> Any:
    """A shallow copy of a scikit-learn model that takes numpy rows without a warning.

    Only for an estimator (or a Pipeline whose first step is one) that recorded exactly
    ``names`` as its feature names and selects nothing by name (no ColumnTransformer):
    the Conformer has already checked names and order, so the copy forgets them. The
    loaded model itself is left as it is. None when that does not apply.
    """
    if "sklearn" not in sys.modules:
        return None
    import copy

    from sklearn.base import BaseEstimator
    from sklearn.pipeline import Pipeline

    if not isinstance(model, BaseEstimator):
        return None
    first = model.steps[0][1] if isinstance(model, Pipeline) else model
    recorded = vars(first).get("feature_names_in_") if hasattr(first, "__dict__") else None
    if recorded is None or [str(n) for n in recorded] != names:
        return None
    if type(first).__module__.startswith(("sklearn.compose", "sklearn.pipeline")):
        return None
    twin_first = copy.copy(first)
    del twin_first.feature_names_in_
    if first is model:
        return twin_first
    twin = copy.copy(model)
    twin.steps = [(model.steps[0][0], twin_first), *model.steps[1:]]
    return twin


def _is_dask(data: Any) -> bool:
    import dask.dataframe as dd

    return isinstance(data, dd.DataFrame)


# -- Dask: one Predictor per worker process, outputs typed from the signature --------------------

_WORKER: dict[tuple[str, str, str], Predictor] = {}
_WORKER_LOCK = threading.Lock()


def _worker_predictor(url: str, digest: str, method: str, trusted: bool | None) -> Predictor:
    key = (url, digest, method)
    pred = _WORKER.get(key)
    if pred is None:
        with _WORKER_LOCK:
            pred = _WORKER.get(key)
            if pred is None:
                from mlopskit.store import ArtifactStore

                store = ArtifactStore(url)
                pred = Predictor(
                    ModelPackage.load(digest, store=store), method=method, trusted=trusted
                )
                _WORKER[key] = pred
    return pred


def _as_pandas(out: Any, index: Any, name: str) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(out, pd.DataFrame):
        return out.set_axis(index, axis=0)
    if isinstance(out, pd.Series):
        return out.set_axis(index).rename(name)
    arr = np.asarray(out)
    if arr.ndim == 2:
        return pd.DataFrame(arr, index=index, columns=[f"{name}_{i}" for i in range(arr.shape[1])])
    return pd.Series(arr, index=index, name=name)


def _score_partition(
    part: Any, url: str, digest: str, method: str, trusted: bool | None, name: str
) -> Any:
    pred = _worker_predictor(url, digest, method, trusted)
    if len(part) == 0:
        return _as_pandas(_meta_values(pred, method), part.index, name)
    return _as_pandas(pred.predict(part, method=method), part.index, name)


def _meta_values(pred: Predictor, method: str) -> Any:
    """An empty output of the right type: from the signature, else from the example."""
    import numpy as np

    sig = pred.signature
    if sig is not None and sig.outputs is not None and method == pred.method:
        outs = sig.outputs
        if outs.tensor is not None:
            shape = [0, *[max(s, 1) for s in outs.tensor.shape[1:]]]
            return np.empty(shape, dtype=outs.tensor.dtype)
        cols = outs.columns or []
        if len(cols) == 1:
            import pandas as pd

            return pd.Series([], dtype=cols[0].dtype)
    example = pred.package.input_example()
    if example is None:
        raise InvalidInputError(
            f"cannot tell the output type of {pred.name!r} for a Dask DataFrame: the package "
            "has no output signature and no input example; package it with input_example= "
            "or a signature with outputs",
            method=method,
        )
    out = pred.predict(example, method=method)
    return out[:0] if hasattr(out, "__getitem__") else np.asarray(out)[:0]


def _predict_dask(pred: Predictor, ddf: Any, method: str) -> Any:
    """``map_partitions`` scoring; the package is loaded once per worker process."""
    name = method
    meta = _as_pandas(_meta_values(pred, method), ddf._meta.index, name)
    url = pred.package.store.url  # worker processes open the store by URL (not memory://)
    return ddf.map_partitions(
        _score_partition,
        url,
        pred.digest,
        method,
        pred.trusted,
        name,
        meta=meta,
        align_dataframes=False,
    )
