"""What datasets and registered models share: checked names, ``name/number`` URIs,
lineage nodes, a store read from the current workspace at call time, and deleting.

Deleting a version is soft and leaves the version's own ref untouched (lineage, audit
and ``store.gc`` still reach it): a marker ref ``<area>/<name>/deleted/<n>`` is created
pointing at the same record, its log record saying who, when and why; restoring
deletes the marker (a tombstone record: who, when, why again). A version with a live
marker is left out of ``latest`` and ``versions()``, and reading it by number raises
NotFoundError saying when and by whom it was deleted.
"""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from mlopskit import _context
from mlopskit._edges import Endpoint
from mlopskit._log import get_logger
from mlopskit._records import read_record_as
from mlopskit._suggest import did_you_mean
from mlopskit.errors import (
    IntegrityError,
    InvalidInputError,
    InvalidNameError,
    NotFoundError,
    RefConflictError,
)
from mlopskit.store import ArtifactStore, RefRecord, current_store
from mlopskit.versioning._materialize import MAX_NAME_BYTES

NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+=,-]*$")
V = TypeVar("V", bound=BaseModel)
T = TypeVar("T")

if TYPE_CHECKING:
    import pandas as pd


def check_name(name: str, what: str) -> str:
    """A dataset or model name: letters, digits and ``._+=,-``, at most 255 bytes;
    InvalidNameError if not."""
    if not isinstance(name, str) or not NAME.match(name) or len(name) > MAX_NAME_BYTES:
        raise InvalidNameError(
            f"invalid {what} name {name!r}: use letters, digits and '._+=,-' "
            f"(not starting with '.' or '-', no '/' or '@', at most {MAX_NAME_BYTES} bytes)",
            found=name,
        )
    return name


def read_version(store: ArtifactStore, model: type[V], refname: str, **expected: Any) -> V:
    """The version record ``refname`` points to, validated as ``model``.

    ``expected`` fields (``name=``, ``number=``) must match the record: a record filed
    under another name is as damaged as one that does not parse.

    Raises:
        NotFoundError: no such ref.
        IntegrityError: the record is damaged or does not match its ref (names it).
    """
    ref = store.refs.get(refname)
    version = read_record_as(store, model, ref, refname)
    for field, value in expected.items():
        if getattr(version, field, None) != value:
            raise IntegrityError(
                f"record {refname!r} says {field}={getattr(version, field, None)!r} but is "
                f"filed under {field}={value!r}: it was copied or planted under another name",
                path=refname,
                digest=ref.digest,
                expected=value,
                found=getattr(version, field, None),
            )
    return version


def deleted_versions(store: ArtifactStore, area: str, name: str) -> dict[int, RefRecord]:
    """Version number → the marker record of each deleted version of ``area/name``."""
    return numbered_state(store, area, name)[1]


def numbered_state(
    store: ArtifactStore, area: str, name: str
) -> tuple[list[int], dict[int, RefRecord]]:
    """The version numbers of ``area/name`` (sorted) and the deleted ones' marker records,
    from ONE listing of the name's refs (on S3, listing a prefix that holds nothing costs
    three requests: the versions and the markers are listed together instead)."""
    numbers: list[int] = []
    deleted: dict[int, RefRecord] = {}
    versions, markers = f"{area}/{name}/v/", f"{area}/{name}/deleted/"
    for refname in store.refs.list(f"{area}/{name}", include_deleted=True):
        if refname.startswith(versions) and refname[len(versions) :].isdigit():
            numbers.append(int(refname[len(versions) :]))
        elif refname.startswith(markers) and refname[len(markers) :].isdigit():
            rec = store.refs.record(refname)
            if rec is not None and rec.target is not None:
                deleted[int(refname[len(markers) :])] = rec
    return sorted(numbers), deleted


def deleted_error(what: str, name: str, number: int, rec: RefRecord, restore: str) -> NotFoundError:
    """The NotFoundError for reading a deleted version: when, who, why, how to restore."""
    why = f" ({rec.message})" if rec.message else ""
    return NotFoundError(
        f"{what} {name!r} version {number} was deleted on {rec.time:%Y-%m-%d %H:%M:%S} UTC "
        f"by {rec.user or 'unknown'}{why}; restore it with {restore} or use another version",
        name=name,
        version=number,
    )


def mark_deleted(
    store: ArtifactStore, area: str, what: str, name: str, number: int, reason: str
) -> RefRecord | None:
    """Create the deletion marker of ``area/name/v/number`` (None if it is deleted already).

    NotFoundError if there is no such version.
    """
    if not isinstance(reason, str):
        raise InvalidInputError(f"reason must be text, found {reason!r}", found=repr(reason))
    try:
        target = store.refs.get(f"{area}/{name}/v/{number}")
    except NotFoundError:
        raise NotFoundError(f"{what} {name!r} has no version {number}", name=name) from None
    try:
        return store.refs.set(
            f"{area}/{name}/deleted/{number}",
            target,
            expected=None,
            message=reason,
            meta={"op": "delete_version", "version": number},
        )
    except RefConflictError:
        return None  # deleted already (perhaps by a concurrent call)


def unmark_deleted(
    store: ArtifactStore, area: str, what: str, name: str, number: int, reason: str
) -> RefRecord | None:
    """Remove the deletion marker (None if the version is not deleted)."""
    if not isinstance(reason, str):
        raise InvalidInputError(f"reason must be text, found {reason!r}", found=repr(reason))
    refname = f"{area}/{name}/deleted/{number}"
    rec = store.refs.record(refname)
    if rec is None or rec.target is None:
        if f"{area}/{name}/v/{number}" not in store.refs:
            raise NotFoundError(f"{what} {name!r} has no version {number}", name=name)
        return None
    try:
        return store.refs.set(
            refname,
            None,
            expected=rec,
            message=reason,
            meta={"op": "restore_version", "version": number},
        )
    except RefConflictError:
        return None  # restored (or changed) by a concurrent call


class NumberedVersion:
    """Mixin for a version record with ``name``, ``number`` and ``digest`` fields."""

    node_kind: ClassVar[str]
    frame_columns: ClassVar[tuple[str, ...]] = ("number", "created_at", "author", "digest")
    if TYPE_CHECKING:
        name: str
        number: int
        digest: str

    @property
    def uri(self) -> str:
        """``name/number``: what ``load`` and ``mk.lineage`` accept."""
        return f"{self.name}/{self.number}"

    @property
    def __mlopskit_digest__(self) -> str:
        return self.digest

    @property
    def __mlopskit_node__(self) -> Endpoint:
        return Endpoint(digest=self.digest, kind=self.node_kind, label=self.uri)  # type: ignore[arg-type]


class StoreBound:
    """An API over one store, or over the current workspace's store read at call time."""

    def __init__(self, store: ArtifactStore | None = None) -> None:
        self._fixed = store

    @property
    def store(self) -> ArtifactStore:
        """The store in use (the current workspace's unless one was given)."""
        return self._fixed if self._fixed is not None else current_store()

    def _check_workspace(self) -> None:
        """Where a read through the current workspace found nothing: NotFoundError if
        there is no workspace there at all (``_context.require_workspace``; a store given
        explicitly is taken as is)."""
        if self._fixed is None:
            _context.require_workspace()


class NumberedArea(StoreBound):
    """What ``Datasets`` and ``Registry`` share: named, numbered, soft-deletable versions
    under ``<area>/<name>/v/<n>`` (deletion markers under ``<area>/<name>/deleted/<n>``).

    One implementation of listing names, the version state, "latest" among the live
    versions, parsing a version argument, and deleting/restoring, so the two APIs cannot
    drift apart.
    """

    area: ClassVar[str]  # "datasets"
    noun: ClassVar[str]  # "dataset"
    restore_call: ClassVar[str]  # "mk.datasets.restore"
    log_name: ClassVar[str]  # "mlopskit.versioning.datasets"

    def _parse_uri(self, uri: str) -> tuple[str, int | str]:
        """``name/N`` (or ``name@alias``) → (checked name, number or selector)."""
        raise NotImplementedError

    def _check(self, name: str) -> str:
        return check_name(name, self.noun)

    def names(self) -> list[str]:
        """Every name with at least one version in the store, sorted."""
        refs = self.store.refs.list(self.area, include_deleted=True)
        found = sorted({n.split("/")[1] for n in refs if n.count("/") == 3 and "/v/" in n})
        if not found:
            self._check_workspace()  # nothing: is there a workspace at all?
        return found

    def _numbers(self, name: str) -> list[int]:
        return self.store.refs.numbers(f"{self.area}/{self._check(name)}/v")

    def _state(self, name: str) -> tuple[list[int], dict[int, RefRecord]]:
        """Version numbers of ``name`` (sorted) and the deleted ones' marker records."""
        return numbered_state(self.store, self.area, self._check(name))

    def _missing(self, name: str) -> NotFoundError:
        """NotFoundError for a name nothing is stored under, naming the closest."""
        hint = did_you_mean(name, self.names(), noun=self.area)
        return NotFoundError(f"no {self.noun} named {name!r} in {self.store.url}{hint}", name=name)

    def _latest_alive(self, name: str, numbers: list[int], deleted: dict[int, RefRecord]) -> int:
        """The newest version of ``name`` that is not deleted (NotFoundError if none is)."""
        if not numbers:
            raise self._missing(name)
        alive = [n for n in numbers if n not in deleted]
        if not alive:
            raise NotFoundError(
                f"every version of {self.noun} {name!r} is deleted "
                f"(restore one with {self.restore_call}({name!r}, N))",
                name=name,
            )
        return alive[-1]

    def _deleted_error(self, name: str, number: int, rec: RefRecord) -> NotFoundError:
        hint = (
            f"{self.restore_call}({name!r}, {number}) or "
            f"'mlopskit {self.area} restore {name}/{number}'"
        )
        return deleted_error(self.noun, name, number, rec, hint)

    def _number(self, name: str, version: int | str | None) -> tuple[str, int]:
        """The (name, number) a delete or restore call names: ``(name, N)`` or ``("name/N",)``."""
        if version is None and isinstance(name, str) and "/" in name:
            name, version = self._parse_uri(name)
        if isinstance(version, str) and version.isdigit():
            version = int(version)
        if not isinstance(version, int) or isinstance(version, bool):
            raise InvalidInputError(
                f"deleting and restoring take a version number (or a 'name/N' URI), "
                f"found {version!r}",
                found=repr(version),
            )
        return self._check(name), version

    def _mark(self, name: str, number: int, reason: str) -> RefRecord | None:
        rec = mark_deleted(self.store, self.area, self.noun, name, number, reason)
        if rec is not None:
            get_logger(self.log_name).info(
                f"{self.noun}_version_deleted", name=name, number=number, reason=reason
            )
        return rec

    def _unmark(self, name: str, number: int, reason: str) -> RefRecord | None:
        return unmark_deleted(self.store, self.area, self.noun, name, number, reason)

    def _deleted_map(self, name: str) -> dict[int, RefRecord]:
        return deleted_versions(self.store, self.area, self._check(name))


class VersionList(list[T], Generic[T]):
    """What every ``versions()`` returns: the version records, oldest first (a list).

    ``to_frame()`` gives one row per version. Reading it as a DataFrame directly
    (``versions("iris")["number"]``), as ``Datasets.versions`` returned before, still
    works but is deprecated.
    """

    def to_frame(self) -> pd.DataFrame:
        """One row per version (number, created_at, author, message, digest, ...)."""
        import pandas as pd

        columns: tuple[str, ...] = ()
        if self:
            columns = getattr(type(self[0]), "frame_columns", ())
        rows = [{c: getattr(v, c, None) for c in columns} for v in self]
        frame: pd.DataFrame = pd.DataFrame(rows, columns=list(columns))
        return frame

    def _as_frame(self, what: str) -> pd.DataFrame:
        warnings.warn(
            f"versions() returns a list of version records now; {what} on it as on a "
            "DataFrame is deprecated: call versions(...).to_frame()",
            DeprecationWarning,
            stacklevel=3,
        )
        return self.to_frame()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (str, tuple)) or (
            isinstance(key, list) and key and isinstance(key[0], str)
        ):
            return self._as_frame(f"indexing by {key!r}")[key]
        return super().__getitem__(key)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        import pandas as pd

        if hasattr(pd.DataFrame, name):
            return getattr(self._as_frame(f"'.{name}'"), name)
        raise AttributeError(f"'VersionList' object has no attribute {name!r}")
