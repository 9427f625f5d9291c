"""``python -m mlopskit.checks check SPEC`` / ``triggers ls``: the checks commands on their own.

The same commands the ``mlopskit`` command line carries (``mlopskit check``,
``mlopskit triggers``), for environments that run them without it.
"""

from __future__ import annotations

from types import SimpleNamespace

import click

from mlopskit.checks._cli import COMMANDS


@click.group()
@click.option("-w", "--workspace", envvar="MLOPSKIT_HOME", default=None, help="Workspace root.")
@click.pass_context
def main(ctx: click.Context, workspace: str | None) -> None:
    """mlopskit checks: run gates from a spec, list and acknowledge triggers."""
    ctx.obj = SimpleNamespace(uri=workspace)


for _command in COMMANDS:
    main.add_command(_command)

if __name__ == "__main__":
    main(prog_name="python -m mlopskit.checks")
