"""``mlopskit ui``, ``mlopskit serve`` and ``mlopskit completion``."""

from __future__ import annotations

import importlib
from types import ModuleType

import click

from mlopskit.cli._app import EXIT_USAGE, State, cli, completer, fail, model_uris


def _module(name: str, what: str) -> ModuleType:
    """Import ``name``, or exit 2 saying this build has no ``what``."""
    from importlib.util import find_spec

    try:
        found = find_spec(name) is not None
    except ImportError:
        found = False
    if not found:
        fail(
            f"{what} is not part of this installation ({name} is missing); "
            "upgrade mlopskit to a release that has it",
            EXIT_USAGE,
        )
    return importlib.import_module(name)


_HOST = click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to listen on."
)
_PORT = click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port (0: a free one, printed at start).",
)


@cli.command("ui")
@_HOST
@_PORT
@click.pass_obj
def ui_cmd(state: State, host: str, port: int) -> None:
    """Open the local web UI over the workspace (read-only; 127.0.0.1 by default).

    \b
    Example:
      mlopskit --workspace s3://team-bucket/project ui --port 8765
    """
    ui = _module("mlopskit.ui", "the web UI")
    ui.serve_ui(state.workspace().uri, host=host, port=port)


@cli.command("serve")
@click.argument("uri", shell_complete=completer(model_uris))
@_HOST
@_PORT
@click.pass_obj
def serve_cmd(state: State, uri: str, host: str, port: int) -> None:
    """Serve a registered model over HTTP (OIP V2, MLflow /invocations, /metrics).

    URI is NAME@ALIAS or NAME/VERSION.

    \b
    Example:
      mlopskit serve clf@champion --port 8080
    """
    deploy = _module("mlopskit.deploy", "model serving")
    ws = state.workspace()
    package = deploy.ModelPackage.from_registry(uri.removeprefix("model:"), store=ws.store)
    deploy.serve(package, host=host, port=port)


@cli.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_cmd(shell: str) -> None:
    """Print the shell completion script for SHELL.

    \b
    Example:
      eval "$(mlopskit completion bash)"   # in ~/.bashrc
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None  # the Choice above admits only known shells
    click.echo(cls(cli, {}, "mlopskit", "_MLOPSKIT_COMPLETE").source())
