"""CI/CD gates: data and model checks, gated promotion, retraining triggers.

Checks return a typed :class:`CheckResult` (verdict and evidence) recorded as a run and
linked in lineage; :class:`Gate` binds a check to its settings for
``mk.registry.promote(..., require=[...])``; triggers are records a scheduler polls.
The ``mlopskit check`` and ``mlopskit triggers`` commands are in ``mlopskit.checks._cli``.
``import mlopskit.checks`` is cheap (the ``mlopskit`` command line imports its commands
at startup): every public name loads on first use. See docs/cicd.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from mlopskit.checks._cli import COMMANDS
    from mlopskit.checks._data import check_data
    from mlopskit.checks._gate import CHECKS, Gate
    from mlopskit.checks._metrics import METRICS, Metric
    from mlopskit.checks._model import (
        check_environment,
        check_latency,
        check_model,
        check_signature,
    )
    from mlopskit.checks._result import CheckResult, Finding
    from mlopskit.checks._spec import Spec, SpecRun, load_spec, parse_spec, run_spec
    from mlopskit.checks._triggers import (
        Trigger,
        ack_trigger,
        fire_trigger,
        get_trigger,
        list_triggers,
        on_drift,
        watch_loop,
    )

# Public name -> module that defines it; a test pins __all__ to its keys.
_LAZY: dict[str, str] = {
    "CHECKS": "mlopskit.checks._gate",
    "COMMANDS": "mlopskit.checks._cli",
    "METRICS": "mlopskit.checks._metrics",
    "CheckResult": "mlopskit.checks._result",
    "Finding": "mlopskit.checks._result",
    "Gate": "mlopskit.checks._gate",
    "Metric": "mlopskit.checks._metrics",
    "Spec": "mlopskit.checks._spec",
    "SpecRun": "mlopskit.checks._spec",
    "Trigger": "mlopskit.checks._triggers",
    "ack_trigger": "mlopskit.checks._triggers",
    "check_data": "mlopskit.checks._data",
    "check_environment": "mlopskit.checks._model",
    "check_latency": "mlopskit.checks._model",
    "check_model": "mlopskit.checks._model",
    "check_signature": "mlopskit.checks._model",
    "fire_trigger": "mlopskit.checks._triggers",
    "get_trigger": "mlopskit.checks._triggers",
    "list_triggers": "mlopskit.checks._triggers",
    "load_spec": "mlopskit.checks._spec",
    "on_drift": "mlopskit.checks._triggers",
    "parse_spec": "mlopskit.checks._spec",
    "run_spec": "mlopskit.checks._spec",
    "watch_loop": "mlopskit.checks._triggers",
}

__all__ = [
    "CHECKS",
    "COMMANDS",
    "METRICS",
    "CheckResult",
    "Finding",
    "Gate",
    "Metric",
    "Spec",
    "SpecRun",
    "Trigger",
    "ack_trigger",
    "check_data",
    "check_environment",
    "check_latency",
    "check_model",
    "check_signature",
    "fire_trigger",
    "get_trigger",
    "list_triggers",
    "load_spec",
    "on_drift",
    "parse_spec",
    "run_spec",
    "watch_loop",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mlopskit.checks' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
