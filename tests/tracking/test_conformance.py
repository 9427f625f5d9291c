"""Every tracking backend passes the same conformance suite."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlopskit.errors import InvalidInputError
from mlopskit.testing import TrackerConformance
from mlopskit.tracking import ObjectStoreBackend, SQLiteBackend, Tracker

# Hypothesis examples cannot use tmp_path: their workspaces go here, removed at exit.
_SCRATCH = tempfile.TemporaryDirectory(prefix="mlopskit-test-")


class TestSQLite(TrackerConformance):
    """The SQLite backend of a local workspace."""

    @pytest.fixture
    def tracker_factory(self, tmp_path: Path) -> Callable[[], Tracker]:
        root = str(tmp_path / "ws")
        return lambda: Tracker(root, SQLiteBackend(f"{root}/tracking.sqlite"))


class TestObjectStoreMemory(TrackerConformance):
    """The object-store backend over memory://."""

    @pytest.fixture
    def tracker_factory(self) -> Callable[[], Tracker]:
        root = f"memory://tracking-{uuid.uuid4().hex[:8]}"
        return lambda: Tracker(root, ObjectStoreBackend(root))


class TestObjectStoreLocal(TrackerConformance):
    """The object-store backend over a local directory."""

    @pytest.fixture
    def tracker_factory(self, tmp_path: Path) -> Callable[[], Tracker]:
        root = str(tmp_path / "ws")
        return lambda: Tracker(root, ObjectStoreBackend(root))


@pytest.mark.s3
class TestObjectStoreS3(TrackerConformance):
    """The object-store backend on the local S3 server."""

    @pytest.fixture
    def tracker_factory(self, s3_url: str) -> Callable[[], Tracker]:
        return lambda: Tracker(s3_url, ObjectStoreBackend(s3_url))


_ANY_NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([None, "1", True, 2**1100, -(2**63), 2**63 - 1, 2**63]),
)


@given(
    points=st.lists(
        st.tuples(_ANY_NUMBER, st.none() | _ANY_NUMBER, st.none() | _ANY_NUMBER),
        min_size=1,
        max_size=8,
    )
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_both_backends_accept_refuse_and_store_the_same_points(
    points: list[tuple[object, object, object]],
) -> None:
    """Random values, steps and times: both backends refuse the same ones at the call and
    store the accepted ones identically (nothing fails later, at flush)."""
    outcomes = []
    root = tempfile.mkdtemp(dir=_SCRATCH.name)
    mem = f"memory://same-{uuid.uuid4().hex[:8]}"
    for tracker in (
        Tracker(root, SQLiteBackend(f"{root}/tracking.sqlite")),
        Tracker(mem, ObjectStoreBackend(mem)),
    ):
        refused = []
        with tracker.start_run("same", capture_env=False) as run:
            for value, step, ts in points:
                try:
                    run.log_metric("m", value, step=step, timestamp=ts)  # type: ignore[arg-type]
                    refused.append(False)
                except InvalidInputError:
                    refused.append(True)
        history = tracker.backend.metric_history(run.run_id, "m")
        explicit = sorted(
            t for t in (h[2] for h in history) if t in {p[2] for p in points if p[2] is not None}
        )
        steps_values = sorted((s, repr(v)) for s, v, _ in history)  # NaN == NaN here
        outcomes.append((refused, steps_values, explicit, tracker.get_run(run.run_id).status))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][3] == "FINISHED"


@given(
    points=st.lists(
        st.tuples(
            st.floats(-1e6, 1e6), st.integers(0, 3), st.sampled_from([1.7e9, 1.7e9 + 1, 1.7e9 + 2])
        ),
        min_size=1,
        max_size=12,
    ),
    batches=st.integers(1, 3),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_latest_value_is_highest_step_then_time_then_last_logged(
    points: list[tuple[float, int, float]], batches: int
) -> None:
    """Both backends report as latest the point with the highest (step, time), ties: the last."""
    expected = max(reversed(points), key=lambda p: (p[1], p[2]))[0]
    root = tempfile.mkdtemp(dir=_SCRATCH.name)
    mem = f"memory://latest-{uuid.uuid4().hex[:8]}"
    for tracker in (
        Tracker(root, SQLiteBackend(f"{root}/tracking.sqlite")),
        Tracker(mem, ObjectStoreBackend(mem)),
    ):
        with tracker.start_run("latest", capture_env=False) as run:
            size = -(-len(points) // batches)
            for i in range(0, len(points), size):
                for value, step, ts in points[i : i + size]:
                    run.log_metric("m", value, step=step, timestamp=ts)
                run.flush()
        assert tracker.get_run(run.run_id).metrics["m"] == expected
