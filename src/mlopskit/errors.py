"""The errors mlopskit raises: one root, each refining a builtin.

Every error a caller can act on derives from :class:`MlopskitError`, and also from
the builtin exception it refines, so ``except KeyError`` keeps working::

    MlopskitError
    ├── ConfigError (ValueError)            a setting, URL or argument is not usable
    │   ├── UnsupportedURLError             no fsspec implementation for the URL's scheme
    │   └── UnsupportedOperationError       the backend cannot do this safely (e.g. no create-only writes)
    ├── InvalidInputError (ValueError)      bad input; nothing was written
    │   ├── InvalidDigestError              not ``<algo>:<hex>`` of the right length
    │   ├── InvalidNameError                a ref or manifest name that escapes (``..``, absolute)
    │   ├── SchemaError                     data does not match the expected schema
    │   ├── UnhashableArgumentError (TypeError) an argument has no stable content hash (names it)
    │   └── FilterSyntaxError               a search filter that does not parse (points at the token)
    ├── NotFoundError (KeyError)            an object, ref, run, dataset or model does not exist
    ├── NoActiveRunError (RuntimeError)     a run-level call with no active run in this context
    ├── IntegrityError                      bytes do not match their digest (corruption or tampering)
    ├── RefConflictError                    compare-and-swap lost: the ref moved since it was read
    ├── UntrustedObjectError                refusing to unpickle an object that is not trusted
    ├── StorageError (OSError)              the filesystem failed after retries; what was written is intact
    └── MissingExtraError (ImportError)     an optional dependency is missing; says which extra to install
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigError",
    "FilterSyntaxError",
    "IntegrityError",
    "InvalidDigestError",
    "InvalidInputError",
    "InvalidNameError",
    "MissingExtraError",
    "MlopskitError",
    "NoActiveRunError",
    "NotFoundError",
    "RefConflictError",
    "SchemaError",
    "StorageError",
    "UnhashableArgumentError",
    "UnsupportedOperationError",
    "UnsupportedURLError",
    "UntrustedObjectError",
]


class MlopskitError(Exception):
    """Root of every error mlopskit raises on purpose."""

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        for key, value in fields.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        # KeyError.__str__ would wrap the message in quotes; keep it readable.
        return self.message


class ConfigError(MlopskitError, ValueError):
    """A setting, URL or argument combination is not usable."""


class UnsupportedURLError(ConfigError):
    """The URL's scheme has no fsspec implementation installed or known."""


class UnsupportedOperationError(ConfigError):
    """The backend cannot perform this operation safely, so mlopskit refuses."""


class InvalidInputError(MlopskitError, ValueError):
    """Bad input; nothing was written."""


class InvalidDigestError(InvalidInputError):
    """A digest string is not ``<algorithm>:<hex>`` of the right length."""


class InvalidNameError(InvalidInputError):
    """A ref name or manifest path is empty, absolute, or escapes with ``..``."""


class SchemaError(InvalidInputError):
    """Data does not match the schema it was expected to have."""


class UnhashableArgumentError(InvalidInputError, TypeError):
    """An argument has no stable content hash; ``argument`` names it (``x``, ``cfg['k']``)."""


class FilterSyntaxError(InvalidInputError):
    """A filter expression does not parse; ``position`` points at the offending token."""


class NotFoundError(MlopskitError, KeyError):
    """The object, ref, run, dataset or model does not exist."""


class NoActiveRunError(MlopskitError, RuntimeError):
    """A call that logs to the active run was made with no run active in this context."""


class IntegrityError(MlopskitError):
    """Stored bytes do not hash to their digest: corruption or tampering.

    Carries ``digest`` (expected), ``found`` (what the bytes hash to) and ``path``.
    """


class RefConflictError(MlopskitError):
    """A compare-and-swap lost: the ref no longer points where the caller expected.

    Carries ``name``, ``expected`` and ``found``. Re-read the ref and retry.
    """


class UntrustedObjectError(MlopskitError):
    """Refusing to unpickle an object that is not trusted (``trusted=False``)."""


class StorageError(MlopskitError, OSError):
    """The filesystem failed after retries. What was written before is intact."""


class MissingExtraError(MlopskitError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""
