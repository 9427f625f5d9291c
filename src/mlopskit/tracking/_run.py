"""Runs and the tracker of a workspace: start, log, end, read back.

A :class:`Run` is a handle on one run. Started with :meth:`Tracker.start_run` it is
*live*: active in the current context (thread / asyncio task) until it ends, its
metrics buffered, its process watched (heartbeat, interpreter exit, SIGTERM). Returned
by :meth:`Tracker.get_run` it is a handle on a stored run: its properties read the
backend, and logging to it still works.
"""

from __future__ import annotations

import atexit
import contextvars
import html
import io
import json
import math
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from itertools import repeat
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from mlopskit import _config, _context
from mlopskit._log import get_logger
from mlopskit.errors import (
    InvalidInputError,
    NotFoundError,
    RefConflictError,
)
from mlopskit.store import ArtifactRef, ArtifactStore, store_for
from mlopskit.tracking._backend import TrackingBackend
from mlopskit.tracking._buffer import DEFAULT_MAX_AGE, DEFAULT_MAX_POINTS, MetricBuffer, worker
from mlopskit.tracking._model import (
    MetricPoint,
    RunInput,
    RunRecord,
    _valid_keys,
    check_experiment,
    check_key,
    check_run_id,
    check_status,
    metric_step,
    metric_time,
    metric_value,
    param_value,
    tag_value,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Run", "Tracker", "effective_status", "tracker_for"]

log = get_logger("mlopskit.tracking")

ANCHOR_PREFIX = "tracking/runs"
ANCHOR_FORMAT = "mlopskit.tracking.artifacts/1"
_UNSET: Any = object()
_open_runs: dict[int, Run] = {}
_open_lock = threading.Lock()


def default_experiment() -> str:
    """``MLOPSKIT_EXPERIMENT`` or ``default``."""
    return str(_config.setting("experiment", default="default"))


def _heartbeat_timeout() -> float:
    return float(_config.setting("heartbeat_timeout", default=60.0, parse=float))


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # pragma: no cover - platforms without signal 0
        return True
    return True


def effective_status(
    record: RunRecord, *, now: float | None = None, timeout: float | None = None
) -> str:
    """The stored status, except that a RUNNING run whose writers are all gone is KILLED.

    A writer is gone when its heartbeat is older than ``timeout`` seconds
    (``MLOPSKIT_HEARTBEAT_TIMEOUT``, 60 by default); a writer on this host also when
    its process no longer exists. A live process with the writer's PID is not enough:
    PIDs are reused (a container restarted under the same hostname), so the heartbeat
    must be fresh as well.
    """
    if record.stored_status != "RUNNING":
        return record.stored_status
    now = time.time() if now is None else now
    timeout = _heartbeat_timeout() if timeout is None else timeout
    from mlopskit.tracking._env import whoami

    host = whoami()[1]
    for writer in record.writers:
        if not writer.active:
            continue
        if now - writer.heartbeat >= timeout:
            continue
        if writer.host != host or _pid_alive(writer.pid):
            return "RUNNING"
    return "KILLED"


def _backend_for(uri: str) -> TrackingBackend:
    from mlopskit.store._fs import Location

    choice = str(_config.setting("tracking_backend", default="auto")).lower()
    if choice not in ("auto", "sqlite", "objectstore"):
        from mlopskit.errors import ConfigError

        raise ConfigError(
            f"MLOPSKIT_TRACKING_BACKEND={choice!r}: expected auto, sqlite or objectstore"
        )
    local = "://" not in uri or uri.startswith("file://")
    if choice == "sqlite" or (choice == "auto" and local):
        from mlopskit.tracking._sqlite import SQLiteBackend

        root = Location(uri).root
        return SQLiteBackend(os.path.join(root, "tracking.sqlite"))
    from mlopskit.tracking._objectstore import ObjectStoreBackend

    return ObjectStoreBackend(uri)


_trackers: dict[tuple[str, str], Tracker] = {}
_trackers_lock = threading.Lock()


def tracker_for(uri: str | os.PathLike[str]) -> Tracker:
    """The (cached) tracker of the workspace at ``uri``."""
    key = (os.fspath(uri), str(_config.setting("tracking_backend", default="auto")))
    with _trackers_lock:
        tracker = _trackers.get(key)
        if tracker is None:
            tracker = _trackers[key] = Tracker(key[0])
        return tracker


class Tracker:
    """The runs of one workspace: a backend for records plus the store for artifacts.

    Args:
        uri: the workspace root.
        backend: a backend to use instead of the one the URI implies (SQLite for a
            local path, the object-store backend otherwise).
        max_points: a run's buffered metric points are written once this many wait.
        max_age: ... or once the oldest has waited this many seconds.
    """

    def __init__(
        self,
        uri: str | os.PathLike[str],
        backend: TrackingBackend | None = None,
        *,
        max_points: int = DEFAULT_MAX_POINTS,
        max_age: float = DEFAULT_MAX_AGE,
    ) -> None:
        self.uri = os.fspath(uri)
        self.backend: TrackingBackend = backend if backend is not None else _backend_for(self.uri)
        self.max_points = max_points
        self.max_age = max_age

    def __repr__(self) -> str:
        return f"Tracker({self.uri!r}, backend={self.backend!r})"

    @property
    def store(self) -> ArtifactStore:
        """The workspace's artifact store."""
        return store_for(self.uri)

    # -- runs --------------------------------------------------------------------------

    def start_run(
        self,
        experiment: str | None = None,
        *,
        name: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        resume: bool | None = None,
        parent: Run | str | None = _UNSET,
        capture_env: bool = True,
        git: bool = True,
    ) -> Run:
        """Start (or resume) a run and make it active here; see :func:`start_run`."""
        active = _active()
        if parent is _UNSET:
            parent = active
        parent_id = parent.run_id if isinstance(parent, Run) else parent
        if experiment is None:
            experiment = parent.experiment if isinstance(parent, Run) else default_experiment()
        check_experiment(experiment)
        if run_id is not None:
            check_run_id(run_id)
        clean_params = {check_key(k, "param"): param_value(k, v) for k, v in (params or {}).items()}
        clean_tags = {check_key(k, "tag"): tag_value(k, v) for k, v in (tags or {}).items()}
        env_diff: bytes | None = None
        if capture_env:
            from mlopskit.tracking._env import capture

            env = capture(git=git)
            env_diff = env.diff
            clean_tags = {**env.tags, **clean_tags}
        from mlopskit.tracking._env import whoami

        user, host = whoami()
        rid = run_id or uuid.uuid4().hex
        record = RunRecord(
            run_id=rid,
            experiment=experiment,
            name=name or f"run-{rid[:8]}",
            status="RUNNING",
            start_time=time.time(),
            parent_id=parent_id,
            user=user,
            host=host,
            params=clean_params,
            tags=clean_tags,
        )
        created = False
        if resume is not True:
            created = self.backend.create_run(record)
        if not created:
            if resume is False:
                raise InvalidInputError(
                    f"run {rid!r} exists already; pass resume=True (or leave resume unset) "
                    "to continue it",
                    run_id=rid,
                )
            stored = self.backend.get_run(rid)  # NotFoundError for resume=True on nothing
            self.backend.attach(rid)
            experiment = stored.experiment
            if clean_params:
                self.backend.log_params(rid, clean_params)
            if clean_tags:
                self.backend.set_tags(rid, clean_tags)
        run = Run(self, rid, experiment, name=record.name if created else None, parent_id=parent_id)
        run._go_live()
        if env_diff:
            run.log_artifact(env_diff, name="mlopskit/git.diff")
        return run

    def get_run(self, run_id: str) -> Run:
        """A handle on a stored run (NotFoundError if there is none)."""
        record = self.backend.get_run(check_run_id(run_id))
        run = Run(
            self, record.run_id, record.experiment, name=record.name, parent_id=record.parent_id
        )
        run._cached = record
        return run

    def record(self, run_id: str) -> RunRecord:
        """The stored record with its effective status (see :func:`effective_status`)."""
        rec = self.backend.get_run(run_id)
        rec.status = effective_status(rec)
        return rec

    def experiments(self) -> list[str]:
        """Names of the experiments in this workspace."""
        return self.backend.experiments()

    def search_runs(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        """See :func:`mlopskit.tracking.search_runs`."""
        from mlopskit.tracking._search import search_runs

        return search_runs(self, *args, **kwargs)

    # -- artifacts kept alive for gc -----------------------------------------------------

    def _anchor(self, run_id: str, name: str, ref: ArtifactRef) -> None:
        """Point ref ``tracking/runs/<run_id>`` at a record linking every artifact of the
        run, so that ``store.gc`` never sweeps a logged artifact."""
        store = self.store
        refname = f"{ANCHOR_PREFIX}/{run_id}"
        for _ in range(100):
            rec = store.refs.record(refname)
            current = rec.target if rec is not None else None
            known: dict[str, Any] = {}
            if current is not None:
                known = dict(store.read_record(current).get("artifacts", {}))
            if known.get(name, {}).get("digest") == ref.digest:
                return
            known[name] = ref.model_dump(mode="json")
            links = [ArtifactRef.model_validate(v) for v in known.values()]
            new = store.put_record(
                {"format": ANCHOR_FORMAT, "run_id": run_id, "artifacts": known}, links
            )
            try:
                store.refs.set(refname, new, expected=current, message=f"log artifact {name}")
                return
            except RefConflictError:
                continue
        raise RefConflictError(  # pragma: no cover - 100 lost races in a row
            f"could not record artifact {name!r} of run {run_id}: the ref kept moving",
            name=refname,
        )


def _active() -> Run | None:
    run = _context.active_run()
    return run if isinstance(run, Run) else None


class Run:
    """One run: log to it, read it back. A context manager that ends the run on exit.

    Attributes:
        run_id: the run's id (32 hex characters unless chosen).
        experiment: the experiment it belongs to.
        parent_id: the enclosing run's id for a nested run.
    """

    def __init__(
        self,
        tracker: Tracker,
        run_id: str,
        experiment: str,
        *,
        name: str | None = None,
        parent_id: str | None = None,
    ) -> None:
        self.tracker = tracker
        self.run_id = run_id
        self.experiment = experiment
        self.parent_id = parent_id
        self._name = name
        self._buffer: MetricBuffer | None = None
        self._steps: dict[str, int] = {}
        self._params: dict[str, str] = {}
        self._token: contextvars.Token[Any] | None = None
        self._previous: Any = None
        self._live = False
        self._ended = False
        self._cached: RunRecord | None = None

    def __repr__(self) -> str:
        return f"Run(run_id={self.run_id!r}, experiment={self.experiment!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.run_id == self.run_id

    def __hash__(self) -> int:
        return hash(self.run_id)

    # -- life cycle --------------------------------------------------------------------

    def _go_live(self) -> None:
        self._live = True
        self._previous = _context.active_run()
        self._token = _context.set_active_run(self)
        with _open_lock:
            _open_runs[id(self)] = self
        _install_signal_handler()
        worker.register(self._metric_buffer(), self.tracker.backend)

    def _metric_buffer(self) -> MetricBuffer:
        buf = self._buffer
        if buf is None:
            backend, run_id = self.tracker.backend, self.run_id
            buf = self._buffer = MetricBuffer(
                lambda batch: backend.log_metrics(run_id, batch),
                max_points=self.tracker.max_points,
                max_age=self.tracker.max_age,
                label=run_id,
            )
            if not self._live:
                worker.register(buf, backend)
        return buf

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.end("FINISHED")
        else:
            self.end(_status_for(exc), error=exc)

    def end(self, status: str = "FINISHED", *, error: BaseException | None = None) -> None:
        """Flush, record ``status`` (and ``error``'s type, message, traceback) and end.

        Ending twice does nothing. The run stops being the active one.
        """
        if self._ended:
            return
        status = check_status(status)
        if status == "RUNNING":
            raise InvalidInputError("end a run with FINISHED, FAILED or KILLED, not RUNNING")
        self._ended = True
        self._cached = None
        flush_error: BaseException | None = None
        try:
            self.flush()
        except Exception as exc:  # keep going: the status must still be recorded
            flush_error = exc
        try:
            if error is not None:
                self.tracker.backend.set_tags(self.run_id, _error_tags(error))
            self.tracker.backend.finish(self.run_id, status, time.time())
        finally:
            self._detach()
        if flush_error is not None:
            raise flush_error

    def _detach(self) -> None:
        if self._buffer is not None and not len(self._buffer):
            worker.unregister(self._buffer)
        with _open_lock:
            _open_runs.pop(id(self), None)
        if not self._live:
            return
        self._live = False
        if _context.active_run() is self:
            try:
                if self._token is not None:
                    _context.reset_active_run(self._token)
            except ValueError:  # ended from another context: restore by hand
                _context.set_active_run(self._previous)
            else:
                if _context.active_run() is self:  # pragma: no cover - defensive
                    _context.set_active_run(self._previous)

    def flush(self) -> None:
        """Write every buffered metric point now (raises if the backend fails)."""
        if self._buffer is not None:
            self._buffer.flush()

    # -- logging -----------------------------------------------------------------------

    def log_param(self, key: str, value: Any) -> None:
        """Record a parameter; it cannot change once logged (the same value is fine)."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record several parameters in one write."""
        clean = {check_key(k, "param"): param_value(k, v) for k, v in params.items()}
        for key, value in clean.items():
            old = self._params.get(key)
            if old is not None and old != value:
                raise InvalidInputError(
                    f"param {key!r} of run {self.run_id} is already {old!r}; params are "
                    f"immutable, so it cannot become {value!r}",
                    key=key,
                    expected=old,
                    found=value,
                )
        new = {k: v for k, v in clean.items() if self._params.get(k) != v}
        if new:
            self.tracker.backend.log_params(self.run_id, new)
            self._params.update(new)
            self._cached = None

    def log_metric(
        self,
        key: str,
        value: float,
        step: int | None = None,
        timestamp: float | datetime | None = None,
    ) -> None:
        """Buffer one point. ``step`` defaults to the key's last step + 1 (from 0)."""
        if key.__class__ is not str or key not in _valid_keys:
            check_key(key)
        if value.__class__ is float and value - value == 0.0:  # finite float: fast path
            v: float = value
        else:
            v = metric_value(key, value)
        step = metric_step(key, self._steps.get(key, 0) if step is None else step)
        ts = time.time() if timestamp is None else metric_time(key, timestamp)
        self._steps[key] = step + 1
        buf = self._buffer or self._metric_buffer()
        buf.add((key, v, step, ts))

    def log_metrics(
        self,
        metrics: Mapping[str, float],
        step: int | None = None,
        timestamp: float | datetime | None = None,
    ) -> None:
        """Buffer one point per key (all validated before any is buffered)."""
        ts = time.time() if timestamp is None else metric_time("*", timestamp)
        batch: list[MetricPoint] = []
        steps = dict(self._steps)
        for key, value in metrics.items():
            check_key(key)
            v = metric_value(key, value)
            s = metric_step(key, steps.get(key, 0) if step is None else step)
            steps[key] = s + 1
            batch.append((key, v, s, ts))
        self._steps = steps
        (self._buffer or self._metric_buffer()).extend(batch)

    def log_batch(
        self,
        key: str,
        values: Iterable[float],
        steps: Iterable[int] | None = None,
        timestamps: Iterable[float | datetime] | None = None,
    ) -> None:
        """Buffer a whole series of one metric at once (the fast path for arrays)."""
        check_key(key)
        if hasattr(values, "tolist"):  # numpy arrays, pandas series
            values = values.tolist()
        raw = list(values)
        if set(map(type, raw)) <= {float, int} and _finite_sum(raw):
            vals = list(map(float, raw))  # every value a finite real number: C speed
        else:
            vals = [metric_value(key, v) for v in raw]
        start = self._steps.get(key, 0)
        if steps is None:
            st: list[int] = list(range(start, start + len(vals)))
            if vals:
                metric_step(key, st[-1])
        else:
            st = [metric_step(key, s) for s in steps]
        now = time.time()
        ts = [now] * len(vals) if timestamps is None else [metric_time(key, t) for t in timestamps]
        if not len(st) == len(ts) == len(vals):
            raise InvalidInputError(
                f"log_batch({key!r}): {len(vals)} values, {len(st)} steps, {len(ts)} timestamps"
            )
        if st:
            self._steps[key] = max(st) + 1
        (self._buffer or self._metric_buffer()).extend(list(zip(repeat(key), vals, st, ts)))

    def set_tag(self, key: str, value: Any) -> None:
        """Set a tag (tags, unlike params, can change)."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set several tags in one write."""
        clean = {check_key(k, "tag"): tag_value(k, v) for k, v in tags.items()}
        self.tracker.backend.set_tags(self.run_id, clean)
        self._cached = None

    def log_artifact(self, artifact: Any, name: str | None = None) -> ArtifactRef:
        """Store a file, a directory or an object in the workspace store; record its ref.

        Args:
            artifact: a path to a file or directory, bytes, or any object a codec
                takes (arrays, frames, JSON-able values, pickles).
            name: the artifact's name in the run; defaults to the file or directory
                name (required for objects).

        Identical content is stored once, however many runs log it.
        """
        store = self.tracker.store
        if isinstance(artifact, ArtifactRef):
            ref, default = artifact, None
        elif isinstance(artifact, (str, os.PathLike)):
            path = os.fspath(artifact)
            if os.path.isdir(path):
                ref = store.put_dir(path)
            elif os.path.exists(path):
                ref = store.put_file(path)
            else:
                raise NotFoundError(
                    f"no such file or directory: {path!r} (to log a string, use log_text)",
                    path=path,
                )
            default = os.path.basename(os.path.normpath(path))
        elif isinstance(artifact, (bytes, bytearray, memoryview)):
            ref, default = store.put_bytes(artifact), None
        else:
            ref, default = store.put(artifact), None
        final = name or default
        if not final:
            raise InvalidInputError(
                f"log_artifact of a {type(artifact).__name__} needs name=…", run_id=self.run_id
            )
        check_key(final, "artifact")
        self.tracker._anchor(self.run_id, final, ref)
        self.tracker.backend.log_artifact(self.run_id, final, ref)
        self._cached = None
        return ref

    def log_dict(self, data: Mapping[str, Any], name: str) -> ArtifactRef:
        """Store ``data`` as a JSON artifact (keys sorted, so equal dicts dedupe)."""
        body = json.dumps(data, sort_keys=True, indent=2, default=str).encode()
        ref = self.tracker.store.put_bytes(body, media_type="application/json")
        return self.log_artifact(ref, name)

    def log_text(self, text: str, name: str) -> ArtifactRef:
        """Store ``text`` (UTF-8) as an artifact."""
        if not isinstance(text, str):
            raise InvalidInputError(f"log_text takes a str, found {type(text).__name__}")
        ref = self.tracker.store.put_bytes(text.encode(), media_type="text/plain; charset=utf-8")
        return self.log_artifact(ref, name)

    def log_figure(self, figure: Any, name: str = "figure.png", **savefig: Any) -> ArtifactRef:
        """Store a matplotlib figure (``savefig``'s format follows the name's suffix)."""
        if not hasattr(figure, "savefig"):
            from mlopskit._optional import import_optional

            import_optional("matplotlib", "plot", purpose="log_figure")
            raise InvalidInputError(
                f"log_figure takes a matplotlib figure, found {type(figure).__name__}"
            )
        fmt = os.path.splitext(name)[1].lstrip(".").lower() or "png"
        buf = io.BytesIO()
        figure.savefig(buf, format=fmt, **savefig)
        media = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}.get(fmt)
        ref = self.tracker.store.put_bytes(buf.getvalue(), media_type=media)
        return self.log_artifact(ref, name)

    def log_input(self, item: Any, name: str | None = None, context: str | None = None) -> RunInput:
        """Record that the run consumed ``item``: an ArtifactRef, a digest string, or any
        object with a ``digest`` attribute (such as a dataset version)."""
        digest = item if isinstance(item, str) else getattr(item, "digest", None)
        if not isinstance(digest, str):
            raise InvalidInputError(
                f"log_input needs an ArtifactRef, a digest or an object with a .digest, "
                f"found {type(item).__name__}"
            )
        from mlopskit.hashing import check_digest

        check_digest(digest)
        if name is None:
            label = getattr(item, "name", None)
            number = getattr(item, "number", None)
            if isinstance(label, str):
                name = f"{label}@{number}" if isinstance(number, int) else label
        entry = RunInput(digest=digest, name=name, context=context)
        self.tracker.backend.log_input(self.run_id, entry)
        self._cached = None
        return entry

    # -- reading -----------------------------------------------------------------------

    def record(self) -> RunRecord:
        """A fresh snapshot of the stored run (this handle's buffered points flushed)."""
        if self._buffer is not None and (len(self._buffer) or self._buffer.error):
            self.flush()
        rec = self.tracker.record(self.run_id)
        self._cached = rec
        return rec

    def _rec(self) -> RunRecord:
        if self._cached is None or self._live or (self._buffer is not None and len(self._buffer)):
            return self.record()
        return self._cached

    def refresh(self) -> Run:
        """Forget the snapshot a handle from ``get_run`` reads; the next read is fresh."""
        self._cached = None
        return self

    @property
    def name(self) -> str:
        """The run's name."""
        if self._name is None:
            self._name = self._rec().name
        return self._name

    @property
    def status(self) -> str:
        """RUNNING, FINISHED, FAILED or KILLED (a dead process's run reads KILLED)."""
        return self.record().status

    @property
    def params(self) -> dict[str, str]:
        """Parameters, as strings."""
        return self._rec().params

    @property
    def metrics(self) -> dict[str, float]:
        """Each metric's latest value."""
        return self._rec().metrics

    @property
    def tags(self) -> dict[str, str]:
        """Tags, including the captured environment (``mlopskit.*``)."""
        return self._rec().tags

    @property
    def artifacts(self) -> dict[str, ArtifactRef]:
        """Artifact name → store ref (what lineage follows downstream)."""
        return self._rec().artifacts

    @property
    def inputs(self) -> list[RunInput]:
        """What the run consumed, by digest (what lineage follows upstream)."""
        return self._rec().inputs

    @property
    def start_time(self) -> float:
        """Start, in seconds since the epoch."""
        return self._rec().start_time

    @property
    def end_time(self) -> float | None:
        """End, in seconds since the epoch (None while running)."""
        return self._rec().end_time

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (None while running)."""
        return self._rec().duration

    def metric_history(self, key: str) -> pd.DataFrame:
        """Every point of one metric: columns ``step``, ``value``, ``timestamp`` (UTC)."""
        import pandas as pd

        self.flush()
        rows = self.tracker.backend.metric_history(self.run_id, key)
        frame: pd.DataFrame = pd.DataFrame(rows, columns=["step", "value", "timestamp"])
        frame["step"] = frame["step"].astype("int64")
        frame["value"] = frame["value"].astype("float64")
        frame["timestamp"] = pd.to_datetime(
            frame["timestamp"].astype("float64"), unit="s", utc=True
        )
        return frame

    def load_artifact(self, name: str, *, trusted: bool | None = None) -> Any:
        """Load an artifact back: bytes for files, a dict for ``log_dict``, the object
        for ``log_artifact(obj)``, tree entries for a directory."""
        try:
            ref = self.artifacts[name]
        except KeyError:
            raise NotFoundError(
                f"run {self.run_id} has no artifact {name!r}; it has {sorted(self.artifacts)}",
                name=name,
            ) from None
        store = self.tracker.store
        if ref.kind == "blob":  # files and bytes: JSON is decoded, the rest is bytes
            data = store.get_bytes(ref)
            return json.loads(data) if ref.media_type == "application/json" else data
        return store.get(ref, trusted=trusted)

    def to_dict(self) -> dict[str, Any]:
        """The run as a JSON-able dict."""
        return self.record().to_dict()

    def _repr_html_(self) -> str:
        rec = self.record()
        rows = [
            ("run", rec.run_id),
            ("name", rec.name),
            ("experiment", rec.experiment),
            ("status", rec.status),
            ("duration", "" if rec.duration is None else f"{rec.duration:.3f} s"),
        ]
        if rec.parent_id:
            rows.append(("parent", rec.parent_id))
        rows += [(f"params.{k}", v) for k, v in sorted(rec.params.items())]
        rows += [(f"metrics.{k}", f"{v:.6g}") for k, v in sorted(rec.metrics.items())]
        rows += [
            (f"tags.{k}", v)
            for k, v in sorted(rec.tags.items())
            if not k.startswith("mlopskit.error.traceback")
        ]
        rows += [(f"artifact {k}", r.digest[:19] + "…") for k, r in sorted(rec.artifacts.items())]
        rows += [("input", f"{i.name or ''} {i.digest[:19]}…") for i in rec.inputs]
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in rows
        )
        return f"<table class='mlopskit-run'>{body}</table>"


def _finite_sum(values: list[Any]) -> bool:
    try:
        return math.isfinite(math.fsum(values))
    except OverflowError:
        return False


def _status_for(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "KILLED"
    if isinstance(exc, SystemExit) and exc.code in (0, None):
        return "FINISHED"
    return "FAILED"


def _error_tags(exc: BaseException) -> dict[str, str]:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {
        "mlopskit.error.type": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "mlopskit.error.message": str(exc)[:8000],
        "mlopskit.error.traceback": text[-16000:],
    }


# -- process end: interpreter exit and SIGTERM ---------------------------------------------


def _end_open_runs(status: str, error: BaseException | None = None) -> None:
    with _open_lock:
        runs = list(_open_runs.values())
    for run in reversed(runs):  # children before parents
        try:
            run.end(status, error=error)
        except Exception as exc:
            log.error("run_not_ended", run=run.run_id, error=str(exc))


def _at_exit() -> None:
    error = getattr(sys, "last_value", None)
    if error is None or (isinstance(error, SystemExit) and error.code in (0, None)):
        _end_open_runs("FINISHED")
    else:
        _end_open_runs(_status_for(error), error)
    try:
        worker.flush_all()
    except Exception as exc:
        log.error("metrics_not_written_at_exit", error=str(exc))


atexit.register(_at_exit)

_signal_state: dict[str, Any] = {"installed": False, "previous": None}


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    previous = _signal_state["previous"]
    if callable(previous):
        try:
            worker.flush_all()
        except Exception as exc:
            log.error("metrics_not_written_on_sigterm", error=str(exc))
        previous(signum, frame)
        return
    if previous == signal.SIG_IGN:
        try:
            worker.flush_all()
        except Exception as exc:
            log.error("metrics_not_written_on_sigterm", error=str(exc))
        return
    _end_open_runs("KILLED")
    try:
        worker.flush_all()
    except Exception as exc:
        log.error("metrics_not_written_on_sigterm", error=str(exc))
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _install_signal_handler() -> None:
    if _signal_state["installed"] or threading.current_thread() is not threading.main_thread():
        return
    try:
        previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # pragma: no cover - not the main interpreter
        return
    _signal_state.update(installed=True, previous=previous)
