"""In-process provenance: which stored digest a live Python object was loaded from.

``datasets.load`` and ``@versioned`` remember the objects they hand out, so that when
one is passed on (to another ``@versioned`` step, to ``registry.register``) the
lineage edge names the dataset or output it came from rather than a bare value hash.
Only a label for lineage: cache keys always hash content, since an object can be
mutated after it was loaded.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

__all__ = ["recall", "remember"]

_table: dict[int, tuple[weakref.ref[Any], str, str, str]] = {}
_lock = threading.Lock()


def remember(obj: Any, digest: str, kind: str, label: str) -> None:
    """Note that ``obj`` holds the content of ``digest`` (a ``kind`` node ``label``)."""
    key = id(obj)

    def forget(_ref: weakref.ref[Any]) -> None:
        _forget(key)

    try:
        ref = weakref.ref(obj, forget)
    except TypeError:  # ints, tuples, ...: not weak-referenceable, not worth tracking
        return
    with _lock:
        _table[key] = (ref, digest, kind, label)


def _forget(key: int) -> None:
    with _lock:
        entry = _table.get(key)
        if entry is not None and entry[0]() is None:
            del _table[key]


def recall(obj: Any) -> tuple[str, str, str] | None:
    """``(digest, kind, label)`` if ``obj`` itself was loaded from the store, else None."""
    entry = _table.get(id(obj))
    if entry is None or entry[0]() is not obj:
        return None
    return entry[1], entry[2], entry[3]
