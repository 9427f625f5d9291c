"""Logging: structlog loggers over the stdlib ``mlopskit`` logger.

The library never configures logging. The stdlib ``mlopskit`` logger carries a
``NullHandler`` so nothing is printed unless the application configures logging;
structlog wraps it, so an application that configured structlog gets its processors.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["get_logger"]

logging.getLogger("mlopskit").addHandler(logging.NullHandler())


def get_logger(name: str = "mlopskit") -> Any:
    """A structlog logger bound to the stdlib logger ``name`` (``mlopskit.…``)."""
    import structlog

    if not name.startswith("mlopskit"):
        name = f"mlopskit.{name}"
    return structlog.wrap_logger(
        logging.getLogger(name),
        wrapper_class=structlog.stdlib.BoundLogger,
    )
