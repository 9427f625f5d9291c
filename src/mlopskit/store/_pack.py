"""Pack files: many small objects appended into one file, with a sorted index.

A pack is ``packs/<name>.pack`` (the objects' bytes, back to back) and
``packs/<name>.idx``::

    b"MKIDX01\\n"  u32 count  u32 digest_bytes(=32)
    count × (digest[32]  u64 offset  u64 size), sorted by digest
    sha256 of all the above (32 bytes)

``<name>`` is the sha256 of the index body. The pack is written first and the index
second: an index is the commit point, so a reader never sees a half-written pack.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import NamedTuple

from mlopskit.errors import IntegrityError
from mlopskit.hashing import new_digester

MAGIC = b"MKIDX01\n"
_HEAD = struct.Struct("<8sII")
_ENTRY = struct.Struct("<32sQQ")

Entry = tuple[str, int, int]  # (hex digest, offset, size)


class PackEntry(NamedTuple):
    """Where a packed object lives: pack name, offset, size (a tuple: a pack index
    loads one per object)."""

    pack: str
    offset: int
    size: int


def build_index(entries: Iterable[Entry]) -> tuple[str, bytes]:
    """Serialize an index; returns ``(pack name, index bytes)``."""
    rows = sorted(entries)
    body = bytearray(_HEAD.pack(MAGIC, len(rows), 32))
    for hexdigest, offset, size in rows:
        body += _ENTRY.pack(bytes.fromhex(hexdigest), offset, size)
    trailer = _sha256(body)
    return trailer.hex(), bytes(body) + trailer


def _sha256(data: bytes | bytearray) -> bytes:
    h = new_digester("sha256")
    h.update(data)
    return h.raw()


def parse_index(data: bytes, path: str, name: str | None = None) -> list[Entry]:
    """Parse and check an index; raise IntegrityError if it is damaged.

    With ``name`` (the pack's name, the sha256 of the index body), an index that is
    sound but belongs to another pack is refused too.
    """
    if len(data) < _HEAD.size + 32 or not data.startswith(MAGIC):
        raise IntegrityError(f"pack index {path} is damaged (bad header)", path=path)
    body, trailer = data[:-32], data[-32:]
    if _sha256(body) != trailer:
        raise IntegrityError(f"pack index {path} is damaged (checksum mismatch)", path=path)
    if name is not None and trailer.hex() != name:
        raise IntegrityError(
            f"pack index {path} is damaged: it is the index of pack {trailer.hex()}, not of {name}",
            path=path,
            expected=name,
            found=trailer.hex(),
        )
    _, count, width = _HEAD.unpack_from(body)
    if width != 32 or len(body) != _HEAD.size + count * _ENTRY.size:
        raise IntegrityError(f"pack index {path} is damaged (bad length)", path=path)
    return [
        (digest.hex(), offset, size)
        for digest, offset, size in _ENTRY.iter_unpack(body[_HEAD.size :])
    ]


class PackBuilder:
    """Collects small objects in memory until flushed into one pack."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.chunks: list[bytes] = []
        self.entries: list[Entry] = []
        self.size = 0
        self._seen: set[str] = set()

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, hexdigest: object) -> bool:
        return hexdigest in self._seen

    @property
    def full(self) -> bool:
        """Whether the pack reached its size limit."""
        return self.size >= self.max_bytes

    def add(self, hexdigest: str, data: bytes) -> None:
        """Append one object (ignored if already in this pack)."""
        if hexdigest in self._seen:
            return
        self._seen.add(hexdigest)
        self.entries.append((hexdigest, self.size, len(data)))
        self.chunks.append(data)
        self.size += len(data)

    def reset(self) -> None:
        """Forget everything collected (after a flush)."""
        self.__init__(self.max_bytes)  # type: ignore[misc]
