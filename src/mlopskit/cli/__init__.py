"""The ``mlopskit`` command line: a thin layer over the public API (see docs/cli.md).

``mlopskit`` (the console script) and ``python -m mlopskit`` run :func:`main`. Exit
codes: :data:`EXIT_OK` (0), :data:`EXIT_FAILED` (1: a check failed or was refused),
:data:`EXIT_USAGE` (2: usage error or not found).
"""

from __future__ import annotations

from mlopskit.checks import COMMANDS as _CHECK_COMMANDS
from mlopskit.cli import _data, _models, _ramp, _serve, _store, _tracking  # noqa: F401 - registers commands
from mlopskit.cli._app import EXIT_FAILED, EXIT_OK, EXIT_USAGE, cli, main

for _command in _CHECK_COMMANDS:  # `mlopskit check`, `mlopskit triggers` (docs/cicd.md)
    cli.add_command(_command)

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "cli", "main"]
