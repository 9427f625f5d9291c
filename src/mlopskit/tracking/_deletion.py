"""Deleting and restoring runs and experiments: lifecycle events, their fold, run views.

A run or an experiment is ``active`` or ``deleted`` (MLflow's ``lifecycle_stage``).
Deleting or restoring appends a :class:`~mlopskit.tracking.LifecycleEvent` (who, when,
why); nothing is edited in place. The state of a run (or experiment) is its newest
event, events ordered by (time, then the order the backend stored them): every reader
sees the same events and so the same state, even after a delete and a restore raced.

Backends store the events (SQLite: the ``lifecycle`` table; object stores: one
create-only file per event under ``tracking/lifecycle/``) and call
:func:`apply_lifecycle` on every record they return.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from mlopskit._retry import retry
from mlopskit.errors import InvalidInputError
from mlopskit.store import ArtifactStore
from mlopskit.tracking._model import LIFECYCLES, LifecycleEvent, RunRecord
from mlopskit.tracking._validate import MAX_TIME, MIN_TIME, check_experiment, check_run_id

__all__ = [
    "DEFAULT_OLDER_THAN",
    "EVENT_FORMAT",
    "apply_lifecycle",
    "check_view",
    "current_states",
    "drop_anchors",
    "encode_event",
    "event_from",
    "parse_event",
]

#: Deleted runs are purged by ``Tracker.gc`` only once deleted this long ago.
DEFAULT_OLDER_THAN = timedelta(days=30)
#: The format tag of one lifecycle event file on an object store.
EVENT_FORMAT = "mlopskit.tracking.lifecycle/1"

_VIEWS = {
    "active": "active",
    "active_only": "active",
    "deleted": "deleted",
    "deleted_only": "deleted",
    "all": "all",
}


def check_view(view: str) -> str:
    """``active``, ``deleted`` or ``all`` for a ``run_view`` (MLflow's ViewType names too:
    ``ACTIVE_ONLY``, ``DELETED_ONLY``, ``ALL``; any case)."""
    key = view.lower() if isinstance(view, str) else None
    if key not in _VIEWS:
        raise InvalidInputError(
            f"run_view must be 'active', 'deleted' or 'all' (or ACTIVE_ONLY, DELETED_ONLY, "
            f"ALL), found {view!r}",
            expected="active | deleted | all",
            found=repr(view),
        )
    return _VIEWS[key]


def current_states(
    events: Iterable[LifecycleEvent],
) -> dict[tuple[str, str], LifecycleEvent]:
    """The newest event of each (kind, name); ``events`` in stored order, oldest first.

    Ties in time keep stored order (a stable sort), so every reader agrees.
    """
    out: dict[tuple[str, str], LifecycleEvent] = {}
    for event in sorted(events, key=lambda e: e.time):
        out[(event.kind, event.name)] = event
    return out


def apply_lifecycle(records: Iterable[RunRecord], events: Iterable[LifecycleEvent]) -> None:
    """Set ``lifecycle`` and ``deletion`` of each record from the run's newest event."""
    states = current_states(e for e in events if e.kind == "run")
    if not states:
        return
    for rec in records:
        event = states.get(("run", rec.run_id))
        if event is not None and event.state == "deleted":
            rec.lifecycle, rec.deletion = "deleted", event
        else:
            rec.lifecycle, rec.deletion = "active", None


def encode_event(event: LifecycleEvent) -> bytes:
    """One event as the JSON object stored on an object store."""
    body = {"format": EVENT_FORMAT, **event.model_dump(mode="json")}
    body["time"] = event.time.timestamp()
    return json.dumps(body, sort_keys=True).encode()


def parse_event(path: str, blob: bytes) -> LifecycleEvent:
    """A stored event, checked (ValueError naming ``path`` when it is damaged)."""
    try:
        data: Any = json.loads(blob)
        if not isinstance(data, dict) or data.pop("format", None) != EVENT_FORMAT:
            raise ValueError("not a lifecycle event (format tag missing)")
    except (ValueError, TypeError, RecursionError) as exc:
        raise ValueError(f"lifecycle event {path} is damaged: {exc}") from exc
    return event_from(path, data)


def event_from(path: str, data: dict[str, Any]) -> LifecycleEvent:
    """An event from its stored fields, checked (ValueError naming ``path`` if damaged)."""
    try:
        moment = data.get("time")
        if not (
            isinstance(moment, (int, float))
            and not isinstance(moment, bool)
            and math.isfinite(moment)
            and MIN_TIME <= moment <= MAX_TIME
        ):
            raise ValueError(f"time {moment!r} is not a time")
        if data.get("state") not in LIFECYCLES:
            raise ValueError(f"state {data.get('state')!r} is not one of {LIFECYCLES}")
        event = LifecycleEvent.model_validate(data)
        if event.kind == "run":
            check_run_id(event.name)
        else:
            check_experiment(event.name)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"lifecycle event {path} is damaged: {exc}") from exc
    return event


def drop_anchors(store: ArtifactStore, run_id: str) -> None:
    """Remove the refs that kept the artifacts of a purged run alive (``_anchor.py``:
    ``tracking/runs/<run_id>/…``, the ref layout of ``store/_refs.py``), so that
    ``store.gc`` may reclaim what nothing else reaches."""
    prefix = f"tracking/runs/{check_run_id(run_id)}"
    if not store.refs.list(prefix, include_deleted=True):
        return
    fs, target = store.fs, f"{store.root.rstrip('/')}/refs/{prefix}"

    def remove() -> None:
        try:
            fs.rm(target, recursive=True)
        except FileNotFoundError:
            pass

    retry(remove, what=f"remove refs {prefix}", url=store.url, path=target)
