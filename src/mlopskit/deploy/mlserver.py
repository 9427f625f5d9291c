"""MLServer: a model repository entry and the custom runtime that serves it.

:func:`export` writes ``<repo>/<name>/model-settings.json`` (implementation
``mlopskit.deploy.mlserver.Runtime``, inputs/outputs from the signature, a relative
``parameters.uri`` that the runtime resolves as MLServer does, against the settings
file's folder) and the package bundle in ``<repo>/<name>/model/``. Then::

    mlserver start <repo>

:class:`Runtime` (a ``mlserver.MLModel``) is made on first access, so importing this
module never imports MLServer; it answers ``/v2/models/{name}/infer`` with
``Predictor.predict``'s outputs, and bad input with a 400 (MLServer's own runtimes
answer a wrong feature count with 500).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlopskit.deploy._codec import signature_tensors
from mlopskit.deploy._targets import load_bundle, record_export, write_bundle
from mlopskit.errors import InvalidInputError

if TYPE_CHECKING:
    from mlopskit.deploy._package import ModelPackage

    Runtime: type  # made on first access (module __getattr__): MLServer is imported then

__all__ = ["Runtime", "export"]

IMPLEMENTATION = "mlopskit.deploy.mlserver.Runtime"


def export(
    package: ModelPackage,
    repo: str | os.PathLike[str],
    *,
    name: str | None = None,
    version: str | None = None,
    method: str = "predict",
) -> Path:
    """Add ``package`` to the MLServer model repository ``repo``; returns the model folder.

    Args:
        package: the package.
        repo: the repository folder (``mlserver start <repo>`` serves every model in it).
        name: the model name under ``/v2/models/`` (default: the package name).
        version: the version MLServer reports (default: the registry version, if any).
        method: the model method served (``predict`` or ``predict_proba``).

    Raises:
        InvalidInputError: the model folder exists and is not empty.
    """
    model_name = name or package.name
    folder = Path(repo) / model_name
    if folder.exists() and any(folder.iterdir()):
        raise InvalidInputError(
            f"{folder} exists and is not empty; pick another name= or remove it",
            path=str(folder),
        )
    write_bundle(package, folder / "model")
    inputs, outputs = signature_tensors(package.signature, method)

    def meta(tensors: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: t[k] for k in ("name", "datatype", "shape")} for t in tensors]

    params: dict[str, Any] = {"uri": "./model", "extra": {"method": method}}
    if version or package.version:
        params["version"] = version or package.version
    settings = {
        "name": model_name,
        "implementation": IMPLEMENTATION,
        "parameters": params,
        "inputs": meta(inputs),
        "outputs": meta(outputs),
    }
    (folder / "model-settings.json").write_text(json.dumps(settings, indent=2) + "\n")
    record_export(package, "mlserver", folder)
    return folder


def _make_runtime() -> type:
    from mlopskit._optional import import_optional

    mlserver = import_optional("mlserver", "mlserver", purpose="serving with MLServer")
    from mlserver.errors import MLServerError
    from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput
    from mlserver.utils import get_model_uri

    from mlopskit.deploy._codec import encode_v2

    class Runtime(mlserver.MLModel):  # type: ignore[misc, name-defined]
        """MLServer runtime over an mlopskit bundle (see :func:`export`)."""

        async def load(self) -> bool:
            uri = await get_model_uri(self._settings)
            extra = (self._settings.parameters.extra or {}) if self._settings.parameters else {}
            self._method = str(extra.get("method", "predict"))
            self._predictor = load_bundle(uri, method=self._method)
            self.ready = True
            return True

        async def predict(self, payload: InferenceRequest) -> InferenceResponse:
            body = payload.model_dump(mode="json", exclude_none=True)
            try:
                out = self._predictor.predict(body)
            except InvalidInputError as exc:
                raise MLServerError(str(exc), status_code=400) from None
            enc = encode_v2(out, model_name=self.name, id=payload.id, name=self._method)
            return InferenceResponse(
                model_name=self.name,
                model_version=self.version,
                id=payload.id,
                outputs=[ResponseOutput(**t) for t in enc["outputs"]],
            )

    return Runtime


def __getattr__(name: str) -> Any:
    if name == "Runtime":
        cls = _make_runtime()
        globals()["Runtime"] = cls
        return cls
    raise AttributeError(f"module 'mlopskit.deploy.mlserver' has no attribute {name!r}")
