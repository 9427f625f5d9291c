""" "Current" things, held in ContextVars so they are right under threads and asyncio.

Lower layers read these without importing the layers that set them: versioning learns
the active run from here, not from tracking.
"""

from __future__ import annotations

import functools
import getpass
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "RunHandle",
    "active_run",
    "current_workspace_uri",
    "require_workspace",
    "reset_active_run",
    "set_active_run",
    "set_workspace_uri",
    "using_workspace",
    "whoami",
]


@runtime_checkable
class RunHandle(Protocol):
    """What lower layers may know of a run: its id and experiment."""

    @property
    def run_id(self) -> str: ...

    @property
    def experiment(self) -> str: ...


#: What only a workspace root holds: the store's directories, the tracking backends'
#: files. A directory with none of them (nor the ``.gitignore`` mlopskit writes into a
#: root it creates) holds no workspace.
WORKSPACE_ENTRIES = ("objects", "packs", "refs", "tracking", "tracking.sqlite")

_active_run: ContextVar[Any | None] = ContextVar("mlopskit_active_run", default=None)
_workspace: ContextVar[str | None] = ContextVar("mlopskit_workspace", default=None)
_process_workspace: list[str | None] = [None]


@functools.lru_cache(maxsize=1)
def whoami() -> tuple[str, str]:
    """``(user, host)`` of this process, for audit records."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers)
        user = "unknown"
    return user, socket.gethostname()


def active_run() -> Any | None:
    """The run active in this thread / task, or ``None``."""
    return _active_run.get()


def set_active_run(run: Any | None) -> Any:
    """Make ``run`` active; returns a token for :func:`reset_active_run`."""
    return _active_run.set(run)


def reset_active_run(token: Any) -> None:
    """Restore the active run that was current before :func:`set_active_run`."""
    _active_run.reset(token)


def set_workspace_uri(uri: str | os.PathLike[str] | None) -> None:
    """Set the process-wide default workspace (``None`` returns to the environment)."""
    _process_workspace[0] = None if uri is None else os.fspath(uri)


def current_workspace_uri() -> str:
    """The workspace in effect: a ``using_workspace`` block > ``set_workspace`` > config."""
    from mlopskit import _config

    return _workspace.get() or _process_workspace[0] or _config.home()


@contextmanager
def using_workspace(uri: str | os.PathLike[str]) -> Iterator[str]:
    """Make ``uri`` the workspace for this thread / task inside the block."""
    token = _workspace.set(os.fspath(uri))
    try:
        yield os.fspath(uri)
    finally:
        _workspace.reset(token)


def require_workspace(uri: str | os.PathLike[str] | None = None) -> str:
    """``uri`` (default: the workspace in effect) for a READ; returns it.

    A local path that does not exist, or is a directory holding no workspace, raises
    NotFoundError saying so and how to make one: a read never creates an empty
    workspace (writers do). A remote URI is returned as is (its reads answer for it).
    """
    from mlopskit import _config
    from mlopskit.errors import NotFoundError

    uri = current_workspace_uri() if uri is None else os.fspath(uri)
    if "://" in uri and not uri.startswith("file://"):
        return uri
    path = os.path.abspath(os.path.expanduser(uri.removeprefix("file://")))
    if os.path.isdir(path):
        if any(os.path.lexists(os.path.join(path, e)) for e in WORKSPACE_ENTRIES):
            return uri
        try:
            with open(os.path.join(path, ".gitignore"), encoding="utf-8") as f:
                if f.read(len(_config.GITIGNORE)) == _config.GITIGNORE:
                    return uri
        except OSError:
            pass
        found = "a directory holding no workspace"
    else:
        found = "a file" if os.path.lexists(path) else "nothing"
    raise NotFoundError(
        f"no mlopskit workspace at {path!r} (found {found}): point MLOPSKIT_HOME, "
        "mk.set_workspace() or mk.Workspace(...) at an existing one, or create one by "
        "writing to it (mk.start_run(), mk.datasets.commit(), mk.registry.register())",
        path=path,
        found=found,
    )
