"""``mlopskit models …``: the model registry."""

from __future__ import annotations

from typing import Any

import click

from mlopskit.cli._app import (
    State,
    cli,
    completer,
    emit,
    emit_lifecycle_change,
    fields,
    json_option,
    model_names,
    model_uris,
    table,
)
from mlopskit.errors import NotFoundError

_NAME = click.argument("name", shell_complete=completer(model_names))
_REASON = click.option("--reason", default="", metavar="TEXT", help="Why (kept with who and when).")


@cli.group()
def models() -> None:
    """List and inspect registered models; move and roll back aliases.

    \b
    Example:
      mlopskit models alias clf champion 3 -m "better recall"
    """


@models.command("ls")
@json_option
@click.pass_obj
def models_ls(state: State, as_json: bool) -> None:
    """List registered models with their latest version and aliases.

    \b
    Example:
      mlopskit models ls --json
    """
    reg = state.workspace().registry
    rows: list[dict[str, Any]] = []
    for name in reg.names():
        try:
            latest = reg.get(f"{name}@latest")
        except NotFoundError:  # every version deleted: nothing to list
            continue
        aliases = reg.aliases(name)
        rows.append(
            {
                "name": name,
                "latest": latest.number,
                "aliases": aliases,
                "kind": latest.kind,
                "created_at": latest.created_at,
                "run_id": latest.run_id,
            }
        )

    def human() -> None:
        table(
            [
                {**r, "aliases": " ".join(f"@{a}={v}" for a, v in sorted(r["aliases"].items()))}
                for r in rows
            ],
            ["name", "latest", "aliases", "kind", "created_at"],
        )

    emit(as_json, rows, human)


@models.command("show")
@click.argument("uri", shell_complete=completer(model_uris))
@json_option
@click.pass_obj
def models_show(state: State, uri: str, as_json: bool) -> None:
    """Show a model version: NAME (latest), NAME/VERSION or NAME@ALIAS.

    \b
    Example:
      mlopskit models show clf@champion
    """
    reg = state.workspace().registry
    mv = reg.get(uri.removeprefix("model:"))
    aliases = sorted(a for a, v in reg.aliases(mv.name).items() if v == mv.number)
    payload = {**mv.model_dump(mode="json"), "uri": mv.uri, "aliases": aliases}

    def human() -> None:
        fields(
            [
                ("uri", mv.uri),
                ("aliases", " ".join(f"@{a}" for a in aliases)),
                ("kind", mv.kind),
                ("digest", mv.digest),
                ("created_at", mv.created_at),
                ("author", mv.author),
                ("run_id", mv.run_id),
                ("python", mv.python_version),
                ("message", mv.message),
            ]
        )
        for section in ("metrics", "tags", "requirements"):
            values = getattr(mv, section)
            click.echo(f"\n{section} ({len(values)})")
            table([{"key": k, "value": v} for k, v in sorted(values.items())], ["key", "value"])

    emit(as_json, payload, human)


@models.command("alias")
@_NAME
@click.argument("alias")
@click.argument("version")
@click.option("-m", "--message", default="", help="Why (kept in the alias's history).")
@json_option
@click.pass_obj
def models_alias(
    state: State, name: str, alias: str, version: str, message: str, as_json: bool
) -> None:
    """Point NAME@ALIAS at VERSION (a number, or a URI such as clf@challenger).

    \b
    Example:
      mlopskit models alias clf champion 3 -m "better recall on the holdout"
    """
    reg = state.workspace().registry
    target: int | str = int(version) if version.isdigit() else version
    mv = reg.set_alias(name, alias, target, message=message)
    payload = {"name": name, "alias": alias, "version": mv.number, "uri": mv.uri}
    emit(as_json, payload, lambda: click.echo(f"{name}@{alias} → {mv.uri}"))


@models.command("rollback")
@_NAME
@click.argument("alias")
@click.option("-m", "--message", default="", help="Why (kept in the alias's history).")
@json_option
@click.pass_obj
def models_rollback(state: State, name: str, alias: str, message: str, as_json: bool) -> None:
    """Move NAME@ALIAS back to the version it pointed to before its last move.

    \b
    Example:
      mlopskit models rollback clf champion -m "latency regression"
    """
    mv = state.workspace().registry.rollback(name, alias, message=message)
    payload = {"name": name, "alias": alias, "version": mv.number, "uri": mv.uri}
    emit(as_json, payload, lambda: click.echo(f"{name}@{alias} rolled back → {mv.uri}"))


@models.command("history")
@_NAME
@click.option("-a", "--alias", help="Only this alias's moves.")
@json_option
@click.pass_obj
def models_history(state: State, name: str, alias: str | None, as_json: bool) -> None:
    """The audit log of a model: registrations and alias moves, oldest first.

    \b
    Example:
      mlopskit models history clf --alias champion
    """
    events = state.workspace().registry.history(name, alias)
    rows = [e.model_dump(mode="python") for e in events]
    emit(
        as_json,
        rows,
        lambda: table(
            rows, ["time", "action", "alias", "from_version", "to_version", "user", "message"]
        ),
    )


def _change_version(state: State, uri: str, reason: str, *, delete: bool, as_json: bool) -> None:
    reg = state.workspace().registry
    change = reg.delete_version if delete else reg.restore_version
    rec = change(uri.removeprefix("models:/"), reason=reason)
    emit_lifecycle_change(
        "model", "model version", uri, rec, reason, delete=delete, as_json=as_json
    )


@models.command("delete")
@click.argument("uri", metavar="NAME/VERSION", shell_complete=completer(model_uris))
@_REASON
@json_option
@click.pass_obj
def models_delete(state: State, uri: str, reason: str, as_json: bool) -> None:
    """Delete a model version (soft): it leaves 'latest' and listings, loading it says who
    deleted it and why. Refused (exit 2, naming the alias) while an alias points at it.

    \b
    Example:
      mlopskit models delete clf/3 --reason "trained on leaked labels"
    """
    _change_version(state, uri, reason, delete=True, as_json=as_json)


@models.command("restore")
@click.argument("uri", metavar="NAME/VERSION", shell_complete=completer(model_uris))
@_REASON
@json_option
@click.pass_obj
def models_restore(state: State, uri: str, reason: str, as_json: bool) -> None:
    """Restore a deleted model version.

    \b
    Example:
      mlopskit models restore clf/3
    """
    _change_version(state, uri, reason, delete=False, as_json=as_json)
