"""``mlopskit datasets …``, ``mlopskit lineage`` and ``mlopskit drift``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from mlopskit.cli._app import (
    EXIT_FAILED,
    State,
    cli,
    completer,
    dataset_specs,
    emit,
    emit_lifecycle_change,
    fields,
    human_bytes,
    json_option,
    table,
)
from mlopskit.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from mlopskit.versioning import Datasets, DatasetVersion


def _split(spec: str) -> tuple[str, str]:
    """``iris``, ``iris/3``, ``iris@3``, ``dataset:iris/3`` → (name, version)."""
    spec = spec.removeprefix("dataset:")
    name, sep, version = spec.replace("@", "/").partition("/")
    return name, (version if sep and version else "latest")


def _version(datasets: Datasets, spec: str) -> DatasetVersion:
    name, version = _split(spec)
    return datasets.get(name, version)


@cli.group()
def datasets() -> None:
    """List, inspect and compare dataset versions.

    \b
    Example:
      mlopskit datasets diff iris/1 iris/2
    """


@datasets.command("ls")
@json_option
@click.pass_obj
def datasets_ls(state: State, as_json: bool) -> None:
    """List datasets with their latest version.

    \b
    Example:
      mlopskit datasets ls --json
    """
    ds = state.workspace().datasets
    rows: list[dict[str, Any]] = []
    for name in ds.names():
        try:
            dv = ds.get(name)
        except NotFoundError:  # every version deleted: nothing to list
            continue
        rows.append(
            {
                "name": name,
                "latest": dv.number,
                "kind": dv.kind,
                "rows": dv.rows,
                "columns": len(dv.schema),
                "size": dv.size,
                "created_at": dv.created_at,
                "digest": dv.digest,
            }
        )

    def human() -> None:
        table(
            [{**r, "size": human_bytes(r["size"])} for r in rows],
            ["name", "latest", "kind", "rows", "columns", "size", "created_at"],
        )

    emit(as_json, rows, human)


@datasets.command("show")
@click.argument("spec", metavar="NAME[/VERSION]", shell_complete=completer(dataset_specs))
@json_option
@click.pass_obj
def datasets_show(state: State, spec: str, as_json: bool) -> None:
    """Show a dataset version: metadata, schema and per-column summary.

    VERSION is a number, 'latest' (the default) or a digest.

    \b
    Example:
      mlopskit datasets show iris/2
    """
    dv = _version(state.workspace().datasets, spec)

    def human() -> None:
        fields(
            [
                ("uri", dv.uri),
                ("kind", dv.kind),
                ("rows", dv.rows),
                ("size", human_bytes(dv.size)),
                ("digest", dv.digest),
                ("created_at", dv.created_at),
                ("author", dv.author),
                ("message", dv.message),
                ("run_id", dv.run_id),
            ]
        )
        click.echo(f"\nschema ({len(dv.schema)} columns)")
        table([c.model_dump() for c in dv.schema], ["name", "dtype", "nullable"])
        if dv.summary:
            click.echo("\nsummary")
            table(
                [s.model_dump() for s in dv.summary],
                ["name", "dtype", "count", "nulls", "distinct", "mean", "std", "min", "max", "top"],
            )

    emit(as_json, dv, human)


def _change_dataset(state: State, spec: str, reason: str, *, delete: bool, as_json: bool) -> None:
    ds = state.workspace().datasets
    change = ds.delete if delete else ds.restore
    rec = change(spec.removeprefix("dataset:"), reason=reason)
    emit_lifecycle_change("dataset", "dataset", spec, rec, reason, delete=delete, as_json=as_json)


@datasets.command("delete")
@click.argument("spec", metavar="NAME/VERSION", shell_complete=completer(dataset_specs))
@click.option("--reason", default="", metavar="TEXT", help="Why (kept with who and when).")
@json_option
@click.pass_obj
def datasets_delete(state: State, spec: str, reason: str, as_json: bool) -> None:
    """Delete a dataset version (soft): it leaves 'latest' and listings, loading it says
    who deleted it and why, and nothing is removed from the store.

    \b
    Example:
      mlopskit datasets delete iris/3 --reason "contains personal data"
    """
    _change_dataset(state, spec, reason, delete=True, as_json=as_json)


@datasets.command("restore")
@click.argument("spec", metavar="NAME/VERSION", shell_complete=completer(dataset_specs))
@click.option("--reason", default="", metavar="TEXT", help="Why (kept with who and when).")
@json_option
@click.pass_obj
def datasets_restore(state: State, spec: str, reason: str, as_json: bool) -> None:
    """Restore a deleted dataset version.

    \b
    Example:
      mlopskit datasets restore iris/3
    """
    _change_dataset(state, spec, reason, delete=False, as_json=as_json)


@datasets.command("diff")
@click.argument("a", metavar="A", shell_complete=completer(dataset_specs))
@click.argument("b", metavar="B", shell_complete=completer(dataset_specs))
@click.option(
    "-k", "--key", multiple=True, help="Key column(s): also count rows added/removed/changed."
)
@click.option("--exit-code", is_flag=True, help="Exit 1 when the versions differ (as git diff).")
@json_option
@click.pass_obj
def datasets_diff(
    state: State, a: str, b: str, key: tuple[str, ...], exit_code: bool, as_json: bool
) -> None:
    """Compare two dataset versions: schema, statistics, (with --key) rows, and for
    folder datasets the files added, removed and changed, with their sizes.

    A and B are NAME[/VERSION]; a bare VERSION for B means the same dataset as A.

    \b
    Example:
      mlopskit datasets diff iris/1 iris/2 --key id --exit-code
    """
    ds = state.workspace().datasets
    if "/" not in b and "@" not in b and b.isdigit():
        b = f"{_split(a)[0]}/{b}"
    diff = ds.diff(_version(ds, a), _version(ds, b), key=list(key) or None)
    payload = {**diff.model_dump(mode="json"), "empty": diff.empty}

    def human() -> None:
        click.echo(f"{diff.a} → {diff.b}: rows {diff.rows[0]} → {diff.rows[1]}")
        if diff.key:
            click.echo(
                f"rows by key {', '.join(diff.key)}: +{diff.rows_added} -{diff.rows_removed} "
                f"~{diff.rows_changed}"
            )
        if diff.empty:
            click.echo("no differences")
            return
        if diff.files:
            counts = {c: sum(f.change == c for f in diff.files) for c in ("added", "removed")}
            changed = len(diff.files) - counts["added"] - counts["removed"]
            delta = sum((f.size_b or 0) - (f.size_a or 0) for f in diff.files)
            sign = "+" if delta >= 0 else "-"
            click.echo(
                f"files: +{counts['added']} -{counts['removed']} ~{changed} "
                f"({sign}{human_bytes(abs(delta))})"
            )
            table(
                [
                    {
                        "path": f.path if f.path.isprintable() else repr(f.path),
                        "change": f.change,
                        "size a": "" if f.size_a is None else human_bytes(f.size_a),
                        "size b": "" if f.size_b is None else human_bytes(f.size_b),
                    }
                    for f in diff.files
                ],
                ["path", "change", "size a", "size b"],
            )
        frame = diff.to_frame()
        if len(frame):
            table(
                [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")],
                ["column", "change", "what", "a", "b"],
            )

    emit(as_json, payload, human)
    if exit_code and not diff.empty:
        raise SystemExit(EXIT_FAILED)


@cli.command("lineage")
@click.argument("uri")
@click.option(
    "-d",
    "--direction",
    type=click.Choice(["up", "down", "both"]),
    default="both",
    show_default=True,
    help="Upstream (made from), downstream (made into) or both.",
)
@click.option("--depth", type=click.IntRange(min=1), help="Hops to follow [default: all].")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "mermaid", "dot"]),
    default="text",
    show_default=True,
    help="Text edges, a Mermaid flowchart or Graphviz DOT.",
)
@json_option
@click.pass_obj
def lineage_cmd(
    state: State, uri: str, direction: str, depth: int | None, fmt: str, as_json: bool
) -> None:
    """Walk the lineage graph around URI.

    URI is any object URI: dataset:iris/3, model:clf@champion, run:<id>, a digest,
    or a bare iris/3 or clf@champion.

    \b
    Example:
      mlopskit lineage model:clf@champion --direction up --format mermaid
    """
    from mlopskit import lineage

    ws = state.workspace()
    with ws:
        graph = lineage(uri, direction, depth, store=ws.store)  # type: ignore[arg-type]
    payload = {
        "root": graph.root,
        "records": graph.records,
    }

    def human() -> None:
        if fmt == "mermaid":
            click.echo(graph.to_mermaid())
        elif fmt == "dot":
            click.echo(graph.to_dot())
        else:
            click.echo(repr(graph))

    emit(as_json, payload, human)


_PARQUET = (".parquet", ".pq")
_CSV = (".csv", ".csv.gz", ".tsv")


def _load_table(spec: str, state: State, what: str) -> Any:
    """A CSV or Parquet file, or a dataset URI, as a DataFrame."""
    import pandas as pd

    low = spec.lower()
    if os.path.isfile(spec):
        if low.endswith(_PARQUET + _CSV):
            kind = "Parquet" if low.endswith(_PARQUET) else "CSV"
            try:
                if kind == "Parquet":
                    return pd.read_parquet(spec)
                return pd.read_csv(spec, sep="\t" if low.endswith(".tsv") else ",")
            except (ValueError, OSError) as exc:  # pyarrow and pandas parse errors
                raise InvalidInputError(
                    f"{what} {spec!r} could not be read as {kind}: {exc}",
                    path=spec,
                    expected=kind,
                ) from exc
        raise InvalidInputError(
            f"{what} {spec!r}: expected a .csv, .tsv or .parquet file, found another suffix",
            path=spec,
        )
    if low.endswith(_PARQUET + _CSV):
        raise NotFoundError(f"{what} {spec!r}: no such file", path=spec)
    name, version = _split(spec)
    try:
        data = state.workspace().datasets.load(name, version)
    except NotFoundError as exc:
        raise NotFoundError(
            f"{what} {spec!r} is neither a CSV/Parquet file nor a dataset: {exc}", name=name
        ) from None
    if not isinstance(data, pd.DataFrame):
        raise InvalidInputError(
            f"{what} {spec!r} is a {type(data).__name__}; drift compares tables (DataFrames)",
            name=name,
        )
    return data


@cli.command("drift")
@click.argument("reference", metavar="REF")
@click.argument("current", metavar="CUR")
@click.option("-c", "--columns", metavar="A,B", help="Only these columns [default: all of REF].")
@click.option(
    "-m",
    "--method",
    help="One method for every column: psi, ks, wasserstein, jensen_shannon, "
    "chi2, hellinger [default: auto].",
)
@click.option("-t", "--threshold", type=float, help="One threshold for every column.")
@click.option(
    "--html",
    "html",
    type=click.Path(dir_okay=False, writable=True),
    help="Write an HTML report here.",
)
@json_option
@click.pass_obj
def drift_cmd(
    state: State,
    reference: str,
    current: str,
    columns: str | None,
    method: str | None,
    threshold: float | None,
    html: str | None,
    as_json: bool,
) -> None:
    """Compare CUR with REF column by column; exit 1 if the dataset drifted.

    REF and CUR are CSV or Parquet files, or dataset URIs (iris/3, dataset:iris@latest).

    \b
    Example:
      mlopskit drift train.parquet today.csv --html drift.html
    """
    from mlopskit import drift

    ref = _load_table(reference, state, "REF")
    cur = _load_table(current, state, "CUR")
    cols = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    report = drift.compare(ref, cur, columns=cols, method=method or "auto", thresholds=threshold)
    if html:
        report.to_html(html)
    payload = report.to_dict()

    def human() -> None:
        rows = [c.model_dump() for c in report.columns]
        table(rows, ["column", "kind", "method", "statistic", "p_value", "threshold", "drifted"])
        verdict = "DRIFT" if report.drifted else "no drift"
        click.echo(
            f"\n{verdict}: {report.n_drifted}/{report.n_columns} columns drifted "
            f"(share {report.share_drifted:.2f}); {report.reference_rows} reference rows, "
            f"{report.current_rows} current rows"
        )
        if html:
            click.echo(f"report: {html}")

    emit(as_json, payload, human)
    if report.drifted:
        raise SystemExit(EXIT_FAILED)
