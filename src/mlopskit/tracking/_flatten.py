"""Parameters logged as what they are: nested dicts flattened, objects described stably.

``flatten({"optimizer": {"lr": 0.1}})`` is ``{"optimizer.lr": 0.1}`` and :func:`unflatten`
undoes it. :func:`describe_value` turns a value that is not a plain scalar into a stable
string: an estimator becomes its class and the parameters that differ from their
defaults (``LogisticRegression(C=0.5)``), a function its qualified name, and nothing
ever shows a memory address (``<object at 0x7f...>`` changes on every run).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any

from mlopskit.errors import InvalidInputError

__all__ = ["describe_params", "describe_value", "flatten", "flatten_params", "unflatten"]

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def flatten(params: Mapping[str, Any], sep: str = ".") -> dict[str, Any]:
    """Nested mappings become dotted keys: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``.

    Leaves are returned unchanged: an empty mapping is a leaf (so it round-trips), and
    so is a nested mapping with a key that is not a string (``{1: "a"}`` is a value).
    Raises InvalidInputError when two paths flatten to the same key (``{"a.b": 1,
    "a": {"b": 2}}``) or a top-level key is not a string.
    """
    out: dict[str, Any] = {}
    for key in params:
        if not isinstance(key, str):
            raise InvalidInputError(
                f"param names must be strings, found {type(key).__name__} {key!r}",
                found=key,
            )

    def walk(prefix: str, node: Mapping[Any, Any]) -> None:
        for key, value in node.items():
            full = f"{prefix}{sep}{key}" if prefix else key
            if isinstance(value, Mapping) and value and all(isinstance(k, str) for k in value):
                walk(full, value)
            elif full in out:
                raise InvalidInputError(
                    f"params {full!r} appear twice once nested dicts are flattened with "
                    f"{sep!r}; rename one of them",
                    key=full,
                )
            else:
                out[full] = value

    walk("", params)
    return out


def unflatten(flat: Mapping[str, Any], sep: str = ".") -> dict[str, Any]:
    """The inverse of :func:`flatten`: dotted keys become nested dicts."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, last = key.split(sep)
        node = out
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise InvalidInputError(
                    f"param {key!r} nests under {part!r}, which is a value, not a group",
                    key=key,
                )
            node = child
        if last in node:
            raise InvalidInputError(f"param {key!r} clashes with a nested group", key=key)
        node[last] = value
    return out


def _qualname(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if name is None:
        name = type(obj).__qualname__
    return f"{module}.{name}" if module and module != "builtins" else str(name)


def _changed_params(estimator: Any) -> dict[str, Any]:
    """``get_params(deep=False)`` minus the parameters left at their defaults."""
    try:
        params = dict(estimator.get_params(deep=False))
    except Exception:  # not a scikit-learn style estimator after all
        return {}
    try:
        defaults = {
            name: p.default
            for name, p in inspect.signature(type(estimator).__init__).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
    except (TypeError, ValueError):
        defaults = {}
    changed = {}
    for name, value in params.items():
        default = defaults.get(name, inspect.Parameter.empty)
        try:
            same = default is not inspect.Parameter.empty and bool(default == value)
        except Exception:  # arrays and the like compare elementwise
            same = False
        if not (same and type(default) is type(value)):
            changed[name] = value
    return changed


def describe_value(value: Any, limit: int = 500) -> Any:
    """A plain value unchanged; anything else a stable description (never an address).

    Scalars (str, int, float, bool, None) come back as they are. An object with
    ``get_params`` (a scikit-learn estimator) becomes ``Class(param=value, ...)`` with
    the parameters that differ from their defaults, described recursively; a function,
    class or method its qualified name; lists, tuples and dicts their items described;
    anything else its repr with memory addresses removed, cut to ``limit`` characters.
    """
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    text = _describe(value, depth=0)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(value: Any, depth: int) -> str:
    if value is None or isinstance(value, (str, bool, int, float)):
        return repr(value) if isinstance(value, str) and depth else str(value)
    if depth > 6:
        return type(value).__qualname__
    if isinstance(value, type) or inspect.isroutine(value):
        return _qualname(value)
    if hasattr(value, "get_params") and not isinstance(value, type):
        inner = ", ".join(
            f"{k}={_describe(v, depth + 1)}" for k, v in sorted(_changed_params(value).items())
        )
        return f"{type(value).__name__}({inner})"
    if isinstance(value, (list, tuple)):
        items = ", ".join(_describe(v, depth + 1) for v in value)
        return (
            f"[{items}]"
            if isinstance(value, list)
            else f"({items}{',' if len(value) == 1 else ''})"
        )
    if isinstance(value, Mapping):
        items = ", ".join(f"{k!r}: {_describe(v, depth + 1)}" for k, v in value.items())
        return "{" + items + "}"
    from mlopskit.tracking._env import describe

    text = describe(value, limit=10_000)  # arrays and frames: shape and a content digest
    if _ADDRESS.search(text):
        return _qualname(type(value))
    return text


def flatten_params(params: Mapping[str, Any], sep: str = ".") -> dict[str, Any]:
    """:func:`flatten` then :func:`describe_value` on every leaf: ready for ``log_params``."""
    return {key: describe_value(value) for key, value in flatten(params, sep).items()}


def describe_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`describe_value` on every value, keys as they are (no flattening).

    For params that are flat already, such as scikit-learn's ``get_params(deep=True)``,
    where a dict value (``param_grid``) is one value, not a group.
    """
    return {key: describe_value(value) for key, value in params.items()}
