"""The records of the tracker: what a backend stores and a reader gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mlopskit.store import ArtifactRef

__all__ = [
    "STATUSES",
    "TERMINAL",
    "MetricPoint",
    "RunInput",
    "RunRecord",
    "Status",
    "WriterInfo",
]

Status = Literal["RUNNING", "FINISHED", "FAILED", "KILLED"]
STATUSES: tuple[str, ...] = ("RUNNING", "FINISHED", "FAILED", "KILLED")
TERMINAL = frozenset({"FINISHED", "FAILED", "KILLED"})

#: A point in a metric's history: (key, value, step, timestamp in epoch seconds).
MetricPoint = tuple[str, float, int, float]


@dataclass(frozen=True)
class RunInput:
    """Something a run consumed, by digest (a dataset version, a store object)."""

    digest: str
    name: str | None = None
    context: str | None = None


@dataclass(frozen=True)
class WriterInfo:
    """A process that writes to runs: where it runs and when it last said it was alive."""

    writer_id: str
    host: str
    pid: int
    heartbeat: float
    active: bool = True


@dataclass
class RunRecord:
    """A snapshot of one run, as stored: identity, status, params, latest metrics, tags.

    ``metrics`` holds each metric's latest value (highest step, then latest time);
    ``artifacts`` maps names to store refs and ``inputs`` lists consumed digests (the
    two things a lineage walker follows). ``writers`` are the processes attached to
    the run, used to tell a dead run from a live one.
    """

    run_id: str
    experiment: str
    name: str
    status: str
    start_time: float
    end_time: float | None = None
    parent_id: str | None = None
    user: str = ""
    host: str = ""
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, ArtifactRef] = field(default_factory=dict)
    inputs: list[RunInput] = field(default_factory=list)
    writers: list[WriterInfo] = field(default_factory=list)
    stored_status: str = ""

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (None while running)."""
        return None if self.end_time is None else self.end_time - self.start_time

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the record."""
        return {
            "run_id": self.run_id,
            "experiment": self.experiment,
            "name": self.name,
            "status": self.status,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "duration": self.duration,
            "parent_id": self.parent_id,
            "user": self.user,
            "host": self.host,
            "params": dict(self.params),
            "metrics": dict(self.metrics),
            "tags": dict(self.tags),
            "artifacts": {k: v.model_dump(mode="json") for k, v in self.artifacts.items()},
            "inputs": [vars(i).copy() for i in self.inputs],
        }
