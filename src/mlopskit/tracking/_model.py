"""The records of the tracker: what a backend stores and a reader gets back.

Records are pydantic models with a ``schema_version`` field. Times are aware UTC
``datetime`` values in the public API; backends store epoch seconds, and a number given
for a time field is read as epoch seconds in UTC (never pydantic's guess between
seconds and milliseconds).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlopskit.store import ArtifactRef

__all__ = [
    "LIFECYCLES",
    "PAUSED_TAG",
    "PREVIOUS_NAME_TAG",
    "RECORD_SCHEMA",
    "STATUSES",
    "TERMINAL",
    "LifecycleEvent",
    "MetricPoint",
    "PurgeReport",
    "RunInput",
    "RunRecord",
    "Status",
    "WriterInfo",
    "stored_record",
    "to_datetime",
]

Status = Literal["RUNNING", "FINISHED", "FAILED", "KILLED"]
STATUSES: tuple[str, ...] = ("RUNNING", "FINISHED", "FAILED", "KILLED")
TERMINAL = frozenset({"FINISHED", "FAILED", "KILLED"})
#: The version of the record models' layout (``RunRecord.schema_version``).
RECORD_SCHEMA = 1
#: Tag holding the seconds a run spent ended before it was resumed (written on resume;
#: ``duration`` leaves them out, so it counts active time only).
PAUSED_TAG = "mlopskit.paused"
#: Tag holding a renamed run's name before its latest rename.
PREVIOUS_NAME_TAG = "mlopskit.previous_name"

#: The lifecycle states of a run or experiment (MLflow's ``lifecycle_stage``); ``purged``
#: marks what ``Tracker.gc`` removed for good.
LIFECYCLES: tuple[str, ...] = ("active", "deleted", "purged")

#: A point in a metric's history: (key, value, step, timestamp in epoch seconds).
MetricPoint = tuple[str, float, int, float]


def to_datetime(value: Any) -> Any:
    """Epoch seconds (a number) as an aware UTC datetime; a naive datetime is taken as UTC.

    Anything else is returned unchanged for pydantic to judge.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class RunInput(BaseModel):
    """Something a run consumed, by digest (a dataset version, a store object)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    digest: str
    name: str | None = None
    context: str | None = None


class WriterInfo(BaseModel):
    """A process that writes to runs: where it runs and when it last said it was alive."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    writer_id: str
    host: str
    pid: int
    heartbeat: datetime
    active: bool = True

    @field_validator("heartbeat", mode="before")
    @classmethod
    def _epoch_seconds(cls, value: Any) -> Any:
        return to_datetime(value)


class LifecycleEvent(BaseModel):
    """One change of a run's or an experiment's lifecycle state: who, when, why.

    Events are append-only; the newest event of a run (or experiment) is its state.
    ``via`` is ``"experiment"`` for a run deleted (or restored) with its experiment.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    kind: Literal["run", "experiment"]
    name: str
    state: Literal["active", "deleted", "purged"]
    time: datetime
    user: str = ""
    reason: str = ""
    via: str = ""

    @field_validator("time", mode="before")
    @classmethod
    def _epoch_seconds(cls, value: Any) -> Any:
        return to_datetime(value)


class PurgeReport(BaseModel):
    """What ``Tracker.gc`` purged (or would purge, in a dry run)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    dry_run: bool
    purged_runs: list[str] = Field(default_factory=list)
    purged_experiments: list[str] = Field(default_factory=list)
    kept_young: list[str] = Field(default_factory=list)


class RunRecord(BaseModel):
    """A snapshot of one run, as stored: identity, status, params, latest metrics, tags.

    ``metrics`` holds each metric's latest value (highest step, then latest time);
    ``artifacts`` maps names to store refs and ``inputs`` lists consumed digests (the
    two things a lineage walker follows). ``writers`` are the processes attached to
    the run, used to tell a dead run from a live one. ``start_time`` and ``end_time``
    are aware UTC datetimes. ``lifecycle`` is ``active`` or ``deleted`` (soft deleted:
    hidden from searches by default); ``deletion`` says who deleted it, when and why.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    schema_version: int = RECORD_SCHEMA
    run_id: str
    experiment: str
    name: str
    status: str
    start_time: datetime
    end_time: datetime | None = None
    parent_id: str | None = None
    user: str = ""
    host: str = ""
    params: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    artifacts: dict[str, ArtifactRef] = Field(default_factory=dict)
    inputs: list[RunInput] = Field(default_factory=list)
    writers: list[WriterInfo] = Field(default_factory=list)
    stored_status: str = ""
    lifecycle: Literal["active", "deleted"] = "active"
    deletion: LifecycleEvent | None = None

    @field_validator("start_time", "end_time", mode="before")
    @classmethod
    def _epoch_seconds(cls, value: Any) -> Any:
        return to_datetime(value)

    @property
    def duration(self) -> float | None:
        """Active seconds: start to end, less the time the run spent ended before it was
        resumed (None while running)."""
        if self.end_time is None:
            return None
        total = (self.end_time - self.start_time).total_seconds()
        try:
            paused = float(self.tags.get(PAUSED_TAG, 0.0))
        except ValueError:  # a tag set by hand: read as no pause
            paused = 0.0
        if not 0.0 < paused < total:  # NaN, negative, or more than the whole span
            paused = 0.0
        return total - paused

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the record (times as ISO 8601 strings)."""
        data = self.model_dump(mode="json", exclude={"writers", "stored_status"})
        data["duration"] = self.duration
        return data


_FIELDS = frozenset(RunRecord.model_fields)
_new = object.__new__
_set = object.__setattr__


def stored_record(
    *,
    run_id: str,
    experiment: str,
    name: str,
    status: str,
    start_time: float,
    end_time: float | None,
    parent_id: str | None,
    user: str,
    host: str,
    params: dict[str, str],
    tags: dict[str, str],
) -> RunRecord:
    """A record from values a backend has already checked, built without re-validation.

    The fast path of ``list_runs`` over thousands of runs (a third of the cost of
    ``model_construct``): it sets the instance state ``model_construct`` sets, times
    converted here from epoch seconds to UTC datetimes. tests/tracking/test_model.py
    holds it equal to a validated record.
    """
    utc = timezone.utc
    rec: RunRecord = _new(RunRecord)
    _set(
        rec,
        "__dict__",
        {
            "schema_version": RECORD_SCHEMA,
            "run_id": run_id,
            "experiment": experiment,
            "name": name,
            "status": status,
            "start_time": datetime.fromtimestamp(start_time, utc),
            "end_time": None if end_time is None else datetime.fromtimestamp(end_time, utc),
            "parent_id": parent_id,
            "user": user,
            "host": host,
            "params": params,
            "metrics": {},
            "tags": tags,
            "artifacts": {},
            "inputs": [],
            "writers": [],
            "stored_status": status,
            "lifecycle": "active",
            "deletion": None,
        },
    )
    _set(rec, "__pydantic_fields_set__", set(_FIELDS))
    _set(rec, "__pydantic_extra__", None)
    _set(rec, "__pydantic_private__", None)
    return rec
