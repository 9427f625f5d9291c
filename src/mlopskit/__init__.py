"""mlopskit: composable MLOps primitives over one verifiable, deduplicated store.

``import mlopskit as mk`` is cheap: every public name below is loaded on first use
(module ``__getattr__``), so pandas, scipy, cloudpickle and fsspec backends load only
when a call needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

# Public name -> module that defines it. Sorted by name; a test pins it to __all__.
_LAZY: dict[str, str] = {
    "ArtifactRef": "mlopskit.store",
    "ArtifactStore": "mlopskit.store",
    "IntegrityError": "mlopskit.errors",
    "MlopskitError": "mlopskit.errors",
    "NotFoundError": "mlopskit.errors",
    "RefConflictError": "mlopskit.errors",
    "Workspace": "mlopskit.workspace",
    "current_workspace": "mlopskit.workspace",
    "set_workspace": "mlopskit.workspace",
}

# Subpackages reachable as attributes (``mk.drift``, ``mk.store``, ...).
_SUBMODULES: frozenset[str] = frozenset(
    {
        "errors",
        "hashing",
        "serialize",
        "store",
        "workspace",
    }
)

__all__ = sorted([*_LAZY, *_SUBMODULES, "__version__"])

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from mlopskit import errors, hashing, serialize, store, workspace
    from mlopskit.errors import IntegrityError, MlopskitError, NotFoundError, RefConflictError
    from mlopskit.store import ArtifactRef, ArtifactStore
    from mlopskit.workspace import Workspace, current_workspace, set_workspace


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"mlopskit.{name}")
    else:
        raise AttributeError(f"module 'mlopskit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
