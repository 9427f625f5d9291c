"""In-process provenance: which lineage node a live Python object was loaded from.

``datasets.load``, ``registry.load`` and ``@versioned`` remember the objects they hand
out, so that when one is passed on (to another ``@versioned`` step, to
``registry.register``, to a ``@track``-ed function, to ``run.log_input``) the lineage
edge names the dataset version or step it came from rather than a bare value hash.
Only a label for lineage: cache keys always hash content, since an object can be
mutated after it was loaded.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from mlopskit._edges import Endpoint

__all__ = ["node_of", "recall", "remember"]

_table: dict[int, tuple[weakref.ref[Any], Endpoint]] = {}
_lock = threading.Lock()


def remember(obj: Any, node: Endpoint) -> None:
    """Note that ``obj`` holds the content of the lineage node ``node``."""
    key = id(obj)

    def forget(_ref: weakref.ref[Any]) -> None:
        _forget(key)

    try:
        ref = weakref.ref(obj, forget)
    except TypeError:  # ints, tuples, ...: not weak-referenceable, not worth tracking
        return
    with _lock:
        _table[key] = (ref, node)


def _forget(key: int) -> None:
    with _lock:
        entry = _table.get(key)
        if entry is not None and entry[0]() is None:
            del _table[key]


def recall(obj: Any) -> Endpoint | None:
    """The node ``obj`` itself was loaded from, else None."""
    entry = _table.get(id(obj))
    if entry is None or entry[0]() is not obj:
        return None
    return entry[1]


def node_of(obj: Any) -> Endpoint | None:
    """The lineage node of ``obj``: a version (its ``__mlopskit_node__``) or an object
    loaded from one; None for anything else."""
    node = getattr(obj, "__mlopskit_node__", None)
    if isinstance(node, Endpoint):
        return node
    return recall(obj)
