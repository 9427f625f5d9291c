"""The store of the current workspace, shared by every layer above."""

from __future__ import annotations

import os
import threading

from mlopskit import _config
from mlopskit.store._store import ArtifactStore

_stores: dict[str, ArtifactStore] = {}
_lock = threading.Lock()


def store_for(uri: str | os.PathLike[str]) -> ArtifactStore:
    """The (cached) store at ``uri``; one instance per URI per process."""
    key = _config.resolve_uri(uri)  # "ws" after os.chdir is another directory
    with _lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = ArtifactStore(key)
        return store


def current_store() -> ArtifactStore:
    """The store of the current workspace (``mk.set_workspace`` > ``MLOPSKIT_HOME`` >
    ``./.mlopskit``), read at call time."""
    from mlopskit import _context  # getpass and socket: not needed to open a store by URL

    return store_for(_context.current_workspace_uri())
