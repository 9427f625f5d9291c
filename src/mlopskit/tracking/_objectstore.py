"""The object-store backend: runs as immutable segment files over fsspec, no lock, no server.

Layout under ``<workspace>/tracking/`` (stable; another tool can read it)::

    runs/<run_id>.json                              the run's identity, created once
                                                    (create-only: exactly one creator wins)
    experiments/<experiment>/<run_id>/<time_ns:020d>-<writer>-<seq:08d>.jsonl
                                                    segments: immutable batches of events,
                                                    each written once by one writer
    writers/<writer>.json                           a writer's heartbeat (host, pid, time),
                                                    rewritten only by that writer

A segment is JSON lines: a header ``{"format": "mlopskit.tracking.segment/1", "writer",
"seq", "time"}`` then events, each an object with ``"e"``: ``create`` (``run``: the
identity), ``attach``/``detach`` (``writer``, ``host``, ``pid``), ``params``/``tags``
(``values``), ``metrics`` (``key``, ``steps``, ``values``, ``times``), ``artifact``
(``name``, ``ref``), ``input`` (``digest``, ``name``, ``context``), ``status``
(``status``, ``end_time``); every event but ``metrics`` has a ``time``.

Readers merge every segment of a run: events in time order, the first value of a
param wins, the last tag, status and artifact of a name win, a metric's latest value
is the one with the highest (step, time). Because each writer only ever creates new
files with names no other writer uses, any number of processes on any number of
machines can write one run or one experiment at once.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, TypeVar

from mlopskit._log import get_logger
from mlopskit.errors import IntegrityError, NotFoundError, StorageError
from mlopskit.store import ArtifactRef
from mlopskit.tracking._backend import new_writer_id
from mlopskit.tracking._model import (
    MetricPoint,
    RunInput,
    RunRecord,
    WriterInfo,
    check_param_conflicts,
)

__all__ = ["SEGMENT_FORMAT", "ObjectStoreBackend"]

log = get_logger("mlopskit.tracking")
T = TypeVar("T")

SEGMENT_FORMAT = "mlopskit.tracking.segment/1"
RUN_FORMAT = "mlopskit.tracking.run/1"
_CACHE_LIMIT = 200_000  # parsed segments kept in memory (they never change)


class ObjectStoreBackend:
    """Runs as segment files under ``<root>/tracking/`` on any fsspec filesystem.

    Args:
        url: the workspace root (``s3://bucket/prefix``, ``memory://x``, a path, …).
        storage_options: passed to fsspec.
        attempts: tries of a write that fails with an OSError before StorageError.
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        *,
        storage_options: dict[str, Any] | None = None,
        attempts: int = 5,
        retry_delay: float = 0.05,
    ) -> None:
        from mlopskit.store._fs import Location

        self._loc = Location(url, storage_options)
        self.url = self._loc.url
        self.attempts = attempts
        self.retry_delay = retry_delay
        self.writer_id = new_writer_id()
        self._pid = os.getpid()
        self._seq = 0
        self._lock = threading.Lock()
        self._segments: dict[str, list[dict[str, Any]]] = {}
        self._experiment_of: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"ObjectStoreBackend({self.url!r})"

    # -- paths -------------------------------------------------------------------------

    def _path(self, *parts: str) -> str:
        return self._loc.join("tracking", *parts)

    def _fresh_writer(self) -> str:
        if self._pid != os.getpid():  # forked: a child is a new writer
            self._pid = os.getpid()
            self.writer_id = new_writer_id()
            self._seq = 0
        return self.writer_id

    # -- writing -----------------------------------------------------------------------

    def _retry(self, fn: Callable[[], T], what: str) -> T:
        delay = self.retry_delay
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except (FileExistsError, FileNotFoundError, PermissionError):
                raise
            except OSError as exc:
                if attempt == self.attempts:
                    raise StorageError(
                        f"{what} failed after {attempt} attempts: {exc}", url=self.url
                    ) from exc
                log.warning("tracking_write_retry", what=what, attempt=attempt, error=str(exc))
                time.sleep(delay)
                delay = min(delay * 3, 2.0)
        raise AssertionError("unreachable")  # pragma: no cover

    def _create(self, path: str, data: bytes, what: str) -> None:
        """Create ``path``; a retry that finds our own bytes there counts as success."""
        first = [True]

        def attempt() -> None:
            try:
                self._loc.write_create_only(path, data)
            except FileExistsError:
                if first[0]:
                    raise
                if self._loc.fs.cat_file(path) != data:
                    raise
            finally:
                first[0] = False

        try:
            self._retry(attempt, what)
        except StorageError:
            raise
        except FileExistsError:
            raise
        except OSError as exc:  # pragma: no cover - defensive
            raise StorageError(f"{what} failed: {exc}", url=self.url) from exc

    def _append(self, experiment: str, run_id: str, events: list[dict[str, Any]]) -> None:
        writer = self._fresh_writer()
        with self._lock:
            self._seq += 1
            seq = self._seq
        now = time.time()
        header = {"format": SEGMENT_FORMAT, "writer": writer, "seq": seq, "time": now}
        data = "\n".join(json.dumps(e, separators=(",", ":")) for e in [header, *events])
        name = f"{time.time_ns():020d}-{writer}-{seq:08d}.jsonl"
        path = self._path("experiments", experiment, run_id, name)
        self._create(path, (data + "\n").encode(), f"write segment {name}")

    def _identity(self, run_id: str) -> dict[str, Any]:
        path = self._path("runs", f"{run_id}.json")
        try:
            data = self._retry(lambda: self._loc.fs.cat_file(path), f"read {path}")
        except FileNotFoundError:
            raise NotFoundError(f"no run {run_id!r} in {self.url}", run_id=run_id) from None
        try:
            ident: dict[str, Any] = json.loads(data)
        except ValueError as exc:
            raise IntegrityError(f"run identity {path} is damaged: {exc}", path=path) from exc
        return ident

    def _experiment(self, run_id: str) -> str:
        exp = self._experiment_of.get(run_id)
        if exp is None:
            exp = str(self._identity(run_id)["experiment"])
            self._experiment_of[run_id] = exp
        return exp

    def _attach_event(self) -> dict[str, Any]:
        return {
            "e": "attach",
            "time": time.time(),
            "writer": self._fresh_writer(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }

    def create_run(self, record: RunRecord) -> bool:
        """Create the identity file (create-only) and the first segment."""
        ident = {
            "format": RUN_FORMAT,
            "run_id": record.run_id,
            "experiment": record.experiment,
            "name": record.name,
            "start_time": record.start_time,
            "parent_id": record.parent_id,
            "user": record.user,
            "host": record.host,
        }
        data = json.dumps(ident, sort_keys=True).encode()
        try:
            self._create(self._path("runs", f"{record.run_id}.json"), data, "create run")
        except FileExistsError:
            return False
        self._experiment_of[record.run_id] = record.experiment
        self.heartbeat()
        events: list[dict[str, Any]] = [
            {"e": "create", "time": record.start_time, "run": ident},
            self._attach_event(),
        ]
        if record.params:
            events.append({"e": "params", "time": record.start_time, "values": record.params})
        if record.tags:
            events.append({"e": "tags", "time": record.start_time, "values": record.tags})
        self._append(record.experiment, record.run_id, events)
        return True

    def attach(self, run_id: str) -> None:
        """Attach this writer and mark the run RUNNING again."""
        self.heartbeat()
        self._append(self._experiment(run_id), run_id, [self._attach_event()])

    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        """Append params after checking them against what is stored."""
        if not params:
            return
        check_param_conflicts(run_id, self.get_run(run_id).params, params)
        self._append(
            self._experiment(run_id),
            run_id,
            [{"e": "params", "time": time.time(), "values": params}],
        )

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        """Append tags."""
        if tags:
            self._append(
                self._experiment(run_id),
                run_id,
                [{"e": "tags", "time": time.time(), "values": tags}],
            )

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        """Append one segment holding the batch, one event per key (columnar)."""
        if not points:
            return
        by_key: dict[str, tuple[list[int], list[float], list[float]]] = {}
        for key, value, step, ts in points:
            cols = by_key.get(key)
            if cols is None:
                cols = by_key[key] = ([], [], [])
            cols[0].append(step)
            cols[1].append(value)
            cols[2].append(ts)
        events = [
            {"e": "metrics", "key": k, "steps": s, "values": v, "times": t}
            for k, (s, v, t) in by_key.items()
        ]
        self._append(self._experiment(run_id), run_id, events)

    def log_artifact(self, run_id: str, name: str, ref: ArtifactRef) -> None:
        """Append an artifact event."""
        event = {
            "e": "artifact",
            "time": time.time(),
            "name": name,
            "ref": ref.model_dump(mode="json"),
        }
        self._append(self._experiment(run_id), run_id, [event])

    def log_input(self, run_id: str, item: RunInput) -> None:
        """Append an input event."""
        event = {
            "e": "input",
            "time": time.time(),
            "digest": item.digest,
            "name": item.name,
            "context": item.context,
        }
        self._append(self._experiment(run_id), run_id, [event])

    def finish(self, run_id: str, status: str, end_time: float) -> None:
        """Append the final status and this writer's detach."""
        self._append(
            self._experiment(run_id),
            run_id,
            [
                {"e": "status", "time": end_time, "status": status, "end_time": end_time},
                {"e": "detach", "time": end_time, "writer": self._fresh_writer()},
            ],
        )

    def heartbeat(self) -> None:
        """Rewrite this writer's heartbeat file (only this writer writes it)."""
        writer = self._fresh_writer()
        body = json.dumps(
            {
                "writer": writer,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "time": time.time(),
            }
        ).encode()
        path = self._path("writers", f"{writer}.json")
        self._retry(lambda: self._loc.write_atomic(path, [body]), "write heartbeat")

    def close(self) -> None:
        """Drop cached segments."""
        self._segments.clear()

    # -- reading -----------------------------------------------------------------------

    def _find(self, base: str) -> list[str]:
        fs = self._loc.fs
        if not self._loc.is_local:
            fs.invalidate_cache(base)
        try:
            found = self._retry(lambda: fs.find(base), f"list {base}")
        except FileNotFoundError:
            return []
        return sorted(p for p in found if p.endswith(".jsonl"))

    def _load(self, paths: list[str]) -> dict[str, list[dict[str, Any]]]:
        missing = [p for p in paths if p not in self._segments]
        if missing:
            fs = self._loc.fs
            if self._loc.is_local or self._loc.is_memory:
                blobs = {p: fs.cat_file(p) for p in missing}
            else:
                raw = self._retry(lambda: fs.cat(missing, on_error="raise"), "read segments")
                blobs = {p: raw.get(p, raw.get(fs._strip_protocol(p))) for p in missing}
            if len(self._segments) + len(blobs) > _CACHE_LIMIT:
                self._segments.clear()
            for path, blob in blobs.items():
                self._segments[path] = _parse_segment(path, blob)
        return {p: self._segments[p] for p in paths}

    def _runs_from(self, paths: list[str]) -> dict[str, list[str]]:
        """Group segment paths by run id (the parent directory's name)."""
        runs: dict[str, list[str]] = {}
        for path in paths:
            head, _, _leaf = path.rpartition("/")
            runs.setdefault(head.rpartition("/")[2], []).append(path)
        return runs

    def _read_run(self, segments: list[str], keys: Collection[str] | None) -> RunRecord | None:
        events: list[tuple[float, int, dict[str, Any]]] = []
        metrics: dict[str, tuple[int, float, float]] = {}
        loaded = self._load(segments)
        order = 0
        for path in segments:
            for event in loaded[path]:
                order += 1
                if event["e"] == "metrics":
                    key = event["key"]
                    best = metrics.get(key)
                    for s, v, t in zip(event["steps"], event["values"], event["times"]):
                        if best is None or (s, t) >= (best[0], best[2]):
                            best = (s, v, t)
                    if best is not None:
                        metrics[key] = best
                else:
                    events.append((float(event.get("time", 0.0)), order, event))
        events.sort(key=lambda x: (x[0], x[1]))
        return _merge([e for _, _, e in events], metrics, keys)

    def _writers(self, records: Iterable[RunRecord]) -> None:
        wanted = {w.writer_id for r in records for w in r.writers}
        if not wanted:
            return
        paths = [self._path("writers", f"{w}.json") for w in sorted(wanted)]
        beats: dict[str, float] = {}
        for path, writer in zip(paths, sorted(wanted)):
            try:
                beats[writer] = float(json.loads(self._loc.fs.cat_file(path))["time"])
            except (FileNotFoundError, ValueError, KeyError):
                continue
        for rec in records:
            rec.writers = [
                WriterInfo(
                    w.writer_id,
                    w.host,
                    w.pid,
                    max(w.heartbeat, beats.get(w.writer_id, 0)),
                    w.active,
                )
                for w in rec.writers
            ]

    def get_run(self, run_id: str) -> RunRecord:
        """The merged state of one run."""
        experiment = self._experiment(run_id)
        segments = self._find(self._path("experiments", experiment, run_id))
        rec = self._read_run(segments, None) if segments else None
        if rec is None:
            raise NotFoundError(
                f"run {run_id!r} has an identity but no segments in {self.url} "
                "(its creator died before writing one)",
                run_id=run_id,
            )
        if rec.status == "RUNNING":
            self._writers([rec])
        return rec

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float, float]]:
        """Every point of ``key``, merged across segments, by step then time."""
        experiment = self._experiment(run_id)
        segments = self._find(self._path("experiments", experiment, run_id))
        out: list[tuple[int, float, float]] = []
        for events in self._load(segments).values():
            for event in events:
                if event["e"] == "metrics" and event["key"] == key:
                    out.extend(zip(event["steps"], event["values"], event["times"]))
        out.sort(key=lambda p: (p[0], p[2]))
        return out

    def metric_keys(self, run_id: str) -> list[str]:
        """Names of the metrics logged in ``run_id``."""
        return sorted(self.get_run(run_id).metrics)

    def list_runs(
        self,
        experiments: Collection[str] | None = None,
        *,
        run_ids: Collection[str] | None = None,
        keys: Collection[str] | None = None,
    ) -> list[RunRecord]:
        """Merged runs of ``experiments`` (or exactly ``run_ids``)."""
        if run_ids is not None:
            wanted = set(run_ids)
            exps = set()
            for rid in wanted:
                try:
                    exps.add(self._experiment(rid))
                except NotFoundError:
                    continue
        else:
            wanted = None
            exps = set(self.experiments() if experiments is None else experiments)
        paths: list[str] = []
        for exp in sorted(exps):
            paths.extend(self._find(self._path("experiments", exp)))
        records = []
        for run_id, segments in self._runs_from(paths).items():
            if wanted is not None and run_id not in wanted:
                continue
            rec = self._read_run(segments, keys)
            if rec is not None:
                rec.artifacts = {}
                rec.inputs = []
                records.append(rec)
        self._writers([r for r in records if r.status == "RUNNING"])
        return records

    def experiments(self) -> list[str]:
        """Experiment names (directories under ``tracking/experiments/``)."""
        base = self._path("experiments")
        fs = self._loc.fs
        if not self._loc.is_local:
            fs.invalidate_cache(base)
        try:
            entries = fs.ls(base, detail=False)
        except FileNotFoundError:
            return []
        return sorted(e.rstrip("/").rpartition("/")[2] for e in entries)


def _parse_segment(path: str, blob: bytes) -> list[dict[str, Any]]:
    lines = blob.decode().splitlines()
    try:
        header = json.loads(lines[0]) if lines else {}
        if header.get("format") != SEGMENT_FORMAT:
            raise ValueError(f"unknown segment format {header.get('format')!r}")
        return [json.loads(line) for line in lines[1:] if line]
    except ValueError as exc:
        raise IntegrityError(f"tracking segment {path} is damaged: {exc}", path=path) from exc


def _merge(
    events: list[dict[str, Any]],
    metrics: dict[str, tuple[int, float, float]],
    keys: Collection[str] | None,
) -> RunRecord | None:
    rec: RunRecord | None = None
    writers: dict[str, WriterInfo] = {}
    for event in events:
        kind = event["e"]
        if kind == "create":
            ident = event["run"]
            rec = RunRecord(
                run_id=ident["run_id"],
                experiment=ident["experiment"],
                name=ident["name"],
                status="RUNNING",
                start_time=ident["start_time"],
                parent_id=ident["parent_id"],
                user=ident.get("user", ""),
                host=ident.get("host", ""),
            )
        elif rec is None:
            continue
        elif kind == "params":
            for k, v in event["values"].items():
                rec.params.setdefault(k, v)
        elif kind == "tags":
            rec.tags.update(event["values"])
        elif kind == "status":
            rec.status = event["status"]
            rec.end_time = event.get("end_time")
        elif kind == "attach":
            rec.status = "RUNNING"
            rec.end_time = None
            writers[event["writer"]] = WriterInfo(
                event["writer"], event.get("host", ""), int(event.get("pid", 0)), event["time"]
            )
        elif kind == "detach":
            w = writers.get(event["writer"])
            if w is not None:
                writers[event["writer"]] = WriterInfo(
                    w.writer_id, w.host, w.pid, w.heartbeat, False
                )
        elif kind == "artifact":
            rec.artifacts[event["name"]] = ArtifactRef.model_validate(event["ref"])
        elif kind == "input":
            item = RunInput(event["digest"], event.get("name"), event.get("context"))
            rec.inputs = [i for i in rec.inputs if i.digest != item.digest] + [item]
    if rec is None:
        return None
    rec.metrics = {k: v[1] for k, v in metrics.items()}
    rec.writers = list(writers.values())
    rec.stored_status = rec.status
    if keys is not None:
        wanted = set(keys)
        rec.params = {k: v for k, v in rec.params.items() if f"params.{k}" in wanted}
        rec.metrics = {k: v for k, v in rec.metrics.items() if f"metrics.{k}" in wanted}
        rec.tags = {k: v for k, v in rec.tags.items() if f"tags.{k}" in wanted}
    return rec
