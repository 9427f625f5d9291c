"""The local read cache of remote stores, keyed by digest (safe: objects are immutable)."""

from __future__ import annotations

import os

from mlopskit.store._fs import Buffer, _local_write_atomic


class ReadCache:
    """``<dir>/objects/<algo>/<hex[:2]>/<hex[2:]>``, shared by every store on the machine."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def path(self, digest: str) -> str:
        """Where ``digest`` lives in the cache."""
        algo, _, hexpart = digest.partition(":")
        return os.path.join(self.directory, "objects", algo, hexpart[:2], hexpart[2:])

    def get(self, digest: str) -> str | None:
        """The cached file of ``digest``, or None."""
        path = self.path(digest)
        return path if os.path.exists(path) else None

    def put(self, digest: str, chunks: list[Buffer]) -> str:
        """Add verified bytes to the cache; returns the path."""
        path = self.path(digest)
        _local_write_atomic(os.path.join(self.directory, "tmp"), path, chunks, fsync=False)
        return path

    def tmp_dir(self) -> str:
        """A directory for downloads in progress (same filesystem as the cache)."""
        path = os.path.join(self.directory, "tmp")
        os.makedirs(path, exist_ok=True)
        return path

    def evict(self, digest: str) -> None:
        """Drop a cached copy (e.g. found corrupt)."""
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass
