"""Artifacts kept alive for ``store.gc``: one ref per logged artifact.

``store.gc`` keeps every object a ref points to. Each artifact a run logs gets its own
ref, ``tracking/runs/<run_id>/<h>`` where ``<h>`` is the first 32 hex digits of the
SHA-256 of the artifact's name, pointing straight at the artifact. Logging n artifacts
therefore writes n small ref records (O(n) bytes), with no compare-and-swap loop over
a record that grows with every artifact.
"""

from __future__ import annotations

import hashlib

from mlopskit.store import ArtifactRef, ArtifactStore

__all__ = ["ANCHOR_PREFIX", "anchor_artifact", "anchor_name"]

ANCHOR_PREFIX = "tracking/runs"


def anchor_name(run_id: str, name: str) -> str:
    """The ref that keeps artifact ``name`` of run ``run_id``."""
    return f"{ANCHOR_PREFIX}/{run_id}/{hashlib.sha256(name.encode()).hexdigest()[:32]}"


def anchor_artifact(store: ArtifactStore, run_id: str, name: str, ref: ArtifactRef) -> None:
    """Point the artifact's ref at ``ref`` (nothing is written when it points there)."""
    refname = anchor_name(run_id, name)
    head = store.refs.record(refname)
    if head is not None and head.target is not None and head.target.digest == ref.digest:
        return
    store.refs.set(refname, ref, message=f"log artifact {name} of run {run_id}")
