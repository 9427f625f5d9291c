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
from mlopskit.versioning._materialize import MAX_NAME_BYTES, materialize
from mlopskit.versioning._numbered import (
    NumberedArea,
    NumberedVersion,
    StoreBound,
    VersionList,
    check_name,
    deleted_error,
    deleted_versions,
    mark_deleted,
    numbered_state,
    read_version,
    unmark_deleted,
)
from mlopskit.versioning._versioned import (
    NotVersionedFunction,
    VersionedCall,
    VersionedFunction,
    find_call,
    versioned,
)

# Numbered versions (datasets here, models in the registry) share NumberedArea, NumberedVersion,
# StoreBound, check_name, read_version, materialize and the deletion markers
# (deleted_versions, deleted_error, mark_deleted, unmark_deleted): exported for the registry.
__all__ = [
    "MAX_NAME_BYTES",
    "DatasetDiff",
    "DatasetVersion",
    "Datasets",
    "Endpoint",
    "LineageEdge",
    "NotVersionedFunction",
    "NumberedArea",
    "NumberedVersion",
    "StoreBound",
    "VersionList",
    "VersionedCall",
    "VersionedFunction",
    "check_name",
    "datasets",
    "deleted_error",
    "deleted_versions",
    "digest_value",
    "edges_from",
    "edges_into",
    "edges_of_run",
    "find_call",
    "mark_deleted",
    "materialize",
    "node_ids_of",
    "numbered_state",
    "parse_dataset_uri",
    "read_version",
    "record_edge",
    "record_use",
    "run_endpoint",
    "unmark_deleted",
    "versioned",
]
