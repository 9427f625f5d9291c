"""Module-level deleting and restoring, on the current workspace's tracker."""

from __future__ import annotations

from mlopskit.tracking._fluent import current_tracker
from mlopskit.tracking._model import LifecycleEvent

__all__ = ["delete_experiment", "delete_run", "restore_experiment", "restore_run"]


def delete_run(run_id: str, *, reason: str | None = None) -> LifecycleEvent | None:
    """Soft-delete a run of the current workspace; see :meth:`Tracker.delete_run`."""
    return current_tracker().delete_run(run_id, reason=reason)


def restore_run(run_id: str, *, reason: str | None = None) -> LifecycleEvent | None:
    """Restore a deleted run; see :meth:`Tracker.restore_run`."""
    return current_tracker().restore_run(run_id, reason=reason)


def delete_experiment(name: str, *, reason: str | None = None) -> LifecycleEvent | None:
    """Soft-delete an experiment and its runs; see :meth:`Tracker.delete_experiment`."""
    return current_tracker().delete_experiment(name, reason=reason)


def restore_experiment(name: str, *, reason: str | None = None) -> LifecycleEvent | None:
    """Restore a deleted experiment and the runs deleted with it."""
    return current_tracker().restore_experiment(name, reason=reason)
