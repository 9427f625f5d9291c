"""Optional dependencies: imported on first use, with an error that names the extra.

The distribution is ``pymlopskit`` (the import name stays ``mlopskit``): ``mlopskit`` on
PyPI is an unrelated, empty placeholder, so every install hint names :data:`DISTRIBUTION`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from mlopskit.errors import MissingExtraError

__all__ = ["DISTRIBUTION", "import_optional", "install_hint", "is_available"]

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
