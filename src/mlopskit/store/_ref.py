"""ArtifactRef: the reference to one stored object (a frozen dataclass, no pydantic).

It is the value every put returns, so it is cheap to import and to build. It works as
a field of pydantic models (pydantic validates stdlib dataclasses) and offers the
pydantic spellings used with records: ``model_dump`` and ``model_validate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mlopskit.errors import InvalidInputError
from mlopskit.hashing import check_digest

Kind = Literal["blob", "tree", "object", "record"]
_KINDS = ("blob", "tree", "object", "record")

TREE_FORMAT = "mlopskit.tree/1"
RECORD_FORMAT = "mlopskit.record/1"
TREE_MEDIA_TYPE = "application/vnd.mlopskit.tree+json"
RECORD_MEDIA_TYPE = "application/vnd.mlopskit.record+json"


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    """A reference to one immutable object in a store.

    Attributes:
        digest: ``<algorithm>:<hex>`` of the stored bytes; the object's name.
        size: bytes of the object; for a tree, the total bytes of the files under it.
        kind: ``blob`` (raw bytes or a file), ``tree`` (a directory manifest),
            ``object`` (a Python object written by a codec) or ``record`` (a JSON
            record whose ``links`` are followed by ``gc``).
        media_type: how to decode the bytes (see :mod:`mlopskit.serialize`).
    """

    digest: str
    size: int
    kind: Kind = "blob"
    media_type: str | None = None

    def __post_init__(self) -> None:
        check_digest(self.digest)
        if type(self.size) is not int or self.size < 0:
            raise InvalidInputError(f"size must be a non-negative int, found {self.size!r}")
        if self.kind not in _KINDS:
            raise InvalidInputError(f"kind must be one of {_KINDS}, found {self.kind!r}")
        if self.media_type is not None and not isinstance(self.media_type, str):
            raise InvalidInputError(f"media_type must be a str, found {self.media_type!r}")

    def __str__(self) -> str:
        return self.digest

    @property
    def hex(self) -> str:
        """The hex part of the digest."""
        return self.digest.partition(":")[2]

    def model_dump(self, *, mode: str = "python", **_: Any) -> dict[str, Any]:
        """The fields as a dict (JSON-able in every mode)."""
        return {
            "digest": self.digest,
            "size": self.size,
            "kind": self.kind,
            "media_type": self.media_type,
        }

    @classmethod
    def model_validate(cls, data: Any) -> ArtifactRef:
        """An ArtifactRef from a dict of its fields (or an ArtifactRef)."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict) or "digest" not in data or "size" not in data:
            raise InvalidInputError(f"not an artifact reference: {data!r}")
        return cls(
            digest=data["digest"],
            size=data["size"],
            kind=data.get("kind", "blob"),
            media_type=data.get("media_type"),
        )
