"""``mlopskit runs …``, ``mlopskit experiments …`` and ``mlopskit gc``."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import click

from mlopskit._gc import collector_paused
from mlopskit.cli._app import (
    State,
    cell,
    cli,
    columns_table,
    completer,
    emit,
    fields,
    json_option,
    run_ids,
    table,
    when,
)

if TYPE_CHECKING:
    from mlopskit.tracking import LifecycleEvent, RunRecord, SQLiteBackend

STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")


def _iso(moment: datetime | float | None) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, datetime):
        return moment.isoformat()
    return datetime.fromtimestamp(moment, timezone.utc).isoformat()


def _finite(values: dict[str, float]) -> Mapping[str, float | None]:
    if math.isfinite(sum(values.values())):  # NaN or ±inf anywhere make the sum so
        return values  # the common case: every value finite, the dict as it is
    return {k: v if math.isfinite(v) else None for k, v in values.items()}


def _row(rec: RunRecord) -> dict[str, Any]:
    """A run as plain JSON data (times in ISO 8601 UTC, NaN and ±inf as null)."""
    duration = rec.duration
    return {
        "run_id": rec.run_id,
        "experiment": rec.experiment,
        "name": rec.name,
        "status": rec.status,
        "start_time": _iso(rec.start_time),
        "end_time": _iso(rec.end_time),
        "duration": duration if duration is None or math.isfinite(duration) else None,
        "parent_id": rec.parent_id,
        "user": rec.user,
        "host": rec.host,
        "lifecycle": rec.lifecycle,
        "deletion": None if rec.deletion is None else _event(rec.deletion),
        "params": rec.params,
        "metrics": _finite(rec.metrics),
        "tags": rec.tags,
    }


def _event(event: LifecycleEvent) -> dict[str, Any]:
    """A lifecycle event as plain JSON data."""
    return {
        "kind": event.kind,
        "name": event.name,
        "state": event.state,
        "time": _iso(event.time),
        "user": event.user,
        "reason": event.reason,
        "via": event.via,
    }


VIEWS = ("active", "deleted", "all")
_view_option = click.option(
    "--view",
    type=click.Choice(VIEWS, case_sensitive=False),
    default="active",
    show_default=True,
    help="Which runs: active ones, deleted ones (kept until gc) or all.",
)


def _runs_table(records: list[RunRecord], extra: list[str]) -> None:
    """The runs table, built column by column (10,000 runs print in a few ms)."""
    cols: dict[str, list[str]] = {
        "run_id": [r.run_id for r in records],
        "experiment": [r.experiment for r in records],
        "name": [r.name for r in records],
        "status": [r.status for r in records],
        "start_time": [r.start_time.isoformat(" ")[:19] for r in records],
        "duration": [cell(r.duration) for r in records],
    }
    for col in extra:
        if col == "lifecycle":
            cols[col] = [r.lifecycle for r in records]
            continue
        attr, _, key = col.partition(".")
        if attr not in ("params", "metrics", "tags"):
            raise click.BadParameter(
                f"{col!r}: extra columns are params.<key>, metrics.<key> or tags.<key>",
                param_hint="--columns",
            )
        cols[col] = [cell(getattr(r, attr).get(key)) for r in records]
    columns_table(cols)


_ROW_TIME = itemgetter(1)
_RUN_OF = itemgetter(0)
_encode_text = json.encoder.encode_basestring_ascii  # json.dumps of a str, without the call


def _active_seconds(start: datetime, end: datetime | None, paused: Any) -> float | None:
    """``RunRecord.duration`` from a row's values (``paused``: the mlopskit.paused tag)."""
    if end is None:
        return None
    total = (end - start).total_seconds()
    try:
        pause = 0.0 if paused is None else float(paused)
    except ValueError:  # a tag set by hand: read as no pause
        pause = 0.0
    if not 0.0 < pause < total:  # NaN, negative, or more than the whole span
        pause = 0.0
    return total - pause


def _metrics_texts(rows: list[tuple[str, str, float | None]]) -> dict[str, str]:
    """Each run's latest metrics as JSON object text, from ``(run_id, key, value)`` rows in
    run id order; NaN (None) and ±inf as null, a float as json.dumps writes it."""
    out: dict[str, str] = {}
    text, finite = _encode_text, math.isfinite
    for run_id, group in groupby(rows, _RUN_OF):
        out[run_id] = (
            "{"
            + ", ".join(
                f"{text(key)}: {'null' if value is None or not finite(value) else repr(value)}"
                for _, key, value in group
            )
            + "}"
        )
    return out


def _live_statuses(backend: SQLiteBackend, run_ids: list[str]) -> dict[str, str]:
    """The effective status of RUNNING runs (a run whose writers are gone is KILLED)."""
    from mlopskit.tracking import effective_status

    now = time.time()
    return {r.run_id: effective_status(r, now=now) for r in backend.list_runs(run_ids=run_ids)}


def _listed_from_rows(
    uri: str,
    experiments: list[str] | None,
    *,
    view: str,
    wanted: set[str],
    limit: int | None,
    as_json: bool,
) -> bool:
    """Print ``runs ls`` from plain rows (``SQLiteBackend.run_rows``): no records, no
    pydantic, params and tags passed through as the JSON text SQLite builds.

    Returns False, having printed nothing, where the record path must answer: not a
    SQLite workspace, indented JSON for a terminal, or rows run_rows leaves to the records
    (a damaged row, deleted or restored runs). tests/cli/test_runs_ls_rows.py holds the
    two paths to one output.
    """
    from mlopskit.tracking import SQLiteBackend

    if as_json and sys.stdout.isatty():
        return False
    backend = SQLiteBackend.of_workspace(uri)
    if backend is None:
        return False
    try:
        got = backend.run_rows(experiments, documents=as_json)
        if got is None:
            return False
        utc, stamp = timezone.utc, datetime.fromtimestamp
        items = [
            (row, stamp(row[4], utc), None if row[5] is None else stamp(row[5], utc))
            for row in (got.rows if view != "deleted" else ())
        ]
        running = [row[0] for row, _, _ in items if row[3] == "RUNNING"]
        live = _live_statuses(backend, running) if running else {}
    finally:
        backend.close()
    if live:
        items = [((*row[:3], live.get(row[0], row[3]), *row[4:]), a, b) for row, a, b in items]
    if wanted:
        items = [item for item in items if item[0][3] in wanted]
    items.sort(key=lambda item: item[0][0])  # ties in start time: by run id
    items.sort(key=_ROW_TIME, reverse=True)
    if limit is not None:
        items = items[:limit]
    if not as_json:
        _rows_table(items, got.paused, lifecycle=view != "active")
        return True
    text, paused, metrics = _encode_text, got.paused, _metrics_texts(got.metrics)
    params, tags = got.params, got.tags
    parts = []
    for row, start, end in items:
        run_id, experiment, name, state, _, _, parent, user, host, _ = row
        seconds = _active_seconds(start, end, paused.get(run_id))
        ended = "null" if end is None else f'"{end.isoformat()}"'
        parts.append(
            f'{{"run_id": {text(run_id)}, "experiment": {text(experiment)}, '
            f'"name": {text(name)}, "status": {text(state)}, '
            f'"start_time": "{start.isoformat()}", "end_time": {ended}, '
            f'"duration": {"null" if seconds is None else repr(seconds)}, '
            f'"parent_id": {"null" if parent is None else text(parent)}, '
            f'"user": {text(user)}, "host": {text(host)}, '
            f'"lifecycle": "active", "deletion": null, "params": {params.get(run_id, "{}")}, '
            f'"metrics": {metrics.get(run_id, "{}")}, "tags": {tags.get(run_id, "{}")}}}'
        )
    data = ("[" + ", ".join(parts) + "]\n").encode()
    out = getattr(sys.stdout, "buffer", None)
    sys.stdout.flush()
    if out is None:  # pragma: no cover - a text-only stdout
        sys.stdout.write(data.decode())
    else:
        out.write(data)
        out.flush()
    return True


def _rows_table(
    items: list[tuple[tuple[Any, ...], datetime, datetime | None]],
    paused: dict[str, Any],
    *,
    lifecycle: bool,
) -> None:
    """The runs table from plain rows (as ``_runs_table`` prints records)."""
    cols: dict[str, list[str]] = {
        "run_id": [row[0] for row, _, _ in items],
        "experiment": [row[1] for row, _, _ in items],
        "name": [row[2] for row, _, _ in items],
        "status": [row[3] for row, _, _ in items],
        "start_time": [start.isoformat(" ")[:19] for _, start, _ in items],
        "duration": [
            cell(_active_seconds(start, end, paused.get(row[0]))) for row, start, end in items
        ],
    }
    if lifecycle:
        cols["lifecycle"] = ["active"] * len(items)
    columns_table(cols)


@cli.group()
def runs() -> None:
    """List and inspect runs.

    \b
    Example:
      mlopskit runs ls -e mnist --filter "metrics.acc > 0.9" -o "metrics.acc DESC"
    """


@runs.command("ls")
@click.option("-e", "--experiment", multiple=True, help="Only this experiment (repeatable).")
@click.option(
    "-f",
    "--filter",
    "filter_",
    metavar="EXPR",
    help='e.g. "metrics.acc > 0.9 and params.lr < 0.1".',
)
@click.option(
    "-o", "--order-by", multiple=True, metavar="KEY", help='e.g. "metrics.acc DESC" (repeatable).'
)
@click.option("-n", "--limit", type=click.IntRange(min=0), help="At most this many runs.")
@click.option(
    "-s",
    "--status",
    multiple=True,
    type=click.Choice(STATUSES, case_sensitive=False),
    help="Only runs in this status (repeatable).",
)
@click.option("--columns", metavar="A,B", help="Extra table columns: params.x, metrics.y, tags.z.")
@_view_option
@json_option
@click.pass_obj
def runs_ls(
    state: State,
    experiment: tuple[str, ...],
    filter_: str | None,
    order_by: tuple[str, ...],
    limit: int | None,
    status: tuple[str, ...],
    columns: str | None,
    view: str,
    as_json: bool,
) -> None:
    """List runs, newest first (every run: there is no default limit).

    The filter grammar is the one of mk.search_runs (docs/tracking.md). --json prints
    one object per run with its params, metrics and tags. Deleted runs are listed only
    with --view deleted or --view all.

    \b
    Example:
      mlopskit runs ls -e mnist -s FINISHED -n 10 --columns metrics.acc,params.lr
    """
    ws = state.workspace()
    exps = list(experiment) or None
    extra = [c.strip() for c in columns.split(",") if c.strip()] if columns else []
    wanted = {s.upper() for s in status}
    if not (filter_ or order_by or extra):
        with collector_paused():
            listed = _listed_from_rows(
                ws.uri, exps, view=view.lower(), wanted=wanted, limit=limit, as_json=as_json
            )
        if listed:
            return
    from mlopskit.tracking import effective_status

    tracker = ws.tracker
    backend = tracker.backend
    if filter_ or order_by:
        frame = tracker.search_runs(
            exps,
            filter=filter_,
            order_by=list(order_by) or None,
            limit=limit,
            status=[s.upper() for s in status] or None,
            run_view=view,
        )
        ids = [str(i) for i in frame["run_id"]]
        found = {r.run_id: r for r in backend.list_runs(run_ids=ids)} if ids else {}
        records = [found[i] for i in ids if i in found]
        for rec in records:
            rec.status = effective_status(rec)
    else:
        keys = (
            None
            if as_json
            else {c for c in extra if c.split(".", 1)[0] in ("params", "metrics", "tags")}
        )
        with collector_paused():
            records = backend.list_runs(exps, keys=keys)
        if view.lower() != "all":
            records = [r for r in records if r.lifecycle == view.lower()]
        now = time.time()
        for rec in records:
            rec.status = effective_status(rec, now=now)
        if wanted:
            records = [r for r in records if r.status in wanted]
        records.sort(key=lambda r: r.run_id)  # ties in start time: by run id, as in
        records.sort(key=lambda r: r.start_time, reverse=True)  # _listed_from_rows
        if limit is not None:
            records = records[:limit]
    if as_json:
        with collector_paused():
            rows = [_row(r) for r in records]
        emit(True, rows, lambda: None, plain=True)
    else:
        _runs_table(records, extra + (["lifecycle"] if view.lower() != "active" else []))


@runs.command("compact")
@click.argument("experiments", nargs=-1)
@click.option(
    "--prune",
    type=int,
    default=None,
    metavar="N",
    help="Then keep only the N newest index generations of each experiment (older ones "
    "are deleted once superseded for an hour).",
)
@json_option
@click.pass_obj
def runs_compact(
    state: State, experiments: tuple[str, ...], prune: int | None, as_json: bool
) -> None:
    """Fold run summaries into index objects so searches of an object-store workspace read
    one index instead of every run's segments (nothing to do for a local SQLite workspace).

    \b
    Example:
      mlopskit -w s3://team-bucket/project runs compact churn --prune 2
    """
    created = state.workspace().tracker.compact(list(experiments) or None, prune=prune)
    emit(
        as_json,
        {"created": created},
        lambda: click.echo(
            f"{len(created)} index object(s) written" + "".join(f"\n  {p}" for p in created)
        ),
    )


@runs.command("show")
@click.argument("run_id", shell_complete=completer(run_ids))
@json_option
@click.pass_obj
def runs_show(state: State, run_id: str, as_json: bool) -> None:
    """Show one run: status, times, params, metrics, tags, artifacts and inputs.

    \b
    Example:
      mlopskit runs show 3f2a9c0d4e5b4c1a8f7e6d5c4b3a2918 --json
    """
    from mlopskit.tracking import RUN_INFO_COLUMNS

    rec = state.workspace().tracker.record(run_id)
    payload: dict[str, Any] = _row(rec)
    payload["artifacts"] = {k: v.model_dump(mode="json") for k, v in rec.artifacts.items()}
    payload["inputs"] = [
        {"digest": i.digest, "name": i.name, "context": i.context} for i in rec.inputs
    ]

    def human() -> None:
        fields([(k, payload[k]) for k in (*RUN_INFO_COLUMNS, "lifecycle")])
        if rec.deletion is not None:
            d = rec.deletion
            click.echo(
                f"deleted by {d.user or '?'} at {_iso(d.time)}"
                + (f" with experiment {rec.experiment}" if d.via == "experiment" else "")
                + (f": {d.reason}" if d.reason else "")
            )
        for section in ("params", "metrics", "tags"):
            values = payload[section]
            click.echo(f"\n{section} ({len(values)})")
            table([{"key": k, "value": v} for k, v in sorted(values.items())], ["key", "value"])
        click.echo(f"\nartifacts ({len(rec.artifacts)})")
        table(
            [
                {"name": k, "kind": v.kind, "size": v.size, "digest": v.digest}
                for k, v in sorted(rec.artifacts.items())
            ],
            ["name", "kind", "size", "digest"],
        )
        click.echo(f"\ninputs ({len(rec.inputs)})")
        table(payload["inputs"], ["name", "context", "digest"])

    emit(as_json, payload, human)


@cli.group()
def experiments() -> None:
    """List experiments.

    \b
    Example:
      mlopskit experiments ls --json
    """


@experiments.command("ls")
@click.option("--all", "show_all", is_flag=True, help="Deleted experiments too.")
@json_option
@click.pass_obj
def experiments_ls(state: State, show_all: bool, as_json: bool) -> None:
    """List experiments with their number of runs and their latest start.

    Deleted experiments (and deleted runs) are left out unless --all is given; then a
    LIFECYCLE column says which are deleted and DELETED counts deleted runs.

    \b
    Example:
      mlopskit experiments ls --all
    """
    tracker = state.workspace().tracker
    backend = tracker.backend
    states = tracker.experiment_lifecycle()

    def blank(name: str) -> dict[str, Any]:
        event = states.get(name)
        lifecycle = "deleted" if event is not None and event.state == "deleted" else "active"
        return {
            "experiment": name,
            "runs": 0,
            "deleted_runs": 0,
            "last_start": None,
            "lifecycle": lifecycle,
        }

    stats: dict[str, dict[str, Any]] = {name: blank(name) for name in backend.experiments()}
    for rec in backend.list_runs(None, keys=set()):
        row = stats.setdefault(rec.experiment, blank(rec.experiment))
        if rec.lifecycle == "deleted":
            row["deleted_runs"] += 1
            continue
        row["runs"] += 1
        start = when(rec.start_time)
        if row["last_start"] is None or (start is not None and start > row["last_start"]):
            row["last_start"] = start
    rows = [stats[k] for k in sorted(stats) if show_all or stats[k]["lifecycle"] == "active"]
    columns = ["experiment", "runs", "last_start"]
    if show_all:
        columns += ["deleted_runs", "lifecycle"]
    emit(as_json, rows, lambda: table(rows, columns))


# -- deleting and restoring ------------------------------------------------------------

_reason_option = click.option(
    "--reason", metavar="TEXT", help="Why (kept in the record with who and when)."
)


def _lifecycle_payload(
    kind: str, name: str, event: LifecycleEvent | None, state: str
) -> dict[str, Any]:
    return {
        kind: name,
        "lifecycle": state,
        "changed": event is not None,
        "event": None if event is None else _event(event),
    }


def _change_runs(
    state: State, ids: tuple[str, ...], reason: str | None, *, delete: bool, as_json: bool
) -> None:
    tracker = state.workspace().tracker
    for rid in ids:  # every id is checked before anything is written
        tracker.get_run(rid)
    change = tracker.delete_run if delete else tracker.restore_run
    wanted = "deleted" if delete else "active"
    rows = [_lifecycle_payload("run_id", rid, change(rid, reason=reason), wanted) for rid in ids]

    def human() -> None:
        verb = "deleted" if delete else "restored"
        for row in rows:
            note = "" if row["changed"] else f" (already {row['lifecycle']})"
            click.echo(f"{verb} {row['run_id']}{note}")

    emit(as_json, rows, human, plain=True)


@runs.command("delete")
@click.argument("run_id", nargs=-1, required=True, shell_complete=completer(run_ids))
@_reason_option
@json_option
@click.pass_obj
def runs_delete(state: State, run_id: tuple[str, ...], reason: str | None, as_json: bool) -> None:
    """Delete runs (soft): hidden from runs ls and searches, kept until gc purges them.

    Every id is checked first: an unknown one exits 2 and deletes nothing. Deleting a
    deleted run changes nothing. Undo with runs restore.

    \b
    Example:
      mlopskit runs delete 3f2a9c0d4e5b4c1a8f7e6d5c4b3a2918 --reason "wrong labels"
    """
    _change_runs(state, run_id, reason, delete=True, as_json=as_json)


@runs.command("restore")
@click.argument("run_id", nargs=-1, required=True, shell_complete=completer(run_ids))
@_reason_option
@json_option
@click.pass_obj
def runs_restore(state: State, run_id: tuple[str, ...], reason: str | None, as_json: bool) -> None:
    """Restore deleted runs (ones gc has not purged yet).

    \b
    Example:
      mlopskit runs restore 3f2a9c0d4e5b4c1a8f7e6d5c4b3a2918
    """
    _change_runs(state, run_id, reason, delete=False, as_json=as_json)


def _change_experiment(
    state: State, name: str, reason: str | None, *, delete: bool, as_json: bool
) -> None:
    tracker = state.workspace().tracker
    change = tracker.delete_experiment if delete else tracker.restore_experiment
    event = change(name, reason=reason)
    row = _lifecycle_payload("experiment", name, event, "deleted" if delete else "active")
    verb = "deleted" if delete else "restored"
    note = "" if event is not None else f" (already {row['lifecycle']})"
    emit(as_json, row, lambda: click.echo(f"{verb} experiment {name}{note}"), plain=True)


@experiments.command("delete")
@click.argument("name")
@_reason_option
@json_option
@click.pass_obj
def experiments_delete(state: State, name: str, reason: str | None, as_json: bool) -> None:
    """Delete an experiment and its runs (soft: experiments restore brings them back).

    Runs deleted on their own before stay deleted when the experiment is restored.

    \b
    Example:
      mlopskit experiments delete churn-2024 --reason "superseded"
    """
    _change_experiment(state, name, reason, delete=True, as_json=as_json)


@experiments.command("restore")
@click.argument("name")
@_reason_option
@json_option
@click.pass_obj
def experiments_restore(state: State, name: str, reason: str | None, as_json: bool) -> None:
    """Restore a deleted experiment and the runs deleted with it.

    \b
    Example:
      mlopskit experiments restore churn-2024
    """
    _change_experiment(state, name, reason, delete=False, as_json=as_json)


@cli.command("gc")
@click.option(
    "--older-than",
    default="30d",
    show_default=True,
    metavar="DURATION",
    help="Purge runs deleted at least this long ago (30s, 15m, 1h, 2d).",
)
@click.option(
    "--grace",
    default="1h",
    show_default=True,
    metavar="DURATION",
    help="Then remove store objects nothing reaches, written at least this long ago.",
)
@click.option("--apply", is_flag=True, help="Delete (without it, only report: a dry run).")
@json_option
@click.pass_obj
def gc(state: State, older_than: str, grace: str, apply: bool, as_json: bool) -> None:
    """Purge deleted runs for good, then reclaim the store objects nothing reaches.

    Only runs deleted longer ago than --older-than go (like mlflow gc); an artifact that a
    model version, dataset or another run still reaches is kept. A dry run unless --apply.

    \b
    Example:
      mlopskit gc --older-than 30d --apply
    """
    from mlopskit.cli._store import parse_duration

    age, young = parse_duration(older_than), parse_duration(grace)
    ws = state.workspace()
    purged = ws.tracker.gc(older_than=age, dry_run=not apply)
    store = ws.store.gc(dry_run=not apply, grace=young) if apply else None
    payload = {
        "dry_run": not apply,
        "runs": purged.model_dump(mode="json"),
        "store": None if store is None else store.model_dump(mode="json"),
    }

    def human() -> None:
        verb = "purged" if apply else "would purge"
        click.echo(
            f"{verb} {len(purged.purged_runs)} deleted run(s) and "
            f"{len(purged.purged_experiments)} experiment(s); {len(purged.kept_young)} "
            f"deleted run(s) younger than {older_than} kept"
        )
        if store is not None:
            click.echo(f"store: removed {len(store.removed)} objects ({store.removed_bytes} bytes)")
        else:
            click.echo("(dry run: pass --apply to purge, then the store is swept too)")

    emit(as_json, payload, human, plain=True)
