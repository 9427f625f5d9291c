"""Click commands: ``mlopskit check SPEC`` and ``mlopskit triggers ls|ack|fire``.

These are command objects for the ``mlopskit`` group to add (``cli.add_command``);
they also run on their own (``check.main([...])``, click's ``CliRunner``). Only click
and the light core are imported here; every command imports what it needs.

Exit codes follow the ``mlopskit`` command line: 0 every check passed; 1 a check
failed, a promotion was refused, or stored data is damaged; 2 a usage error (bad spec,
unknown model, dataset or trigger).

The workspace is, first to last: ``--workspace`` on the command, the group's
``--workspace`` or ``MLOPSKIT_HOME`` (``ctx.obj.uri``), ``MLOPSKIT_HOME`` when run
alone, the spec's ``workspace:`` (relative to the spec file), then ``./.mlopskit``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from mlopskit.errors import (
    ConfigError,
    InvalidInputError,
    MissingExtraError,
    MlopskitError,
    NotFoundError,
)

__all__ = ["COMMANDS", "check", "triggers"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_USAGE = (NotFoundError, InvalidInputError, ConfigError, MissingExtraError)

_workspace_option = click.option(
    "-w",
    "--workspace",
    "workspace",
    metavar="PATH|URL",
    default=None,
    help="Workspace root (default: the mlopskit group's --workspace, MLOPSKIT_HOME, ./.mlopskit).",
)


def _fail(exc: MlopskitError) -> NoReturn:
    code = EXIT_USAGE if isinstance(exc, _USAGE) else EXIT_FAILED
    click.echo(f"error: {type(exc).__name__}: {' '.join(str(exc).split())}", err=True)
    sys.exit(code)


def _uri(ctx: click.Context, workspace: str | None, fallback: str | None = None) -> str | None:
    if workspace:
        return workspace
    group_uri = getattr(ctx.obj, "uri", None)
    if isinstance(group_uri, str) and group_uri:
        return group_uri
    if fallback and not os.environ.get("MLOPSKIT_HOME"):
        return fallback
    return None


def _guarded(fn: Callable[[], int]) -> None:
    try:
        code = fn()
    except MlopskitError as exc:
        _fail(exc)
    sys.exit(code)


def _summary_file(markdown: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(markdown)


# The mlopskit group's help options, set here too: click caches a command's help option
# from the first context it runs in, and these commands also run under other groups.
_CONTEXT = {"help_option_names": ["-h", "--help"]}


@click.command("check", context_settings=_CONTEXT)
@click.argument("spec", type=click.Path(dir_okay=False), required=False)
@click.option(
    "-e",
    "--inline",
    metavar="YAML",
    default=None,
    help="The spec as YAML text instead of a file, e.g. "
    "'{candidate: churn/2, checks: [{signature: {}}]}'.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@_workspace_option
@click.pass_context
def check(
    ctx: click.Context, spec: str | None, inline: str | None, as_json: bool, workspace: str | None
) -> None:
    """Run the checks of SPEC (a .yaml/.yml/.toml file); promote if SPEC says so.

    Exits 0 when every check passes, 1 when one fails (or the promotion is refused),
    2 for a bad spec. With GITHUB_STEP_SUMMARY set, a markdown summary is appended
    to that file (the GitHub Actions job summary).
    """

    def run() -> int:
        from mlopskit.checks._spec import load_spec, parse_spec, run_spec
        from mlopskit.workspace import Workspace

        if (spec is None) == (inline is None):
            raise InvalidInputError(
                "give a spec file or --inline YAML (exactly one)", expected="SPEC | --inline"
            )
        parsed = load_spec(spec) if spec is not None else parse_spec(str(inline))
        name = os.path.basename(spec) if spec is not None else "inline spec"
        with Workspace(_uri(ctx, workspace, parsed.workspace)):
            outcome = run_spec(parsed)
        header = f"## mlopskit check `{name}`: {'passed' if outcome.passed else 'FAILED'}\n\n"
        if outcome.promoted is not None:
            header += f"Promoted **{outcome.promoted.uri}** to `@{parsed.promote_to}`.\n\n"
        elif outcome.refused:
            header += f"Promotion to `@{parsed.promote_to}` **refused**: a gate failed.\n\n"
        _summary_file(header + "\n".join(r.to_markdown() for r in outcome.results))
        if as_json:
            doc = {
                "passed": outcome.passed,
                "promoted": outcome.promoted.uri if outcome.promoted is not None else None,
                "refused": outcome.refused,
                "results": [r.model_dump(mode="json") for r in outcome.results],
            }
            click.echo(json.dumps(doc, indent=2, sort_keys=True))
        else:
            for r in outcome.results:
                click.echo(r.summary())
            if outcome.promoted is not None:
                click.echo(f"promoted {outcome.promoted.uri} to @{parsed.promote_to}")
            elif outcome.refused:
                click.echo(f"promotion to @{parsed.promote_to} refused")
            click.echo("PASSED" if outcome.passed else "FAILED")
        return EXIT_OK if outcome.passed else EXIT_FAILED

    _guarded(run)


@click.group("triggers", context_settings=_CONTEXT)
def triggers() -> None:
    """Retraining triggers fired by monitors: list, acknowledge, fire."""


def _trigger_doc(t: Any) -> dict[str, Any]:
    doc: dict[str, Any] = t.model_dump(mode="json")
    return doc


@triggers.command("ls")
@click.option("--pending", is_flag=True, help="Only triggers no scheduler acknowledged yet.")
@click.option("--kind", default=None, help="Only this kind (drift, performance, …).")
@click.option("--subject", default=None, help="Only this subject (churn@champion, …).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_workspace_option
@click.pass_context
def triggers_ls(
    ctx: click.Context,
    pending: bool,
    kind: str | None,
    subject: str | None,
    as_json: bool,
    workspace: str | None,
) -> None:
    """List triggers, oldest first (exit 0 even when there are none)."""

    def run() -> int:
        from mlopskit.checks._triggers import list_triggers
        from mlopskit.workspace import Workspace

        with Workspace(_uri(ctx, workspace)):
            found = list_triggers(pending=True if pending else None, kind=kind, subject=subject)
        if as_json:
            click.echo(json.dumps([_trigger_doc(t) for t in found], indent=2))
        elif not found:
            click.echo("no pending triggers" if pending else "no triggers")
        else:
            for t in found:
                reason = " ".join(t.reason.split())
                click.echo(f"{t.id}  {t.status:<12}  {t.kind:<12}  {t.subject}  {reason}")
        return EXIT_OK

    _guarded(run)


@triggers.command("ack")
@click.argument("trigger_id")
@click.option("--by", default="", help="Who takes it (a scheduler, a DAG id).")
@click.option("--note", default="", help="What was started (a run id, a URL).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_workspace_option
@click.pass_context
def triggers_ack(
    ctx: click.Context,
    trigger_id: str,
    by: str,
    note: str,
    as_json: bool,
    workspace: str | None,
) -> None:
    """Acknowledge TRIGGER_ID (exit 1 if another scheduler took it first)."""

    def run() -> int:
        from mlopskit.checks._triggers import ack_trigger
        from mlopskit.workspace import Workspace

        with Workspace(_uri(ctx, workspace)):
            done = ack_trigger(trigger_id, by=by, note=note)
        click.echo(
            json.dumps(_trigger_doc(done), indent=2) if as_json else f"acknowledged {done.id}"
        )
        return EXIT_OK

    _guarded(run)


@triggers.command("fire")
@click.argument("kind")
@click.argument("subject")
@click.option("--reason", default="", help="Why (one sentence).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_workspace_option
@click.pass_context
def triggers_fire(
    ctx: click.Context,
    kind: str,
    subject: str,
    reason: str,
    as_json: bool,
    workspace: str | None,
) -> None:
    """Fire a KIND trigger about SUBJECT by hand (a pending one of both is reused)."""

    def run() -> int:
        from mlopskit.checks._triggers import fire_trigger
        from mlopskit.workspace import Workspace

        with Workspace(_uri(ctx, workspace)):
            t = fire_trigger(kind, subject, reason=reason)
        click.echo(json.dumps(_trigger_doc(t), indent=2) if as_json else t.id)
        return EXIT_OK

    _guarded(run)


#: The commands to add to the ``mlopskit`` group: ``for c in COMMANDS: cli.add_command(c)``.
COMMANDS: tuple[click.Command, ...] = (check, triggers)
