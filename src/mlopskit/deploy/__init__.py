"""Deployment: model packages, a Predictor, ``serve()``, routing and the prediction log.

``import mlopskit.deploy`` is cheap: every public name loads on first use. See
docs/deploy.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from mlopskit.deploy._logger import PredictionLogger, PredictionRecord
    from mlopskit.deploy._loop import DeploymentLoop, LoopCheck, RollbackPolicy
    from mlopskit.deploy._package import ModelPackage, PackageManifest
    from mlopskit.deploy._predictor import Predictor
    from mlopskit.deploy._ramp import Ramp, RampGate, RampStep
    from mlopskit.deploy._router import Routed, Router
    from mlopskit.deploy._server import ServerHandle, serve

# Public name -> module that defines it; a test pins __all__ to its keys, sorted.
_LAZY: dict[str, str] = {
    "DeploymentLoop": "mlopskit.deploy._loop",
    "LoopCheck": "mlopskit.deploy._loop",
    "ModelPackage": "mlopskit.deploy._package",
    "PackageManifest": "mlopskit.deploy._package",
    "PredictionLogger": "mlopskit.deploy._logger",
    "PredictionRecord": "mlopskit.deploy._logger",
    "Predictor": "mlopskit.deploy._predictor",
    "Ramp": "mlopskit.deploy._ramp",
    "RampGate": "mlopskit.deploy._ramp",
    "RampStep": "mlopskit.deploy._ramp",
    "RollbackPolicy": "mlopskit.deploy._loop",
    "Routed": "mlopskit.deploy._router",
    "Router": "mlopskit.deploy._router",
    "ServerHandle": "mlopskit.deploy._server",
    "serve": "mlopskit.deploy._server",
}

__all__ = [
    "DeploymentLoop",
    "LoopCheck",
    "ModelPackage",
    "PackageManifest",
    "PredictionLogger",
    "PredictionRecord",
    "Predictor",
    "Ramp",
    "RampGate",
    "RampStep",
    "RollbackPolicy",
    "Routed",
    "Router",
    "ServerHandle",
    "serve",
]


#: The adapters, public submodules loaded on first attribute access (``mk.deploy.mlflow``).
_SUBMODULES = frozenset({"bentoml", "docker", "k8s", "kserve", "mlflow", "mlserver", "sagemaker"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"mlopskit.deploy.{name}")
    raise AttributeError(f"module 'mlopskit.deploy' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})
