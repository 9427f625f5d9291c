"""The object-store backend: runs as immutable segment files over fsspec, no lock, no server.

Layout under ``<workspace>/tracking/`` (stable; another tool can read it)::

    runs/<run_id>.json                              the run's identity, created once
                                                    (create-only: exactly one creator wins)
    experiments/<experiment>/segments/<time_ns:020d>-<writer>-<seq:08d>.<run_id>.jsonl
                                                    segments: immutable batches of events,
                                                    each written once by one writer, named
                                                    by its clock (names sort by time)
    experiments/<experiment>/segments/….<run_id>.json   a run's lifecycle events
    experiments/<experiment>/segments/….<run_id>.purged the mark of a purged run
    writers/<writer>.json                           a writer's heartbeat (host, pid, time),
                                                    rewritten only by that writer
    index/<experiment>/<generation:012d>.parquet    compacted run summaries (immutable,
                                                    created create-only; see _index.py)
    lifecycle/experiments/<experiment>/<time_ns:020d>-<writer>-<seq:08d>.json
                                                    deleting and restoring an experiment

A search reads the newest index and lists only the names after its watermark minus
:data:`SKEW_MARGIN` (S3 ``StartAfter``), so its cost follows the files written since
the index, not the runs; a writer whose PUT was slow re-publishes the file under a
later time, and readers count one (writer, seq) once. Experiments holding the older
per-run layout (``experiments/<experiment>/<run_id>/…``) are listed whole, as before.
docs/layout-tracking.md specifies all of it.

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

A run's lifecycle events sit among its segments, so the listing a search makes anyway
finds them (and the index row names the older ones); the newest event, by time and
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
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from mlopskit._gc import collector_paused
from mlopskit._log import get_logger
from mlopskit._retry import RetryPolicy, retry
from mlopskit.errors import IntegrityError, InvalidInputError, NotFoundError
from mlopskit.store import ArtifactRef
from mlopskit.tracking._backend import new_writer_id
from mlopskit.tracking._buffer import metric_columns
from mlopskit.tracking._deletion import apply_lifecycle, encode_event, parse_event
from mlopskit.tracking._files import MAX_SPLITS, SegmentFiles
from mlopskit.tracking._index import (
    IndexRow,
    IndexRows,
    encode_index,
    index_generation,
    index_hints,
    index_name,
    index_values,
    read_index,
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
    parse_segment_name,
    segment_name,
)
from mlopskit.tracking._validate import (
    MAX_TIME,
    MIN_TIME,
    check_experiment,
    check_param_conflicts,
    check_run_id,
    is_run_id,
)

if TYPE_CHECKING:
    from mlopskit.tracking._values import RunValues

__all__ = ["SEGMENT_FORMAT", "ObjectStoreBackend"]

log = get_logger("mlopskit.tracking")

_CACHE_LIMIT = 200_000  # parsed segments kept in memory (they never change)
COMPACT_AFTER = 200  # a search that meets more segments outside the index compacts
PRUNE_GRACE = 3600.0  # seconds an index generation stays after a newer one appeared
#: Seconds a search lists before an index's watermark: a file whose writer's clock lags
#: the compactor's by less than half of this is never missed (a writer re-publishes a
#: file whose PUT took longer than the other half; docs/layout-tracking.md).
SKEW_MARGIN = 300.0
_REPUBLISH_LIMIT = 5
#: Names an index already holds per range of a search's listing after its watermark
#: (an S3 LIST page holds 1,000: the rest is room for files the index lacks).
RANGE_NAMES = 900


def _after(seconds: float) -> str:
    """The StartAfter name for files written at ``seconds`` or later."""
    return f"{max(int(seconds * 1e9), 0):020d}"


def _splits(rows: Iterable[IndexRow], after: str, every: int = RANGE_NAMES) -> list[str]:
    """Every ``every``-th name after ``after`` that ``rows`` hold: where a listing after
    ``after`` is cut into ranges of about ``every`` known names, listed at once."""
    names = sorted(n for row in rows for n in (*row.segments, *row.lifecycle) if n > after)
    return names[every - 1 : -1 : every][:MAX_SPLITS]


class _Listing(NamedTuple):
    """What a search of one experiment reads first (``ObjectStoreBackend._listing``)."""

    started: float  # the clock before any listing: the next index's watermark
    generation: int
    rows: Mapping[str, IndexRow]  # the newest index's rows ({} when there is none)
    watermark: float | None
    timed: bool  # only the time-ordered layout: ``paths`` are the files after the index
    paths: list[str]


@dataclass
class _RunFiles:
    """One run's files found so far: segment and lifecycle names → paths, purged or not."""

    segments: dict[str, str] = field(default_factory=dict)
    lifecycle: dict[str, str] = field(default_factory=dict)
    purged: bool = False

    def add_row(self, row: IndexRow, base: str) -> None:
        for name in row.segments:
            self.segments.setdefault(name, f"{base}/{name}")
        for name in row.lifecycle:
            self.lifecycle.setdefault(name, f"{base}/{name}")

    def segment_paths(self) -> list[str]:
        """Paths by time, a re-published copy (same writer and seq) left out."""
        seen: set[object] = set()
        out = []
        for name in sorted(self.segments):
            parsed = parse_segment_name(name)
            key: object = (parsed[1], parsed[2]) if parsed is not None else name
            if key not in seen:
                seen.add(key)
                out.append(self.segments[name])
        return out

    def lifecycle_paths(self) -> list[str]:
        return [self.lifecycle[n] for n in sorted(self.lifecycle)]


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
        margin: seconds a search lists before an index's watermark (clock skew and
            slow PUTs it absorbs; see docs/layout-tracking.md).
        clock: this writer's wall clock (epoch seconds), which names its files.
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
        self._indexes: dict[str, tuple[Mapping[str, IndexRow], float | None] | None] = {}
        self._lifecycle_files: dict[str, list[str]] = {}  # run id -> its lifecycle events
        self._events: dict[str, LifecycleEvent | None] = {}  # parsed (they never change)
        self._created: dict[str, float | None] = {}  # run id -> when its identity was made
        self._known: dict[str, tuple[int, Mapping[str, IndexRow], float | None]] = {}
        self._hints: dict[str, tuple[str, ...]] = {}  # index path -> its listing splits
        #: Known names per range of a listing after an index's watermark (the splits a
        #: compactor writes into the index; see :meth:`SegmentFiles.list_after`).
        self.range_names = RANGE_NAMES
        self.margin = SKEW_MARGIN
        self.clock: Callable[[], float] = time.time

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

    def _segments_dir(self, experiment: str) -> str:
        return self._path("experiments", experiment, "segments")

    def _next_seq(self) -> tuple[str, int]:
        writer = self._fresh_writer()
        with self._lock:
            self._seq += 1
            return writer, self._seq

    def _put(self, experiment: str, run_id: str, kind: str, data: bytes, seq: int) -> str:
        """Create one time-named file of ``run_id``; again, under a new time, if slow.

        A search lists only names after an index's watermark minus :attr:`margin`,
        so a file must become visible within ``margin / 2`` of the time in its name:
        when the PUT took longer, the same bytes (same writer and seq, which readers
        count once) are created again under the time after it.
        """
        base = self._segments_dir(experiment)
        writer = self._fresh_writer()
        path = ""
        for _ in range(_REPUBLISH_LIMIT):
            started = time.monotonic()
            name = segment_name(int(self.clock() * 1e9), writer, seq, run_id, kind)
            path = f"{base}/{name}"
            self.files.create(path, data)
            took = time.monotonic() - started
            if took <= self.margin / 2:
                break
            log.warning("segment_republished", path=path, seconds=round(took, 3))
        return path

    def _append(self, experiment: str, run_id: str, events: list[dict[str, Any]]) -> None:
        writer, seq = self._next_seq()
        header = {"format": SEGMENT_FORMAT, "writer": writer, "seq": seq, "time": time.time()}
        data = "\n".join(json.dumps(e, separators=(",", ":")) for e in [header, *events])
        self._put(experiment, run_id, "jsonl", (data + "\n").encode(), seq)

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
            exp = self._read_identity(run_id)
        return exp

    def _read_identity(self, run_id: str) -> str:
        """Read the identity: remember the run's experiment and creation time."""
        ident = self._identity(run_id)
        exp = str(ident["experiment"])
        self._experiment_of[run_id] = exp
        created = ident.get("created")
        if created.__class__ in (int, float) and MIN_TIME <= created <= MAX_TIME:
            self._created[run_id] = float(created)
        else:  # absent (an older version's run) or damaged: list the slow, exact way
            self._created[run_id] = None
        return exp

    def _created_at(self, run_id: str) -> float | None:
        """When the run's identity was created (None: a run of an older version)."""
        if run_id not in self._created:
            self._read_identity(run_id)
        return self._created.get(run_id)

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
        created = self.clock()
        ident = {
            "format": RUN_FORMAT,
            "run_id": record.run_id,
            "experiment": record.experiment,
            "name": record.name,
            "start_time": record.start_time.timestamp(),
            "parent_id": record.parent_id,
            "user": record.user,
            "host": record.host,
            "created": created,
        }
        data = json.dumps(ident, sort_keys=True).encode()
        try:
            self.files.create(self._path("runs", f"{record.run_id}.json"), data)
        except FileExistsError:
            return False
        self._experiment_of[record.run_id] = record.experiment
        self._created[record.run_id] = created
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

    def _collect(self, paths: Iterable[str]) -> dict[str, _RunFiles]:
        """Group listed paths by run: time-ordered names and the older per-run layout."""
        runs: dict[str, _RunFiles] = {}
        bad: set[str] = set()
        for path in paths:
            head, _, leaf = path.rpartition("/")
            parent = head.rpartition("/")[2]
            parsed = parse_segment_name(leaf) if parent == "segments" else None
            if parsed is not None:
                files = runs.get(parsed[3])
                if files is None:
                    files = runs[parsed[3]] = _RunFiles()
                if parsed[4] == "jsonl":
                    files.segments[leaf] = path
                elif parsed[4] == "json":
                    files.lifecycle[leaf] = path
                else:
                    files.purged = True
                continue
            if parent == "lifecycle" and leaf.endswith(".json"):
                run_id = head[: -len("/lifecycle")].rpartition("/")[2]
            elif leaf.endswith(".jsonl"):
                run_id = parent
            else:
                continue
            if not is_run_id(run_id):
                if run_id not in bad:
                    bad.add(run_id)
                    self._report(path, f"{path}: directory {run_id!r} is not a valid run id")
                continue
            files = runs.get(run_id)
            if files is None:
                files = runs[run_id] = _RunFiles()
            if leaf.endswith(".jsonl"):
                files.segments[leaf] = path
            else:
                files.lifecycle[leaf] = path
        return runs

    def _note_lifecycle(self, run_id: str, files: _RunFiles) -> None:
        if files.lifecycle:
            self._lifecycle_files[run_id] = files.lifecycle_paths()
        else:
            self._lifecycle_files.pop(run_id, None)

    def _timed_layout(self, experiment: str) -> bool:
        """True when the experiment holds only the time-ordered layout (one listing)."""
        names = self.files.first_children(self._path("experiments", experiment), 2)
        return all(n == "segments" for n in names)

    def _run_files(self, run_id: str) -> _RunFiles:
        """Every file of one run: the index row's names plus a listing after them."""
        experiment = self._experiment(run_id)
        created = self._created_at(run_id)
        base = self._segments_dir(experiment)
        if created is None:  # an older version's run: its directory and any new files
            paths = self.files.find(self._path("experiments", experiment, run_id))
            files = self._collect(paths + self.files.list_after(base, None)).get(run_id)
        else:
            known = self._known.get(experiment)
            if known is None:
                known = self._newest_index(experiment)
            generation, index, watermark = known
            row = index.get(run_id) if watermark is not None else None
            since = created if watermark is None else max(created, watermark)
            splits = self._hints.get(self._path("index", experiment, index_name(generation)), ())
            listed = self.files.list_after(base, _after(since - self.margin), splits)
            files = self._collect(listed).get(run_id)
            if row is not None:
                files = files or _RunFiles()
                files.add_row(row, base)
        files = files or _RunFiles()
        self._note_lifecycle(run_id, files)
        return files

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
        files = self._run_files(run_id)
        segments = files.segment_paths()
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
        writer, seq = self._next_seq()
        if event.kind == "run":
            experiment = self._experiment(event.name)
            path = self._put(experiment, event.name, "json", encode_event(event), seq)
            self._lifecycle_files.setdefault(event.name, []).append(path)
            return
        name = f"{time.time_ns():020d}-{writer}-{seq:08d}.json"
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
                self._run_files(name)
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
        """Remove the run's segments, events and identity for good (``Tracker.gc``).

        A ``purged`` mark is created first: a search whose index still holds the run
        meets the mark in its listing after the watermark and leaves the run out.
        """
        experiment = self._experiment(run_id)
        files = self._run_files(run_id)
        self._put(experiment, run_id, "purged", b"", self._next_seq()[1])
        for path in [*files.segments.values(), *files.lifecycle.values()]:
            if path.rpartition("/")[0] == self._segments_dir(experiment):
                self.files.delete(path)
        self._rm(self._path("experiments", experiment, run_id))
        self._rm(self._path("runs", f"{run_id}.json"))
        self._experiment_of.pop(run_id, None)
        self._lifecycle_files.pop(run_id, None)

    def purge_experiment(self, name: str) -> None:
        """Forget experiment ``name`` once it has no runs (its index objects go too)."""
        found = self.files.find(self._path("experiments", check_experiment(name)))
        if any(p.endswith(".jsonl") for p in found):
            return
        self._rm(self._path("experiments", name))
        self._rm(self._path("index", name))

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float, float]]:
        """Every point of ``key``, merged across segments, by step then time."""
        segments = self._run_files(run_id).segment_paths()
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
            exps = self._scope(experiments)
        records: list[RunRecord] = []
        with collector_paused():
            for exp in sorted(exps):
                records.extend(self._list_experiment(exp, wanted, keys)[0])
        return self._finish(records)

    def _scope(self, experiments: Collection[str] | None) -> set[str]:
        """The experiments a listing of ``experiments`` (all when None) reads."""
        if experiments is None:
            return set(self.experiments())
        return {check_experiment(e) for e in experiments}

    def _finish(self, records: list[RunRecord]) -> list[RunRecord]:
        """Listed records with their writers' heartbeats and lifecycle applied."""
        self._writers([r for r in records if r.status == "RUNNING"])
        self._apply_lifecycle(records)
        return records

    def index_values(
        self, experiments: Collection[str] | None = None
    ) -> RunValues | list[RunRecord]:
        """The runs of ``experiments`` (all when None) for a search's frame, with the
        requests of :meth:`list_runs`: the index's columns as plain values when the
        newest index of each experiment holds every run whole (a settled index: no file
        listed after it, no run RUNNING or with lifecycle events), else the records
        ``list_runs`` returns (from the same listing: no request made twice).
        """
        records: list[RunRecord] = []
        with collector_paused():
            listings = [(exp, self._listing(exp)) for exp in sorted(self._scope(experiments))]
            whole = [self._whole_index(exp, listing) for exp, listing in listings]
            if all(index is not None for index in whole):
                return index_values([index for index in whole if index is not None])
            for exp, listing in listings:
                records.extend(self._merge(exp, listing, None, None)[0])
        return self._finish(records)

    def _whole_index(self, experiment: str, listing: _Listing) -> IndexRows | None:
        """The newest index of ``experiment`` when its rows are the runs whole (see
        :meth:`index_values`), its runs noted as :meth:`_merge` notes them; else None."""
        index = listing.rows
        if not (listing.timed and listing.watermark is not None and isinstance(index, IndexRows)):
            return None
        if listing.paths:  # files after the index: the records merge them
            return None
        import pyarrow.compute as pc

        cols = index.columns
        running = pc.any(pc.equal(cols["status"], "RUNNING")).as_py()
        events = pc.max(pc.list_value_length(cols["lifecycle"])).as_py()
        if running or (events or 0) > 0:
            return None
        if self._lifecycle_files:
            for run_id in index:
                self._lifecycle_files.pop(run_id, None)
        self._experiment_of.update(dict.fromkeys(index, experiment))
        return index

    def _listing(self, experiment: str) -> _Listing:
        """The newest index of ``experiment`` and the files a search lists besides it.

        In the time-ordered layout a listing after the index's watermark (minus
        :attr:`margin`) finds every file the index does not hold; with files of the
        older per-run layout present, the whole experiment is listed (as before).
        """
        started = self.clock()  # before any listing: the next index's watermark
        base = self._segments_dir(experiment)
        with ThreadPoolExecutor(2) as pool:  # the requests of a search, overlapped
            layout = pool.submit(self._timed_layout, experiment)
            early: dict[float, Future[list[str]]] = {}

            def list_early(mark: float | None, splits: tuple[str, ...]) -> None:
                """Start listing after the newest index's watermark while it is checked."""
                if mark is not None and math.isfinite(mark):
                    early[mark] = pool.submit(
                        self.files.list_after, base, _after(mark - self.margin), splits
                    )

            generation, index, watermark = self._newest_index(experiment, list_early)
            timed = layout.result()
            if timed and watermark in early:  # the listing the checked index asks for
                paths = early[watermark].result()
            elif timed:
                after = None if watermark is None else _after(watermark - self.margin)
                splits = _splits(index.values(), after, self.range_names) if after else []
                paths = self.files.list_after(base, after, splits)
        if not timed:
            paths = self.files.find(self._path("experiments", experiment))
        return _Listing(started, generation, index, watermark, timed, paths)

    def _list_experiment(
        self,
        experiment: str,
        wanted: set[str] | None,
        keys: Collection[str] | None,
        *,
        force: bool = False,
    ) -> tuple[list[RunRecord], str | None]:
        """The runs of one experiment: index rows where they are current, else segments.

        Also returns the index object this call created (when it compacted), or None.
        """
        return self._merge(experiment, self._listing(experiment), wanted, keys, force=force)

    def _merge(
        self,
        experiment: str,
        listing: _Listing,
        wanted: set[str] | None,
        keys: Collection[str] | None,
        *,
        force: bool = False,
    ) -> tuple[list[RunRecord], str | None]:
        """The runs of :meth:`_listing`'s ``listing``: index rows where they are current,
        else segments; and the index object this call created (when it compacted)."""
        started, generation, index, watermark, timed, paths = listing
        base = self._segments_dir(experiment)
        listed = self._collect(paths)
        held: Mapping[str, IndexRow] = index if timed and watermark is not None else {}
        records: list[RunRecord] = []
        rows: dict[str, IndexRow] = {}
        unfolded: dict[str, _RunFiles] = {}  # runs with files but no record (yet)
        outside = 0
        for run_id in sorted(set(held) | set(listed)):
            row = held.get(run_id)
            if row is not None and run_id not in listed:  # the common case: the row as is
                if row.lifecycle:
                    self._lifecycle_files[run_id] = [f"{base}/{n}" for n in sorted(row.lifecycle)]
                else:
                    self._lifecycle_files.pop(run_id, None)
                if wanted is not None and run_id not in wanted:
                    continue
                rows[run_id] = row
                rec = row.record(inputs=())
                self._experiment_of[run_id] = experiment
                if keys is not None:
                    _narrow(rec, keys)
                records.append(rec)
                continue
            files = listed.get(run_id) or _RunFiles()
            new_names = frozenset(files.segments)
            if row is not None:
                files.add_row(row, base)
            if files.purged:
                self._lifecycle_files.pop(run_id, None)
                continue
            self._note_lifecycle(run_id, files)
            if wanted is not None and run_id not in wanted:
                continue
            if timed:
                current = row is not None and new_names <= row.segments
            else:
                row = index.get(run_id)
                current = row is not None and row.segments == new_names
            lifecycle = frozenset(files.lifecycle) if timed else frozenset()
            if current and row is not None:
                rec = row.record()
                rows[run_id] = (
                    row if row.lifecycle == lifecycle else replace(row, lifecycle=lifecycle)
                )
            else:
                segments = files.segment_paths()
                outside += sum(1 for p in segments if p not in self.damaged)
                read = self._read_run(run_id, segments, None)
                if read is None:
                    unfolded[run_id] = files
                    continue
                rec = read
                good = frozenset(n for n, p in files.segments.items() if p not in self.damaged)
                rows[run_id] = IndexRow(summary_of(rec), good, lifecycle=lifecycle)
            self._experiment_of[run_id] = experiment
            rec.artifacts = {}
            rec.inputs = []
            if keys is not None:
                _narrow(rec, keys)
            records.append(rec)
        created = None
        auto = self.compact_after is not None and outside > self.compact_after
        if wanted is None and (force or auto):
            mark = None
            try:
                if timed:
                    mark = self._catch_up(experiment, rows, unfolded, started)
                created = self._publish(experiment, generation, rows, mark)
            except Exception as exc:  # the search has its answer; the index can wait
                if force:
                    raise
                log.warning("compaction_failed", experiment=experiment, error=str(exc))
        return records, created

    def _catch_up(
        self,
        experiment: str,
        rows: dict[str, IndexRow],
        unfolded: dict[str, _RunFiles],
        started: float,
    ) -> float:
        """List once more the files after ``started - margin`` and fold in what is new.

        Reading the runs took a while; the files written meanwhile go into ``rows`` now,
        so the watermark is the clock at this second listing (a search then lists only
        what came after it, not everything written while the compactor was reading).
        A run with files but no record yet (its ``create`` segment not visible) stays
        out of the index, and the watermark stays early enough that a search still
        lists its oldest file. Returns the watermark.
        """
        mark = self.clock()
        base = self._segments_dir(experiment)
        after = _after(started - self.margin)
        listed = self.files.list_after(base, after, _splits(rows.values(), after, self.range_names))
        for run_id, files in self._collect(listed).items():
            row = rows.get(run_id)
            if files.purged:
                rows.pop(run_id, None)
                unfolded.pop(run_id, None)
                continue
            if row is not None:
                known = row.segments | row.lifecycle
                if set(files.segments) | set(files.lifecycle) <= known:
                    continue
                files.add_row(row, base)
            earlier = unfolded.pop(run_id, None)
            if earlier is not None:
                for name, path in earlier.segments.items():
                    files.segments.setdefault(name, path)
                for name, path in earlier.lifecycle.items():
                    files.lifecycle.setdefault(name, path)
            rec = self._read_run(run_id, files.segment_paths(), None)
            if rec is None:
                unfolded[run_id] = files
                continue
            good = frozenset(n for n, p in files.segments.items() if p not in self.damaged)
            rows[run_id] = IndexRow(summary_of(rec), good, lifecycle=frozenset(files.lifecycle))
        for files in unfolded.values():
            if any(p in self.damaged for p in files.segments.values()):
                continue  # damaged for good: it would hold the watermark back forever
            for name in (*files.segments, *files.lifecycle):
                parsed = parse_segment_name(name)
                if parsed is not None:
                    mark = min(mark, parsed[0] / 1e9 + self.margin - 0.001)
        return mark

    # -- the compacted index -----------------------------------------------------------

    def _newest_index(
        self,
        experiment: str,
        early: Callable[[float | None, tuple[str, ...]], None] | None = None,
    ) -> tuple[int, Mapping[str, IndexRow], float | None]:
        """The newest index generation of ``experiment``, its rows and its watermark.

        (0, {}, None) when there is none; a damaged generation is skipped for the one
        before it. ``early`` is called with the watermark and listing splits the first
        index object read names (unchecked: :func:`index_hints`) before its rows are
        checked.
        """
        base = self._path("index", experiment)
        generations = sorted(
            g for name in self.files.children(base) if (g := index_generation(name)) is not None
        )
        result: tuple[int, Mapping[str, IndexRow], float | None] = (
            generations[-1] if generations else 0,
            {},
            None,
        )
        for generation in reversed(generations):
            path = f"{base}/{index_name(generation)}"
            if path not in self._indexes:
                try:
                    blob = self.files.read(path)
                    mark, self._hints[path] = index_hints(blob)
                    if early is not None:
                        early(mark, self._hints[path])
                        early = None
                    self._indexes[path] = read_index(path, blob, experiment)
                except FileNotFoundError:
                    continue
                except IntegrityError as exc:
                    self._indexes[path] = None
                    self._report(path, str(exc))
            found = self._indexes[path]
            if found is not None:
                result = (generations[-1], found[0], found[1])
                break
        self._known[experiment] = result
        return result

    def _publish(
        self,
        experiment: str,
        generation: int,
        rows: dict[str, IndexRow],
        watermark: float | None,
    ) -> str | None:
        """Create index ``generation + 1``; None when another compactor created it first."""
        path = self._path("index", experiment, index_name(generation + 1))
        splits: list[str] = []
        if watermark is not None:
            splits = _splits(rows.values(), _after(watermark - self.margin), self.range_names)
        try:
            self.files.create(path, encode_index(rows, watermark, splits))
        except FileExistsError:
            log.info("compaction_lost_race", experiment=experiment, path=path)
            return None
        self._indexes[path] = (rows, watermark)
        self._hints[path] = tuple(splits)
        self._known[experiment] = (generation + 1, rows, watermark)
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
            _records, path = self._list_experiment(exp, None, None, force=True)
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
