"""Request budgets of deleting on S3, counted by the server (tests/_s3counting.py)."""

from __future__ import annotations

import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlopskit.tracking import ObjectStoreBackend, Tracker

sys.path.insert(0, str(Path(__file__).parents[1]))
from _s3counting import RequestLog

pytestmark = pytest.mark.s3


@pytest.fixture(scope="module")
def counted() -> Iterator[RequestLog]:
    """A counting S3 server for this module, with test credentials in the environment."""
    pytest.importorskip("s3fs")
    server = RequestLog.start()
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            mp.setenv(key, value)
        try:
            yield server
        finally:
            server.stop()


def _tracker(url: str, server: RequestLog) -> Tracker:
    options = {"client_kwargs": {"endpoint_url": server.endpoint}}
    return Tracker(url, ObjectStoreBackend(url, storage_options=options))


@pytest.fixture
def url(counted: RequestLog) -> str:
    """A workspace in a fresh bucket of the counting server."""
    import s3fs

    bucket = f"b-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(client_kwargs={"endpoint_url": counted.endpoint}).mkdir(bucket)
    return f"s3://{bucket}/ws"


def _fill(tracker: Tracker, n: int) -> list[str]:
    ids = []
    for i in range(n):
        run = tracker.start_run("exp", params={"i": str(i)}, capture_env=False, git=False)
        run.end()
        ids.append(run.run_id)
    return ids


def test_deleting_costs_one_put_and_a_search_one_get_per_event(
    counted: RequestLog, url: str
) -> None:
    """Deleting a run writes one event object (after reading the run); a search then reads
    that event once (one GET) and nothing more on the next search: deletions add no
    listing to a search."""
    tracker = _tracker(url, counted)
    ids = _fill(tracker, 4)
    searcher = _tracker(url, counted)
    searcher.search_runs("exp")
    counted.reset()
    searcher.search_runs("exp")
    before = counted.counts()
    counted.reset()
    tracker.delete_run(ids[0], reason="x")
    assert counted.counts()["PUT"] == 1
    counted.reset()
    assert len(searcher.search_runs("exp")) == 3
    assert counted.counts() == before + Counter({"GET": 1})
    counted.reset()
    assert len(searcher.search_runs("exp")) == 3
    assert counted.counts() == before
