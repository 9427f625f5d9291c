"""The tracker of a workspace: a backend for run records plus the store for artifacts.

:func:`tracker_for` caches one :class:`Tracker` per workspace URI (and backend
choice); :meth:`Tracker.start_run` starts a live :class:`~mlopskit.tracking.Run`,
:meth:`Tracker.get_run` returns a handle on a stored one.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Collection, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mlopskit import _config, _context
from mlopskit.errors import InvalidInputError, NotFoundError
from mlopskit.store import ArtifactStore, store_for
from mlopskit.tracking._backend import TrackingBackend
from mlopskit.tracking._buffer import DEFAULT_MAX_AGE, DEFAULT_MAX_POINTS
from mlopskit.tracking._model import RunRecord
from mlopskit.tracking._run import Run
from mlopskit.tracking._status import effective_status
from mlopskit.tracking._validate import (
    check_experiment,
    check_key,
    check_run_id,
    param_value,
    tag_value,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["UNSET", "Tracker", "active", "backend_for", "default_experiment", "tracker_for"]

#: "Not given" for ``parent=`` (None means "no parent").
UNSET: Any = object()


def default_experiment() -> str:
    """``MLOPSKIT_EXPERIMENT`` or ``default``."""
    return str(_config.setting("experiment", default="default"))


def active() -> Run | None:
    """The run active in this thread / asyncio task, if it is one of ours."""
    run = _context.active_run()
    return run if isinstance(run, Run) else None


def backend_for(uri: str) -> TrackingBackend:
    """The backend a workspace URI implies (``MLOPSKIT_TRACKING_BACKEND`` can force one)."""
    choice = str(_config.setting("tracking_backend", default="auto")).lower()
    if choice not in ("auto", "sqlite", "objectstore"):
        from mlopskit.errors import ConfigError

        raise ConfigError(
            f"MLOPSKIT_TRACKING_BACKEND={choice!r}: expected auto, sqlite or objectstore"
        )
    local = "://" not in uri or uri.startswith("file://")
    if choice == "sqlite" or (choice == "auto" and local):
        from mlopskit.tracking._sqlite import SQLiteBackend

        path = uri[len("file://") :] if uri.startswith("file://") else uri
        root = os.path.abspath(os.path.expanduser(path))
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
        self.backend: TrackingBackend = backend if backend is not None else backend_for(self.uri)
        self.max_points = max_points
        self.max_age = max_age
        self._names: dict[str, set[str]] = {}  # experiment -> run names known here
        self._names_lock = threading.Lock()

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
        parent: Run | str | None = UNSET,
        capture_env: bool = True,
        git: bool = True,
        log_system_metrics: bool | None = None,
    ) -> Run:
        """Start (or resume) a run and make it active here; see :func:`start_run`.

        ``log_system_metrics`` (default: ``MLOPSKIT_LOG_SYSTEM_METRICS``) samples CPU,
        memory, disk, network and GPU into ``system/*`` metrics until the run ends.
        """
        current = active()
        if parent is UNSET:
            parent = current
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
            name=name or self._fresh_name(experiment),
            status="RUNNING",
            start_time=datetime.now(timezone.utc),
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
        run = Run(
            self,
            rid,
            experiment,
            name=record.name if created else None,
            parent_id=parent_id,
            live=True,
        )
        if env_diff:
            run.log_artifact(env_diff, name="mlopskit/git.diff")
        if _config.flag("log_system_metrics", log_system_metrics, default=False):
            from mlopskit.tracking._system import SystemMetricsMonitor

            SystemMetricsMonitor(run).start()
        return run

    def _fresh_name(self, experiment: str) -> str:
        """A readable ``adjective-animal-NNN`` name no run of ``experiment`` has yet."""
        from mlopskit.tracking._names import generate_name

        with self._names_lock:
            known = self._names.get(experiment)
            if known is None:
                # One listing per experiment and process where listing is local (SQLite);
                # on an object store that would add requests to every first run, so names
                # are checked against this process's runs (6.9 million names exist).
                records = (
                    self.backend.list_runs([experiment], keys=[])
                    if getattr(self.backend, "lists_locally", False)
                    else []
                )
                known = self._names[experiment] = {r.name for r in records}
            name = generate_name(known)
            known.add(name)
            return name

    def get_run(self, run_id: str) -> Run:
        """A handle on a stored run (NotFoundError if there is none)."""
        record = self.backend.get_run(check_run_id(run_id))
        return Run(
            self,
            record.run_id,
            record.experiment,
            name=record.name,
            parent_id=record.parent_id,
            record=record,
        )

    def record(self, run_id: str) -> RunRecord:
        """The stored record with its effective status (see :func:`effective_status`)."""
        rec = self.backend.get_run(run_id)
        rec.status = effective_status(rec)
        return rec

    def experiments(self) -> list[str]:
        """Names of the experiments in this workspace."""
        return self.backend.experiments()

    def compact(self, experiments: Collection[str] | None = None) -> list[str]:
        """Fold the run summaries of ``experiments`` (all when None) into new index objects,
        so that a search reads one index instead of every run's segments (object stores;
        see docs/tracking.md). Returns the index paths created; a backend without an index
        (SQLite, which has its own) returns ``[]``.
        """
        if experiments is not None:
            known = set(self.experiments())
            unknown = sorted(set(experiments) - known)
            if unknown:
                from mlopskit._suggest import not_found

                error: NotFoundError = not_found(
                    "experiment", unknown[0], known, noun="experiments"
                )
                raise error
        compact = getattr(self.backend, "compact", None)
        if compact is None:
            return []
        return list(compact(experiments))

    def search_runs(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        """See :func:`mlopskit.tracking.search_runs`."""
        from mlopskit.tracking._search import search_runs

        return search_runs(self, *args, **kwargs)
