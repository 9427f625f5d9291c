"""``import_mlflow``: read an MLflow tracking store (file or SQLite) into mlopskit.

MLflow is not needed: the file store (``mlruns/``: ``meta.yaml`` files, one file per
param and tag, one line ``<timestamp ms> <value> <step>`` per metric point, ``inputs/``,
``outputs/``, ``datasets/``, ``models/``) and the SQLite store (tables ``experiments``,
``experiment_tags``, ``runs``, ``params``, ``tags``, ``metrics``, ``latest_metrics``,
``datasets``, ``inputs``, ``logged_models``, ``registered_models``, ``model_versions``,
``registered_model_aliases``, ``registered_model_tags``) are read directly. Run ids are
kept, so importing again skips what is there already.

What comes across: experiments (their tags as run tags ``mlflow.experimentTag.<key>``),
runs with params, tags, every metric point (NaN and ±infinity too) and their artifacts (each top-level
file or directory one run artifact, in the store: identical bytes stored once), dataset inputs (each dataset's MLflow description stored
as a JSON object, the run's input), MLflow 3 logged models (a run artifact named after
the model), and registered models with their versions (lineage to their runs), aliases
and tags, into the destination workspace's registry (``registry=False``: not). A metric's latest value reads as MLflow reads it:
among points at the same step and time the one MLflow answers (the file store's
``max(step, timestamp, value)`` in file order, the SQLite store's ``latest_metrics``
row), which the import writes last of them; a NaN latest value stays NaN.

The source is untrusted: run ids must be valid mlopskit run ids (they become file
names on the object-store backend), symbolic links are never followed (a link in
``params/`` must not import a private file as a value), MLflow's own length limits
apply to params and tags, artifacts are read only under ``artifact_root`` (the
store's own directory by default: an ``artifact_uri`` pointing at ``~/.ssh`` imports
nothing), and a malformed line or run is reported (a warning, and a count plus where
in the :class:`ImportReport`) while the import goes on.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import stat
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urlparse

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
        metric_points: points imported (NaN and ±infinity too); ``skipped_points`` were
            not (invalid keys, steps or times).
        skipped_keys: ``kind:key`` of params, tags and metrics not imported.
        malformed_lines: metric file lines that do not parse.
        artifacts: run artifacts imported into the store: each top-level file or
            directory of a run's MLflow artifacts (counted per run).
        inputs: dataset inputs recorded on runs.
        logged_models: MLflow 3 logged models imported as run artifacts.
        model_versions: registered model versions imported into the registry;
            ``skipped_model_versions`` were there already, could not be read, or
            were left out with ``registry=False``.
        experiment_tags: each imported experiment's MLflow tags.
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
    artifacts: int = 0
    inputs: int = 0
    logged_models: int = 0
    model_versions: int = 0
    skipped_model_versions: int = 0
    experiment_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def problem(self, where: str, what: str) -> None:
        """Record (and warn about) one problem in the source; the import goes on."""
        line = f"{where}: {what}"
        self.problems.append(line)
        log.warning("mlflow_import_problem", where=where, problem=what)
        warnings.warn(f"import_mlflow skipped {line}", RuntimeWarning, stacklevel=4)


@dataclass
class _LoggedModel:
    model_id: str
    name: str
    run_id: str
    artifacts: str | None  # a local directory


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
    lifecycle_stage: str = "active"
    artifacts: str | None = None  # a local directory
    inputs: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)
    models: list[_LoggedModel] = field(default_factory=list)
    #: key -> the latest value MLflow reads (SQLite's ``latest_metrics``; NaN when is_nan)
    latest: dict[str, float] | None = None


@dataclass
class _RegisteredModel:
    name: str
    tags: dict[str, str]
    aliases: dict[str, int]
    #: (MLflow version number, run id, local model directory, source)
    versions: list[tuple[int, str | None, str | None, str]]


class _ModelRegistry(Protocol):
    """What :func:`import_mlflow` needs of a registry (``mk.registry``, ``ws.registry``)."""

    def names(self) -> list[str]: ...

    def versions(self, name: str) -> Any: ...

    def register(
        self,
        name: str,
        model: Any,
        *,
        run: Any = None,
        tags: Mapping[str, str] | None = None,
        message: str = "",
    ) -> Any: ...

    def aliases(self, name: str) -> dict[str, int]: ...

    def set_alias(self, name: str, alias: str, version: int | str) -> Any: ...

    def set_tag(self, name: str, key: str, value: str) -> None: ...

    def tags(self, name: str) -> dict[str, str]: ...


@dataclass
class _Source:
    """What the readers share: where the store is, what may be read, what was found."""

    path: str
    root: str  # artifacts are read only under this directory
    include_deleted: bool
    prefix: str
    report: ImportReport
    models: list[_RegisteredModel] = field(default_factory=list)
    experiment_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    run_artifacts: dict[str, str] = field(default_factory=dict)  # run id -> local directory
    model_dirs: dict[str, str] = field(default_factory=dict)  # logged model id -> directory

    def local_dir(self, uri: str | None, where: str) -> str | None:
        """The local directory an artifact URI names, if it is one under ``root``."""
        if not uri:
            return None
        parsed = urlparse(uri)
        if parsed.scheme in ("runs", "models"):  # resolved from the imported runs and models
            return None
        if parsed.scheme not in ("", "file"):
            self.report.problem(where, f"artifacts at {uri!r} are not local; not imported")
            return None
        path = os.path.realpath(unquote(parsed.path) if parsed.scheme else uri)
        if os.path.commonpath([path, self.root]) != self.root:
            self.report.problem(
                where,
                f"artifacts at {uri!r} are outside {self.root!r}; not imported "
                "(pass artifact_root= to allow that directory)",
            )
            return None
        return path if os.path.isdir(path) else None


def _experiment_name(name: str, prefix: str) -> str:
    clean = "".join(c if c.isalnum() or c in "._@+=,-" else "_" for c in f"{prefix}{name}")
    if not clean or not (clean[0].isalnum() or clean[0] == "_"):
        clean = "_" + clean
    return check_experiment(clean[:200])


def import_mlflow(
    source: str | os.PathLike[str],
    *,
    tracker: Tracker | None = None,
    registry: _ModelRegistry | Literal[False] | None = None,
    experiment_prefix: str = "",
    include_deleted: bool = False,
    artifact_root: str | os.PathLike[str] | None = None,
) -> ImportReport:
    """Copy an MLflow store into a workspace: runs with everything they hold, and models.

    Args:
        source: an ``mlruns`` directory (or ``file:`` URI) of MLflow's file store, or a
            SQLite store (``sqlite:///path/mlflow.db`` or the ``.db`` path).
        tracker: the destination (default: the current workspace's tracker).
        registry: where registered models go (default: the registry of the
            destination workspace, the one ``tracker`` writes to, as MLflow keeps runs
            and models in one store); another registry (``ws.registry``), or
            ``False`` to import runs only (models counted in ``skipped_model_versions``).
        experiment_prefix: prepended to every experiment name.
        include_deleted: also import runs and experiments MLflow marks deleted: each such
            run is soft-deleted here too (hidden from searches until ``restore_run``) and
            tagged ``mlflow.lifecycle_stage=deleted``.
        artifact_root: the directory artifacts may be read from (default: the file
            store's directory, or the directory holding the SQLite file).

    Returns:
        An :class:`ImportReport`. Runs already present (same run id) are skipped, and so
        are model versions already imported (tag ``mlflow.version``), so importing
        again adds only what is new; NaN and infinite metric values are kept; MLflow
        runs still RUNNING are imported as KILLED with tag ``mlflow.status`` and no end
        time.
    """
    if tracker is None:
        from mlopskit.tracking._fluent import current_tracker

        tracker = current_tracker()
    raw = os.fspath(source)
    report = ImportReport(source=raw)
    runs: Iterator[_MlflowRun]
    if raw.startswith("sqlite:///") or os.path.isfile(raw):
        path = raw[len("sqlite:///") :] if raw.startswith("sqlite:///") else raw
        src = _source(path, os.path.dirname(os.path.abspath(path)), artifact_root, report)
        src.include_deleted, src.prefix = include_deleted, experiment_prefix
        runs = _sqlite_runs(src)
    else:
        path = raw[len("file://") :] if raw.startswith("file://") else raw
        path = path[len("file:") :] if path.startswith("file:") else path
        if not os.path.isdir(path):
            raise NotFoundError(f"no MLflow store at {raw!r}", path=raw)
        src = _source(path, path, artifact_root, report)
        src.include_deleted, src.prefix = include_deleted, experiment_prefix
        runs = _file_runs(src)
    seen: set[str] = set()
    imported: dict[str, str] = {}  # MLflow model id -> run artifact name
    try:
        for run in runs:
            if run.experiment not in seen:
                seen.add(run.experiment)
                report.experiments.append(run.experiment)
            _import_run(tracker, run, src, imported)
    except sqlite3.Error as exc:
        raise InvalidInputError(
            f"{raw!r} is not a readable MLflow SQLite store: {exc}", path=raw
        ) from exc
    report.experiment_tags = {k: v for k, v in src.experiment_tags.items() if k in seen}
    if registry is None:
        registry = _workspace_registry(tracker)
    _import_registered(registry, src)
    log.info("mlflow_imported", source=raw, runs=report.runs, skipped=report.skipped_runs)
    return report


def _source(path: str, default_root: str, root: Any, report: ImportReport) -> _Source:
    chosen = os.path.realpath(os.fspath(root) if root is not None else default_root)
    return _Source(path=path, root=chosen, include_deleted=False, prefix="", report=report)


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


def _mlflow_order(
    points: list[tuple[str, float, int, float]], latest: float | None
) -> list[tuple[str, float, int, float]]:
    """The metric's points by (step, time), the one MLflow reads as latest written last.

    mlopskit's latest is the last written of the highest (step, time); MLflow's is the
    SQLite store's ``latest_metrics`` value (``latest``) when there is one among those
    points, else the file store's ``max(..., key=(step, timestamp, value))`` over the
    points in file order, with Python's comparisons (a NaN compares false, so of equal
    (step, time) the earlier point stays against it).
    """
    top = max(range(len(points)), key=lambda i: (points[i][2], points[i][3], points[i][1]))
    if latest is not None:
        at = (points[top][2], points[top][3])
        same = [
            i
            for i, p in enumerate(points)
            if (p[2], p[3]) == at and (p[1] == latest or (math.isnan(p[1]) and math.isnan(latest)))
        ]
        if same:
            top = same[-1]
    rest = points[:top] + points[top + 1 :]
    rest.sort(key=lambda p: (p[2], p[3]))
    return [*rest, points[top]]


def _import_run(tracker: Tracker, run: _MlflowRun, src: _Source, imported: dict[str, str]) -> None:
    report = src.report
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
    raw_tags = dict(run.tags)
    for key, value in src.experiment_tags.get(run.experiment, {}).items():
        raw_tags.setdefault(f"mlflow.experimentTag.{key}", value)
    if run.lifecycle_stage == "deleted":
        raw_tags["mlflow.lifecycle_stage"] = "deleted"
    tags = _clean(raw_tags, report, "tag", where)
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
    by_key: dict[str, list[tuple[str, float, int, float]]] = {}
    for point in run.metrics:
        by_key.setdefault(point[0], []).append(point)
    points: list[MetricPoint] = []
    for key, series in sorted(by_key.items()):
        try:
            check_key(key)
        except InvalidInputError:
            report.skipped_keys.append(f"metric:{key}")
            report.skipped_points += len(series)
            continue
        # ours is the last written of the highest (step, time): MLflow's latest goes last
        latest = None if run.latest is None else run.latest.get(key)
        for _, number, step, ts in _mlflow_order(series, latest):
            try:
                points.append((key, number, metric_step(key, step), metric_time(key, ts)))
            except InvalidInputError as exc:
                report.skipped_points += 1
                report.problem(where, str(exc))
    for i in range(0, len(points), 50_000):
        backend.log_metrics(run.run_id, points[i : i + 50_000])
    has_artifacts = run.artifacts is not None and bool(os.listdir(run.artifacts))
    if has_artifacts or run.models or run.inputs:  # a handle costs a read
        handle = tracker.get_run(run.run_id)
        _import_artifacts(handle, run, src, imported)
        for description, context in run.inputs:
            body = json.dumps(description, sort_keys=True).encode()
            ref = tracker.store.put_bytes(body, media_type="application/json")
            name = description.get("name")
            handle.log_input(ref, name=name if isinstance(name, str) else None, context=context)
            report.inputs += 1
    if run.artifacts is not None:
        src.run_artifacts[run.run_id] = run.artifacts
    _finish(backend, run, status)
    if run.lifecycle_stage == "deleted":  # soft-deleted here too: hidden, restorable
        tracker.delete_run(run.run_id, reason="deleted in MLflow")
    report.runs += 1
    report.metric_points += len(points)


def _finish(backend: Any, run: _MlflowRun, status: str) -> None:
    """End the imported run; one MLflow never ended keeps no end time."""
    backend.finish(run.run_id, status, run.end_time or None)


def _import_artifacts(handle: Any, run: _MlflowRun, src: _Source, imported: dict[str, str]) -> None:
    """The run's artifacts, and its MLflow 3 logged models, into the store.

    Each top-level entry of MLflow's artifact directory (what ``list_artifacts`` shows)
    becomes one run artifact: a file, or a directory (``model/``) as one tree, so that
    ``runs:/<id>/model`` names one artifact here too.
    """
    report = src.report
    taken: set[str] = set()
    if run.artifacts is not None:
        for entry in sorted(os.listdir(run.artifacts)):
            path = os.path.join(run.artifacts, entry)
            if os.path.islink(path):
                report.problem(path, "a symbolic link; links are not followed")
                continue
            try:
                handle.log_artifact(path, name=entry)
            except InvalidInputError as exc:
                report.problem(path, f"artifact not imported: {exc}")
                continue
            taken.add(entry)
            report.artifacts += 1
    for model in run.models:
        if model.artifacts is None:
            report.problem(f"logged model {model.model_id!r}", "no local artifacts; not imported")
            continue
        name = model.name if model.name not in taken else f"models/{model.model_id}"
        try:
            handle.log_artifact(model.artifacts, name=name)
        except InvalidInputError as exc:
            report.problem(f"logged model {model.model_id!r}", f"not imported: {exc}")
            continue
        taken.add(name)
        imported[model.model_id] = name
        src.model_dirs[model.model_id] = model.artifacts
        report.logged_models += 1


def _runs_uri_dir(source: str, src: _Source) -> str | None:
    """The local directory of a ``runs:/<run_id>/<path>`` source (MLflow 2's versions) or
    a ``models:/<model id>`` one (MLflow 3's), when that run or logged model was imported
    here; never outside its directory."""
    if source.startswith("models:/"):
        return src.model_dirs.get(source[len("models:/") :])
    if not source.startswith("runs:/"):
        return None
    run_id, _, path = source[len("runs:/") :].partition("/")
    base = src.run_artifacts.get(run_id)
    if base is None:
        return None
    full = os.path.realpath(os.path.join(base, path))
    if os.path.commonpath([full, os.path.realpath(base)]) != os.path.realpath(base):
        return None
    return full if os.path.isdir(full) else None


def _workspace_registry(tracker: Tracker) -> _ModelRegistry:
    """The registry of the workspace ``tracker`` writes to (its store)."""
    # The one import of the registry layer from tracking (declared in pyproject's
    # import-linter contract): importing MLflow's models is part of importing its store.
    from mlopskit.registry import Registry

    return Registry(tracker.store)


def _import_registered(registry: _ModelRegistry | Literal[False], src: _Source) -> None:
    """Registered models: each version (from its directory, run as lineage), aliases, tags."""
    report = src.report
    for model in src.models:
        where = f"registered model {model.name!r}"
        if registry is False:  # asked for runs only: counted, not a problem
            report.skipped_model_versions += len(model.versions)
            continue
        known = registry.names()
        done: dict[int, int] = {}
        if model.name in known:
            for mv in registry.versions(model.name):
                number = mv.tags.get("mlflow.version")
                if number is not None and str(number).isdigit():
                    done[int(number)] = mv.number
        for number, run_id, directory, source in sorted(model.versions):
            if number in done:
                report.skipped_model_versions += 1
                continue
            if directory is None:
                directory = _runs_uri_dir(source, src)
            if directory is None:
                report.skipped_model_versions += 1
                report.problem(f"{where} version {number}", f"{source!r} is not readable here")
                continue
            try:
                mv = registry.register(
                    model.name,
                    Path(directory),
                    run=run_id,
                    tags={"mlflow.version": str(number), "mlflow.source": source},
                    message=f"imported from MLflow: {model.name} version {number}",
                )
            except (InvalidInputError, NotFoundError) as exc:
                report.skipped_model_versions += 1
                report.problem(f"{where} version {number}", str(exc))
                continue
            done[number] = mv.number
            report.model_versions += 1
        current = registry.aliases(model.name) if done else {}
        for alias, number in sorted(model.aliases.items()):
            target = done.get(number)
            if target is None:
                report.problem(
                    where, f"alias {alias!r} -> version {number}, which was not imported"
                )
            elif current.get(alias) != target:
                registry.set_alias(model.name, alias, target)
        if done:
            existing = registry.tags(model.name)
            for key, value in sorted(model.tags.items()):
                if existing.get(key) != value:
                    registry.set_tag(model.name, key, value)


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
            if len(parts) not in (2, 3, 5):
                raise ValueError(
                    "expected '<timestamp ms> <value> [<step> [<dataset> <digest>]]', "
                    f"found {line!r:.80}"
                )
            # MLflow 3 appends the dataset a metric was computed on; its reader
            # (FileStore._get_metric_from_line) then reads the step as 0: so do we
            step = int(parts[2]) if len(parts) == 3 else 0
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


def _file_runs(src: _Source) -> Iterator[_MlflowRun]:
    root, report = src.path, src.report
    _file_registered(src)
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
            exp_deleted = meta.get("lifecycle_stage") == "deleted"
            if exp_deleted and not src.include_deleted:
                continue
            experiment = _experiment_name(str(meta.get("name", exp_dir)), src.prefix)
        except InvalidInputError as exc:
            report.problem(meta_path, str(exc))
            continue
        src.experiment_tags[experiment] = _read_values(os.path.join(exp_path, "tags"), report)
        models = _file_logged_models(src, exp_path)
        for run_dir in sorted(os.listdir(exp_path)):
            run_path = os.path.join(exp_path, run_dir)
            run_meta_path = os.path.join(run_path, "meta.yaml")
            if not os.path.isfile(run_meta_path):
                continue
            if os.path.islink(run_path):
                report.problem(run_path, "a symbolic link; links are not followed")
                continue
            try:
                run = _file_run(run_path, run_dir, experiment, src)
            except (InvalidInputError, ValueError, TypeError, OverflowError) as exc:
                report.invalid_runs += 1
                report.problem(run_meta_path, str(exc))
                continue
            if run is not None:
                if exp_deleted:
                    run.lifecycle_stage = "deleted"
                run.models = [m for m in models if m.run_id == run.run_id]
                run.inputs = _file_inputs(exp_path, run_path, src)
                yield run


def _subdirs(path: str, report: ImportReport) -> list[str]:
    """The directories in ``path`` (links reported, not followed)."""
    if os.path.islink(path) or not os.path.isdir(path):
        return []
    out = []
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.islink(full):
            report.problem(full, "a symbolic link; links are not followed")
        elif os.path.isdir(full):
            out.append(full)
    return out


def _file_logged_models(src: _Source, exp_path: str) -> list[_LoggedModel]:
    """MLflow 3 logged models of an experiment (``<exp>/models/m-<id>/``)."""
    out = []
    for path in _subdirs(os.path.join(exp_path, "models"), src.report):
        meta_path = os.path.join(path, "meta.yaml")
        if not os.path.isfile(meta_path):
            continue
        try:
            meta = _yaml(meta_path)
        except InvalidInputError as exc:
            src.report.problem(meta_path, str(exc))
            continue
        model_id = str(meta.get("model_id") or os.path.basename(path))
        local = os.path.join(path, "artifacts")
        out.append(
            _LoggedModel(
                model_id=model_id,
                name=str(meta.get("name") or "model"),
                run_id=str(meta.get("source_run_id") or ""),
                artifacts=src.local_dir(local, meta_path),
            )
        )
    return out


def _file_inputs(
    exp_path: str, run_path: str, src: _Source
) -> list[tuple[dict[str, Any], str | None]]:
    """A run's dataset inputs: each dataset's description with the input's context."""
    out: list[tuple[dict[str, Any], str | None]] = []
    for path in _subdirs(os.path.join(run_path, "inputs"), src.report):
        meta_path = os.path.join(path, "meta.yaml")
        try:
            meta = _yaml(meta_path)
            if meta.get("source_type") != "DATASET":
                continue
            dataset_id = str(meta.get("source_id") or "")
            if not dataset_id or "/" in dataset_id or dataset_id.startswith("."):
                raise InvalidInputError(f"dataset id {dataset_id!r} is not a dataset id")
            dataset = _yaml(os.path.join(exp_path, "datasets", dataset_id, "meta.yaml"))
        except (InvalidInputError, OSError) as exc:
            src.report.problem(meta_path, f"dataset input not imported: {exc}")
            continue
        tags = meta.get("tags")
        context = tags.get("mlflow.data.context") if isinstance(tags, dict) else None
        out.append((_dataset(dataset), None if context is None else str(context)))
    return out


def _dataset(fields: Mapping[str, Any]) -> dict[str, Any]:
    """MLflow's description of a dataset, as the JSON object stored for it."""
    keys = ("name", "digest", "source_type", "source", "schema", "profile")
    return {"format": "mlflow.dataset", **{k: fields.get(k) for k in keys}}


def _file_registered(src: _Source) -> None:
    """``mlruns/models/<name>/``: versions, aliases and tags of each registered model."""
    report = src.report
    for path in _subdirs(os.path.join(src.path, "models"), report):
        meta_path = os.path.join(path, "meta.yaml")
        if not os.path.isfile(meta_path):
            continue
        try:
            meta = _yaml(meta_path)
            name = str(meta.get("name") or os.path.basename(path))
            aliases = {
                str(k): int(v) for k, v in (meta.get("aliases") or {}).items() if str(v).isdigit()
            }
        except (InvalidInputError, AttributeError, ValueError) as exc:
            report.problem(meta_path, str(exc))
            continue
        versions = []
        for vpath in _subdirs(path, report):
            vmeta_path = os.path.join(vpath, "meta.yaml")
            if not os.path.basename(vpath).startswith("version-") or not os.path.isfile(vmeta_path):
                continue
            try:
                vmeta = _yaml(vmeta_path)
                number = int(vmeta["version"])
            except (InvalidInputError, KeyError, ValueError, TypeError) as exc:
                report.problem(vmeta_path, f"not a model version: {exc}")
                continue
            if vmeta.get("current_stage") == "Deleted_Internal":
                continue
            location = vmeta.get("storage_location") or vmeta.get("source")
            run_id = vmeta.get("run_id")
            versions.append(
                (
                    number,
                    None if run_id is None else str(run_id),
                    src.local_dir(None if location is None else str(location), vmeta_path),
                    str(vmeta.get("source") or ""),
                )
            )
        tags = _read_values(os.path.join(path, "tags"), report)
        src.models.append(_RegisteredModel(name, tags, aliases, versions))


def _file_run(run_path: str, run_dir: str, experiment: str, src: _Source) -> _MlflowRun | None:
    report = src.report
    rm = _yaml(os.path.join(run_path, "meta.yaml"))
    if rm.get("lifecycle_stage") == "deleted" and not src.include_deleted:
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
        lifecycle_stage=str(rm.get("lifecycle_stage") or "active"),
        artifacts=src.local_dir(os.path.join(run_path, "artifacts"), run_path),
    )


# -- MLflow's SQLite store ----------------------------------------------------------------


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _sqlite_runs(src: _Source) -> Iterator[_MlflowRun]:
    path, report = src.path, src.report
    if not os.path.isfile(path):
        raise NotFoundError(f"no MLflow SQLite store at {path!r}", path=path)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = _tables(conn)
        exps = {
            row[0]: (row[1], row[2])
            for row in conn.execute("SELECT experiment_id, name, lifecycle_stage FROM experiments")
        }
        exp_tags: dict[Any, dict[str, str]] = {}
        if "experiment_tags" in tables:
            for key, value, exp_id in conn.execute(
                "SELECT key, value, experiment_id FROM experiment_tags"
            ):
                exp_tags.setdefault(exp_id, {})[str(key)] = str(value)
        for exp_id, (exp_name, _) in exps.items():
            try:
                name = _experiment_name(str(exp_name), src.prefix)
            except InvalidInputError:
                continue
            src.experiment_tags[name] = exp_tags.get(exp_id, {})
        models = _sqlite_logged_models(conn, tables, src)
        _sqlite_registered(conn, tables, src)
        runs = conn.execute(
            "SELECT run_uuid, name, user_id, status, start_time, end_time, lifecycle_stage, "
            "experiment_id, artifact_uri FROM runs ORDER BY start_time"
        ).fetchall()
        for run_id, name, user, status, start, end, stage, exp_id, art in runs:
            exp_name, exp_stage = exps.get(exp_id, (str(exp_id), "active"))
            deleted = "deleted" in (stage, exp_stage)
            if deleted and not src.include_deleted:
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
            latest = None
            if "latest_metrics" in tables:  # MLflow's own answer for the latest values
                latest = {}
                for k, v, n in conn.execute(
                    "SELECT key, value, is_nan FROM latest_metrics WHERE run_uuid = ?", (run_id,)
                ):
                    try:
                        latest[str(k)] = math.nan if n else float(v)
                    except (ValueError, TypeError, OverflowError):
                        continue  # unreadable: the file-store rule decides
            try:
                yield _MlflowRun(
                    run_id=str(run_id),
                    experiment=_experiment_name(str(exp_name), src.prefix),
                    name=str(name or tags.get("mlflow.runName") or f"run-{str(run_id)[:8]}"),
                    status=str(status or "FINISHED"),
                    start_time=_ms(start),
                    end_time=None if end is None else _ms(end),
                    user=str(user or ""),
                    params=params,
                    tags=tags,
                    metrics=metrics,
                    lifecycle_stage="deleted" if deleted else "active",
                    artifacts=src.local_dir(None if art is None else str(art), f"run {run_id!r}"),
                    inputs=_sqlite_inputs(conn, tables, str(run_id)),
                    models=[m for m in models if m.run_id == str(run_id)],
                    latest=latest,
                )
            except (InvalidInputError, ValueError, TypeError, OverflowError) as exc:
                report.invalid_runs += 1
                report.problem(f"{path}: run {run_id!r}", str(exc))
    finally:
        conn.close()


def _sqlite_logged_models(
    conn: sqlite3.Connection, tables: set[str], src: _Source
) -> list[_LoggedModel]:
    if "logged_models" not in tables:
        return []
    return [
        _LoggedModel(
            model_id=str(model_id),
            name=str(name or "model"),
            run_id=str(run_id or ""),
            artifacts=src.local_dir(location, f"logged model {model_id!r}"),
        )
        for model_id, name, location, run_id in conn.execute(
            "SELECT model_id, name, artifact_location, source_run_id FROM logged_models "
            "WHERE lifecycle_stage IS NULL OR lifecycle_stage != 'deleted'"
        )
    ]


def _sqlite_inputs(
    conn: sqlite3.Connection, tables: set[str], run_id: str
) -> list[tuple[dict[str, Any], str | None]]:
    if not {"inputs", "datasets"} <= tables:
        return []
    rows = conn.execute(
        "SELECT i.input_uuid, d.name, d.digest, d.dataset_source_type, d.dataset_source, "
        "d.dataset_schema, d.dataset_profile FROM inputs i JOIN datasets d "
        "ON i.source_id = d.dataset_uuid WHERE i.source_type = 'DATASET' "
        "AND i.destination_type = 'RUN' AND i.destination_id = ? ORDER BY i.input_uuid",
        (run_id,),
    ).fetchall()
    out: list[tuple[dict[str, Any], str | None]] = []
    for input_id, *fields in rows:
        context = None
        if "input_tags" in tables:
            found = conn.execute(
                "SELECT value FROM input_tags WHERE input_uuid = ? AND name = ?",
                (input_id, "mlflow.data.context"),
            ).fetchone()
            context = None if found is None else str(found[0])
        keys = ("name", "digest", "source_type", "source", "schema", "profile")
        out.append((_dataset(dict(zip(keys, fields, strict=True))), context))
    return out


def _sqlite_registered(conn: sqlite3.Connection, tables: set[str], src: _Source) -> None:
    if not {"registered_models", "model_versions"} <= tables:
        return
    for (name,) in conn.execute("SELECT name FROM registered_models ORDER BY name").fetchall():
        tags: dict[str, str] = {}
        if "registered_model_tags" in tables:
            tags = {
                str(k): str(v)
                for k, v in conn.execute(
                    "SELECT key, value FROM registered_model_tags WHERE name = ?", (name,)
                )
            }
        aliases: dict[str, int] = {}
        if "registered_model_aliases" in tables:
            aliases = {
                str(a): int(v)
                for a, v in conn.execute(
                    "SELECT alias, version FROM registered_model_aliases WHERE name = ?", (name,)
                )
            }
        versions = []
        for number, run_id, location, source, stage in conn.execute(
            "SELECT version, run_id, storage_location, source, current_stage "
            "FROM model_versions WHERE name = ? ORDER BY version",
            (name,),
        ):
            if stage == "Deleted_Internal":
                continue
            where = f"registered model {name!r} version {number}"
            local = src.local_dir(str(location or source or ""), where)
            versions.append(
                (int(number), None if run_id is None else str(run_id), local, str(source or ""))
            )
        src.models.append(_RegisteredModel(str(name), tags, aliases, versions))
