"""Optional dependencies: imported on first use, with an error that names the extra.

The distribution is ``pymlopskit`` (the import name stays ``mlopskit``): ``mlopskit`` on
PyPI is an unrelated, empty placeholder, so every install hint names :data:`DISTRIBUTION`.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

from mlopskit.errors import MissingExtraError, UnsupportedURLError

__all__ = ["DISTRIBUTION", "import_optional", "install_hint", "is_available", "open_fsspec_url"]

#: The name to ``pip install`` (PyPI's ``mlopskit`` is somebody else's placeholder).
DISTRIBUTION = "pymlopskit"


def install_hint(extra: str | None = None) -> str:
    """The pip command that installs mlopskit with ``extra``: ``pip install 'pymlopskit[s3]'``."""
    return f"pip install '{DISTRIBUTION}[{extra}]'" if extra else f"pip install {DISTRIBUTION}"


def import_optional(module: str, extra: str, *, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``pymlopskit[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = f" for {purpose}" if purpose else ""
        raise MissingExtraError(
            f"{module!r} is needed{what} but is not installed. "
            f"Install it with: {install_hint(extra)}",
            module=module,
            extra=extra,
        ) from exc


def is_available(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it when already loaded)."""
    import sys
    from importlib.util import find_spec

    if module in sys.modules:
        return True
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):
        return False


#: The extra that brings each remote protocol's fsspec implementation.
PROTOCOL_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}


def open_fsspec_url(
    raw: str, storage_options: dict[str, Any] | None = None
) -> tuple[Any, str, str]:
    """``(filesystem, protocol, path)`` for a remote fsspec URL (``s3://b/p``, ``memory://x``).

    Listings are never served from fsspec's cache (s3fs answers "not found" for a key
    missing from a cached listing of its directory). An unknown scheme is
    :class:`UnsupportedURLError`; a scheme whose package is missing is
    :class:`MissingExtraError` naming the extra to install. The one place the store and
    the tracking backends open a URL.
    """
    import fsspec

    protocol = raw.split("://", 1)[0].lower()
    if protocol not in fsspec.available_protocols():
        raise UnsupportedURLError(
            f"unknown URL scheme {protocol!r} in {raw!r}; use a path, file://, memory://, "
            "s3:// or another fsspec protocol",
            url=raw,
        )
    options = dict(storage_options or {})
    options.setdefault("use_listings_cache", False)
    try:
        fs, path = fsspec.core.url_to_fs(raw, **options)
    except ImportError as exc:
        extra = PROTOCOL_EXTRAS.get(protocol)
        hint = install_hint(extra) if extra else str(exc)
        raise MissingExtraError(
            f"the {protocol}:// filesystem needs a package that is not installed: {hint}",
            url=raw,
            extra=extra,
        ) from exc
    return fs, protocol, path


class FilesystemRoot:
    """A filesystem and a root path in it, resolved from a URL or a plain path.

    The one URL-to-root rule of the store's ``Location`` and tracking's
    ``SegmentFiles`` (both subclass it): a plain path or ``file://`` is local (an
    absolute, ``/``-separated root; the fsspec filesystem is created only when first
    used), anything else opens through :func:`open_fsspec_url` (``memory://`` roots
    start with ``/``).
    """

    protocol: str
    root: str
    url: str

    def _open_root(
        self, url: str | os.PathLike[str], storage_options: dict[str, Any] | None
    ) -> None:
        raw = os.fspath(url)
        self._fs: Any = None
        if "://" not in raw or raw.startswith("file://"):
            path = raw[len("file://") :] if raw.startswith("file://") else raw
            self.protocol = "file"
            self.root = os.path.abspath(os.path.expanduser(path)).replace(os.sep, "/")
            self.url = self.root
            return
        fs, protocol, path = open_fsspec_url(raw, storage_options)
        self._fs = fs
        self.protocol = protocol
        self.root = path.rstrip("/") or ("/" if protocol == "memory" else path)
        if protocol == "memory" and not self.root.startswith("/"):
            self.root = "/" + self.root
        self.url = raw

    @property
    def fs(self) -> Any:
        """The fsspec filesystem (created on first use for local paths)."""
        if self._fs is None:
            from fsspec.implementations.local import LocalFileSystem

            self._fs = LocalFileSystem()
        return self._fs

    @fs.setter
    def fs(self, value: Any) -> None:
        self._fs = value  # e.g. a wrapper that injects faults, in tests

    @property
    def is_local(self) -> bool:
        """True for the local filesystem (where os-level atomic operations are used)."""
        return self.protocol == "file"
