"""CI/CD gates: data and model checks, gated promotion, retraining triggers.

Checks return a typed :class:`CheckResult` (verdict and evidence) recorded as a run and
linked in lineage; :class:`Gate` binds a check to its settings for
``mk.registry.promote(..., require=[...])``; triggers are records a scheduler polls.
The ``mlopskit check`` and ``mlopskit triggers`` commands are in ``mlopskit.checks._cli``.
See docs/cicd.md.
"""

from __future__ import annotations

from mlopskit.checks._data import check_data
from mlopskit.checks._gate import CHECKS, Gate
from mlopskit.checks._metrics import METRICS, Metric
from mlopskit.checks._model import check_environment, check_latency, check_model, check_signature
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

__all__ = [
    "CHECKS",
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
