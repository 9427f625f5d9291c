"""``import_mlflow``: read an MLflow tracking store (file or SQLite) into mlopskit.

MLflow is not needed: the file store (``mlruns/``: ``meta.yaml`` files, one file per
param and tag, one line ``<timestamp ms> <value> <step>`` per metric point) and the
SQLite store (tables ``experiments``, ``runs``, ``params``, ``tags``, ``metrics``) are
read directly. Run ids are kept, so importing again skips what is there already.
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mlopskit._log import get_logger
from mlopskit.errors import InvalidInputError, NotFoundError
from mlopskit.tracking._model import (
    TERMINAL,
    MetricPoint,
    RunRecord,
    check_experiment,
    check_key,
)
from mlopskit.tracking._run import Tracker

__all__ = ["ImportReport", "import_mlflow"]

log = get_logger("mlopskit.tracking")

_FILE_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}


@dataclass
class ImportReport:
    """What :func:`import_mlflow` did."""

    source: str
    experiments: list[str] = field(default_factory=list)
    runs: int = 0
    skipped_runs: int = 0
    metric_points: int = 0
    skipped_points: int = 0
    skipped_keys: list[str] = field(default_factory=list)


@dataclass
class _MlflowRun:
    run_id: str
    experiment: str
    name: str
    status: str
    start_time: float
    end_time: float | None
    user: str
    params: dict[str, str]
    tags: dict[str, str]
    metrics: list[tuple[str, float, int, float]]


def _experiment_name(name: str, prefix: str) -> str:
    clean = "".join(c if c.isalnum() or c in "._@+=,-" else "_" for c in f"{prefix}{name}")
    if not clean or not (clean[0].isalnum() or clean[0] == "_"):
        clean = "_" + clean
    return check_experiment(clean[:200])


def import_mlflow(
    source: str | os.PathLike[str],
    *,
    tracker: Tracker | None = None,
    experiment_prefix: str = "",
    include_deleted: bool = False,
) -> ImportReport:
    """Copy an MLflow store's experiments, runs, params, tags and metrics into a workspace.

    Args:
        source: an ``mlruns`` directory (or ``file:`` URI) of MLflow's file store, or a
            SQLite store (``sqlite:///path/mlflow.db`` or the ``.db`` path).
        tracker: the destination (default: the current workspace's tracker).
        experiment_prefix: prepended to every experiment name.
        include_deleted: also import runs and experiments MLflow marks deleted.

    Returns:
        An :class:`ImportReport`. Runs already present (same run id) are skipped;
        non-finite metric values (which mlopskit does not store) are counted and skipped;
        MLflow runs still RUNNING are imported as KILLED with tag ``mlflow.status``.
    """
    if tracker is None:
        from mlopskit.tracking._fluent import current_tracker

        tracker = current_tracker()
    raw = os.fspath(source)
    report = ImportReport(source=raw)
    runs: Iterator[_MlflowRun]
    if raw.startswith("sqlite:///"):
        runs = _sqlite_runs(raw[len("sqlite:///") :], include_deleted, experiment_prefix)
    elif os.path.isfile(raw):
        runs = _sqlite_runs(raw, include_deleted, experiment_prefix)
    else:
        path = raw[len("file://") :] if raw.startswith("file://") else raw
        path = path[len("file:") :] if path.startswith("file:") else path
        if not os.path.isdir(path):
            raise NotFoundError(f"no MLflow store at {raw!r}", path=raw)
        runs = _file_runs(path, include_deleted, experiment_prefix)
    seen: set[str] = set()
    for run in runs:
        if run.experiment not in seen:
            seen.add(run.experiment)
            report.experiments.append(run.experiment)
        _import_run(tracker, run, report)
    log.info("mlflow_imported", source=raw, runs=report.runs, skipped=report.skipped_runs)
    return report


def _clean(mapping: dict[str, str], report: ImportReport, what: str) -> dict[str, str]:
    out = {}
    for key, value in mapping.items():
        try:
            check_key(key, what)
        except InvalidInputError:
            report.skipped_keys.append(f"{what}:{key}")
            continue
        out[key] = value
    return out


def _import_run(tracker: Tracker, run: _MlflowRun, report: ImportReport) -> None:
    backend = tracker.backend
    tags = _clean(run.tags, report, "tag")
    status = run.status
    if status not in TERMINAL:
        tags["mlflow.status"] = status
        status = "KILLED"
    record = RunRecord(
        run_id=run.run_id,
        experiment=run.experiment,
        name=run.name,
        status="RUNNING",
        start_time=run.start_time,
        parent_id=run.tags.get("mlflow.parentRunId"),
        user=run.user,
        host="",
        params=_clean(run.params, report, "param"),
        tags=tags,
    )
    if not backend.create_run(record):
        report.skipped_runs += 1
        return
    points: list[MetricPoint] = []
    for key, value, step, ts in run.metrics:
        if not math.isfinite(value) or f"metric:{key}" in report.skipped_keys:
            report.skipped_points += 1
            continue
        try:
            check_key(key)
        except InvalidInputError:
            report.skipped_keys.append(f"metric:{key}")
            report.skipped_points += 1
            continue
        points.append((key, value, step, ts))
    for i in range(0, len(points), 50_000):
        backend.log_metrics(run.run_id, points[i : i + 50_000])
    backend.finish(run.run_id, status, run.end_time if run.end_time else run.start_time)
    report.runs += 1
    report.metric_points += len(points)


# -- MLflow's file store ------------------------------------------------------------------


def _yaml(path: str) -> dict[str, Any]:
    from mlopskit._optional import import_optional

    yaml = import_optional("yaml", "mlflow", purpose="reading MLflow's meta.yaml files")
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    return data if isinstance(data, dict) else {}


def _key_files(base: str) -> Iterator[tuple[str, str]]:
    if not os.path.isdir(base):
        return
    for dirpath, _dirs, files in os.walk(base):
        for name in files:
            full = os.path.join(dirpath, name)
            yield os.path.relpath(full, base).replace(os.sep, "/"), full


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _file_runs(root: str, include_deleted: bool, prefix: str) -> Iterator[_MlflowRun]:
    for exp_dir in sorted(os.listdir(root)):
        meta_path = os.path.join(root, exp_dir, "meta.yaml")
        if exp_dir.startswith(".") or not os.path.isfile(meta_path):
            continue
        meta = _yaml(meta_path)
        if meta.get("lifecycle_stage") == "deleted" and not include_deleted:
            continue
        experiment = _experiment_name(str(meta.get("name", exp_dir)), prefix)
        for run_dir in sorted(os.listdir(os.path.join(root, exp_dir))):
            run_path = os.path.join(root, exp_dir, run_dir)
            run_meta_path = os.path.join(run_path, "meta.yaml")
            if not os.path.isfile(run_meta_path):
                continue
            rm = _yaml(run_meta_path)
            if rm.get("lifecycle_stage") == "deleted" and not include_deleted:
                continue
            params = {k: _read_text(p) for k, p in _key_files(os.path.join(run_path, "params"))}
            tags = {k: _read_text(p) for k, p in _key_files(os.path.join(run_path, "tags"))}
            metrics: list[tuple[str, float, int, float]] = []
            for key, path in _key_files(os.path.join(run_path, "metrics")):
                for line in _read_text(path).splitlines():
                    parts = line.split()
                    if len(parts) < 2:
                        continue
                    step = int(parts[2]) if len(parts) > 2 else 0
                    metrics.append((key, float(parts[1]), step, int(parts[0]) / 1000.0))
            status = rm.get("status", 3)
            status = (
                _FILE_STATUS.get(status, "FINISHED") if isinstance(status, int) else str(status)
            )
            run_id = str(rm.get("run_id") or rm.get("run_uuid") or run_dir)
            end = rm.get("end_time")
            yield _MlflowRun(
                run_id=run_id,
                experiment=experiment,
                name=str(rm.get("run_name") or tags.get("mlflow.runName") or f"run-{run_id[:8]}"),
                status=status,
                start_time=int(rm.get("start_time") or 0) / 1000.0,
                end_time=None if end is None else int(end) / 1000.0,
                user=str(rm.get("user_id") or ""),
                params=params,
                tags=tags,
                metrics=metrics,
            )


# -- MLflow's SQLite store ----------------------------------------------------------------


def _sqlite_runs(path: str, include_deleted: bool, prefix: str) -> Iterator[_MlflowRun]:
    if not os.path.isfile(path):
        raise NotFoundError(f"no MLflow SQLite store at {path!r}", path=path)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        exps = {
            row[0]: (row[1], row[2])
            for row in conn.execute("SELECT experiment_id, name, lifecycle_stage FROM experiments")
        }
        runs = conn.execute(
            "SELECT run_uuid, name, user_id, status, start_time, end_time, lifecycle_stage, "
            "experiment_id FROM runs ORDER BY start_time"
        ).fetchall()
        for run_id, name, user, status, start, end, stage, exp_id in runs:
            exp_name, exp_stage = exps.get(exp_id, (str(exp_id), "active"))
            if not include_deleted and "deleted" in (stage, exp_stage):
                continue
            params = dict(
                conn.execute(
                    "SELECT key, value FROM params WHERE run_uuid = ?", (run_id,)
                ).fetchall()
            )
            tags = dict(
                conn.execute("SELECT key, value FROM tags WHERE run_uuid = ?", (run_id,)).fetchall()
            )
            metrics = [
                (k, float("nan") if is_nan else float(v), int(s or 0), int(t or 0) / 1000.0)
                for k, v, s, t, is_nan in conn.execute(
                    "SELECT key, value, step, timestamp, is_nan FROM metrics "
                    "WHERE run_uuid = ? ORDER BY key, step, timestamp",
                    (run_id,),
                )
            ]
            yield _MlflowRun(
                run_id=run_id,
                experiment=_experiment_name(str(exp_name), prefix),
                name=name or tags.get("mlflow.runName") or f"run-{run_id[:8]}",
                status=str(status or "FINISHED"),
                start_time=int(start or 0) / 1000.0,
                end_time=None if end is None else int(end) / 1000.0,
                user=user or "",
                params=params,
                tags=tags,
                metrics=metrics,
            )
    finally:
        conn.close()
