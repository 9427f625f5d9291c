"""``mlopskit store …`` and ``mlopskit push`` / ``pull``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import click

from mlopskit.cli._app import (
    EXIT_FAILED,
    State,
    cli,
    emit,
    fail,
    fields,
    human_bytes,
    json_option,
    table,
)

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
SHOWN = 20  # refs listed by push/pull without --verbose


def parse_duration(text: str) -> timedelta:
    """``30s``, ``15m``, ``1h``, ``2d`` → a timedelta (click.BadParameter otherwise)."""
    match = _DURATION.match(text.strip())
    if not match:
        raise click.BadParameter(f"expected a duration such as 30s, 15m, 1h or 2d, found {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


@cli.group()
def store() -> None:
    """Check, clean and measure the workspace's artifact store.

    \b
    Example:
      mlopskit store verify && mlopskit store gc --apply
    """


@store.command("verify")
@click.argument("digest", required=False)
@json_option
@click.pass_obj
def store_verify(state: State, digest: str | None, as_json: bool) -> None:
    """Re-hash every object (or DIGEST and what it names); exit 1 if any is damaged.

    \b
    Example:
      mlopskit store verify --json
    """
    report = state.workspace().store.verify(digest)
    payload = {**report.model_dump(mode="json"), "ok": report.ok}

    def human() -> None:
        click.echo(
            f"checked {report.checked} objects ({human_bytes(report.bytes_checked)}): "
            + ("ok" if report.ok else f"{len(report.corrupt)} DAMAGED")
        )
        if report.corrupt:
            table([c.model_dump() for c in report.corrupt], ["digest", "path", "reason"])

    emit(as_json, payload, human)
    if not report.ok:
        raise SystemExit(EXIT_FAILED)


@store.command("gc")
@click.option("--apply", is_flag=True, help="Delete (without it, only report: a dry run).")
@click.option(
    "--grace",
    default="1h",
    show_default=True,
    metavar="DURATION",
    help="Never delete what was written within this long (30s, 15m, 1h, 2d).",
)
@json_option
@click.pass_obj
def store_gc(state: State, apply: bool, grace: str, as_json: bool) -> None:
    """Remove objects that no ref reaches (a dry run unless --apply).

    Runs' artifacts, dataset and model versions, aliases and their histories are all
    reached by refs and never removed.

    \b
    Example:
      mlopskit store gc --apply --grace 2d
    """
    report = state.workspace().store.gc(dry_run=not apply, grace=parse_duration(grace))
    payload = report.model_dump(mode="json")

    def human() -> None:
        verb = "removed" if apply else "would remove"
        click.echo(
            f"{verb} {len(report.removed)} objects ({human_bytes(report.removed_bytes)}); "
            f"{report.reachable} reachable, {report.kept_young} kept as younger than {grace}"
            + ("" if apply else " (dry run: pass --apply to delete)")
        )

    emit(as_json, payload, human)


@store.command("du")
@json_option
@click.pass_obj
def store_du(state: State, as_json: bool) -> None:
    """Disk usage of the workspace by area: objects, packs, refs, tracking, …

    \b
    Example:
      mlopskit store du
    """
    from fsspec.core import url_to_fs

    ws = state.workspace()
    fs, root = url_to_fs(ws.uri)
    root = root.rstrip("/")
    areas: dict[str, dict[str, Any]] = {}
    try:
        found = fs.find(root, detail=True)
    except FileNotFoundError:
        found = {}
    for path, info in found.items():
        rel = path[len(root) :].lstrip("/") if path.startswith(root) else path
        area = rel.split("/", 1)[0] or "."
        row = areas.setdefault(area, {"area": area, "files": 0, "bytes": 0})
        row["files"] += 1
        row["bytes"] += int(info.get("size") or 0)
    rows = [areas[k] for k in sorted(areas)]
    total = {
        "area": "total",
        "files": sum(r["files"] for r in rows),
        "bytes": sum(r["bytes"] for r in rows),
    }
    payload = {"workspace": ws.uri, "areas": rows, "total": total}

    def human() -> None:
        click.echo(f"workspace: {ws.uri}")
        table(
            [{**r, "size": human_bytes(r["bytes"])} for r in [*rows, total]],
            ["area", "files", "size", "bytes"],
        )

    emit(as_json, payload, human)


def _sync_options(fn: Any) -> Any:
    fn = json_option(fn)
    fn = click.option(
        "--progress/--no-progress",
        default=None,
        help="A progress bar on stderr [default: on a terminal, with tqdm installed].",
    )(fn)
    fn = click.option(
        "-v", "--verbose", is_flag=True, help="List every ref sent, not the first 20."
    )(fn)
    fn = click.option(
        "--trust",
        is_flag=True,
        help="Also copy the source's trust marks for the pickles sent (only for a source "
        "you trust: anyone who can write it can plant marks; see docs/security.md).",
    )(fn)
    fn = click.option(
        "--runs/--no-runs",
        default=True,
        show_default=True,
        help="Also copy the finished runs the other side lacks (not with --prefix).",
    )(fn)
    fn = click.option(
        "-n", "--dry-run", is_flag=True, help="Report what would be sent; write nothing."
    )(fn)
    fn = click.option(
        "-p", "--prefix", default="", help="Only refs under this name (models/clf, datasets)."
    )(fn)
    return click.argument("remote", metavar="REMOTE")(fn)


def _sync_command(direction: str, help: str) -> None:
    """Register ``mlopskit push`` or ``pull``: the same options, one body, one report
    (refused refs exit 1 after the report is shown)."""

    @cli.command(direction, help=help)
    @_sync_options
    @click.pass_obj
    def command(
        state: State,
        remote: str,
        prefix: str,
        dry_run: bool,
        runs: bool,
        verbose: bool,
        trust: bool,
        progress: bool | None,
        as_json: bool,
    ) -> None:
        from mlopskit import sync
        from mlopskit.errors import RefConflictError

        local = state.workspace(must_exist=direction == "push")
        fn = sync.push if direction == "push" else sync.pull
        try:
            report = fn(
                remote,
                workspace=local,
                prefix=prefix,
                dry_run=dry_run,
                progress=progress,
                runs=runs,
                trust=trust,
            )
            refused: RefConflictError | None = None
        except RefConflictError as exc:
            if not isinstance(exc.found, sync.SyncReport):
                raise
            report, refused = exc.found, exc
        payload = {
            **report.to_dict(),
            "refs": [r for r in report.to_dict()["refs"] if r["action"] != "up-to-date"],
            "up_to_date": sum(r.action == "up-to-date" for r in report.refs),
        }

        def human() -> None:
            verb = "would copy" if dry_run else "copied"
            n = report.objects_missing if dry_run else report.objects_copied
            size = report.bytes_missing if dry_run else report.bytes_copied
            fields(
                [
                    ("from", report.source),
                    ("to", report.target),
                    ("objects", f"{verb} {n} ({human_bytes(size)})"),
                    (
                        "refs",
                        f"{len(report.updated)} {'to update' if dry_run else 'updated'}, "
                        f"{payload['up_to_date']} up to date, "
                        f"{sum(r.action == 'behind' for r in report.refs)} behind, "
                        f"{len(report.conflicts)} refused",
                    ),
                    (
                        "runs",
                        f"{report.runs_copied} {'to copy' if dry_run else 'copied'}"
                        + (
                            f", {report.runs_running} still running (left out)"
                            if report.runs_running
                            else ""
                        ),
                    ),
                ]
            )
            # refused refs first: they are what the user must act on
            changed = sorted(
                (r for r in report.refs if r.action != "up-to-date"),
                key=lambda r: (r.action != "conflict", r.name),
            )
            shown = changed if verbose else changed[:SHOWN]
            if shown:
                table([vars(r) for r in shown], ["name", "action", "records", "old", "new"])
            if len(shown) < len(changed):
                click.echo(
                    f"… and {len(changed) - len(shown)} more refs (--verbose or --json lists all)"
                )

        emit(as_json, payload, human)
        if refused is not None:
            fail(f"RefConflictError: {refused}", EXIT_FAILED)


_sync_command(
    "push",
    """Send refs and the objects they reach to REMOTE (another path, s3://…).

    Only objects REMOTE lacks are copied. A ref REMOTE moved elsewhere meanwhile
    (a push from another machine) is refused, never overwritten: exit 1, pull and
    decide. Then the finished runs REMOTE lacks are copied (--no-runs: not).

    \b
    Example:
      mlopskit push s3://team-bucket/project --dry-run
    """,
)
_sync_command(
    "pull",
    """Fetch refs and the objects they reach from REMOTE into the workspace.

    The mirror of push, with the same rule for diverged refs.

    \b
    Example:
      mlopskit pull s3://team-bucket/project --prefix models/clf
    """,
)
