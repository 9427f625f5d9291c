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
    ├── PromotionRefusedError               a promotion gate failed, so the alias did not move
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
    "PromotionRefusedError",
    "RefConflictError",
    "SchemaError",
    "StorageError",
    "UnhashableArgumentError",
    "UnsupportedOperationError",
    "UnsupportedURLError",
    "UntrustedObjectError",
]


class MlopskitError(Exception):
    """Root of every error mlopskit raises on purpose.

    Every error carries ``message``; ``expected`` and ``found`` say what was wanted and
    what was there, where that applies. Subclasses add their own keyword-only fields.
    """

    def __init__(self, message: str, *, expected: Any = None, found: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.found = found

    def __str__(self) -> str:
        # KeyError.__str__ would wrap the message in quotes; keep it readable.
        return self.message


class ConfigError(MlopskitError, ValueError):
    """A setting, URL or argument combination is not usable; ``setting`` names it."""

    def __init__(
        self, message: str, *, setting: str | None = None, expected: Any = None, found: Any = None
    ) -> None:
        super().__init__(message, expected=expected, found=found)
        self.setting = setting


class UnsupportedURLError(ConfigError):
    """The URL's scheme has no fsspec implementation installed or known."""

    def __init__(self, message: str, *, url: str | None = None, found: Any = None) -> None:
        super().__init__(message, found=found)
        self.url = url


class UnsupportedOperationError(ConfigError):
    """The backend cannot perform this operation safely, so mlopskit refuses."""

    def __init__(self, message: str, *, protocol: str | None = None, found: Any = None) -> None:
        super().__init__(message, found=found)
        self.protocol = protocol


class InvalidInputError(MlopskitError, ValueError):
    """Bad input; nothing was written. ``path``, ``key`` or ``name`` say where, when known."""

    def __init__(
        self,
        message: str,
        *,
        expected: Any = None,
        found: Any = None,
        path: str | None = None,
        key: str | None = None,
        name: str | None = None,
        alias: str | None = None,
        method: str | None = None,
        run_id: str | None = None,
    ) -> None:
        super().__init__(message, expected=expected, found=found)
        self.path = path
        self.key = key
        self.name = name
        self.alias = alias
        self.method = method
        self.run_id = run_id


class InvalidDigestError(InvalidInputError):
    """A digest string is not ``<algorithm>:<hex>`` of the right length."""


class InvalidNameError(InvalidInputError):
    """A ref name or manifest path is empty, absolute, or escapes with ``..``."""


class SchemaError(InvalidInputError):
    """Data does not match the schema it was expected to have; ``column`` names where."""

    def __init__(
        self,
        message: str,
        *,
        column: str | None = None,
        expected: Any = None,
        found: Any = None,
        method: str | None = None,
    ) -> None:
        super().__init__(message, expected=expected, found=found, method=method)
        self.column = column


class UnhashableArgumentError(InvalidInputError, TypeError):
    """An argument has no stable content hash; ``argument`` names it (``x``, ``cfg['k']``)."""

    def __init__(
        self, message: str, *, argument: str | None = None, type: str | None = None
    ) -> None:
        super().__init__(message)
        self.argument = argument
        self.type = type


class FilterSyntaxError(InvalidInputError):
    """A filter expression does not parse; ``position`` points at the offending token."""

    def __init__(
        self, message: str, *, filter: str | None = None, position: int | None = None
    ) -> None:
        super().__init__(message)
        self.filter = filter
        self.position = position


class NotFoundError(MlopskitError, KeyError):
    """The object, ref, run, dataset or model does not exist."""

    def __init__(
        self,
        message: str,
        *,
        name: str | None = None,
        digest: str | None = None,
        path: str | None = None,
        run_id: str | None = None,
        alias: str | None = None,
        version: Any = None,
        expected: Any = None,
        found: Any = None,
    ) -> None:
        super().__init__(message, expected=expected, found=found)
        self.name = name
        self.digest = digest
        self.path = path
        self.run_id = run_id
        self.alias = alias
        self.version = version


class NoActiveRunError(MlopskitError, RuntimeError):
    """A call that logs to the active run was made with no run active in this context."""


class IntegrityError(MlopskitError):
    """Stored bytes or a stored record are damaged: corruption or tampering.

    ``digest`` is what the bytes should hash to, ``found`` what they hash to (or what was
    read), ``path`` the damaged file or record.
    """

    def __init__(
        self,
        message: str,
        *,
        digest: str | None = None,
        path: str | None = None,
        expected: Any = None,
        found: Any = None,
    ) -> None:
        super().__init__(message, expected=expected, found=found)
        self.digest = digest
        self.path = path


class RefConflictError(MlopskitError):
    """A compare-and-swap lost: the ref no longer points where the caller expected.

    Carries ``name``, ``expected`` and ``found``. Re-read the ref and retry.
    """

    def __init__(
        self, message: str, *, name: str | None = None, expected: Any = None, found: Any = None
    ) -> None:
        super().__init__(message, expected=expected, found=found)
        self.name = name


class PromotionRefusedError(MlopskitError):
    """A gate of ``Registry.promote`` failed, so the alias did not move.

    ``name``, ``alias`` and ``version`` say which promotion; ``outcomes`` lists every
    gate's ``mlopskit.registry.GateOutcome`` (every gate ran), ``results`` the objects the
    gates returned (``CheckResult`` for mlopskit's gates). ``found`` names the failed gates.
    """

    def __init__(
        self,
        message: str,
        *,
        name: str,
        alias: str,
        version: int,
        outcomes: list[Any],
        results: list[Any],
    ) -> None:
        super().__init__(
            message,
            expected="every gate passes",
            found=[o.gate for o in outcomes if not o.passed],
        )
        self.name = name
        self.alias = alias
        self.version = version
        self.outcomes = outcomes
        self.results = results


class UntrustedObjectError(MlopskitError):
    """Refusing to unpickle an object that is not trusted (``trusted=False``)."""

    def __init__(self, message: str, *, media_type: str | None = None) -> None:
        super().__init__(message)
        self.media_type = media_type


class StorageError(MlopskitError, OSError):
    """The filesystem failed after retries. What was written before is intact."""

    def __init__(self, message: str, *, path: str | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.url = url


class MissingExtraError(MlopskitError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(
        self,
        message: str,
        *,
        extra: str | None = None,
        module: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.extra = extra
        self.module = module
        self.url = url
