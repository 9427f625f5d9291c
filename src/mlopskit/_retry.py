"""One retry policy for storage I/O, applied once, at the storage boundary.

Every call that touches a filesystem, an object store or a database file and may fail
transiently goes through :func:`retry` exactly once: callers above the boundary never
wrap it again (nested loops multiply: 5 × 4 attempts turned one failing write into 20).
The retried callable must build all of its own state on each attempt (open its own
file, make its own hasher), so a failed attempt leaves nothing half-done behind.

The policy is a frozen value, :class:`RetryPolicy`; a backend keeps one and passes it,
so ``attempts=`` and ``delay=`` given by a user take effect. Errors that say something
definite about the target (missing, exists, permission, is a directory) are never
retried; any other ``OSError`` (and what ``transient`` adds) is, with exponential
backoff, and the last failure becomes a :class:`~mlopskit.errors.StorageError` naming
what was attempted and how often.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from mlopskit._log import get_logger
from mlopskit.errors import StorageError

__all__ = ["DEFINITE", "RetryPolicy", "memory_fs_race", "retry"]

T = TypeVar("T")

log = get_logger("mlopskit.retry")

#: OSErrors that describe the target, not a passing fault: never retried.
DEFINITE: tuple[type[BaseException], ...] = (
    FileExistsError,
    FileNotFoundError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient storage error is retried.

    Args:
        attempts: total tries (>= 1) before :class:`StorageError`.
        delay: seconds before the second try; multiplied by ``backoff`` after each.
        backoff: growth factor of the delay.
        max_delay: cap on a single wait.
    """

    attempts: int = 4
    delay: float = 0.05
    backoff: float = 4.0
    max_delay: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1, found {self.attempts}")
        if not self.delay >= 0 or not self.backoff >= 1 or not self.max_delay >= 0:
            raise ValueError("delay and max_delay must be >= 0 and backoff >= 1")


DEFAULT = RetryPolicy()


def memory_fs_race(exc: BaseException) -> bool:
    """fsspec's in-memory filesystem lists by iterating one dict that other threads write
    ("dictionary changed size during iteration"): transient, worth another try."""
    return isinstance(exc, RuntimeError) and "changed size during iteration" in str(exc)


def retry(
    fn: Callable[[], T],
    *,
    what: str,
    policy: RetryPolicy = DEFAULT,
    transient: Callable[[BaseException], bool] | None = None,
    url: str | None = None,
    path: str | None = None,
) -> T:
    """Call ``fn`` until it succeeds, retrying transient errors under ``policy``.

    Args:
        fn: builds its own state on every call (it may be called several times).
        what: what is being attempted, for the log and the final error ("write x").
        policy: attempts and backoff.
        transient: decides for a non-``OSError`` exception whether it is worth another
            try (e.g. ``sqlite3.OperationalError('database is locked')``); ``OSError``
            other than :data:`DEFINITE` is always transient.
        url: the store or database the call belongs to, for the error.
        path: the file the call touches, for the error.

    Raises:
        StorageError: the last attempt failed with a transient error.
        Exception: a definite or non-transient error, unchanged, at once.
    """
    delay = policy.delay
    for attempt in range(1, policy.attempts + 1):
        try:
            return fn()
        except DEFINITE:
            raise
        except StorageError:
            raise  # already final below us: never multiply attempts
        except Exception as exc:
            if not (isinstance(exc, OSError) or (transient is not None and transient(exc))):
                raise
            if attempt == policy.attempts:
                raise StorageError(
                    f"{what} failed after {attempt} attempt(s): {exc}", url=url, path=path
                ) from exc
            log.warning("retrying", what=what, attempt=attempt, error=str(exc))
            time.sleep(delay)
            delay = min(delay * policy.backoff, policy.max_delay)
    raise AssertionError("unreachable")  # pragma: no cover
