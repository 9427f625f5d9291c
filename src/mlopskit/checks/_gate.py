"""Gates: a check bound to its settings, run against a candidate model version.

``Gate("model", data="holdout/2", target="y")`` is a callable that
:func:`mlopskit.registry.promote` runs on the version it is asked to promote: it calls
the check with the candidate as its first argument (data checks take none) and returns
the :class:`CheckResult`. The settings are checked when the gate is made, so a typo in
a spec fails before anything runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from mlopskit.checks._data import check_data
from mlopskit.checks._model import check_environment, check_latency, check_model, check_signature
from mlopskit.checks._result import CheckResult
from mlopskit.errors import InvalidInputError

__all__ = ["CHECKS", "Gate"]

#: Check kind → the function running it.
CHECKS: dict[str, Callable[..., CheckResult]] = {
    "data": check_data,
    "environment": check_environment,
    "latency": check_latency,
    "model": check_model,
    "signature": check_signature,
}


class Gate:
    """A check with its settings; calling it with a model version runs the check.

    Args:
        check: ``"data"``, ``"model"``, ``"latency"``, ``"signature"`` or ``"environment"``.
        name: a label for reports and the alias history (default: ``check``).
        **options: the check's keyword arguments (``data=``, ``target=``, ``p95_ms=``, …).

    Raises:
        InvalidInputError: an unknown check or an option the check does not take.
    """

    def __init__(self, check: str, /, *, name: str | None = None, **options: Any) -> None:
        fn = CHECKS.get(check) if isinstance(check, str) else None
        if fn is None:
            raise InvalidInputError(
                f"unknown check {check!r}; checks: {sorted(CHECKS)}",
                expected=sorted(CHECKS),
                found=check,
            )
        params = inspect.signature(fn).parameters
        takes_candidate = check != "data"
        allowed = [p for i, p in enumerate(params) if not (takes_candidate and i == 0)]
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise InvalidInputError(
                f"{check} check: unknown option(s) {unknown}; it takes {allowed}",
                expected=allowed,
                found=unknown,
                key=unknown[0],
            )
        first = next(iter(params))
        if takes_candidate and first in options:
            raise InvalidInputError(
                f"{check} gate: {first!r} is the candidate being promoted; leave it out",
                key=first,
            )
        self.check = check
        self.name = name or check
        self.options = options
        self._fn = fn

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"Gate({self.check!r}{', ' if opts else ''}{opts})"

    def __call__(self, candidate: Any = None) -> CheckResult:
        """Run the check on ``candidate`` (a model URI or version; unused by data checks)."""
        if self.check == "data":
            return self._fn(**self.options)
        if candidate is None:
            raise InvalidInputError(
                f"the {self.check} gate needs a candidate model version", key="candidate"
            )
        return self._fn(candidate, **self.options)
