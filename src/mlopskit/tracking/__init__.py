"""Experiment tracking: runs, params, metrics, artifacts, queries (see docs/tracking.md).

Module-level functions act on the workspace in effect when they are called and on the
run active in the current thread / asyncio task::

    import mlopskit as mk

    with mk.start_run("mnist", params={"lr": 0.01}):
        for step in range(100):
            mk.log_metric("loss", 1 / (step + 1))

    mk.search_runs("mnist", filter="metrics.loss < 0.1", order_by=["metrics.loss"])

Two backends sit behind one protocol: SQLite for a local workspace
(``<root>/tracking.sqlite``) and segment files on an object store for ``s3://`` and
friends (``<root>/tracking/``).
"""

from mlopskit.tracking._autolog import autolog
from mlopskit.tracking._backend import TrackingBackend
from mlopskit.tracking._deleting import (
    delete_experiment,
    delete_run,
    restore_experiment,
    restore_run,
)
from mlopskit.tracking._flatten import flatten_params, unflatten
from mlopskit.tracking._fluent import (
    active_run,
    compare_runs,
    current_tracker,
    end_run,
    flush,
    get_run,
    log_artifact,
    log_dict,
    log_figure,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    rename_run,
    runs_report,
    search_runs,
    set_tag,
    set_tags,
    start_run,
)
from mlopskit.tracking._mlflow_import import ImportReport, import_mlflow
from mlopskit.tracking._model import (
    LifecycleEvent,
    PurgeReport,
    RunInput,
    RunRecord,
    WriterInfo,
)
from mlopskit.tracking._objectstore import ObjectStoreBackend
from mlopskit.tracking._report import RunsReport
from mlopskit.tracking._run import Run
from mlopskit.tracking._search import RUN_INFO_COLUMNS
from mlopskit.tracking._sqlite import SQLiteBackend
from mlopskit.tracking._status import effective_status
from mlopskit.tracking._track import track
from mlopskit.tracking._tracker import Tracker, tracker_for

__all__ = [
    "RUN_INFO_COLUMNS",
    "ImportReport",
    "LifecycleEvent",
    "ObjectStoreBackend",
    "PurgeReport",
    "Run",
    "RunInput",
    "RunRecord",
    "RunsReport",
    "SQLiteBackend",
    "Tracker",
    "TrackingBackend",
    "WriterInfo",
    "active_run",
    "autolog",
    "compare_runs",
    "current_tracker",
    "delete_experiment",
    "delete_run",
    "effective_status",
    "end_run",
    "flatten_params",
    "flush",
    "get_run",
    "import_mlflow",
    "log_artifact",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "rename_run",
    "restore_experiment",
    "restore_run",
    "runs_report",
    "search_runs",
    "set_tag",
    "set_tags",
    "start_run",
    "track",
    "tracker_for",
    "unflatten",
]
