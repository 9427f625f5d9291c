"""Runs as plain values: what a search's frame is built from without a record per run."""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["RunValues"]


class RunValues(NamedTuple):
    """Runs as plain values (``SQLiteBackend.run_values``, ``ObjectStoreBackend.index_values``).

    ``rows`` are ``RunRows``' rows (their last value: the row passed its checks), newest
    first; ``params`` and ``tags`` hold
    each run's params and tags as a dict, in the order of ``rows``; ``metrics`` are the
    latest metrics as three columns ``(i, key, value)`` in no particular row order, ``i``
    the run's index in ``rows`` (a NaN latest metric as None; three empty columns when
    there is none); ``matched`` is True when SQL answered the whole filter (the rows are
    exactly the runs that match it).
    """

    rows: list[tuple[Any, ...]]
    params: list[dict[str, str]]
    tags: list[dict[str, str]]
    #: ``(i, key, value)``: sequences (or NumPy arrays, from an object store's index)
    metrics: tuple[Any, Any, Any]
    matched: bool = False
