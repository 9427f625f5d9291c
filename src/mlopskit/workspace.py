"""A workspace: one root URI that holds a project's store, runs and registry.

Layout under the root: the artifact store's own layout (``objects/``, ``packs/``,
``refs/``, …), plus the tracking backend's files. Without an explicit workspace,
``MLOPSKIT_HOME`` is used, else ``./.mlopskit`` in the current directory (as MLflow
uses ``./mlruns``).
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any

from mlopskit import _config, _context
from mlopskit.store import ArtifactStore, store_for

if TYPE_CHECKING:
    from mlopskit.registry import Registry
    from mlopskit.tracking import Tracker
    from mlopskit.versioning import Datasets

__all__ = ["Workspace", "current_workspace", "set_workspace"]


class Workspace:
    """One project's store, runs and registry under one URI.

    Use it as a context manager to make it current for a block (per thread and task),
    or call :func:`set_workspace` to make it the process default.
    """

    def __init__(self, uri: str | os.PathLike[str] | None = None) -> None:
        self.uri: str = _config.home(uri)
        self._token: list[AbstractContextManager[Any]] = []

    def __repr__(self) -> str:
        return f"Workspace({self.uri!r})"

    @property
    def store(self) -> ArtifactStore:
        """The artifact store at the workspace root."""
        return store_for(self.uri)

    @property
    def datasets(self) -> Datasets:
        """The datasets of this workspace (``commit``, ``load``, ``versions``, ``diff``)."""
        from mlopskit.versioning import Datasets

        return Datasets(self.store)

    @property
    def registry(self) -> Registry:
        """The model registry of this workspace (``register``, aliases, ``rollback``)."""
        from mlopskit.registry import Registry

        return Registry(self.store)

    @property
    def tracker(self) -> Tracker:
        """The runs of the workspace: SQLite at ``<root>/tracking.sqlite`` for a local
        root, segment files under ``<root>/tracking/`` otherwise (docs/tracking.md)."""
        from mlopskit.tracking import tracker_for

        return tracker_for(self.uri)

    def __enter__(self) -> Workspace:
        cm = _context.using_workspace(self.uri)
        cm.__enter__()
        self._token.append(cm)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._token.pop().__exit__(exc_type, exc, tb)


def set_workspace(uri: str | os.PathLike[str] | None) -> Workspace:
    """Make ``uri`` the process-wide default workspace (``None``: back to the environment)."""
    _context.set_workspace_uri(uri)
    return Workspace(uri)


def current_workspace() -> Workspace:
    """The workspace in effect for this thread / task."""
    return Workspace(_context.current_workspace_uri())
