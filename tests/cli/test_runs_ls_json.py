"""``mlopskit runs ls --json``: the fast listing path keeps its answer."""

from __future__ import annotations

import gc
import json
import math
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from mlopskit.cli import EXIT_OK, cli
from mlopskit.tracking import RunRecord, tracker_for

# SQLite cannot hold NaN (it stores NULL); ±inf it keeps
VALUES = st.floats(allow_nan=False, allow_infinity=True) | st.integers(-(2**53), 2**53)


def _workspace(root: Path, metrics: dict[str, float]) -> str:
    backend = tracker_for(str(root)).backend
    run_id = uuid.uuid4().hex
    now = time.time()
    backend.create_run(
        RunRecord(
            run_id=run_id,
            experiment="e",
            name="r",
            status="RUNNING",
            start_time=datetime.fromtimestamp(now, timezone.utc),
        )
    )
    if metrics:
        backend.log_metrics(run_id, [(k, float(v), 0, now) for k, v in metrics.items()])
    backend.finish(run_id, "FINISHED", now + 1)
    backend.close()
    return run_id


@settings(max_examples=25, deadline=None)
@given(metrics=st.dictionaries(st.sampled_from(["a", "b", "c"]), VALUES, max_size=3))
def test_non_finite_metrics_are_null_and_finite_ones_exact(
    tmp_path_factory: object, metrics: dict[str, float]
) -> None:
    """Each latest metric prints as its exact float, ±inf as null (valid JSON)."""
    root = tmp_path_factory.mktemp("ws")  # type: ignore[attr-defined]
    _workspace(root, metrics)
    result = CliRunner().invoke(cli, ["--workspace", str(root), "runs", "ls", "--json"])
    assert result.exit_code == EXIT_OK, result.output
    (row,) = json.loads(result.stdout)
    expected = {k: float(v) if math.isfinite(float(v)) else None for k, v in metrics.items()}
    assert row["metrics"] == expected


def test_listing_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path) -> None:
    """runs ls pauses the cyclic collector only while it builds rows: on after, if on before."""
    _workspace(tmp_path, {"a": 1.0})
    args = ["--workspace", str(tmp_path), "runs", "ls", "--json"]
    assert gc.isenabled()
    assert CliRunner().invoke(cli, args).exit_code == EXIT_OK
    assert gc.isenabled()
    gc.disable()
    try:
        assert CliRunner().invoke(cli, args).exit_code == EXIT_OK
        assert not gc.isenabled()
    finally:
        gc.enable()
