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
from collections import OrderedDict
from typing import Any

from mlopskit._edges import Endpoint

__all__ = ["node_of", "recall", "remember"]

_table: dict[int, tuple[weakref.ref[Any], Endpoint]] = {}
_lock = threading.Lock()
# dicts, lists, sets cannot be weakly referenced: the last few are held (and so stay
# alive) here; immutable values (ints, str, tuples) are never tracked — equal values
# share identities, so a node cannot be told from their id
_HELD = 256
_held: OrderedDict[int, tuple[Any, Endpoint]] = OrderedDict()


def remember(obj: Any, node: Endpoint) -> None:
    """Note that ``obj`` holds the content of the lineage node ``node``."""
    key = id(obj)

    def forget(_ref: weakref.ref[Any]) -> None:
        _forget(key)

    try:
        ref = weakref.ref(obj, forget)
    except TypeError:
        if type(obj) in (dict, list, set, bytearray):
            with _lock:
                _held[key] = (obj, node)
                _held.move_to_end(key)
                while len(_held) > _HELD:
                    _held.popitem(last=False)
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
    if entry is not None and entry[0]() is obj:
        return entry[1]
    held = _held.get(id(obj))
    if held is not None and held[0] is obj:
        return held[1]
    return None


def node_of(obj: Any) -> Endpoint | None:
    """The lineage node of ``obj``: a version (its ``__mlopskit_node__``) or an object
    loaded from one; None for anything else."""
    node = getattr(obj, "__mlopskit_node__", None)
    if isinstance(node, Endpoint):
        return node
    return recall(obj)
