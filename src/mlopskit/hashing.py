"""Digests: algorithm-prefixed content hashes (``sha256:<hex>``).

``sha256`` (hashlib, SHA-NI accelerated on most CPUs) is the canonical, dependency-free
algorithm of the store. The prefix leaves room for a faster optional one (``blake3``,
extra ``mlopskit[fast]``), used where a key need not be the store's object id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from mlopskit.errors import InvalidDigestError

__all__ = [
    "DEFAULT_ALGORITHM",
    "Hasher",
    "check_digest",
    "digest_bytes",
    "digest_chunks",
    "new_hasher",
    "split_digest",
]

DEFAULT_ALGORITHM = "sha256"

_HEX_LEN = {"sha256": 64, "blake3": 64}
_DIGEST_RE = re.compile(r"^(sha256|blake3):([0-9a-f]{64})$")


class Hasher(Protocol):
    """The part of a hashlib object the store uses."""

    def update(self, data: Any, /) -> None: ...

    def hexdigest(self) -> str: ...


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


def digest_bytes(data: bytes | bytearray | memoryview, algorithm: str = DEFAULT_ALGORITHM) -> str:
    """The digest string of ``data``, e.g. ``sha256:2cf24d…``."""
    h = new_hasher(algorithm)
    h.update(data)
    return f"{algorithm}:{h.hexdigest()}"


def digest_chunks(
    chunks: Iterable[bytes | bytearray | memoryview], algorithm: str = DEFAULT_ALGORITHM
) -> str:
    """The digest of the concatenation of ``chunks``, without concatenating them."""
    h = new_hasher(algorithm)
    for chunk in chunks:
        h.update(chunk)
    return f"{algorithm}:{h.hexdigest()}"


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
