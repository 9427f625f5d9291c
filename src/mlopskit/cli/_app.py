"""The ``mlopskit`` command group: the workspace option, output and exit codes.

Startup cost matters (``mlopskit --help`` must stay well under 0.15 s), so this module and
the command modules import only click and mlopskit's light core at import time; every
command imports what it needs (pandas, the store, tracking, …) inside its body.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

import mlopskit
from mlopskit.errors import (
    ConfigError,
    InvalidInputError,
    MissingExtraError,
    MlopskitError,
    NoActiveRunError,
    NotFoundError,
)

if TYPE_CHECKING:
    from mlopskit.workspace import Workspace

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "State",
    "cli",
    "columns_table",
    "completer",
    "dataset_specs",
    "emit",
    "fail",
    "json_option",
    "main",
    "model_names",
    "model_uris",
    "run_ids",
    "table",
]

#: Success.
EXIT_OK = 0
#: A check failed or an operation was refused: ``store verify`` found damage, ``drift``
#: found drift, ``datasets diff --exit-code`` found changes, ``push``/``pull`` refused a
#: diverged ref; also damaged stored data and storage failures.
EXIT_FAILED = 1
#: Usage error or not found: a bad option or argument, an unknown run, dataset, model or
#: alias, a missing workspace, a missing optional dependency.
EXIT_USAGE = 2

_USAGE_ERRORS = (NotFoundError, InvalidInputError, ConfigError, MissingExtraError, NoActiveRunError)

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class State:
    """What the group options decided, handed to every command (``ctx.obj``)."""

    def __init__(self, workspace: str | None) -> None:
        self.uri = workspace

    def workspace(self, *, must_exist: bool = True) -> Workspace:
        """The workspace; a missing local one is an error (exit 2) unless ``must_exist=False``."""
        from mlopskit.workspace import Workspace

        ws = Workspace(self.uri)
        if must_exist and _is_local(ws.uri) and not os.path.isdir(_local_path(ws.uri)):
            raise NotFoundError(
                f"no workspace at {ws.uri}: pass --workspace (or set MLOPSKIT_HOME) to an "
                "existing one, or create it by logging a run",
                path=ws.uri,
            )
        return ws


def _is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def _local_path(uri: str) -> str:
    return uri[len("file://") :] if uri.startswith("file://") else uri


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``error: <message>`` on one line of stderr and exit with ``code``."""
    one_line = " ".join(str(message).split())
    click.echo(f"error: {one_line}", err=True)
    sys.exit(code)


def exit_code_of(exc: MlopskitError) -> int:
    """The exit code for an error: 2 for usage and not-found errors, 1 for the rest."""
    return EXIT_USAGE if isinstance(exc, _USAGE_ERRORS) else EXIT_FAILED


class _Group(click.Group):
    """The root group: mlopskit errors become one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MlopskitError as exc:
            fail(f"{type(exc).__name__}: {exc}", exit_code_of(exc))
        except OSError as exc:  # a file the user named cannot be read or written
            fail(f"{type(exc).__name__}: {exc}", EXIT_FAILED)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if os.environ.get("MLOPSKIT_DEBUG"):
                raise
            fail(
                f"unexpected {type(exc).__name__}: {exc} (a bug: rerun with MLOPSKIT_DEBUG=1 "
                "for the traceback and report it)",
                EXIT_FAILED,
            )


@click.group(cls=_Group, context_settings=CONTEXT_SETTINGS)
@click.option(
    "-w",
    "--workspace",
    metavar="PATH|URL",
    envvar="MLOPSKIT_HOME",
    show_envvar=True,
    help="Workspace root: a directory, s3://bucket/prefix or any fsspec URL "
    "[default: ./.mlopskit].",
)
@click.version_option(mlopskit.__version__, "-V", "--version", prog_name="mlopskit")
@click.pass_context
def cli(ctx: click.Context, workspace: str | None) -> None:
    """mlopskit: runs, datasets, models, the store, lineage and drift from the shell.

    Exit codes: 0 ok; 1 a check failed or was refused (verify found damage, drift
    found, diff found changes with --exit-code, push/pull refused a diverged ref);
    2 usage error or not found. Listing and show commands take --json.

    Shell completion: eval "$(mlopskit completion bash)" (or zsh, fish).

    \b
    Example:
      mlopskit --workspace ./.mlopskit runs ls --limit 5
    """
    ctx.obj = State(workspace)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI (the ``mlopskit`` console script and ``python -m mlopskit``)."""
    cli.main(args=None if argv is None else list(argv), prog_name="mlopskit")


# -- output -----------------------------------------------------------------------------


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--json`` flag: machine-readable output on stdout."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        fn
    )


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON: models dumped, datetimes in ISO 8601, NaN and ±inf as null."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return jsonable(dump(mode="json"))
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return jsonable(item())
    isoformat = getattr(value, "isoformat", None)  # pandas Timestamp
    if callable(isoformat):
        return isoformat()
    return str(value)


def emit(as_json: bool, payload: Any, human: Callable[[], None], *, plain: bool = False) -> None:
    """Print ``payload`` as JSON with ``--json``, else call ``human`` to print text.

    JSON is indented on a terminal and compact otherwise (scripts read it faster).
    ``plain=True`` says the payload is plain JSON data already (no conversion pass).
    """
    if as_json:
        data = payload if plain else jsonable(payload)
        indent = 2 if sys.stdout.isatty() else None
        click.echo(json.dumps(data, indent=indent, allow_nan=False))
    else:
        human()


def emit_lifecycle_change(
    key: str, what: str, spec: str, rec: Any, reason: str, *, delete: bool, as_json: bool
) -> None:
    """Report a delete/restore of a dataset or model version (``rec`` None: no change)."""
    state_now = "deleted" if delete else "active"
    payload = {
        key: spec,
        "lifecycle": state_now,
        "changed": rec is not None,
        "user": None if rec is None else rec.user,
        "time": None if rec is None else rec.time,
        "reason": reason,
    }
    verb = "deleted" if delete else "restored"
    note = "" if rec is not None else f" (already {state_now})"
    emit(as_json, payload, lambda: click.echo(f"{verb} {what} {spec}{note}"))


def cell(value: Any) -> str:
    """One table cell: floats to 6 significant digits, times to seconds, None empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value).replace("\n", " ")


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Print ``rows`` as an aligned text table with a header (or ``(none)``)."""
    columns_table({c: [cell(r.get(c)) for r in rows] for c in columns})


def columns_table(columns: Mapping[str, Sequence[str]]) -> None:
    """Print an aligned text table given column name → cells (strings), or ``(none)``."""
    names = list(columns)
    cols = [columns[n] for n in names]
    if not cols or not cols[0]:
        click.echo("(none)")
        return
    widths = [max(len(n), max(map(len, c))) for n, c in zip(names, cols)]
    header = "  ".join(n.upper().ljust(w) for n, w in zip(names, widths)).rstrip()
    padded = [[v.ljust(w) for v in c] for c, w in zip(cols[:-1], widths)]
    body = ("  ".join(parts).rstrip() for parts in zip(*padded, cols[-1]))
    click.echo("\n".join([header, *body]))


def fields(pairs: Sequence[tuple[str, Any]]) -> None:
    """Print ``name: value`` lines, names aligned."""
    width = max((len(k) for k, _ in pairs), default=0)
    click.echo("\n".join(f"{k + ':':<{width + 1}} {cell(v)}".rstrip() for k, v in pairs))


def human_bytes(n: int | None) -> str:
    """``1536`` → ``1.5 KiB``."""
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if size < 1024 or unit == "EiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover - unreachable


def when(moment: datetime | float | None) -> datetime | None:
    """Epoch seconds (or a datetime) as an aware UTC datetime (None stays None)."""
    from datetime import timezone

    if moment is None or isinstance(moment, datetime):
        return moment
    return datetime.fromtimestamp(moment, timezone.utc)


# -- shell completion of names ----------------------------------------------------------

_T = TypeVar("_T")


def _completion_workspace(ctx: click.Context) -> Workspace | None:
    """The workspace a half-typed command line names, or None if there is none."""
    from mlopskit.workspace import Workspace

    uri = ctx.find_root().params.get("workspace")
    ws = Workspace(uri)
    if _is_local(ws.uri) and not os.path.isdir(_local_path(ws.uri)):
        return None
    return ws


def completer(
    names: Callable[[Workspace], Sequence[str]],
) -> Callable[[click.Context, click.Parameter, str], list[str]]:
    """A click ``shell_complete`` callback offering ``names(workspace)`` that start with
    what was typed. Completion never fails: any error offers nothing."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
        try:
            ws = _completion_workspace(ctx)
            return [] if ws is None else [n for n in names(ws) if n.startswith(incomplete)]
        except Exception:  # a shell is no place for a traceback
            return []

    return complete


def _with_versions_left(
    names: Iterable[str], latest: Callable[[str], _T]
) -> Iterator[tuple[str, _T]]:
    """``(name, latest(name))`` for each name with a version left: a name whose every
    version is deleted (``latest`` raises NotFoundError) is not offered, as ``ls`` shows."""
    for name in names:
        try:
            yield name, latest(name)
        except NotFoundError:  # every version deleted
            continue


def model_names(ws: Workspace) -> list[str]:
    """Registered model names with a version left."""
    reg = ws.registry
    return [name for name, _ in _with_versions_left(reg.names(), reg.get)]


def model_uris(ws: Workspace) -> list[str]:
    """``name``, ``name@alias`` and ``name/<n>`` of every model with a version left
    (deleted versions are not offered)."""
    reg = ws.registry
    out: list[str] = []
    for name, _ in _with_versions_left(reg.names(), reg.get):
        out.append(name)
        out += [f"{name}@{alias}" for alias in sorted(reg.aliases(name))]
        out += [f"{name}/{mv.number}" for mv in reg.versions(name)]
    return out


def dataset_specs(ws: Workspace) -> list[str]:
    """``name`` and ``name/<n>`` of every dataset with a version left (deleted versions and
    datasets whose every version is deleted are not offered, as ``datasets ls`` shows)."""
    ds = ws.datasets
    out: list[str] = []
    for name, latest in _with_versions_left(ds.names(), ds.get):
        deleted = ds.deleted(name)
        out.append(name)
        out += [f"{name}/{n}" for n in range(1, latest.number + 1) if n not in deleted]
    return out


def run_ids(ws: Workspace) -> list[str]:
    """Every run id, newest first."""
    records = ws.tracker.backend.list_runs(None, keys=())
    return [r.run_id for r in sorted(records, key=lambda r: r.start_time, reverse=True)]
