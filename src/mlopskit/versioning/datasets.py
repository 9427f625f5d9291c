"""``mk.datasets``: commit, load, list and compare dataset versions.

Module-level functions act on the current workspace's store (read at call time);
``Datasets(store)`` binds them to one store. See docs/versioning.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mlopskit.store import RefRecord
from mlopskit.versioning._datasets import (
    ColumnSchema,
    ColumnSummary,
    DatasetDiff,
    Datasets,
    DatasetVersion,
    parse_dataset_uri,
)

__all__ = [
    "ColumnSchema",
    "ColumnSummary",
    "DatasetDiff",
    "DatasetVersion",
    "Datasets",
    "commit",
    "delete",
    "deleted",
    "diff",
    "get",
    "load",
    "names",
    "parse_dataset_uri",
    "restore",
    "versions",
]


def commit(
    name: str,
    data: Any,
    *,
    message: str = "",
    metadata: Mapping[str, Any] | None = None,
    allow_empty: bool = False,
) -> DatasetVersion:
    """Store ``data`` (DataFrame, Series, array, file or directory path) as the next
    version of ``name``; equal content returns the latest version unchanged.

    Example:
        >>> import numpy as np, mlopskit as mk
        >>> from mlopskit.store import ArtifactStore
        >>> ds = mk.datasets.Datasets(ArtifactStore("memory://doc-datasets"))
        >>> v = ds.commit("numbers", np.arange(3), message="first")
        >>> v.number, v.rows, ds.commit("numbers", np.arange(3)).number
        (1, 3, 1)
    """
    return Datasets().commit(
        name, data, message=message, metadata=metadata, allow_empty=allow_empty
    )


def load(
    name: str,
    version: int | str = "latest",
    *,
    dest: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> Any:
    """The data of ``name`` at ``version`` (``"latest"``, a number or a digest);
    ``name`` may be a URI such as ``"iris/3"``. Folders and files go into ``dest``
    (``"."``: the work tree), refusing to overwrite local edits unless ``force``
    (see :meth:`Datasets.load`)."""
    return Datasets().load(name, version, dest=dest, force=force)


def get(name: str, version: int | str = "latest") -> DatasetVersion:
    """The :class:`DatasetVersion` record of ``name`` at ``version`` (or of a URI)."""
    return Datasets().get(name, version)


def versions(name: str) -> list[DatasetVersion]:
    """Every version of ``name``, oldest first (``.to_frame()`` for a table)."""
    return Datasets().versions(name)


def names() -> list[str]:
    """Every dataset name in the current workspace."""
    return Datasets().names()


def diff(
    a: DatasetVersion | str, b: DatasetVersion | str, *, key: str | list[str] | None = None
) -> DatasetDiff:
    """Schema, statistic and (with ``key``) row changes from ``a`` to ``b``."""
    return Datasets().diff(a, b, key=key)


def delete(name: str, version: int | str | None = None, *, reason: str = "") -> RefRecord | None:
    """Delete a version (soft; ``name`` may be a URI such as ``"iris/3"``): it leaves
    ``latest`` and ``versions()``; see :meth:`Datasets.delete`."""
    return Datasets().delete(name, version, reason=reason)


def restore(name: str, version: int | str | None = None, *, reason: str = "") -> RefRecord | None:
    """Restore a deleted version; see :meth:`Datasets.restore`."""
    return Datasets().restore(name, version, reason=reason)


def deleted(name: str) -> dict[int, RefRecord]:
    """Version number → deletion record (who, when, why) of each deleted version."""
    return Datasets().deleted(name)
