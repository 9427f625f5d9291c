"""What datasets and registered models share: checked names, ``name/number`` URIs,
lineage nodes, and a store read from the current workspace at call time."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

from mlopskit.errors import InvalidNameError
from mlopskit.store import ArtifactStore, current_store
from mlopskit.versioning._edges import Endpoint

NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+=,-]*$")


def check_name(name: str, what: str) -> str:
    """A dataset or model name: letters, digits and ``._+=,-``; InvalidNameError if not."""
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidNameError(
            f"invalid {what} name {name!r}: use letters, digits and '._+=,-' "
            "(not starting with '.' or '-', no '/' or '@')",
            found=name,
        )
    return name


class NumberedVersion:
    """Mixin for a version record with ``name``, ``number`` and ``digest`` fields."""

    node_kind: ClassVar[str]
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
