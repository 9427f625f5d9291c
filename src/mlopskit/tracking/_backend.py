"""The protocol every tracking backend implements (SQLite, object store)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Collection, Sequence
from typing import Protocol, runtime_checkable

from mlopskit.store import ArtifactRef
from mlopskit.tracking._model import LifecycleEvent, MetricPoint, RunInput, RunRecord

__all__ = ["TrackingBackend", "new_writer_id"]


def new_writer_id() -> str:
    """A fresh id for one writing process (host, pid and randomness)."""
    host = "".join(c if c.isalnum() else "-" for c in socket.gethostname())[:24] or "host"
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@runtime_checkable
class TrackingBackend(Protocol):
    """Where runs live. Every method is safe across threads, processes and machines.

    A backend knows nothing of buffering or the active run: the tracker batches
    metrics and calls :meth:`log_metrics` with whole batches.
    """

    url: str
    writer_id: str

    def create_run(self, record: RunRecord) -> bool:
        """Create the run with its params and tags, this writer attached, status RUNNING.

        Returns False (and writes nothing) if a run with that id exists already.
        """
        ...

    def attach(self, run_id: str) -> None:
        """Attach this writer to an existing run and mark it RUNNING (resume)."""
        ...

    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        """Record params; a different value for a logged key raises InvalidInputError."""
        ...

    def rename(self, run_id: str, name: str) -> None:
        """Give the run a new name (recorded: search sees it, the old one is kept in
        the history); NotFoundError if there is no such run."""
        ...

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        """Set tags (a later value replaces an earlier one)."""
        ...

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        """Append metric points (key, value, step, timestamp) in one write."""
        ...

    def log_artifact(self, run_id: str, name: str, ref: ArtifactRef) -> None:
        """Record that the run produced ``ref`` under ``name``."""
        ...

    def log_input(self, run_id: str, item: RunInput) -> None:
        """Record that the run consumed ``item``."""
        ...

    def finish(self, run_id: str, status: str, end_time: float | None) -> None:
        """Set the final status and end time and detach this writer.

        ``end_time`` None keeps no end time (an imported run its source never ended).
        """
        ...

    def heartbeat(self) -> None:
        """Say that this writer's process is alive."""
        ...

    def get_run(self, run_id: str) -> RunRecord:
        """The stored run (NotFoundError if there is none)."""
        ...

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float, float]]:
        """Every point of one metric: (step, value, timestamp), by step then time."""
        ...

    def list_runs(
        self,
        experiments: Collection[str] | None = None,
        *,
        run_ids: Collection[str] | None = None,
        keys: Collection[str] | None = None,
    ) -> list[RunRecord]:
        """Runs of ``experiments`` (all when None), or exactly ``run_ids``.

        ``keys`` (``params.x``, ``metrics.y``, ``tags.z``) limits which values are
        loaded; None loads all. Artifacts and inputs are not loaded here. Deleted runs
        are listed too, with ``lifecycle`` and ``deletion`` set (as by ``get_run``).
        """
        ...

    def set_lifecycle(self, event: LifecycleEvent) -> None:
        """Append one lifecycle event (delete, restore, purge); never edit one in place."""
        ...

    def lifecycle_events(
        self, kind: str | None = None, name: str | None = None
    ) -> list[LifecycleEvent]:
        """Lifecycle events (of ``kind``: ``run``/``experiment``, of ``name``), oldest first."""
        ...

    def purge_run(self, run_id: str) -> None:
        """Remove everything stored of ``run_id`` for good (``Tracker.gc`` only)."""
        ...

    def purge_experiment(self, name: str) -> None:
        """Forget experiment ``name`` if it has no runs left (``Tracker.gc`` only)."""
        ...

    def experiments(self) -> list[str]:
        """Names of the experiments that have runs, sorted."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...
