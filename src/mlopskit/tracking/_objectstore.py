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
import math
import os
import re
import socket
import threading
import time
import warnings
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from mlopskit._log import get_logger
from mlopskit._retry import RetryPolicy
from mlopskit.errors import IntegrityError, NotFoundError
from mlopskit.store import ArtifactRef
from mlopskit.tracking._backend import new_writer_id
from mlopskit.tracking._files import SegmentFiles
from mlopskit.tracking._model import (
    STATUSES,
    MetricPoint,
    RunInput,
    RunRecord,
    WriterInfo,
    stored_record,
    to_datetime,
)
from mlopskit.tracking._validate import (
    MAX_TIME,
    MIN_TIME,
    check_experiment,
    check_param_conflicts,
    check_run_id,
)

__all__ = ["SEGMENT_FORMAT", "ObjectStoreBackend"]

log = get_logger("mlopskit.tracking")

SEGMENT_FORMAT = "mlopskit.tracking.segment/1"
RUN_FORMAT = "mlopskit.tracking.run/1"
_CACHE_LIMIT = 200_000  # parsed segments kept in memory (they never change)


class ObjectStoreBackend:
    """Runs as segment files under ``<root>/tracking/`` on any fsspec filesystem.

    Args:
        url: the workspace root (``s3://bucket/prefix``, ``memory://x``, a path, …).
        storage_options: passed to fsspec.
        attempts: tries of a storage call that fails transiently before StorageError.
        retry_delay: seconds before the second try (growing after each).

    Attributes:
        damaged: segment path → why it was skipped, for every damaged segment a read
            met (each is also reported once as a ``RuntimeWarning``).
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        *,
        storage_options: dict[str, Any] | None = None,
        attempts: int = 5,
        retry_delay: float = 0.05,
    ) -> None:
        self.files = SegmentFiles(
            url, storage_options, policy=RetryPolicy(attempts=attempts, delay=retry_delay)
        )
        self.url = self.files.url
        self.attempts = attempts
        self.retry_delay = retry_delay
        self.writer_id = new_writer_id()
        self._pid = os.getpid()
        self._seq = 0
        self._lock = threading.Lock()
        self._segments: dict[str, list[dict[str, Any]] | None] = {}
        self._experiment_of: dict[str, str] = {}
        self.damaged: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"ObjectStoreBackend({self.url!r})"

    # -- paths -------------------------------------------------------------------------

    def _path(self, *parts: str) -> str:
        return self.files.path(*parts)

    def _fresh_writer(self) -> str:
        if self._pid != os.getpid():  # forked: a child is a new writer
            self._pid = os.getpid()
            self.writer_id = new_writer_id()
            self._seq = 0
        return self.writer_id

    # -- writing -----------------------------------------------------------------------

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
        self.files.create(path, (data + "\n").encode())

    def _identity(self, run_id: str) -> dict[str, Any]:
        path = self._path("runs", f"{check_run_id(run_id)}.json")
        try:
            data = self.files.read(path)
        except FileNotFoundError:
            raise NotFoundError(f"no run {run_id!r} in {self.url}", run_id=run_id) from None
        try:
            ident = json.loads(data)
            _check_identity(ident)
            if ident["run_id"] != run_id:
                raise ValueError(f"it names run {ident['run_id']!r}")
        except (ValueError, TypeError, KeyError) as exc:
            raise IntegrityError(
                f"run identity {path} is damaged: {exc}; restore or delete the file", path=path
            ) from exc
        result: dict[str, Any] = ident
        return result

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
            "start_time": record.start_time.timestamp(),
            "parent_id": record.parent_id,
            "user": record.user,
            "host": record.host,
        }
        data = json.dumps(ident, sort_keys=True).encode()
        try:
            self.files.create(self._path("runs", f"{record.run_id}.json"), data)
        except FileExistsError:
            return False
        self._experiment_of[record.run_id] = record.experiment
        self.heartbeat()
        events: list[dict[str, Any]] = [
            {"e": "create", "time": ident["start_time"], "run": ident},
            self._attach_event(),
        ]
        if record.params:
            events.append({"e": "params", "time": ident["start_time"], "values": record.params})
        if record.tags:
            events.append({"e": "tags", "time": ident["start_time"], "values": record.tags})
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
        self.files.replace(path, body)

    def close(self) -> None:
        """Drop cached segments."""
        self._segments.clear()

    # -- reading -----------------------------------------------------------------------

    def _find(self, base: str) -> list[str]:
        return [p for p in self.files.find(base) if p.endswith(".jsonl")]

    def _load(self, paths: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Parsed segments; a damaged one is skipped and reported (warning + path)."""
        missing = [p for p in paths if p not in self._segments]
        if missing:
            blobs = self.files.read_many(missing)
            if len(self._segments) + len(blobs) > _CACHE_LIMIT:
                self._segments.clear()
            for path, blob in blobs.items():
                try:
                    self._segments[path] = parse_segment(path, blob)
                except IntegrityError as exc:
                    self._segments[path] = None
                    self._report(path, str(exc))
        return {p: events for p in paths if (events := self._segments.get(p)) is not None}

    def _report(self, path: str, why: str) -> None:
        if path not in self.damaged:
            self.damaged[path] = why
            log.warning("damaged_segment_skipped", path=path, error=why)
            warnings.warn(f"skipped a damaged tracking segment: {why}", RuntimeWarning, 3)

    def _runs_from(self, paths: list[str]) -> dict[str, list[str]]:
        """Group segment paths by run id (the parent directory's name, checked)."""
        runs: dict[str, list[str]] = {}
        for path in paths:
            head, _, _leaf = path.rpartition("/")
            run_id = head.rpartition("/")[2]
            try:
                check_run_id(run_id)
            except ValueError:
                self._report(path, f"{path}: directory {run_id!r} is not a valid run id")
                continue
            runs.setdefault(run_id, []).append(path)
        return runs

    def _read_run(
        self, run_id: str, segments: list[str], keys: Collection[str] | None
    ) -> RunRecord | None:
        events: list[tuple[float, int, dict[str, Any]]] = []
        metrics: dict[str, tuple[int, float, float]] = {}
        loaded = self._load(segments)
        order = 0
        for path in segments:
            for event in loaded.get(path, ()):
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
        rec = _merge([e for _, _, e in events], metrics, keys)
        if rec is not None and rec.run_id != run_id:
            self._report(segments[0], f"{segments[0]}: creates run {rec.run_id!r}, not {run_id!r}")
            return None
        return rec

    def _writers(self, records: Iterable[RunRecord]) -> None:
        wanted = {w.writer_id for r in records for w in r.writers}
        if not wanted:
            return
        beats: dict[str, float] = {}
        for writer in sorted(wanted):
            path = self._path("writers", f"{writer}.json")
            try:
                beat = json.loads(self.files.read(path))["time"]
            except (FileNotFoundError, ValueError, KeyError, TypeError):
                continue
            if isinstance(beat, (int, float)) and math.isfinite(beat):
                beats[writer] = float(beat)
        for rec in records:
            rec.writers = [
                w.model_copy(update={"heartbeat": to_datetime(max(w.heartbeat.timestamp(), beat))})
                if (beat := beats.get(w.writer_id)) is not None
                else w
                for w in rec.writers
            ]

    def get_run(self, run_id: str) -> RunRecord:
        """The merged state of one run."""
        experiment = self._experiment(run_id)
        segments = self._find(self._path("experiments", experiment, run_id))
        rec = self._read_run(run_id, segments, None) if segments else None
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
                except IntegrityError as exc:
                    self._report(exc.path or rid, str(exc))
        else:
            wanted = None
            if experiments is None:
                exps = set(self.experiments())
            else:
                exps = {check_experiment(e) for e in experiments}
        paths: list[str] = []
        for exp in sorted(exps):
            paths.extend(self._find(self._path("experiments", exp)))
        records = []
        for run_id, segments in self._runs_from(paths).items():
            if wanted is not None and run_id not in wanted:
                continue
            rec = self._read_run(run_id, segments, keys)
            if rec is not None:
                rec.artifacts = {}
                rec.inputs = []
                records.append(rec)
        self._writers([r for r in records if r.status == "RUNNING"])
        return records

    def experiments(self) -> list[str]:
        """Experiment names (directories under ``tracking/experiments/``, checked)."""
        out = []
        for name in self.files.children(self._path("experiments")):
            try:
                out.append(check_experiment(name))
            except ValueError:
                self._report(self._path("experiments", name), f"invalid experiment {name!r}")
        return out


_WRITER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,99}$")


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(what)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_time(value: object) -> bool:
    return _is_number(value) and MIN_TIME <= value <= MAX_TIME  # type: ignore[operator]


def _is_str_map(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _opt_str(value: object) -> bool:
    return value is None or isinstance(value, str)


def _check_identity(ident: object) -> None:
    _need(isinstance(ident, dict), "the run identity is not an object")
    assert isinstance(ident, dict)
    check_run_id(ident.get("run_id"))
    check_experiment(ident.get("experiment"))
    _need(isinstance(ident.get("name"), str), "the run name is not a string")
    _need(_is_time(ident.get("start_time")), "start_time is not a finite number")
    parent = ident.get("parent_id")
    if parent is not None:
        check_run_id(parent)
    _need(_opt_str(ident.get("user")) and _opt_str(ident.get("host")), "user/host not strings")


def _check_event(event: object) -> None:
    _need(isinstance(event, dict), "an event is not an object")
    assert isinstance(event, dict)
    kind = event.get("e")
    if kind != "metrics":
        _need(_is_time(event.get("time")), f"{kind!r} event: time is not a finite number")
    if kind == "metrics":
        _need(isinstance(event.get("key"), str), "metrics event: key is not a string")
        steps, values, times = event.get("steps"), event.get("values"), event.get("times")
        _need(
            isinstance(steps, list) and isinstance(values, list) and isinstance(times, list),
            "metrics event: steps, values and times must be lists",
        )
        assert isinstance(steps, list) and isinstance(values, list) and isinstance(times, list)
        _need(len(steps) == len(values) == len(times), "metrics event: columns differ in length")
        _need(
            all(type(s) is int and -(2**63) <= s < 2**63 for s in steps),
            "metrics event: a step is not a 64-bit integer",
        )
        _need(all(map(_is_number, values)), "metrics event: a value is not a finite number")
        _need(all(map(_is_time, times)), "metrics event: a time is not a finite number")
    elif kind == "create":
        _check_identity(event.get("run"))
    elif kind in ("attach", "detach"):
        writer = event.get("writer")
        _need(isinstance(writer, str) and bool(_WRITER.match(writer)), f"bad writer {writer!r}")
        if kind == "attach":
            pid = event.get("pid", 0)
            _need(type(pid) is int and 0 <= pid < 2**32, f"attach event: bad pid {pid!r}")
            _need(_opt_str(event.get("host")), "attach event: host is not a string")
    elif kind in ("params", "tags"):
        _need(_is_str_map(event.get("values")), f"{kind} event: values are not strings")
    elif kind == "status":
        _need(event.get("status") in STATUSES, f"invalid status {event.get('status')!r}")
        end = event.get("end_time")
        _need(end is None or _is_time(end), "status event: end_time is not a finite number")
    elif kind == "artifact":
        _need(isinstance(event.get("name"), str), "artifact event: name is not a string")
        ArtifactRef.model_validate(event.get("ref"))
    elif kind == "input":
        _need(isinstance(event.get("digest"), str), "input event: digest is not a string")
        _need(_opt_str(event.get("name")) and _opt_str(event.get("context")), "input event")
    # events of kinds this version does not know are kept and ignored by the merge


def parse_segment(path: str, blob: bytes) -> list[dict[str, Any]]:
    """The events of one segment file, each checked; IntegrityError naming ``path``."""
    try:
        lines = blob.decode("utf-8").splitlines()
        header = json.loads(lines[0]) if lines else None
        _need(isinstance(header, dict), "the header line is missing or not an object")
        assert isinstance(header, dict)
        if header.get("format") != SEGMENT_FORMAT:
            raise ValueError(f"unknown segment format {header.get('format')!r}")
        events = [json.loads(line) for line in lines[1:] if line]
        for event in events:
            _check_event(event)
    except (ValueError, TypeError, RecursionError) as exc:  # UnicodeDecodeError, JSON, checks
        raise IntegrityError(
            f"tracking segment {path} is damaged: {exc}", path=path, found=type(exc).__name__
        ) from exc
    result: list[dict[str, Any]] = events
    return result


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
            rec = stored_record(
                run_id=ident["run_id"],
                experiment=ident["experiment"],
                name=ident["name"],
                status="RUNNING",
                start_time=ident["start_time"],
                end_time=None,
                parent_id=ident.get("parent_id"),
                user=ident.get("user") or "",
                host=ident.get("host") or "",
                params={},
                tags={},
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
            rec.end_time = to_datetime(event.get("end_time"))
        elif kind == "attach":
            rec.status = "RUNNING"
            rec.end_time = None
            writers[event["writer"]] = WriterInfo(
                writer_id=event["writer"],
                host=event.get("host") or "",
                pid=int(event.get("pid", 0)),
                heartbeat=event["time"],
            )
        elif kind == "detach":
            w = writers.get(event["writer"])
            if w is not None:
                writers[event["writer"]] = w.model_copy(update={"active": False})
        elif kind == "artifact":
            rec.artifacts[event["name"]] = ArtifactRef.model_validate(event["ref"])
        elif kind == "input":
            item = RunInput(
                digest=event["digest"], name=event.get("name"), context=event.get("context")
            )
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
