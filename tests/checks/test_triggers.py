"""Retraining triggers: fired by monitors, listed by schedulers, acknowledged once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from checks_models import Threshold, make_frame

import mlopskit as mk
from mlopskit.checks import (
    Trigger,
    ack_trigger,
    fire_trigger,
    get_trigger,
    list_triggers,
    on_drift,
    watch_loop,
)
from mlopskit.errors import IntegrityError, InvalidInputError, InvalidNameError, NotFoundError


class TestRecords:
    def test_fire_list_ack(self, ws: Any) -> None:
        """A fired trigger is pending until acknowledged; ack records who and what."""
        t = fire_trigger("drift", "churn@champion", reason="f0 drifted", evidence={"psi": 0.4})
        assert [x.id for x in list_triggers(pending=True)] == [t.id]
        done = ack_trigger(t.id, by="airflow", note="dag_run=42")
        assert (done.status, done.acked_by, done.note) == ("acknowledged", "airflow", "dag_run=42")
        assert list_triggers(pending=True) == []
        assert get_trigger(t.id) == done and list_triggers() == [done]

    def test_dedupe_returns_the_pending_trigger(self, ws: Any) -> None:
        """Firing again while one is pending returns it; after ack a new one is written."""
        a = fire_trigger("drift", "m@champion")
        assert fire_trigger("drift", "m@champion").id == a.id
        assert fire_trigger("drift", "other@champion").id != a.id
        ack_trigger(a.id)
        assert fire_trigger("drift", "m@champion").id != a.id
        assert fire_trigger("drift", "m@champion", dedupe=False).id != a.id

    def test_call_receives_the_trigger(self, ws: Any) -> None:
        """A user function given as call= receives the trigger after it is stored."""
        seen: list[Trigger] = []
        t = fire_trigger("performance", "m@champion", call=seen.append)
        assert seen == [t] and get_trigger(t.id) == t

    def test_bad_input(self, ws: Any) -> None:
        """Empty kinds, malformed ids, unknown ids and double acks are clear errors."""
        with pytest.raises(InvalidInputError, match="kind"):
            fire_trigger("", "m")
        with pytest.raises(InvalidNameError, match="not a trigger id"):
            get_trigger("../../etc")
        with pytest.raises(NotFoundError):
            get_trigger("20260101T000000000000Z-0a1b2c3d")
        t = fire_trigger("drift", "m")
        ack_trigger(t.id)
        with pytest.raises(InvalidInputError, match="acknowledged already"):
            ack_trigger(t.id)

    def test_damaged_record_is_an_integrity_error(self, ws: Any) -> None:
        """A trigger ref pointing at a record that is not a trigger reads as IntegrityError."""
        t = fire_trigger("drift", "m")
        bad = ws.store.put_record({"id": t.id, "kind": 5})
        ws.store.refs.set(f"triggers/{t.id}", bad)
        with pytest.raises(IntegrityError, match=f"triggers/{t.id}"):
            list_triggers()


_ACKER = textwrap.dedent(
    """
    import sys, time
    import mlopskit as mk
    from mlopskit.checks import ack_trigger
    from mlopskit.errors import InvalidInputError, RefConflictError

    mk.set_workspace(sys.argv[1])
    start = float(sys.argv[3])
    while time.time() < start:
        time.sleep(0.005)
    try:
        ack_trigger(sys.argv[2], by=sys.argv[4])
        print("took")
    except (RefConflictError, InvalidInputError):
        print("lost")
    """
)


@pytest.mark.slow
def test_concurrent_acks_across_processes_one_wins(tmp_path: Path) -> None:
    """Schedulers acknowledging one trigger at once: exactly one takes it."""
    import time

    from mlopskit.workspace import Workspace

    root = tmp_path / "ws"
    with Workspace(root):
        t = fire_trigger("drift", "m@champion")
    script = tmp_path / "acker.py"
    script.write_text(_ACKER)
    start = str(time.time() + 3.0)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(root), t.id, start, f"s{i}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outs.append(out.strip())
    assert sorted(outs) == ["lost", "lost", "lost", "took"]
    with Workspace(root):
        winner = get_trigger(t.id).acked_by
    assert winner == f"s{outs.index('took')}"


class TestMonitors:
    def test_drift_monitor_fires_a_trigger(self, ws: Any) -> None:
        """A drift.Monitor wired with on_drift writes a pending trigger with the evidence."""
        seen: list[Trigger] = []
        cols = ["f0", "f1"]  # f0 shifts below: half the columns, the default drift share
        ref = make_frame(seed=1, rows=400)[cols]
        monitor = mk.drift.Monitor(
            mk.drift.profile(ref), window=200, on_drift=on_drift("churn@champion", call=seen.append)
        )
        monitor.update(make_frame(seed=2, rows=200)[cols])
        assert list_triggers() == []
        monitor.update(make_frame(seed=3, rows=200, shift=3.0)[cols])
        (t,) = list_triggers(pending=True)
        assert t.kind == "drift" and "f0" in t.evidence["drifted_columns"] and seen == [t]

    def test_deployment_loop_fires_drift_and_performance(self, ws: Any) -> None:
        """watch_loop fires drift and performance triggers from a loop's prediction log."""
        from mlopskit.deploy import (
            DeploymentLoop,
            ModelPackage,
            PredictionLogger,
            PredictionRecord,
            Predictor,
        )

        cols = ["f0", "f1"]
        train = make_frame(seed=1, rows=400)[cols]
        ws.registry.register("churn", Threshold("f0", 0.0), input_example=train.head(3))
        ws.registry.set_alias("churn", "champion", 1)
        ModelPackage.from_registry("churn/1", store=ws.store, reference=train)
        pred = Predictor("churn@champion", store=ws.store)
        plog = PredictionLogger(ws.store, name="churn")
        loop = DeploymentLoop("churn", log=plog)
        traffic = make_frame(seed=5, rows=400, shift=3.0)[cols].assign(f1=lambda d: d.f1 + 3)
        for i, start in enumerate(range(0, 400, 20)):
            batch = traffic.iloc[start : start + 20].reset_index(drop=True)
            if i < 5:
                plog.log(PredictionRecord(inputs=batch, model=pred.digest, error="boom"))
            else:
                out = pred.predict(batch)
                plog.log(PredictionRecord(inputs=batch, outputs=out, model=pred.digest))
        plog.flush()
        check, fired = watch_loop(loop, max_error_rate=0.2)
        assert check.drifted and check.error_rate == pytest.approx(0.25)
        assert sorted(t.kind for t in fired) == ["drift", "performance"]
        assert {t.id for t in list_triggers(pending=True)} == {t.id for t in fired}

    def test_watch_loop_bad_rate(self, ws: Any) -> None:
        """An error-rate limit outside [0, 1] is refused before the loop runs."""
        with pytest.raises(InvalidInputError, match="max_error_rate"):
            watch_loop(object(), max_error_rate=3)  # type: ignore[arg-type]


def test_trigger_json_round_trip() -> None:
    """A trigger survives its JSON form unchanged (what the CLI prints and the store holds)."""
    t = Trigger(
        id="20260101T000000000000Z-0a1b2c3d",
        kind="drift",
        subject="m",
        evidence={"x": [1, 2]},
        created_at=pd.Timestamp("2026-01-01", tz="UTC").to_pydatetime(),
    )
    assert Trigger.model_validate(json.loads(t.model_dump_json())) == t
    assert np.isfinite(len(t.id))


@pytest.mark.s3
def test_triggers_and_gated_promotion_on_s3(s3_url: str, tmp_path: Path) -> None:
    """On an s3:// workspace (moto server): a trigger fires, is listed and acknowledged,
    and a gated promotion records its check run."""
    from mlopskit.checks import Gate
    from mlopskit.workspace import Workspace

    with Workspace(s3_url) as ws:
        t = fire_trigger("drift", "m@champion")
        assert [x.id for x in list_triggers(pending=True)] == [t.id]
        ack_trigger(t.id, by="s3-test")
        assert list_triggers(pending=True) == []
        ws.registry.register("m", Threshold("f0", 0.0))
        ws.registry.promote("m", 1, require=[Gate("environment")])
        (gate,) = ws.registry.history("m", "champion")[-1].gates
        assert gate.passed and mk.get_run(gate.run_id).tags["check"] == "environment"
