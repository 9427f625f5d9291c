"""ModelPackage: everything needed to serve a model, as one content-addressed manifest.

A package is a canonical-JSON record in the store (so it has a digest, and the same
model packaged twice is one object) holding: the model payload's ref and format, the
signature, an input example, requirements pinned from ``importlib.metadata``, the
Python version, the registry version it came from, and optionally a drift reference
profile. Adapters to serving engines (issue 9) are thin writers over it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlopskit.registry import ModelSignature
    from mlopskit.store import ArtifactRef, ArtifactStore

__all__ = ["ModelPackage"]


class ModelPackage:
    """A stored, verifiable model package (see :meth:`from_registry`, :meth:`from_model`)."""

    name: str
    digest: str
    signature: ModelSignature | None
    requirements: dict[str, str]
    python_version: str
    format: str
    model_ref: ArtifactRef

    @classmethod
    def from_registry(cls, uri: str, *, store: ArtifactStore | None = None) -> ModelPackage:
        """Package the registered model ``uri`` (``"name@alias"``, ``"name/3"``)."""
        raise NotImplementedError

    @classmethod
    def from_model(
        cls,
        model: Any,
        *,
        name: str,
        signature: ModelSignature | None = None,
        input_example: Any = None,
        reference: Any = None,
        store: ArtifactStore | None = None,
    ) -> ModelPackage:
        """Package a model object (scikit-learn → skops, numpy → .npy, ONNX bytes, …)."""
        raise NotImplementedError

    @classmethod
    def load(cls, digest: str, *, store: ArtifactStore | None = None) -> ModelPackage:
        """The package stored under ``digest`` (verified)."""
        raise NotImplementedError

    def load_model(self, *, trusted: bool | None = None) -> Any:
        """The model object (verified; pickles only under the store's trust rule)."""
        raise NotImplementedError

    def check_environment(self) -> dict[str, tuple[str | None, str | None]]:
        """Package → (recorded, installed) for every difference with this interpreter."""
        raise NotImplementedError
