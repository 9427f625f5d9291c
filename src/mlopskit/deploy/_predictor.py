"""Predictor: a package loaded once, inputs validated against its signature, predictions.

A Predictor is safe to share between threads (the model is read-only after load) and
is what ``serve()``, ``Router`` and batch scoring call. ``predict`` takes every shape
:func:`mlopskit.deploy._codec.to_frame` understands, and a Dask DataFrame (scored with
``map_partitions``, the package loaded once per worker).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlopskit.deploy._package import ModelPackage
    from mlopskit.registry import ModelSignature
    from mlopskit.store import ArtifactStore

__all__ = ["Predictor"]


class Predictor:
    """A model package loaded for prediction.

    Args:
        package_or_uri: a :class:`ModelPackage`, a package digest (``sha256:…``), or a
            registry URI (``"churn@champion"``, ``"churn/3"``).
        store: the store to read from (default: the current workspace's).
        method: the model method to call: ``"predict"`` or ``"predict_proba"`` (or any
            method name); a plain callable model is called.
        echo: how many characters of a caller's input an error message may quote
            (0: none).
        trusted: allow a pickle payload not written by this store (the store's rule).

    Attributes:
        name: the model's name. version: the registry version (str) or None.
        digest: the package digest. signature: the input/output signature (or None).
        ready: True once the model is loaded.
    """

    name: str
    version: str | None
    digest: str
    signature: ModelSignature | None
    ready: bool

    def __init__(
        self,
        package_or_uri: ModelPackage | str,
        *,
        store: ArtifactStore | None = None,
        method: str = "predict",
        echo: int = 0,
        trusted: bool | None = None,
    ) -> None:
        raise NotImplementedError

    def predict(self, data: Any, *, method: str | None = None) -> Any:
        """Validate ``data`` against the signature and return the model's outputs.

        Args:
            data: any input shape the codec understands, or a Dask DataFrame (then a
                Dask DataFrame/Series is returned, computed lazily).
            method: override the method chosen at construction.

        Returns:
            What the model returns (a numpy array for scikit-learn models).

        Raises:
            SchemaError: the input does not fit the signature (names the column).
        """
        raise NotImplementedError

    def metadata(self) -> dict[str, Any]:
        """OIP V2 model metadata: ``name``, ``versions``, ``platform``, ``inputs``, ``outputs``."""
        raise NotImplementedError
