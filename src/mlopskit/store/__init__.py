"""The content-addressed artifact store (see docs/store.md)."""

from mlopskit.store._current import current_store, store_for
from mlopskit.store._model import (
    ArtifactRef,
    CorruptObject,
    GcReport,
    ObjectInfo,
    RefRecord,
    TreeEntry,
    VerifyReport,
)
from mlopskit.store._refs import Refs
from mlopskit.store._store import ArtifactStore

__all__ = [
    "ArtifactRef",
    "ArtifactStore",
    "CorruptObject",
    "GcReport",
    "ObjectInfo",
    "RefRecord",
    "Refs",
    "TreeEntry",
    "VerifyReport",
    "current_store",
    "store_for",
]
