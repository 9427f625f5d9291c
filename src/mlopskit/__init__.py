"""mlopskit: composable MLOps primitives over one verifiable, deduplicated store.

``import mlopskit as mk`` is cheap: every public name below is loaded on first use
(module ``__getattr__``), so pandas, scipy, cloudpickle and fsspec backends load only
when a call needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

# Public name -> module that defines it. Sorted by name; a test pins it to __all__.
_LAZY: dict[str, str] = {
    "ArtifactRef": "mlopskit.store",
    "ArtifactStore": "mlopskit.store",
    "DatasetVersion": "mlopskit.versioning",
    "IntegrityError": "mlopskit.errors",
    "Lineage": "mlopskit._lineage",
    "LineageNode": "mlopskit._lineage",
    "LineageRecord": "mlopskit._lineage",
    "MlopskitError": "mlopskit.errors",
    "ModelVersion": "mlopskit.registry",
    "NotFoundError": "mlopskit.errors",
    "RefConflictError": "mlopskit.errors",
    "Workspace": "mlopskit.workspace",
    "active_run": "mlopskit.tracking",
    "autolog": "mlopskit.tracking",
    "compare_runs": "mlopskit.tracking",
    "current_workspace": "mlopskit.workspace",
    "datasets": "mlopskit.versioning",
    "delete_experiment": "mlopskit.tracking",
    "delete_run": "mlopskit.tracking",
    "end_run": "mlopskit.tracking",
    "flush": "mlopskit.tracking",
    "get_run": "mlopskit.tracking",
    "infer_signature": "mlopskit.registry",
    "lineage": "mlopskit._lineage",
    "log_artifact": "mlopskit.tracking",
    "log_dict": "mlopskit.tracking",
    "log_figure": "mlopskit.tracking",
    "log_input": "mlopskit.tracking",
    "log_metric": "mlopskit.tracking",
    "log_metrics": "mlopskit.tracking",
    "log_model": "mlopskit.deploy._log_model",
    "log_param": "mlopskit.tracking",
    "log_params": "mlopskit.tracking",
    "log_table": "mlopskit.tracking._fluent",
    "log_text": "mlopskit.tracking",
    "restore_experiment": "mlopskit.tracking",
    "restore_run": "mlopskit.tracking",
    "rename_run": "mlopskit.tracking",
    "runs_report": "mlopskit.tracking",
    "search_runs": "mlopskit.tracking",
    "set_tag": "mlopskit.tracking",
    "set_tags": "mlopskit.tracking",
    "set_workspace": "mlopskit.workspace",
    "start_run": "mlopskit.tracking",
    "track": "mlopskit.tracking",
    "versioned": "mlopskit.versioning",
}

# Subpackages reachable as attributes (``mk.drift``, ``mk.store``, ...).
_SUBMODULES: frozenset[str] = frozenset(
    {
        "checks",
        "cli",
        "deploy",
        "drift",
        "errors",
        "hashing",
        "serialize",
        "registry",
        "store",
        "sync",
        "testing",
        "tracking",
        "ui",
        "versioning",
        "workspace",
    }
)

__all__ = sorted([*_LAZY, *_SUBMODULES, "__version__"])

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from mlopskit import (
        cli,
        drift,
        errors,
        hashing,
        registry,
        serialize,
        store,
        sync,
        testing,
        tracking,
        ui,
        versioning,
        workspace,
    )
    from mlopskit._lineage import Lineage as Lineage
    from mlopskit._lineage import LineageNode as LineageNode
    from mlopskit._lineage import LineageRecord as LineageRecord
    from mlopskit._lineage import lineage as lineage
    from mlopskit.deploy._log_model import log_model
    from mlopskit.errors import IntegrityError, MlopskitError, NotFoundError, RefConflictError
    from mlopskit.registry import ModelVersion, infer_signature
    from mlopskit.store import ArtifactRef, ArtifactStore
    from mlopskit.tracking import (
        active_run,
        autolog,
        compare_runs,
        delete_experiment,
        delete_run,
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
        restore_experiment,
        restore_run,
        runs_report,
        search_runs,
        set_tag,
        set_tags,
        start_run,
        track,
    )
    from mlopskit.tracking._fluent import log_table
    from mlopskit.versioning import DatasetVersion, datasets, versioned
    from mlopskit.workspace import Workspace, current_workspace, set_workspace


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"mlopskit.{name}")
    else:
        raise AttributeError(f"module 'mlopskit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
