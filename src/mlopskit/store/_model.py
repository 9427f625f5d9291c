"""Value objects of the store (pydantic models): tree entries, records, reports.

Loaded on first use; the hot path of put/get needs only :mod:`._ref`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlopskit.store._ref import ArtifactRef

__all__ = [
    "ArtifactRef",
    "CorruptObject",
    "GcReport",
    "ObjectInfo",
    "RefRecord",
    "TreeEntry",
    "VerifyReport",
]


class TreeEntry(BaseModel):
    """One entry of a directory manifest."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    name: str
    digest: str
    size: int
    kind: Literal["blob", "tree"]
    mode: int = 0o644


class ObjectInfo(BaseModel):
    """Where and how an object is stored."""

    model_config = ConfigDict(defer_build=True)

    digest: str
    size: int
    location: Literal["loose", "pack"]
    path: str
    offset: int | None = None  # where in the pack, for a packed object
    modified: datetime | None = None


class CorruptObject(BaseModel):
    """An object whose bytes do not hash to its name, or that is missing."""

    model_config = ConfigDict(defer_build=True)

    digest: str
    path: str
    found: str | None
    reason: str


class VerifyReport(BaseModel):
    """The result of :meth:`ArtifactStore.verify`."""

    model_config = ConfigDict(defer_build=True)

    checked: int = 0
    bytes_checked: int = 0
    corrupt: list[CorruptObject] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every checked object is intact."""
        return not self.corrupt


class GcReport(BaseModel):
    """What :meth:`ArtifactStore.gc` found, and removed unless ``dry_run``."""

    model_config = ConfigDict(defer_build=True)

    dry_run: bool
    reachable: int
    removed: list[str] = Field(default_factory=list)
    removed_bytes: int = 0
    kept_young: int = 0
    packs_removed: int = 0
    packs_rewritten: int = 0
    temp_removed: int = 0


class RefRecord(BaseModel):
    """One entry of a ref's append-only log: the audit record of a move.

    The record with the highest ``seq`` is the ref's current value; ``target=None``
    marks a deletion.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    schema_version: int = 1
    name: str
    seq: int
    target: ArtifactRef | None
    previous: str | None = None
    time: datetime
    user: str = ""
    host: str = ""
    message: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)
