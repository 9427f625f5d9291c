"""Recording a check: one run per check, linked in lineage to what it judged.

The run (experiment ``checks`` by default) gets the check's settings as params, its
numeric evidence as metrics, the tags ``check``, ``subject`` and ``verdict``, and the
whole :class:`CheckResult` as the JSON artifact ``check.json``. Every dataset or model
version the check read is linked to the run by a ``used`` lineage edge, so
``mk.lineage("model:churn/3")`` shows the checks that judged it. A failing verdict is
a FINISHED run (the check worked; its verdict is the tag); a check that raised is a
FAILED run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from mlopskit.checks._result import CheckResult
from mlopskit.versioning import Endpoint, LineageEdge, record_edge
from mlopskit.workspace import current_workspace

__all__ = ["metric_key", "save"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /:]")


def metric_key(*parts: str) -> str:
    """A run metric or param name made of ``parts`` (unsafe characters become ``_``)."""
    key = ".".join(_UNSAFE.sub("_", str(p)) for p in parts).lstrip("/")
    while ".." in key:
        key = key.replace("..", "._")
    return key[:250] or "_"


def _param(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def save(
    result: CheckResult,
    inputs: Sequence[Endpoint] = (),
    *,
    experiment: str = "checks",
) -> CheckResult:
    """Record ``result`` as a run of the current workspace; return it with ``run_id`` set."""
    ws = current_workspace()
    tracker = ws.tracker
    params = {metric_key(k): _param(v) for k, v in result.params.items()}
    tags = {"check": result.check, "subject": result.subject, "verdict": result.verdict}
    with tracker.start_run(
        experiment, name=f"check-{result.check}", params=params, tags=tags
    ) as run:
        if result.metrics:
            run.log_metrics({metric_key(k): v for k, v in result.metrics.items()})
        final = result.model_copy(update={"run_id": run.run_id})
        run.log_dict(final.model_dump(mode="json"), "check.json")
        for endpoint in inputs:
            run.log_input(endpoint.digest, name=endpoint.label or None, context="checked")
        if inputs:
            record_edge(
                ws.store,
                LineageEdge(
                    relation="used",
                    inputs={f"{e.kind}:{e.label or e.digest}": e for e in inputs},
                    run_id=run.run_id,
                ),
            )
    return final
