"""The model registry: versions, aliases (``name@champion``), tags, history, rollback.

Module-level functions act on the current workspace's store (read at call time);
``Registry(store)`` binds them to one store. See docs/registry.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mlopskit.registry._registry import (
    GateOutcome,
    ModelVersion,
    PackageVersionWarning,
    PromotionRefusedError,
    Registry,
    RegistryEvent,
    installed_version,
    parse_model_uri,
    pin_requirements,
)
from mlopskit.registry._signature import (
    ColumnSpec,
    ModelSignature,
    Schema,
    TensorSpec,
    infer_signature,
)
from mlopskit.store import RefRecord

__all__ = [
    "ColumnSpec",
    "GateOutcome",
    "ModelSignature",
    "ModelVersion",
    "PackageVersionWarning",
    "PromotionRefusedError",
    "Registry",
    "RegistryEvent",
    "Schema",
    "TensorSpec",
    "aliases",
    "delete_alias",
    "delete_tag",
    "delete_version",
    "deleted_versions",
    "get",
    "history",
    "infer_signature",
    "installed_version",
    "load",
    "names",
    "parse_model_uri",
    "pin_requirements",
    "promote",
    "register",
    "restore_version",
    "rollback",
    "set_alias",
    "set_tag",
    "tags",
    "versions",
]


def register(
    name: str,
    model: Any,
    *,
    run: Any = None,
    signature: ModelSignature | None = None,
    metrics: Mapping[str, float] | None = None,
    tags: Mapping[str, str] | None = None,
    input_example: Any = None,
    inputs: Iterable[Any] = (),
    requirements: Mapping[str, str] | None = None,
    message: str = "",
) -> ModelVersion:
    """Register ``model`` as the next version of ``name`` (see :meth:`Registry.register`)."""
    return Registry().register(
        name,
        model,
        run=run,
        signature=signature,
        metrics=metrics,
        tags=tags,
        input_example=input_example,
        inputs=inputs,
        requirements=requirements,
        message=message,
    )


def get(uri: str | ModelVersion) -> ModelVersion:
    """The :class:`ModelVersion` named by ``"name@alias"``, ``"name/3"`` or ``"name"``."""
    return Registry().get(uri)


def load(
    uri: str | ModelVersion,
    *,
    trusted: bool | None = None,
    dest: str | os.PathLike[str] | None = None,
) -> Any:
    """Load the model ``uri`` names, verified (see :meth:`Registry.load`)."""
    return Registry().load(uri, trusted=trusted, dest=dest)


def versions(name: str) -> list[ModelVersion]:
    """Every version of ``name``, oldest first."""
    return Registry().versions(name)


def names() -> list[str]:
    """Every registered model name."""
    return Registry().names()


def aliases(name: str) -> dict[str, int]:
    """Alias → version number for ``name``."""
    return Registry().aliases(name)


def set_alias(name: str, alias: str, version: int | str, *, message: str = "") -> ModelVersion:
    """Point ``name@alias`` at ``version``."""
    return Registry().set_alias(name, alias, version, message=message)


def delete_alias(name: str, alias: str, *, message: str = "") -> None:
    """Remove ``name@alias``."""
    Registry().delete_alias(name, alias, message=message)


def promote(
    name: str,
    version: int | str,
    *,
    to: str = "champion",
    require: Iterable[Callable[[ModelVersion], Any]] = (),
    message: str = "",
) -> ModelVersion:
    """Move ``name@to`` to ``version`` only if every gate passes (see :meth:`Registry.promote`)."""
    return Registry().promote(name, version, to=to, require=require, message=message)


def rollback(name: str, alias: str, *, message: str = "") -> ModelVersion:
    """Move ``name@alias`` back to its previous target."""
    return Registry().rollback(name, alias, message=message)


def history(name: str, alias: str | None = None) -> list[RegistryEvent]:
    """The audit log of ``name`` (or of one alias)."""
    return Registry().history(name, alias)


def set_tag(name: str, key: str, value: str, *, version: int | None = None) -> None:
    """Tag the model, or one version of it."""
    Registry().set_tag(name, key, value, version=version)


def delete_tag(name: str, key: str, *, version: int | None = None) -> None:
    """Remove a tag from the model or one version."""
    Registry().delete_tag(name, key, version=version)


def tags(name: str) -> dict[str, str]:
    """The model-level tags of ``name``."""
    return Registry().tags(name)


def delete_version(
    name: str, version: int | str | None = None, *, reason: str = ""
) -> RefRecord | None:
    """Delete a model version (soft; refused while an alias points at it); see
    :meth:`Registry.delete_version`."""
    return Registry().delete_version(name, version, reason=reason)


def restore_version(
    name: str, version: int | str | None = None, *, reason: str = ""
) -> RefRecord | None:
    """Restore a deleted model version."""
    return Registry().restore_version(name, version, reason=reason)


def deleted_versions(name: str) -> dict[int, RefRecord]:
    """Version number → deletion record (who, when, why) of each deleted version."""
    return Registry().deleted_versions(name)
