"""``import_mlflow``: read an MLflow tracking store (file or SQLite) into mlopskit.

MLflow is not needed: the file store (``mlruns/``: ``meta.yaml`` files, one file per
param and tag, one line ``<timestamp ms> <value> <step>`` per metric point) and the
SQLite store (tables ``experiments``, ``runs``, ``params``, ``tags``, ``metrics``) are
read directly. Run ids are kept, so importing again skips what is there already.

The source is untrusted: run ids must be valid mlopskit run ids (they become file
names on the object-store backend), symbolic links are never followed (a link in
``params/`` must not import a private file as a value), MLflow's own length limits
apply to params and tags, and a malformed line or run is reported (a warning, and a
count plus where in the :class:`ImportReport`) while the import goes on.
"""

from __future__ import annotations

import math
import os
import sqlite3
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mlopskit._log import get_logger
from mlopskit.errors import InvalidInputError, NotFoundError
from mlopskit.tracking._model import TERMINAL, MetricPoint, RunRecord, to_datetime
from mlopskit.tracking._tracker import Tracker
from mlopskit.tracking._validate import (
    check_experiment,
    check_key,
    check_run_id,
    check_text,
    metric_step,
    metric_time,
)

__all__ = ["ImportReport", "import_mlflow"]

log = get_logger("mlopskit.tracking")

_FILE_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
_MLFLOW_STATUSES = frozenset({"RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"})
#: MLflow's own limits (mlflow.utils.validation): longer values are not MLflow data.
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_META_FILE = 1 << 20  # a meta.yaml larger than this is not MLflow's


@dataclass
class ImportReport:
    """What :func:`import_mlflow` did.

    Attributes:
        runs: runs imported.
        skipped_runs: runs present already (same run id).
        invalid_runs: runs not imported because their data is invalid (see ``problems``).
        metric_points: points imported; ``skipped_points`` were not (non-finite values,
            invalid keys, steps or times).
        skipped_keys: ``kind:key`` of params, tags and metrics not imported.
        malformed_lines: metric file lines that do not parse.
        problems: one line per problem met: where (file or run) and what.
    """

    source: str
    experiments: list[str] = field(default_factory=list)
    runs: int = 0
    skipped_runs: int = 0
    invalid_runs: int = 0
    metric_points: int = 0
    skipped_points: int = 0
    skipped_keys: list[str] = field(default_factory=list)
    malformed_lines: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, where: str, what: str) -> None:
        """Record (and warn about) one problem in the source; the import goes on."""
        line = f"{where}: {what}"
        self.problems.append(line)
        log.warning("mlflow_import_problem", where=where, problem=what)
        warnings.warn(f"import_mlflow skipped {line}", RuntimeWarning, stacklevel=4)


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
        runs = _sqlite_runs(raw[len("sqlite:///") :], include_deleted, experiment_prefix, report)
    elif os.path.isfile(raw):
        runs = _sqlite_runs(raw, include_deleted, experiment_prefix, report)
    else:
        path = raw[len("file://") :] if raw.startswith("file://") else raw
        path = path[len("file:") :] if path.startswith("file:") else path
        if not os.path.isdir(path):
            raise NotFoundError(f"no MLflow store at {raw!r}", path=raw)
        runs = _file_runs(path, include_deleted, experiment_prefix, report)
    seen: set[str] = set()
    try:
        for run in runs:
            if run.experiment not in seen:
                seen.add(run.experiment)
                report.experiments.append(run.experiment)
            _import_run(tracker, run, report)
    except sqlite3.Error as exc:
        raise InvalidInputError(
            f"{raw!r} is not a readable MLflow SQLite store: {exc}", path=raw
        ) from exc
    log.info("mlflow_imported", source=raw, runs=report.runs, skipped=report.skipped_runs)
    return report


def _clean(mapping: dict[str, str], report: ImportReport, what: str, where: str) -> dict[str, str]:
    limit = MAX_PARAM_VALUE if what == "param" else MAX_TAG_VALUE
    out = {}
    for key, value in mapping.items():
        try:
            check_key(key, what)
            if not isinstance(value, str):
                raise InvalidInputError(f"{what} {key!r} is not text")
            if len(value) > limit:
                raise InvalidInputError(
                    f"{what} {key!r} is {len(value)} characters long; MLflow's limit is {limit}"
                )
            check_text(f"{what} {key!r}", value)
        except InvalidInputError as exc:
            report.skipped_keys.append(f"{what}:{key}")
            report.problem(where, str(exc))
            continue
        out[key] = value
    return out


def _import_run(tracker: Tracker, run: _MlflowRun, report: ImportReport) -> None:
    backend = tracker.backend
    where = f"run {run.run_id!r}"
    try:
        check_run_id(run.run_id)
        check_text("run name", run.name)
        check_text("user", run.user)
        for t in (run.start_time, run.end_time):
            if t is not None:
                metric_time("start/end time", t)
    except InvalidInputError as exc:
        report.invalid_runs += 1
        report.problem(where, str(exc))
        return
    tags = _clean(run.tags, report, "tag", where)
    status = run.status if run.status in _MLFLOW_STATUSES else "UNKNOWN"
    if status not in TERMINAL:
        tags["mlflow.status"] = status
        status = "KILLED"
    parent = tags.get("mlflow.parentRunId")
    if parent is not None:
        try:
            check_run_id(parent)
        except InvalidInputError as exc:
            report.problem(where, f"parent run id: {exc}")
            parent = None
    record = RunRecord(
        run_id=run.run_id,
        experiment=run.experiment,
        name=run.name,
        status="RUNNING",
        start_time=to_datetime(run.start_time),
        parent_id=parent,
        user=run.user,
        host="",
        params=_clean(run.params, report, "param", where),
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
        try:
            points.append((key, value, metric_step(key, step), metric_time(key, ts)))
        except InvalidInputError as exc:
            report.skipped_points += 1
            report.problem(where, str(exc))
    for i in range(0, len(points), 50_000):
        backend.log_metrics(run.run_id, points[i : i + 50_000])
    backend.finish(run.run_id, status, run.end_time if run.end_time else run.start_time)
    report.runs += 1
    report.metric_points += len(points)


# -- MLflow's file store ------------------------------------------------------------------


def _open_regular(path: str) -> bytes:
    """The bytes of a regular file; never through a symbolic link."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInputError(f"{path} is not a regular file", path=path)
        if info.st_size > MAX_META_FILE * 64:
            raise InvalidInputError(f"{path} is too large ({info.st_size} bytes)", path=path)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _read_text(path: str) -> str:
    """A text file of the store: UTF-8, a regular file, not a link (InvalidInputError)."""
    if os.path.islink(path):
        raise InvalidInputError(f"{path} is a symbolic link; links are not followed", path=path)
    try:
        return _open_regular(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path} is not UTF-8 text: {exc}", path=path) from None
    except OSError as exc:  # ELOOP: a link swapped in after the check
        raise InvalidInputError(f"{path} cannot be read: {exc}", path=path) from exc


def _yaml(path: str) -> dict[str, Any]:
    from mlopskit._optional import import_optional

    yaml = import_optional("yaml", "mlflow", purpose="reading MLflow's meta.yaml files")
    text = _read_text(path)
    if len(text) > MAX_META_FILE:
        raise InvalidInputError(f"{path} is too large for a meta.yaml", path=path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{path} is not valid YAML: {exc}", path=path) from None
    return data if isinstance(data, dict) else {}


def _key_files(base: str, report: ImportReport) -> Iterator[tuple[str, str]]:
    """(key, path) of every regular file under ``base``; links are reported and skipped."""
    if os.path.islink(base) or not os.path.isdir(base):
        if os.path.islink(base):
            report.problem(base, "a symbolic link; links are not followed")
        return
    for dirpath, dirs, files in os.walk(base, followlinks=False):
        for name in [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]:
            report.problem(os.path.join(dirpath, name), "a symbolic link; links are not followed")
            dirs.remove(name)
        for name in sorted(files):
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                report.problem(full, "a symbolic link; links are not followed")
                continue
            yield os.path.relpath(full, base).replace(os.sep, "/"), full


def _read_values(base: str, report: ImportReport) -> dict[str, str]:
    out = {}
    for key, path in _key_files(base, report):
        try:
            out[key] = _read_text(path)
        except InvalidInputError as exc:
            report.problem(path, str(exc))
    return out


def _metric_lines(key: str, path: str, report: ImportReport) -> list[tuple[str, float, int, float]]:
    """The points of one metric file; a malformed line is reported and skipped."""
    try:
        text = _read_text(path)
    except InvalidInputError as exc:
        report.problem(path, str(exc))
        return []
    points = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            if not 2 <= len(parts) <= 3:
                raise ValueError(f"expected '<timestamp ms> <value> [<step>]', found {line!r:.80}")
            step = int(parts[2]) if len(parts) > 2 else 0
            points.append((key, float(parts[1]), step, int(parts[0]) / 1000.0))
        except (ValueError, OverflowError) as exc:
            report.malformed_lines += 1
            report.problem(f"{path}:{number}", f"malformed metric line: {exc}")
    return points


def _ms(value: Any) -> float:
    """MLflow's epoch milliseconds as seconds (ValueError/TypeError when not a number)."""
    if isinstance(value, bool):
        raise TypeError("a time is a boolean")
    return float(int(value or 0)) / 1000.0


def _file_runs(
    root: str, include_deleted: bool, prefix: str, report: ImportReport
) -> Iterator[_MlflowRun]:
    for exp_dir in sorted(os.listdir(root)):
        exp_path = os.path.join(root, exp_dir)
        meta_path = os.path.join(exp_path, "meta.yaml")
        if exp_dir.startswith(".") or not os.path.isfile(meta_path):
            continue
        if os.path.islink(exp_path):
            report.problem(exp_path, "a symbolic link; links are not followed")
            continue
        try:
            meta = _yaml(meta_path)
            if meta.get("lifecycle_stage") == "deleted" and not include_deleted:
                continue
            experiment = _experiment_name(str(meta.get("name", exp_dir)), prefix)
        except InvalidInputError as exc:
            report.problem(meta_path, str(exc))
            continue
        for run_dir in sorted(os.listdir(exp_path)):
            run_path = os.path.join(exp_path, run_dir)
            run_meta_path = os.path.join(run_path, "meta.yaml")
            if not os.path.isfile(run_meta_path):
                continue
            if os.path.islink(run_path):
                report.problem(run_path, "a symbolic link; links are not followed")
                continue
            try:
                run = _file_run(run_path, run_dir, experiment, report, include_deleted)
            except (InvalidInputError, ValueError, TypeError, OverflowError) as exc:
                report.invalid_runs += 1
                report.problem(run_meta_path, str(exc))
                continue
            if run is not None:
                yield run


def _file_run(
    run_path: str, run_dir: str, experiment: str, report: ImportReport, include_deleted: bool
) -> _MlflowRun | None:
    rm = _yaml(os.path.join(run_path, "meta.yaml"))
    if rm.get("lifecycle_stage") == "deleted" and not include_deleted:
        return None
    params = _read_values(os.path.join(run_path, "params"), report)
    tags = _read_values(os.path.join(run_path, "tags"), report)
    metrics: list[tuple[str, float, int, float]] = []
    for key, path in _key_files(os.path.join(run_path, "metrics"), report):
        metrics.extend(_metric_lines(key, path, report))
    status = rm.get("status", 3)
    status = _FILE_STATUS.get(status, "UNKNOWN") if isinstance(status, int) else str(status)
    run_id = str(rm.get("run_id") or rm.get("run_uuid") or run_dir)
    end = rm.get("end_time")
    return _MlflowRun(
        run_id=run_id,
        experiment=experiment,
        name=str(rm.get("run_name") or tags.get("mlflow.runName") or f"run-{run_id[:8]}"),
        status=status,
        start_time=_ms(rm.get("start_time")),
        end_time=None if end is None else _ms(end),
        user=str(rm.get("user_id") or ""),
        params=params,
        tags=tags,
        metrics=metrics,
    )


# -- MLflow's SQLite store ----------------------------------------------------------------


def _sqlite_runs(
    path: str, include_deleted: bool, prefix: str, report: ImportReport
) -> Iterator[_MlflowRun]:
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
            metrics = []
            for k, v, s, t, is_nan in conn.execute(
                "SELECT key, value, step, timestamp, is_nan FROM metrics "
                "WHERE run_uuid = ? ORDER BY key, step, timestamp",
                (run_id,),
            ):
                try:
                    metrics.append((str(k), math.nan if is_nan else float(v), int(s or 0), _ms(t)))
                except (ValueError, TypeError, OverflowError) as exc:
                    report.malformed_lines += 1
                    report.problem(f"{path}: metric {k!r} of run {run_id!r}", f"malformed: {exc}")
            try:
                yield _MlflowRun(
                    run_id=str(run_id),
                    experiment=_experiment_name(str(exp_name), prefix),
                    name=str(name or tags.get("mlflow.runName") or f"run-{str(run_id)[:8]}"),
                    status=str(status or "FINISHED"),
                    start_time=_ms(start),
                    end_time=None if end is None else _ms(end),
                    user=str(user or ""),
                    params=params,
                    tags=tags,
                    metrics=metrics,
                )
            except (InvalidInputError, ValueError, TypeError, OverflowError) as exc:
                report.invalid_runs += 1
                report.problem(f"{path}: run {run_id!r}", str(exc))
    finally:
        conn.close()
