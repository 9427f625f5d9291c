"""Runs written from hypothesis specs, shared by the frame tests of both backends
(test_sql_frame.py: SQLite; test_index_frame.py: a settled object-store index)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from mlopskit.tracking import RunRecord, Tracker


def write_runs(tracker: Tracker, runs: list[dict[str, Any]]) -> None:
    """``runs`` written through ``tracker.backend`` (RUNNING where ``length`` is None):
    params ``p``/``q``, tag ``t``, the paused tag, metrics ``m``/``n``, each run the
    child of the one before where ``parent`` is set, deleted where ``deleted`` is."""
    backend = tracker.backend
    parent = None
    for spec in runs:
        run_id = uuid.uuid4().hex
        tags = {} if spec["t"] is None else {"t": spec["t"]}
        if spec["paused"] is not None:
            tags["mlopskit.paused"] = spec["paused"]
        backend.create_run(
            RunRecord(
                run_id=run_id,
                experiment=spec["experiment"],
                name=spec["name"],
                status="RUNNING",
                start_time=spec["start"],
                user=spec.get("user", ""),
                host="h",
                parent_id=parent if spec["parent"] else None,
                params={k: spec[k] for k in ("p", "q") if spec[k] is not None},
                tags=tags,
            )
        )
        points = [(k, spec[k], 0, time.time()) for k in ("m", "n") if spec[k] is not None]
        backend.log_metrics(run_id, points)
        if spec["length"] is not None:
            backend.finish(run_id, spec["status"], spec["start"] + spec["length"])
        if spec["deleted"]:
            tracker.delete_run(run_id)
        parent = run_id
