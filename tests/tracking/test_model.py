"""The record models: schema version, UTC datetimes, and the backends' fast construction."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from mlopskit.tracking import RunRecord
from mlopskit.tracking._model import stored_record

_times = st.floats(min_value=-1e10, max_value=1e11, allow_nan=False)
_text = st.text(max_size=10)


@given(
    start=_times,
    end=st.none() | _times,
    status=st.sampled_from(["RUNNING", "FINISHED", "FAILED", "KILLED"]),
    params=st.dictionaries(_text, _text, max_size=3),
    user=_text,
)
@settings(max_examples=100, deadline=None)
def test_stored_record_equals_a_validated_record(
    start: float, end: float | None, status: str, params: dict[str, str], user: str
) -> None:
    """What a backend builds without validation is exactly what validation would build."""
    fields = {
        "run_id": "r1",
        "experiment": "e",
        "name": "n",
        "status": status,
        "start_time": start,
        "end_time": end,
        "parent_id": None,
        "user": user,
        "host": "h",
        "params": params,
        "tags": {},
    }
    fast = stored_record(**fields)
    slow = RunRecord(**fields, stored_status=status)
    assert fast == slow
    assert fast.model_dump() == slow.model_dump()
    assert RunRecord.model_validate(fast.model_dump()) == slow
    fast.metrics["m"] = 1.0  # records stay mutable snapshots
    assert fast.to_dict()["metrics"] == {"m": 1.0}


def test_times_are_aware_utc_datetimes_and_numbers_mean_seconds() -> None:
    """A number for a time is epoch seconds (never guessed as milliseconds), in UTC."""
    rec = RunRecord(run_id="r", experiment="e", name="n", status="RUNNING", start_time=3e10)
    assert rec.start_time == datetime.fromtimestamp(3e10, timezone.utc)
    assert rec.start_time.tzinfo is not None
    assert rec.schema_version == 1
    assert rec.to_dict()["duration"] is None
