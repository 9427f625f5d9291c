"""Lineage edges: input digests → output digest, recorded in the store.

An edge is an immutable record (content-addressed, so recording the same edge twice
writes nothing new) indexed by create-only refs, one per endpoint::

    lineage/out/<output digest>/<edge digest>   what an object was made from
    lineage/in/<input digest>/<edge digest>     what was made from an object
    lineage/run/<run id>/<edge digest>          what a run used and produced

Each index entry is its own ref, created once, so concurrent writers never contend
and never lose an edge. Edges do not link their endpoints for ``gc``: lineage
remembers what existed, it does not keep data alive.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlopskit._log import get_logger
from mlopskit.errors import RefConflictError
from mlopskit.versioning._records import read_record_as

if TYPE_CHECKING:
    from mlopskit.store import ArtifactRef, ArtifactStore

__all__ = [
    "Endpoint",
    "LineageEdge",
    "edges_from",
    "edges_into",
    "edges_of_run",
    "record_edge",
    "ref_segment",
]

log = get_logger("mlopskit.versioning.lineage")

NodeKind = Literal["dataset", "model", "versioned", "value", "artifact", "run"]
Relation = Literal["derived", "used", "produced", "registered"]
_UNSAFE = re.compile(r"[^A-Za-z0-9._@+=,-]")


class Endpoint(BaseModel):
    """One end of an edge: a digest, what it is, and a human label (``iris/3``)."""

    model_config = ConfigDict(frozen=True)

    digest: str
    kind: NodeKind = "value"
    label: str = ""


class LineageEdge(BaseModel):
    """Inputs → output, made by ``function`` (with its code hash) in run ``run_id``.

    ``relation`` is ``derived`` (a ``@versioned`` call), ``produced`` (a dataset
    committed in a run), ``registered`` (a model version) or ``used`` (a run read a
    dataset; no output).
    """

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    relation: Relation
    inputs: dict[str, Endpoint] = Field(default_factory=dict)
    output: Endpoint | None = None
    function: str | None = None
    code_hash: str | None = None
    run_id: str | None = None


def ref_segment(value: str) -> str:
    """``value`` made safe as one ref-name segment (``sha256:ab`` → ``sha256-ab``)."""
    seg = _UNSAFE.sub("_", value.replace(":", "-"))
    return seg if seg and seg[0] not in ".-+=,@" else f"_{seg}"


def _create(store: ArtifactStore, name: str, ref: ArtifactRef) -> None:
    try:
        store.refs.set(name, ref, expected=None, message="lineage edge")
    except RefConflictError:
        pass  # the same edge, recorded by someone else: nothing to do


def record_edge(store: ArtifactStore, edge: LineageEdge) -> ArtifactRef:
    """Store ``edge`` and index it by its output, each input and its run."""
    ref = store.put_record(edge.model_dump(mode="json"))
    seg = ref_segment(ref.digest)
    names = [f"lineage/in/{ref_segment(e.digest)}/{seg}" for e in edge.inputs.values()]
    if edge.output is not None:
        names.append(f"lineage/out/{ref_segment(edge.output.digest)}/{seg}")
    if edge.run_id:
        names.append(f"lineage/run/{ref_segment(edge.run_id)}/{seg}")
    for name in dict.fromkeys(names):
        if name not in store.refs:
            _create(store, name, ref)
    log.debug("lineage_edge", relation=edge.relation, edge=ref.digest)
    return ref


def _read(store: ArtifactStore, prefix: str) -> list[LineageEdge]:
    out = []
    for name in store.refs.list(prefix):
        ref = store.refs.get(name)
        out.append(read_record_as(store, LineageEdge, ref, name))
    return out


def edges_into(store: ArtifactStore, digest: str) -> list[LineageEdge]:
    """Edges whose output is ``digest`` (how it was made)."""
    return _read(store, f"lineage/out/{ref_segment(digest)}")


def edges_from(store: ArtifactStore, digest: str) -> list[LineageEdge]:
    """Edges with ``digest`` among their inputs (what was made from it)."""
    return _read(store, f"lineage/in/{ref_segment(digest)}")


def edges_of_run(store: ArtifactStore, run_id: str) -> list[LineageEdge]:
    """Edges recorded while run ``run_id`` was active."""
    return _read(store, f"lineage/run/{ref_segment(run_id)}")
