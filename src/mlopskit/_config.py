"""Configuration, read when a call happens: explicit argument > ``MLOPSKIT_*`` environment > default.

| setting | environment | default |
| --- | --- | --- |
| workspace root | ``MLOPSKIT_HOME`` | ``./.mlopskit`` in the current directory |
| read cache for remote stores | ``MLOPSKIT_CACHE_DIR`` | ``$XDG_CACHE_HOME/mlopskit`` or ``~/.cache/mlopskit`` |
| progress bars | ``MLOPSKIT_PROGRESS`` (``on``/``off``/``auto``) | ``auto`` (only on a TTY) |
| ``@versioned`` | ``MLOPSKIT_VERSIONED`` (``on``/``off``) | ``on`` |
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from mlopskit.errors import ConfigError

__all__ = ["cache_dir", "flag", "home", "resolve_uri", "setting"]

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def setting(
    name: str,
    explicit: T | None = None,
    *,
    default: T,
    parse: Callable[[str], T] | None = None,
) -> T:
    """Resolve one setting: ``explicit`` if given, else ``MLOPSKIT_<NAME>``, else ``default``."""
    if explicit is not None:
        return explicit
    raw = os.environ.get(f"MLOPSKIT_{name.upper()}")
    if raw is None or raw == "":
        return default
    if parse is None:
        return raw  # type: ignore[return-value]
    try:
        return parse(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"MLOPSKIT_{name.upper()}={raw!r} is not valid: {exc}", setting=name, found=raw
        ) from exc


def parse_flag(raw: str) -> bool | None:
    """``on``/``off`` style strings to a bool; ``auto`` to ``None``."""
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    if low == "auto":
        return None
    raise ValueError(f"expected one of on/off/auto, found {raw!r}")


def flag(name: str, explicit: bool | None = None, *, default: bool | None) -> bool | None:
    """A tri-state switch (``on``/``off``/``auto`` → True/False/None)."""
    return setting(name, explicit, default=default, parse=parse_flag)


def home(explicit: str | os.PathLike[str] | None = None) -> str:
    """The workspace root URL or path: argument > ``MLOPSKIT_HOME`` > ``./.mlopskit``."""
    value = setting("home", None if explicit is None else os.fspath(explicit), default="")
    return value or os.path.join(os.getcwd(), ".mlopskit")


def resolve_uri(uri: str | os.PathLike[str]) -> str:
    """``uri`` as a cache key: a local path made absolute against the current directory
    (now, so a relative workspace follows ``os.chdir``), a URL (``s3://``, ``memory://``,
    ``file://``) unchanged."""
    text = os.fspath(uri)
    return text if "://" in text else os.path.abspath(text)


def cache_dir(explicit: str | os.PathLike[str] | None = None) -> str:
    """The local read-cache directory for remote stores."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    value = setting("cache_dir", None if explicit is None else os.fspath(explicit), default="")
    return value or os.path.join(base, "mlopskit")


#: Written into a local workspace root when mlopskit creates it, so that a workspace
#: inside a git work tree (``./.mlopskit``) is never committed by accident.
GITIGNORE = "# created by mlopskit: a workspace is data, not source\n*\n"


def make_local_root(path: str) -> None:
    """Create the local workspace root ``path`` if missing; a new root gets a
    ``.gitignore`` that ignores everything in it (an existing root is left alone)."""
    if os.path.isdir(path):
        return
    os.makedirs(path, exist_ok=True)
    try:
        with open(os.path.join(path, ".gitignore"), "x", encoding="utf-8") as f:
            f.write(GITIGNORE)
    except OSError:
        pass  # a convenience, never a reason to fail a write
