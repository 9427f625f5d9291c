"""Dask DataFrames: profile every partition where it lives, merge the small profiles.

Nothing here imports dask until a Dask DataFrame is actually passed in; recognising one
only looks at the type's module name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlopskit._optional import import_optional

if TYPE_CHECKING:
    from mlopskit.drift._profile import ReferenceProfile

__all__ = ["is_dask_frame", "profile_dask"]


def is_dask_frame(obj: Any) -> bool:
    """Whether ``obj`` is a Dask DataFrame (without importing dask)."""
    module = type(obj).__module__ or ""
    return module.split(".")[0] == "dask" and hasattr(obj, "to_delayed") and hasattr(obj, "columns")


def _profile_partition(part: Any, columns: list[str], max_buckets: int) -> ReferenceProfile:
    from mlopskit.drift._columns import as_frame
    from mlopskit.drift._profile import profile_frame

    return profile_frame(as_frame(part, what="partition"), columns, max_buckets)


def profile_dask(
    frame: Any, *, columns: Sequence[str] | None, max_buckets: int
) -> ReferenceProfile:
    """Profile a Dask DataFrame: one profile per partition (on the workers), then a merge.

    Runs on the active Dask scheduler (a ``distributed.Client`` if one is current).
    """
    dask = import_optional("dask", "dask", purpose="profiling a Dask DataFrame")
    from mlopskit.drift._profile import merge_profiles

    names = [str(c) for c in frame.columns] if columns is None else list(columns)
    task = dask.delayed(_profile_partition, pure=True)
    parts = dask.compute(*[task(p, names, max_buckets) for p in frame.to_delayed()])
    return merge_profiles(parts)
