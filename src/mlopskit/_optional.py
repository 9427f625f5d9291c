"""Optional dependencies: imported on first use, with an error that names the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from mlopskit.errors import MissingExtraError

__all__ = ["import_optional", "is_available"]


def import_optional(module: str, extra: str, *, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``mlopskit[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = f" for {purpose}" if purpose else ""
        raise MissingExtraError(
            f"{module!r} is needed{what} but is not installed. "
            f"Install it with: pip install 'mlopskit[{extra}]'",
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
