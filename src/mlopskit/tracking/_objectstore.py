"""The object-store backend: runs as immutable segment files over fsspec, no lock, no server.

Layout under ``<workspace>/tracking/`` (stable; another tool can read it)::

    runs/<run_id>.json                              the run's identity, created once
                                                    (create-only: exactly one creator wins)
    experiments/<experiment>/<run_id>/<time_ns:020d>-<writer>-<seq:08d>.jsonl
                                                    segments: immutable batches of events,
                                                    each written once by one writer
    writers/<writer>.json                           a writer's heartbeat (host, pid, time),
                                                    rewritten only by that writer
    index/<experiment>/<generation:012d>.parquet    compacted run summaries (immutable,
                                                    created create-only; see _index.py)
    experiments/<experiment>/<run_id>/lifecycle/<time_ns:020d>-<writer>-<seq:08d>.json
    lifecycle/experiments/<experiment>/<time_ns:020d>-<writer>-<seq:08d>.json
                                                    deleting and restoring: one create-only
                                                    event per change (see _deletion.py)

Old index generations are pruned on request (``compact(prune=N)``,
:meth:`ObjectStoreBackend.prune_indexes`): the newest N stay, and an older one is
deleted only after the generation that superseded it has existed for a grace period
(an hour by default), so no reader that picked it is still reading it; a reader
slower than that falls back to an older generation or the segments (exact, slower).

A segment is JSON lines: a header ``{"format": "mlopskit.tracking.segment/1", "writer",
"seq", "time"}`` then events, each an object with ``"e"``: ``create`` (``run``: the
identity), ``attach``/``detach`` (``writer``, ``host``, ``pid``), ``params``/``tags``
(``values``), ``metrics`` (``key``, ``steps``, ``values``, ``times``), ``artifact``
(``name``, ``ref``), ``input`` (``digest``, ``name``, ``context``), ``status``
(``status``, ``end_time``), ``rename`` (``name``, ``previous``); every event but
``metrics`` has a ``time``.

Readers merge every segment of a run: events in time order, the first value of a
param wins, the last tag, status and artifact of a name win, a metric's latest value
is the one with the highest (step, time). Because each writer only ever creates new
files with names no other writer uses, any number of processes on any number of
machines can write one run or one experiment at once.

A run's lifecycle events sit in its directory, so the listing a search makes anyway
finds them (no extra request while nothing is deleted); the newest event, by time and
then file name, is the run's state, the same for every reader.
"""

from __future__ import annotations

import json
import math
import os
import socket
import threading
import time
import warnings
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from mlopskit._log import get_logger
from mlopskit._retry import RetryPolicy, retry
from mlopskit.errors import IntegrityError, InvalidInputError, NotFoundError
from mlopskit.store import ArtifactRef
from mlopskit.tracking._backend import new_writer_id
from mlopskit.tracking._buffer import metric_columns
from mlopskit.tracking._deletion import apply_lifecycle, encode_event, parse_event
from mlopskit.tracking._files import SegmentFiles
from mlopskit.tracking._index import (
    IndexRow,
    decode_index,
    encode_index,
    index_generation,
    index_name,
    summary_of,
)
from mlopskit.tracking._model import (
    PAUSED_TAG,
    LifecycleEvent,
    MetricPoint,
    RunInput,
    RunRecord,
    to_datetime,
)
from mlopskit.tracking._segments import (
    RUN_FORMAT,
    SEGMENT_FORMAT,
    check_identity,
    encode_values,
    merge_events,
    parse_segment,
)
from mlopskit.tracking._validate import (
    check_experiment,
    check_param_conflicts,
    check_run_id,
)

__all__ = ["SEGMENT_FORMAT", "ObjectStoreBackend"]

log = get_logger("mlopskit.tracking")

_CACHE_LIMIT = 200_000  # parsed segments kept in memory (they never change)
COMPACT_AFTER = 200  # a search that meets more segments outside the index compacts
PRUNE_GRACE = 3600.0  # seconds an index generation stays after a newer one appeared


class ObjectStoreBackend:
    """Runs as segment files under ``<root>/tracking/`` on any fsspec filesystem.

    Args:
        url: the workspace root (``s3://bucket/prefix``, ``memory://x``, a path, …).
        storage_options: passed to fsspec.
        attempts: tries of a storage call that fails transiently before StorageError.
        retry_delay: seconds before the second try (growing after each).
        compact_after: a search of an experiment that meets more segments than this
            outside the newest index folds them into a new index (None: never; then
            only :meth:`compact` does).

    Attributes:
        damaged: segment path → why it was skipped, for every damaged segment a read
            met (each is also reported once as a ``RuntimeWarning``).
    """

    #: ``list_runs`` costs the same with or without ``keys`` (the index holds whole
    #: runs), so a search loads whole runs once instead of narrowing and re-reading.
    whole_runs_are_cheap = True

    def __init__(
        self,
        url: str | os.PathLike[str],
        *,
        storage_options: dict[str, Any] | None = None,
        attempts: int = 5,
        retry_delay: float = 0.05,
        compact_after: int | None = COMPACT_AFTER,
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
        self.compact_after = compact_after
        self._indexes: dict[str, dict[str, IndexRow] | None] = {}
        self._lifecycle_files: dict[str, list[str]] = {}  # run id -> its lifecycle events
        self._events: dict[str, LifecycleEvent | None] = {}  # parsed (they never change)

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
            check_identity(ident)
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
        # no heartbeat file here: the attach event's time is this writer's first beat
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

    def rename(self, run_id: str, name: str) -> None:
        """Append a rename event (the identity file, created once, keeps the first name)."""
        previous = self.get_run(run_id).name
        event = {"e": "rename", "time": time.time(), "name": name, "previous": previous}
        self._append(self._experiment(run_id), run_id, [event])

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
        events = [
            {
                "e": "metrics",
                "key": k,
                "steps": s.tolist(),
                "values": encode_values(v),
                "times": t.tolist(),
            }
            for k, (s, v, t) in metric_columns(points).items()
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

    def finish(self, run_id: str, status: str, end_time: float | None) -> None:
        """Append the final status and this writer's detach.

        Events are ordered by their time, so they carry the time they are written (a run
        copied or imported later, with an older ``end_time``, must not read as RUNNING
        behind its own later attach); ``end_time`` is kept as the run's end (None: the
        run keeps no end time).
        """
        now = time.time() if end_time is None else max(end_time, time.time())
        self._append(
            self._experiment(run_id),
            run_id,
            [
                {"e": "status", "time": now, "status": status, "end_time": end_time},
                {"e": "detach", "time": now, "writer": self._fresh_writer()},
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
        found = self.files.find(base)
        self._note_lifecycle(found)
        return [p for p in found if p.endswith(".jsonl")]

    def _load(self, paths: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Parsed segments; a damaged one is skipped and reported (warning + path)."""
        cache = self._segments
        found = {p: cache[p] for p in paths if p in cache}
        missing = [p for p in paths if p not in found]
        if missing:
            for path, blob in self.files.read_many(missing).items():
                try:
                    found[path] = parse_segment(path, blob)
                except IntegrityError as exc:
                    found[path] = None
                    self._report(path, str(exc))
            if len(cache) + len(missing) > _CACHE_LIMIT:
                cache.clear()
            cache.update((p, found[p]) for p in missing)
        return {p: events for p in paths if (events := found.get(p)) is not None}

    def _report(self, path: str, why: str) -> None:
        if path not in self.damaged:
            self.damaged[path] = why
            log.warning("damaged_segment_skipped", path=path, error=why)
            warnings.warn(f"skipped a damaged tracking segment: {why}", RuntimeWarning, 3)

    def _runs_from(self, paths: list[str]) -> dict[str, list[str]]:
        """Group segment paths by run id (the parent directory's name, checked)."""
        grouped: dict[str, list[str]] = {}
        for path in paths:
            head = path.rpartition("/")[0]
            grouped.setdefault(head.rpartition("/")[2], []).append(path)
        runs: dict[str, list[str]] = {}
        for run_id, group in grouped.items():  # one check per run, not per segment
            try:
                check_run_id(run_id)
            except ValueError:
                for path in group:
                    self._report(path, f"{path}: directory {run_id!r} is not a valid run id")
                continue
            runs[run_id] = group
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
        rec = merge_events([e for _, _, e in events], metrics, keys)
        if rec is not None and rec.run_id != run_id:
            self._report(segments[0], f"{segments[0]}: creates run {rec.run_id!r}, not {run_id!r}")
            return None
        return rec

    def _writers(self, records: Iterable[RunRecord]) -> None:
        wanted = {w.writer_id for r in records for w in r.writers}
        if not wanted:
            return
        beats: dict[str, float] = {}
        paths = {self._path("writers", f"{w}.json"): w for w in sorted(wanted)}
        for path, blob in self.files.read_many(list(paths), missing_ok=True).items():
            try:
                beat = json.loads(blob)["time"]
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(beat, (int, float)) and math.isfinite(beat):
                beats[paths[path]] = float(beat)
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
        self._apply_lifecycle([rec])
        return rec

    # -- lifecycle (deleting and restoring) -------------------------------------------

    def _note_lifecycle(self, found: list[str]) -> None:
        """Remember the lifecycle event files of every run a listing covered."""
        covered: dict[str, list[str]] = {}
        for path in found:
            head, _, leaf = path.rpartition("/")
            if head.endswith("/lifecycle") and leaf.endswith(".json"):
                covered.setdefault(head[: -len("/lifecycle")].rpartition("/")[2], []).append(path)
            elif leaf.endswith(".jsonl"):
                covered.setdefault(head.rpartition("/")[2], [])
        for run_id, paths in covered.items():
            if paths:
                self._lifecycle_files[run_id] = sorted(paths, key=lambda p: p.rpartition("/")[2])
            else:
                self._lifecycle_files.pop(run_id, None)

    def _read_events(self, paths: list[str]) -> list[LifecycleEvent]:
        """Parsed events of ``paths`` (in that order); a damaged one is skipped, reported."""
        missing = [p for p in paths if p not in self._events]
        if missing:
            for path, blob in self.files.read_many(missing, missing_ok=True).items():
                try:
                    self._events[path] = parse_event(path, blob)
                except ValueError as exc:
                    self._events[path] = None
                    self._report(path, str(exc))
        return [e for p in paths if (e := self._events.get(p)) is not None]

    def _apply_lifecycle(self, records: list[RunRecord]) -> None:
        events: list[LifecycleEvent] = []
        for rec in records:
            paths = self._lifecycle_files.get(rec.run_id)
            if paths:
                events.extend(
                    e for e in self._read_events(paths) if e.kind == "run" and e.name == rec.run_id
                )
        apply_lifecycle(records, events)

    def set_lifecycle(self, event: LifecycleEvent) -> None:
        """Create one event file (create-only: an event is never edited)."""
        writer = self._fresh_writer()
        with self._lock:
            self._seq += 1
            seq = self._seq
        name = f"{time.time_ns():020d}-{writer}-{seq:08d}.json"
        if event.kind == "run":
            path = self._path("experiments", self._experiment(event.name), event.name, "lifecycle")
            self._lifecycle_files.setdefault(event.name, []).append(f"{path}/{name}")
        else:
            path = self._path("lifecycle", "experiments", check_experiment(event.name))
        self.files.create(f"{path}/{name}", encode_event(event))

    def lifecycle_events(
        self, kind: str | None = None, name: str | None = None
    ) -> list[LifecycleEvent]:
        """Lifecycle events (of ``kind``, of ``name``), oldest file first."""
        paths: list[str] = []
        if kind in (None, "experiment"):
            base = self._path("lifecycle", "experiments")
            if name is not None and kind == "experiment":
                base = f"{base}/{check_experiment(name)}"
            paths += [p for p in self.files.find(base) if p.endswith(".json")]
        if kind in (None, "run"):
            if name is not None:
                self._find(self._path("experiments", self._experiment(name), name))
                paths += self._lifecycle_files.get(name, [])
            else:
                self.list_runs(None, keys=())
                paths += [p for ps in self._lifecycle_files.values() for p in ps]
        paths.sort(key=lambda p: p.rpartition("/")[2])
        return [
            e
            for e in self._read_events(paths)
            if (kind is None or e.kind == kind) and (name is None or e.name == name)
        ]

    def _rm(self, path: str) -> None:
        fs = self.files.fs

        def remove() -> None:
            try:
                fs.rm(path, recursive=True)
            except FileNotFoundError:
                pass

        retry(remove, what=f"remove {path}", policy=self.files.policy, url=self.url, path=path)

    def purge_run(self, run_id: str) -> None:
        """Remove the run's segments, events and identity for good (``Tracker.gc``)."""
        experiment = self._experiment(run_id)
        self._rm(self._path("experiments", experiment, run_id))
        self._rm(self._path("runs", f"{run_id}.json"))
        self._experiment_of.pop(run_id, None)
        self._lifecycle_files.pop(run_id, None)

    def purge_experiment(self, name: str) -> None:
        """Forget experiment ``name`` once it has no runs (its index objects go too)."""
        if self._find(self._path("experiments", check_experiment(name))):
            return
        self._rm(self._path("experiments", name))
        self._rm(self._path("index", name))

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
        records: list[RunRecord] = []
        for exp in sorted(exps):
            records.extend(self._list_experiment(exp, wanted, keys))
        self._writers([r for r in records if r.status == "RUNNING"])
        self._apply_lifecycle(records)
        return records

    def _list_experiment(
        self, experiment: str, wanted: set[str] | None, keys: Collection[str] | None
    ) -> list[RunRecord]:
        """The runs of one experiment: index rows where they are current, else segments."""
        generation, index = self._newest_index(experiment)
        runs = self._runs_from(self._find(self._path("experiments", experiment)))
        records: list[RunRecord] = []
        rows: dict[str, IndexRow] = {}
        outside = 0
        for run_id, segments in runs.items():
            if wanted is not None and run_id not in wanted:
                continue
            names = frozenset(p.rpartition("/")[2] for p in segments)
            row = index.get(run_id)
            if row is not None and row.segments == names:
                rec = row.record()
                rows[run_id] = row
            else:
                outside += sum(1 for p in segments if p not in self.damaged)
                read = self._read_run(run_id, segments, None)
                if read is None:
                    continue
                rec = read
                good = frozenset(p.rpartition("/")[2] for p in segments if p not in self.damaged)
                rows[run_id] = IndexRow(summary_of(rec), good)
            self._experiment_of[run_id] = experiment
            rec.artifacts = {}
            rec.inputs = []
            if keys is not None:
                _narrow(rec, keys)
            records.append(rec)
        if wanted is None and self.compact_after is not None and outside > self.compact_after:
            try:
                self._publish(experiment, generation, rows)
            except Exception as exc:  # the search has its answer; the index can wait
                log.warning("compaction_failed", experiment=experiment, error=str(exc))
        return records

    # -- the compacted index -----------------------------------------------------------

    def _newest_index(self, experiment: str) -> tuple[int, dict[str, IndexRow]]:
        """The newest index generation of ``experiment`` and its rows (0, {} if none)."""
        base = self._path("index", experiment)
        generations = sorted(
            g for name in self.files.children(base) if (g := index_generation(name)) is not None
        )
        for generation in reversed(generations):
            path = f"{base}/{index_name(generation)}"
            if path not in self._indexes:
                try:
                    blob = self.files.read(path)
                    self._indexes[path] = decode_index(path, blob, experiment)
                except FileNotFoundError:
                    continue
                except IntegrityError as exc:
                    self._indexes[path] = None
                    self._report(path, str(exc))
            rows = self._indexes[path]
            if rows is not None:
                return generations[-1], rows
        return (generations[-1] if generations else 0), {}

    def _publish(self, experiment: str, generation: int, rows: dict[str, IndexRow]) -> str | None:
        """Create index ``generation + 1``; None when another compactor created it first."""
        path = self._path("index", experiment, index_name(generation + 1))
        try:
            self.files.create(path, encode_index(rows))
        except FileExistsError:
            log.info("compaction_lost_race", experiment=experiment, path=path)
            return None
        self._indexes[path] = rows
        log.info("compacted", experiment=experiment, path=path, runs=len(rows))
        return path

    def compact(
        self,
        experiments: Collection[str] | None = None,
        *,
        prune: int | None = None,
        grace: float = PRUNE_GRACE,
    ) -> list[str]:
        """Fold every run of ``experiments`` (all when None) into a new index object.

        Each experiment's index is a new immutable generation created create-only:
        when two compactors race, one creates it and the other writes nothing (its
        runs are in the segments, which every search still reads past the index).

        Args:
            experiments: the experiments to compact (all when None).
            prune: then keep only this many newest index generations of each (see
                :meth:`prune_indexes`); None keeps them all.
            grace: seconds an old generation stays after a newer one appeared.

        Returns:
            The paths of the index objects this call created.
        """
        exps = (
            self.experiments()
            if experiments is None
            else [check_experiment(e) for e in experiments]
        )
        written = []
        for exp in exps:
            generation, index = self._newest_index(exp)
            runs = self._runs_from(self._find(self._path("experiments", exp)))
            rows: dict[str, IndexRow] = {}
            for run_id, segments in runs.items():
                names = frozenset(p.rpartition("/")[2] for p in segments)
                row = index.get(run_id)
                if row is not None and row.segments == names:
                    rows[run_id] = row
                    continue
                rec = self._read_run(run_id, segments, None)
                if rec is not None:
                    good = frozenset(
                        p.rpartition("/")[2] for p in segments if p not in self.damaged
                    )
                    rows[run_id] = IndexRow(summary_of(rec), good)
            path = self._publish(exp, generation, rows)
            if path is not None:
                written.append(path)
        if prune is not None:
            self.prune_indexes(exps, keep=prune, grace=grace)
        return written

    def prune_indexes(
        self,
        experiments: Collection[str] | None = None,
        *,
        keep: int = 2,
        grace: float = PRUNE_GRACE,
    ) -> list[str]:
        """Delete old index generations: keep the newest ``keep`` of each experiment.

        An older generation is deleted only once the generation after it has existed
        for ``grace`` seconds: a reader picks the newest generation when it lists, and
        reads it right after, so a generation superseded that long ago is in no reader's
        hands. A reader that is slower still finds its generation gone and falls back
        to an older one or to the segments: the answer stays exact, only slower.
        Segments are never deleted here.

        Returns:
            The paths of the index objects deleted.
        """
        if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
            raise InvalidInputError(
                f"keep must be an integer >= 1 (the newest index is always kept), found {keep!r}"
            )
        exps = (
            self.experiments()
            if experiments is None
            else [check_experiment(e) for e in experiments]
        )
        now = time.time()
        deleted = []
        for exp in exps:
            base = self._path("index", exp)
            generations = sorted(
                g for n in self.files.children(base) if (g := index_generation(n)) is not None
            )
            old = generations[:-keep]  # the newest `keep` are never deleted
            for older, newer in zip(old, generations[1:]):
                try:
                    superseded = now - self.files.modified(f"{base}/{index_name(newer)}")
                except FileNotFoundError:
                    continue  # pruned by another process meanwhile
                if superseded < grace:
                    continue
                path = f"{base}/{index_name(older)}"
                self.files.delete(path)
                self._indexes.pop(path, None)
                deleted.append(path)
                log.info("index_pruned", experiment=exp, path=path)
        return deleted

    def experiments(self) -> list[str]:
        """Experiment names (directories under ``tracking/experiments/``, checked)."""
        out = []
        for name in self.files.children(self._path("experiments")):
            try:
                out.append(check_experiment(name))
            except ValueError:
                self._report(self._path("experiments", name), f"invalid experiment {name!r}")
        return out


def _narrow(rec: RunRecord, keys: Collection[str]) -> None:
    """Keep only the params, metrics and tags named in ``keys`` (``params.x`` …)."""
    wanted = set(keys)
    rec.params = {k: v for k, v in rec.params.items() if f"params.{k}" in wanted}
    rec.metrics = {k: v for k, v in rec.metrics.items() if f"metrics.{k}" in wanted}
    rec.tags = {k: v for k, v in rec.tags.items() if f"tags.{k}" in wanted or k == PAUSED_TAG}
