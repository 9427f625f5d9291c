"""Logging: structlog loggers over the stdlib ``mlopskit`` logger.

The library never configures logging. The stdlib ``mlopskit`` logger carries a
``NullHandler`` so nothing is printed unless the application configures logging;
structlog wraps it, so an application that configured structlog gets its processors.
structlog itself is imported on the first event, not when a module asks for a logger
(it costs ~0.1 s to import where ``rich`` is installed).
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["get_logger"]

logging.getLogger("mlopskit").addHandler(logging.NullHandler())


class _LazyLogger:
    """A structlog BoundLogger created on first use."""

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, attr: str) -> Any:
        if self._logger is None:
            import structlog

            self._logger = structlog.wrap_logger(
                logging.getLogger(self._name), wrapper_class=structlog.stdlib.BoundLogger
            )
        return getattr(self._logger, attr)


def get_logger(name: str = "mlopskit") -> Any:
    """A structlog logger bound to the stdlib logger ``name`` (``mlopskit.…``)."""
    if not name.startswith("mlopskit"):
        name = f"mlopskit.{name}"
    return _LazyLogger(name)
