"""Data versioning: ``@versioned`` memoization with lineage, and datasets (see docs/versioning.md)."""

from mlopskit._edges import (
    Endpoint,
    LineageEdge,
    edges_from,
    edges_into,
    edges_of_run,
    node_ids_of,
    record_edge,
    record_use,
    run_endpoint,
)
from mlopskit.versioning import datasets
from mlopskit.versioning._datasets import (
    DatasetDiff,
    Datasets,
    DatasetVersion,
    parse_dataset_uri,
)
from mlopskit.versioning._hash import digest_value
from mlopskit.versioning._numbered import VersionList
from mlopskit.versioning._versioned import (
    NotVersionedFunction,
    VersionedCall,
    VersionedFunction,
    find_call,
    versioned,
)

__all__ = [
    "DatasetDiff",
    "DatasetVersion",
    "Datasets",
    "Endpoint",
    "LineageEdge",
    "NotVersionedFunction",
    "VersionList",
    "VersionedCall",
    "VersionedFunction",
    "datasets",
    "digest_value",
    "edges_from",
    "edges_into",
    "edges_of_run",
    "find_call",
    "node_ids_of",
    "parse_dataset_uri",
    "record_edge",
    "record_use",
    "run_endpoint",
    "versioned",
]
