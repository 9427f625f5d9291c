"""Reading a stored record as a pydantic model: the one place a damaged record becomes an
:class:`~mlopskit.errors.IntegrityError` naming it (datasets, models, lineage edges,
``@versioned`` calls)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ValidationError

from mlopskit.errors import IntegrityError, MlopskitError

if TYPE_CHECKING:
    from mlopskit.store import ArtifactRef, ArtifactStore

__all__ = ["read_record_as"]

M = TypeVar("M", bound=BaseModel)


def read_record_as(store: ArtifactStore, model: type[M], ref: ArtifactRef, refname: str) -> M:
    """The record ``ref`` (named by the ref ``refname``) validated as ``model``.

    Raises:
        IntegrityError: the object is not a record, or not a valid ``model``; the error
            names ``refname`` (``path``) and the record's digest.
    """
    try:
        return model.model_validate(store.read_record(ref))
    except IntegrityError as exc:
        raise IntegrityError(
            f"record {refname!r} is damaged: {exc.message}", path=refname, digest=ref.digest
        ) from None
    except (ValidationError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, MlopskitError):
            raise
        first = exc.errors()[0] if isinstance(exc, ValidationError) else None
        where = (
            f"{'.'.join(map(str, first['loc'])) or 'record'}: {first['msg']}"
            if first
            else f"{type(exc).__name__}: {exc}"
        )
        raise IntegrityError(
            f"record {refname!r} ({ref.digest}) is damaged ({where}): it is not a valid "
            f"{model.__name__}; it was written by another tool or tampered with. Restore it "
            "from a backup or delete the ref.",
            path=refname,
            digest=ref.digest,
        ) from None
