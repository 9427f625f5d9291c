"""PredictionLogger: sampled prediction records as immutable segment files in the store.

Layout: each flushed buffer is one Parquet segment stored as an object (so it is
verified on read), indexed by a create-only ref::

    predictions/<name>/<UTC time>-<pid>-<random>    → the segment object

One row per predicted row: ``request_id``, ``time``, ``model`` (package digest),
``variant``, ``latency_ms``, ``row`` (position in the request), ``error`` (None when
the prediction succeeded), ``input.<column>`` and ``output`` / ``output.<name>``.
No file is ever appended to, so any number of processes (on any machine sharing an
S3 bucket) log to one store without contention or loss.

``log()`` only appends to an in-memory buffer under a lock; a buffer is flushed when it
holds ``max_rows`` rows, on ``flush()``, and on ``close()`` (call it on shutdown;
the logger is also a context manager).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas as pd

    from mlopskit.store import ArtifactStore

__all__ = ["PredictionLogger", "PredictionRecord"]


@dataclass(frozen=True)
class PredictionRecord:
    """One request's predictions.

    Attributes:
        inputs: the decoded inputs (a DataFrame, or anything the codec understands).
        outputs: what the model returned (one value or row per input row), or None
            when the request failed.
        model: the package digest (``Predictor.digest``).
        variant: the router variant that answered ("" if none).
        latency_ms: time spent predicting.
        request_id: the request's id (generated when empty).
        time: seconds since the epoch (now when None).
        error: the error message when the request failed.
    """

    inputs: Any
    outputs: Any = None
    model: str = ""
    variant: str = ""
    latency_ms: float = 0.0
    request_id: str = ""
    time: float | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class PredictionLogger:
    """Sampled, buffered, immutable logging of predictions into a store.

    Args:
        store: where segments go (default: the current workspace's store).
        name: the log's name (one log per deployment, e.g. the model name).
        sample: fraction of requests kept (0..1), decided per request with a
            seeded generator.
        max_rows: flush when the buffer holds this many rows.
        max_bytes: flush when the buffered inputs are estimated to exceed this size.
    """

    def __init__(
        self,
        store: ArtifactStore | None = None,
        *,
        name: str = "default",
        sample: float = 1.0,
        max_rows: int = 10_000,
        max_bytes: int = 64 * 1024 * 1024,
        seed: int | None = None,
    ) -> None:
        raise NotImplementedError

    def log(self, record: PredictionRecord | Mapping[str, Any]) -> bool:
        """Buffer one request's record (cheap, thread-safe); returns whether it was sampled.

        Raises:
            InvalidInputError: the logger is closed, or the record has no ``inputs``.
        """
        raise NotImplementedError

    def flush(self) -> int:
        """Write the buffer as one segment; returns the number of rows written."""
        raise NotImplementedError

    def close(self) -> None:
        """Flush and refuse further records (idempotent)."""
        raise NotImplementedError

    def read(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        model: str | None = None,
        variant: str | None = None,
    ) -> pd.DataFrame:
        """Every logged row (flushed segments only), oldest first, optionally filtered.

        Raises:
            IntegrityError: a damaged segment (names its ref).
        """
        raise NotImplementedError

    def __enter__(self) -> PredictionLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
