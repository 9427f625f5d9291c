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
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from mlopskit import _config, _context
from mlopskit.errors import InvalidInputError, NotFoundError
from mlopskit.store import ArtifactStore, store_for
from mlopskit.tracking._backend import TrackingBackend
from mlopskit.tracking._buffer import DEFAULT_MAX_AGE, DEFAULT_MAX_POINTS
from mlopskit.tracking._deletion import DEFAULT_OLDER_THAN, current_states, drop_anchors
from mlopskit.tracking._model import PAUSED_TAG, LifecycleEvent, PurgeReport, RunRecord
from mlopskit.tracking._run import Run
from mlopskit.tracking._status import effective_status
from mlopskit.tracking._validate import (
    check_experiment,
    check_key,
    check_run_id,
    check_text,
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
    key = (_config.resolve_uri(uri), str(_config.setting("tracking_backend", default="auto")))
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
        user_tags = dict(clean_tags)
        env_diff: bytes | None = None
        env_tags: dict[str, str] = {}
        if capture_env:
            from mlopskit.tracking._env import capture

            env = capture(git=git)
            env_diff = env.diff
            env_tags = env.tags
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
            if stored.lifecycle == "deleted":
                raise InvalidInputError(
                    f"run {rid!r} is deleted; restore it first "
                    f"(tracker.restore_run({rid!r}) or 'mlopskit runs restore {rid}')",
                    run_id=rid,
                )
            self.backend.attach(rid)
            experiment = stored.experiment
            if clean_params:
                self.backend.log_params(rid, clean_params)
            resumed = _resume_tags(stored, env_tags, user, host)
            self.backend.set_tags(rid, {**resumed, **user_tags})
            env_diff = None  # the original run's diff stays its diff
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

    # -- deleting and restoring ------------------------------------------------------

    def _event(
        self, kind: str, name: str, state: str, reason: str | None, via: str = ""
    ) -> LifecycleEvent:
        if reason is not None and not isinstance(reason, str):
            raise InvalidInputError(f"reason must be text, found {reason!r}", found=repr(reason))
        user, _host = _context.whoami()
        event = LifecycleEvent.model_validate(
            {
                "kind": kind,
                "name": name,
                "state": state,
                "time": datetime.now(timezone.utc),
                "user": user,
                "reason": check_text("reason", reason or ""),
                "via": via,
            }
        )
        self.backend.set_lifecycle(event)
        return event

    def delete_run(self, run_id: str, *, reason: str | None = None) -> LifecycleEvent | None:
        """Soft-delete a run: hidden from searches (``run_view="deleted"`` shows it), kept
        until :meth:`gc` purges it, undone by :meth:`restore_run`.

        Returns the event written (who, when, why), or None when the run was deleted
        already. NotFoundError for an unknown run.
        """
        rec = self.backend.get_run(check_run_id(run_id))
        if rec.lifecycle == "deleted":
            return None
        return self._event("run", run_id, "deleted", reason)

    def restore_run(self, run_id: str, *, reason: str | None = None) -> LifecycleEvent | None:
        """Undo :meth:`delete_run`; returns the event written, or None when the run is active."""
        rec = self.backend.get_run(check_run_id(run_id))
        if rec.lifecycle == "active":
            return None
        return self._event("run", run_id, "active", reason)

    def _known_experiment(self, name: str) -> str:
        check_experiment(name)
        known = self.experiments()
        if name not in known:
            from mlopskit._suggest import not_found

            raise not_found("experiment", name, known, noun="experiments")
        return name

    def experiment_lifecycle(self) -> dict[str, LifecycleEvent]:
        """The newest lifecycle event of each experiment that has one (deleted or restored)."""
        states = current_states(self.backend.lifecycle_events("experiment"))
        return {name: e for (_, name), e in states.items() if e.state != "purged"}

    def delete_experiment(self, name: str, *, reason: str | None = None) -> LifecycleEvent | None:
        """Soft-delete an experiment and every active run in it (each run records that it
        went with the experiment, so :meth:`restore_experiment` brings back exactly those).

        Returns the experiment's event, or None when it was deleted already.
        """
        self._known_experiment(name)
        current = self.experiment_lifecycle().get(name)
        if current is not None and current.state == "deleted":
            return None
        event = self._event("experiment", name, "deleted", reason)
        for rec in self.backend.list_runs([name], keys=()):
            if rec.lifecycle == "active":
                self._event("run", rec.run_id, "deleted", reason, via="experiment")
        return event

    def restore_experiment(self, name: str, *, reason: str | None = None) -> LifecycleEvent | None:
        """Undo :meth:`delete_experiment`: the experiment and the runs deleted with it (runs
        deleted on their own stay deleted). None when the experiment is not deleted."""
        self._known_experiment(name)
        current = self.experiment_lifecycle().get(name)
        if current is None or current.state != "deleted":
            return None
        event = self._event("experiment", name, "active", reason)
        for rec in self.backend.list_runs([name], keys=()):
            if rec.deletion is not None and rec.deletion.via == "experiment":
                self._event("run", rec.run_id, "active", reason, via="experiment")
        return event

    def gc(
        self, *, older_than: timedelta = DEFAULT_OLDER_THAN, dry_run: bool = True
    ) -> PurgeReport:
        """Purge runs deleted more than ``older_than`` ago: their records, metrics and the
        refs that kept their artifacts (a later ``store.gc`` reclaims the objects nothing
        else reaches: an artifact a model version was registered from stays). Experiments
        left without runs are forgotten. A dry run (the default) only reports.
        """
        if not isinstance(older_than, timedelta) or older_than < timedelta(0):
            raise InvalidInputError(
                f"older_than must be a non-negative timedelta, found {older_than!r}",
                found=repr(older_than),
            )
        cutoff = datetime.now(timezone.utc) - older_than
        report = PurgeReport(dry_run=dry_run)
        records = self.backend.list_runs(None, keys=())
        left: set[str] = set()
        for rec in records:
            if rec.lifecycle != "deleted" or rec.deletion is None:
                left.add(rec.experiment)
            elif rec.deletion.time > cutoff:
                report.kept_young.append(rec.run_id)
                left.add(rec.experiment)
            else:
                report.purged_runs.append(rec.run_id)
                if not dry_run:
                    self.backend.purge_run(rec.run_id)
                    drop_anchors(self.store, rec.run_id)
        for name, event in sorted(self.experiment_lifecycle().items()):
            if event.state == "deleted" and event.time <= cutoff and name not in left:
                report.purged_experiments.append(name)
                if not dry_run:
                    self.backend.purge_experiment(name)
                    self._event("experiment", name, "purged", "purged by gc")
        return report

    def compact(
        self, experiments: Collection[str] | None = None, *, prune: int | None = None
    ) -> list[str]:
        """Fold the run summaries of ``experiments`` (all when None) into new index objects,
        so that a search reads one index instead of every run's segments (object stores;
        see docs/tracking.md). Returns the index paths created; a backend without an index
        (SQLite, which has its own) returns ``[]``.

        Args:
            experiments: the experiments to compact (all when None).
            prune: then keep only this many newest index generations of each experiment
                (>= 1; older ones are deleted once superseded for an hour, so no reader
                still holds them); None keeps them all.
        """
        if prune is not None and (
            not isinstance(prune, int) or isinstance(prune, bool) or prune < 1
        ):
            raise InvalidInputError(
                f"prune must be an integer >= 1 (the newest index is always kept), "
                f"found {prune!r}: pass the number of index generations to keep, or None",
                expected="an integer >= 1",
                found=repr(prune),
            )
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
        if prune is None:
            return list(compact(experiments))
        return list(compact(experiments, prune=prune))

    def search_runs(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        """See :func:`mlopskit.tracking.search_runs`."""
        from mlopskit.tracking._search import search_runs

        return search_runs(self, *args, **kwargs)


RESUME_TAG = "mlopskit.resume."


def _resume_tags(stored: RunRecord, env: Mapping[str, str], user: str, host: str) -> dict[str, str]:
    """The tags a resume writes: environment tags the run lacks (its own provenance —
    command, git commit, start time — stays), the resume as an event
    (``mlopskit.resume.<n>``: when, who, where, command and commit of the resuming
    process, the pause) and the total pause (``mlopskit.paused``: time the run spent
    ended, which ``duration`` leaves out)."""
    import json

    now = datetime.now(timezone.utc)
    ended = stored.end_time
    if ended is None and stored.writers:  # never ended (its process died): last heartbeat
        ended = max(w.heartbeat for w in stored.writers)
    pause = max(0.0, (now - ended).total_seconds()) if ended is not None else 0.0
    try:
        before = float(stored.tags.get(PAUSED_TAG, 0.0))
    except ValueError:
        before = 0.0
    number = 1 + sum(1 for k in stored.tags if k.startswith(RESUME_TAG))
    event = {
        "time": now.isoformat(),
        "user": user,
        "host": host,
        "command": env.get("mlopskit.command"),
        "git_commit": env.get("mlopskit.git.commit"),
        "paused": round(pause, 6),
    }
    out = {k: v for k, v in env.items() if k not in stored.tags}
    out[f"{RESUME_TAG}{number}"] = json.dumps(event, sort_keys=True)
    out[PAUSED_TAG] = f"{(before if before > 0 else 0.0) + pause:.6f}"
    return out
