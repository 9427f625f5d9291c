"""Digests: algorithm-prefixed content hashes (``sha256:<hex>``).

``sha256`` (hashlib, SHA-NI accelerated on most CPUs) is the canonical, dependency-free
algorithm of the store. The prefix leaves room for a faster optional one (``blake3``,
extra ``pymlopskit[fast]``), used where a key need not be the store's object id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from mlopskit.errors import InvalidDigestError

__all__ = [
    "DEFAULT_ALGORITHM",
    "Digester",
    "Hasher",
    "check_digest",
    "digest_bytes",
    "digest_chunks",
    "digester_for",
    "new_digester",
    "new_hasher",
    "split_digest",
]

DEFAULT_ALGORITHM = "sha256"

_HEX_LEN = {"sha256": 64, "blake3": 64}
_DIGEST_RE = re.compile(r"^(sha256|blake3):([0-9a-f]{64})$")


class Hasher(Protocol):
    """The part of a hashlib object the store uses."""

    def update(self, data: Any, /) -> None: ...

    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...


class Digester:
    """An incremental hasher that answers with the store's digest string.

    The one place the store builds its hashers: ``new_digester()`` for new objects,
    ``digester_for(digest)`` to check bytes against an existing digest.

    Example:
        >>> h = new_digester()
        >>> h.update(b"hel"); h.update(b"lo")
        >>> h.digest()[:15]
        'sha256:2cf24dba'
    """

    __slots__ = ("_h", "algorithm")

    def __init__(self, algorithm: str = DEFAULT_ALGORITHM) -> None:
        self.algorithm = algorithm
        self._h = new_hasher(algorithm)

    def update(self, data: Any, /) -> None:
        """Feed bytes (any buffer)."""
        self._h.update(data)

    def raw(self) -> bytes:
        """The digest as raw bytes."""
        return self._h.digest()

    def hexdigest(self) -> str:
        """The digest as hex, without the algorithm prefix."""
        return self._h.hexdigest()

    def digest(self) -> str:
        """The digest string, ``<algorithm>:<hex>``."""
        return f"{self.algorithm}:{self._h.hexdigest()}"


def _blake3() -> Hasher:
    from mlopskit._optional import import_optional

    mod = import_optional("blake3", "fast", purpose="the blake3 hash")
    h: Hasher = mod.blake3(max_threads=1)
    return h


_FACTORIES: dict[str, Callable[[], Hasher]] = {
    "sha256": hashlib.sha256,
    "blake3": _blake3,
}


def new_hasher(algorithm: str = DEFAULT_ALGORITHM) -> Hasher:
    """A fresh incremental hasher for ``algorithm`` (``sha256`` or ``blake3``)."""
    try:
        factory = _FACTORIES[algorithm]
    except KeyError:
        raise InvalidDigestError(
            f"unknown hash algorithm {algorithm!r}; expected one of {sorted(_FACTORIES)}",
            found=algorithm,
        ) from None
    return factory()


def new_digester(algorithm: str = DEFAULT_ALGORITHM) -> Digester:
    """A fresh :class:`Digester` for ``algorithm``."""
    return Digester(algorithm)


def digester_for(digest: str) -> Digester:
    """A fresh :class:`Digester` of the algorithm ``digest`` was made with."""
    algorithm = digest.partition(":")[0] if isinstance(digest, str) else ""
    return Digester(algorithm)


def digest_bytes(data: bytes | bytearray | memoryview, algorithm: str = DEFAULT_ALGORITHM) -> str:
    """The digest string of ``data``, e.g. ``sha256:2cf24d…``."""
    h = Digester(algorithm)
    h.update(data)
    return h.digest()


def digest_chunks(
    chunks: Iterable[bytes | bytearray | memoryview], algorithm: str = DEFAULT_ALGORITHM
) -> str:
    """The digest of the concatenation of ``chunks``, without concatenating them."""
    h = Digester(algorithm)
    for chunk in chunks:
        h.update(chunk)
    return h.digest()


def check_digest(value: object) -> str:
    """Return ``value`` if it is a well-formed digest string, else raise InvalidDigestError."""
    if isinstance(value, str) and _DIGEST_RE.match(value):
        return value
    raise InvalidDigestError(
        f"not a digest: {value!r}; expected '<algorithm>:<hex>' such as 'sha256:' "
        f"followed by {_HEX_LEN['sha256']} lowercase hex digits",
        found=value,
    )


def split_digest(digest: str) -> tuple[str, str]:
    """``"sha256:ab…"`` → ``("sha256", "ab…")``, validating the form."""
    algo, _, hexpart = check_digest(digest).partition(":")
    return algo, hexpart
