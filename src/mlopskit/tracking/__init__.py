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

The package loads lazily (module ``__getattr__``): ``mlopskit runs ls`` imports the
SQLite backend and the records, not autologging, the MLflow importer, the object-store
backend or the report code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Public name -> module that defines it. Sorted by name; a test pins it to __all__.
_LAZY: dict[str, str] = {
    "ImportReport": "mlopskit.tracking._mlflow_import",
    "LifecycleEvent": "mlopskit.tracking._model",
    "ObjectStoreBackend": "mlopskit.tracking._objectstore",
    "PurgeReport": "mlopskit.tracking._model",
    "RUN_INFO_COLUMNS": "mlopskit.tracking._search",
    "Run": "mlopskit.tracking._run",
    "RunInput": "mlopskit.tracking._model",
    "RunRecord": "mlopskit.tracking._model",
    "RunsReport": "mlopskit.tracking._report",
    "SQLiteBackend": "mlopskit.tracking._sqlite",
    "Tracker": "mlopskit.tracking._tracker",
    "TrackingBackend": "mlopskit.tracking._backend",
    "WriterInfo": "mlopskit.tracking._model",
    "active_run": "mlopskit.tracking._fluent",
    "autolog": "mlopskit.tracking._autolog",
    "compare_runs": "mlopskit.tracking._fluent",
    "current_tracker": "mlopskit.tracking._fluent",
    "delete_experiment": "mlopskit.tracking._deleting",
    "delete_run": "mlopskit.tracking._deleting",
    "effective_status": "mlopskit.tracking._status",
    "end_run": "mlopskit.tracking._fluent",
    "flatten_params": "mlopskit.tracking._flatten",
    "flush": "mlopskit.tracking._fluent",
    "get_run": "mlopskit.tracking._fluent",
    "import_mlflow": "mlopskit.tracking._mlflow_import",
    "log_artifact": "mlopskit.tracking._fluent",
    "log_dict": "mlopskit.tracking._fluent",
    "log_figure": "mlopskit.tracking._fluent",
    "log_input": "mlopskit.tracking._fluent",
    "log_metric": "mlopskit.tracking._fluent",
    "log_metrics": "mlopskit.tracking._fluent",
    "log_param": "mlopskit.tracking._fluent",
    "log_params": "mlopskit.tracking._fluent",
    "log_text": "mlopskit.tracking._fluent",
    "rename_run": "mlopskit.tracking._fluent",
    "restore_experiment": "mlopskit.tracking._deleting",
    "restore_run": "mlopskit.tracking._deleting",
    "runs_report": "mlopskit.tracking._fluent",
    "search_runs": "mlopskit.tracking._fluent",
    "set_tag": "mlopskit.tracking._fluent",
    "set_tags": "mlopskit.tracking._fluent",
    "start_run": "mlopskit.tracking._fluent",
    "track": "mlopskit.tracking._track",
    "tracker_for": "mlopskit.tracking._tracker",
    "unflatten": "mlopskit.tracking._flatten",
}

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

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mlopskit.tracking' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
