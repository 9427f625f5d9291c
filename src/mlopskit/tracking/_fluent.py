"""Module-level functions: the current workspace's tracker and the active run.

Each call resolves the workspace when it happens (``mk.Workspace(...)`` block >
``mk.set_workspace`` > ``MLOPSKIT_HOME`` > ``./.mlopskit``), so configuring after import
still counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlopskit import _context
from mlopskit.errors import InvalidInputError, NoActiveRunError
from mlopskit.store import ArtifactRef
from mlopskit.tracking._buffer import worker
from mlopskit.tracking._flatten import flatten_params
from mlopskit.tracking._model import RunInput
from mlopskit.tracking._run import Run
from mlopskit.tracking._tracker import UNSET, Tracker, active, tracker_for

if TYPE_CHECKING:
    import pandas as pd

    from mlopskit.tracking._report import RunsReport

__all__ = [
    "active_run",
    "compare_runs",
    "current_tracker",
    "end_run",
    "flush",
    "get_run",
    "log_artifact",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "rename_run",
    "runs_report",
    "search_runs",
    "set_tag",
    "set_tags",
    "start_run",
]


def current_tracker() -> Tracker:
    """The tracker of the workspace in effect now."""
    return tracker_for(_context.current_workspace_uri())


def reading_tracker() -> Tracker:
    """The tracker of the workspace in effect now, for a read: a local workspace that does
    not exist is NotFoundError (a read never creates an empty one; writers do)."""
    uri = _context.require_workspace()
    return tracker_for(uri)


def start_run(
    experiment: str | None = None,
    *,
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    resume: bool | None = None,
    parent: Run | str | None = UNSET,
    capture_env: bool = True,
    log_system_metrics: bool | None = None,
) -> Run:
    """Start a run in the current workspace and make it the active run here.

    Use it as a context manager: leaving the block ends the run FINISHED, or FAILED
    (with the exception's type, message and traceback) if the block raised.

    Args:
        experiment: the experiment's name; defaults to the parent's, else
            ``MLOPSKIT_EXPERIMENT``, else ``default``.
        name: a display name (default: a readable ``adjective-animal-NNN`` name,
            unique in the experiment).
        params: parameters to log at once (immutable afterwards); nested dicts are
            flattened to dotted names, objects described (as :func:`log_params` does).
        tags: tags to set at once.
        run_id: choose the id; an existing run with that id is resumed.
        resume: ``True``: the run must exist; ``False``: it must not; ``None``: either.
        parent: the parent run (default: the active run, so runs nest); ``None`` for a
            top-level run even inside another.
        capture_env: record git, Python, packages, host, user and command line as
            ``mlopskit.*`` tags (and the git diff as an artifact when dirty).
        log_system_metrics: sample CPU, memory, disk, network (and GPU) as
            ``system/*`` metrics while the run is active (extra ``system``); ``None``
            reads ``MLOPSKIT_LOG_SYSTEM_METRICS``.

    Example:
        >>> import mlopskit as mk
        >>> with mk.Workspace("memory://doctest-start-run"):
        ...     with mk.start_run("demo", params={"lr": 0.1}) as run:
        ...         mk.log_metric("loss", 0.5)
        ...     run.status
        'FINISHED'
    """
    return current_tracker().start_run(
        experiment,
        name=name,
        params=None if params is None else flatten_params(params),
        tags=tags,
        run_id=run_id,
        resume=resume,
        parent=parent,
        capture_env=capture_env,
        log_system_metrics=log_system_metrics,
    )


def active_run() -> Run | None:
    """The run active in this thread / asyncio task, or None."""
    return active()


def _require() -> Run:
    run = active()
    if run is None:
        raise NoActiveRunError(
            "no active run: start one with `with mk.start_run(...):` or decorate the "
            "function with @mk.track"
        )
    return run


def rename_run(name: str, run_id: str | None = None) -> Run:
    """Rename the active run, or run ``run_id`` of the current workspace (see
    :meth:`Run.rename`); returns the run."""
    run = current_tracker().get_run(run_id) if run_id is not None else _require()
    return run.rename(name)


def end_run(status: str = "FINISHED") -> None:
    """End the active run (nothing happens if there is none)."""
    run = active()
    if run is not None:
        run.end(status)


def log_param(key: str, value: Any) -> None:
    """Log a parameter on the active run."""
    _require().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Log parameters on the active run (nested dicts as ``a.b`` names; see
    :meth:`Run.log_params`)."""
    _require().log_params(params)


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: float | datetime | None = None
) -> None:
    """Log a metric point on the active run (buffered)."""
    run = _context.active_run()
    if not isinstance(run, Run):
        run = _require()
    run.log_metric(key, value, step, timestamp)


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, timestamp: float | datetime | None = None
) -> None:
    """Log several metrics at one step on the active run."""
    _require().log_metrics(metrics, step, timestamp)


def set_tag(key: str, value: Any) -> None:
    """Set a tag on the active run."""
    _require().set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set tags on the active run."""
    _require().set_tags(tags)


def log_artifact(artifact: Any, name: str | None = None) -> ArtifactRef:
    """Store a file, directory or object and record it on the active run."""
    return _require().log_artifact(artifact, name)


def log_dict(data: Mapping[str, Any], name: str) -> ArtifactRef:
    """Store a dict as a JSON artifact of the active run."""
    return _require().log_dict(data, name)


def log_text(text: str, name: str) -> ArtifactRef:
    """Store text as an artifact of the active run."""
    return _require().log_text(text, name)


def log_figure(figure: Any, name: str = "figure.png", **savefig: Any) -> ArtifactRef:
    """Store a matplotlib figure as an artifact of the active run."""
    return _require().log_figure(figure, name, **savefig)


def log_table(name: str, data: Any) -> ArtifactRef:
    """Store a table (a DataFrame) as a Parquet artifact of the active run."""
    return _require().log_table(name, data)


def log_input(item: Any, name: str | None = None, context: str | None = None) -> RunInput:
    """Record an input (a dataset version, an ArtifactRef, a digest) of the active run."""
    return _require().log_input(item, name, context)


def flush() -> None:
    """Write every buffered metric point of every run in this process now."""
    worker.flush_all(raise_errors=True)


def get_run(run_id: str) -> Run:
    """A handle on a stored run of the current workspace.

    Its ``inputs`` (digests) and ``artifacts`` (name → ArtifactRef) are what a lineage
    walker follows.
    """
    return reading_tracker().get_run(run_id)


def search_runs(
    experiment: str | Iterable[str] | None = None,
    *,
    filter: str | None = None,
    order_by: str | Iterable[str] | None = None,
    limit: int | None = None,
    status: str | Iterable[str] | None = None,
    run_view: str = "active",
    experiment_names: str | Iterable[str] | None = None,
    filter_string: str | None = None,
    max_results: int | None = None,
    run_view_type: str | None = None,
) -> pd.DataFrame:
    """Runs as a DataFrame: one row per run; see :func:`mlopskit.tracking._search.search_runs`.

    Deleted runs are hidden unless ``run_view`` is ``"deleted"`` or ``"all"``. MLflow's
    keyword names are accepted too: ``experiment_names``, ``filter_string``,
    ``max_results`` and ``run_view_type`` mean ``experiment``, ``filter``, ``limit`` and
    ``run_view``.
    """
    from mlopskit.tracking._search import search_runs as _search

    return _search(
        reading_tracker(),
        _either("experiment", experiment, "experiment_names", experiment_names),
        filter=_either("filter", filter, "filter_string", filter_string),
        order_by=order_by,
        limit=_either("limit", limit, "max_results", max_results),
        status=status,
        run_view=_either("run_view", run_view, "run_view_type", run_view_type, default="active"),
    )


def _either(name: str, value: Any, alias: str, other: Any, default: Any = None) -> Any:
    """``value``, or MLflow's spelling ``other`` of the same argument (not both)."""
    if other is None:
        return value
    if value is not None and value != default:
        raise InvalidInputError(
            f"{name}= and {alias}= name the same argument ({alias} is MLflow's name): "
            "give one of them",
            found=f"{name}={value!r}, {alias}={other!r}",
        )
    return other


def compare_runs(run_ids: Iterable[str | Run], *, only_differences: bool = False) -> pd.DataFrame:
    """Runs side by side: one column per run, one row per field."""
    from mlopskit.tracking._search import compare_runs as _compare

    return _compare(reading_tracker(), run_ids, only_differences=only_differences)


def runs_report(
    experiment: str | Iterable[str] | None = None,
    *,
    filter: str | None = None,
    metrics: Iterable[str] | None = None,
    max_runs: int | None = 50,
    limit: int | object | None = UNSET,
) -> RunsReport:
    """A self-contained HTML report of runs: table, metric charts, figures, images, tables.

    Args:
        experiment: one experiment, several, or None for all.
        filter: a search filter (``"metrics.acc > 0.9"``), as in :func:`search_runs`.
        metrics: the metrics to chart (default: every metric of the runs shown).
        max_runs: show at most this many runs, newest first (None: all); the page says
            when it shows fewer than matched.
        limit: the former name of ``max_runs``.

    ``.to_html(path)`` writes one HTML file that works offline (uPlot inlined).
    """
    from mlopskit.tracking._report import build_report

    if limit is not UNSET:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise InvalidInputError(f"limit must be an integer or None, found {limit!r}")
        max_runs = limit
    if max_runs is not None and (
        isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 0
    ):
        raise InvalidInputError(
            f"max_runs must be a non-negative integer or None, found {max_runs!r}",
            expected="int >= 0 or None",
            found=repr(max_runs),
        )
    return build_report(
        reading_tracker(), experiment, filter=filter, metrics=metrics, max_runs=max_runs
    )
