"""The content-addressed artifact store (see docs/store.md).

``ArtifactStore`` and ``ArtifactRef`` load without pydantic; the pydantic record and
report models (``RefRecord``, ``TreeEntry``, ``VerifyReport``, …) load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mlopskit._retry import RetryPolicy
from mlopskit.store._current import current_store, store_for
from mlopskit.store._ref import ArtifactRef
from mlopskit.store._store import ArtifactStore

if TYPE_CHECKING:
    from mlopskit.store._model import (
        CorruptObject,
        GcReport,
        ObjectInfo,
        RefRecord,
        TreeEntry,
        VerifyReport,
    )
    from mlopskit.store._refs import Refs

_LAZY = {
    "CorruptObject": "mlopskit.store._model",
    "GcReport": "mlopskit.store._model",
    "ObjectInfo": "mlopskit.store._model",
    "RefRecord": "mlopskit.store._model",
    "Refs": "mlopskit.store._refs",
    "TreeEntry": "mlopskit.store._model",
    "VerifyReport": "mlopskit.store._model",
}

__all__ = [
    "ArtifactRef",
    "ArtifactStore",
    "CorruptObject",
    "GcReport",
    "ObjectInfo",
    "RefRecord",
    "Refs",
    "RetryPolicy",
    "TreeEntry",
    "VerifyReport",
    "current_store",
    "store_for",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mlopskit.store' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
