"""Data versioning: ``@versioned`` memoization with lineage, and datasets (see docs/versioning.md)."""

from mlopskit.versioning import datasets
from mlopskit.versioning._datasets import DatasetDiff, Datasets, DatasetVersion
from mlopskit.versioning._edges import Endpoint, LineageEdge, edges_from, edges_into, record_edge
from mlopskit.versioning._hash import digest_value
from mlopskit.versioning._versioned import (
    NotVersionedFunction,
    VersionedCall,
    VersionedFunction,
    versioned,
)

__all__ = [
    "DatasetDiff",
    "DatasetVersion",
    "Datasets",
    "Endpoint",
    "LineageEdge",
    "NotVersionedFunction",
    "VersionedCall",
    "VersionedFunction",
    "datasets",
    "digest_value",
    "edges_from",
    "edges_into",
    "record_edge",
    "versioned",
]
