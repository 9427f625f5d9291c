"""Request budgets of the object-store backend on S3, counted by the server (tests/_s3counting.py).

Each budget here is the one written in docs/tracking.md ("Request budgets"): a change
that adds a round trip to one of these operations fails its test.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlopskit.tracking import ObjectStoreBackend, Tracker

sys.path.insert(0, str(Path(__file__).parents[1]))
from _s3counting import RequestLog, counting_server

pytestmark = pytest.mark.s3

N_RUNS = 12


@pytest.fixture(scope="module")
def counted() -> Iterator[RequestLog]:
    """A counting S3 server for this module, with test credentials in the environment."""
    pytest.importorskip("s3fs")
    with counting_server() as server:
        yield server


def _options(server: RequestLog) -> dict[str, Any]:
    return {"client_kwargs": {"endpoint_url": server.endpoint}}


@pytest.fixture
def url(counted: RequestLog) -> str:
    """A workspace in a fresh bucket of the counting server."""
    import s3fs

    bucket = f"b-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(**_options(counted)).mkdir(bucket)
    return f"s3://{bucket}/ws"


def _tracker(url: str, server: RequestLog, **kw: Any) -> Tracker:
    return Tracker(url, ObjectStoreBackend(url, storage_options=_options(server), **kw))


def _search_in_new_process(url: str, counted: RequestLog) -> list[str]:
    """The run ids ``search_runs("exp")`` returns in a fresh Python process."""
    code = textwrap.dedent(
        f"""
        from mlopskit.tracking import ObjectStoreBackend, Tracker
        b = ObjectStoreBackend({url!r}, storage_options={_options(counted)!r})
        frame = Tracker({url!r}, b).search_runs("exp")
        print(",".join(sorted(frame["run_id"])))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return out.stdout.strip().split(",")


def _fill(tracker: Tracker, n: int = N_RUNS) -> list[str]:
    ids = []
    for i in range(n):
        run = tracker.start_run("exp", params={"lr": str(i)}, capture_env=False, git=False)
        run.log_metrics({"acc": i / 10, "loss": 1 - i / 10}, step=0)
        run.end()
        ids.append(run.run_id)
    return ids


def test_create_run_is_two_puts_and_nothing_else(counted: RequestLog, url: str) -> None:
    """Starting a run writes its identity and first segment: 2 PUTs, no read, no list."""
    tracker = _tracker(url, counted)
    counted.reset()
    run = tracker.start_run("exp", params={"a": "1"}, tags={"t": "x"}, capture_env=False, git=False)
    assert counted.counts() == Counter({"PUT": 2})
    counted.reset()
    run.log_metrics({"m": 1.0, "n": 2.0}, step=1)
    run.flush()
    assert counted.counts() == Counter({"PUT": 1}), "a flushed batch is one segment"
    counted.reset()
    run.end()
    assert counted.counts() == Counter({"PUT": 1}), "end() is one segment"


def test_get_run_reads_each_object_with_one_get_and_no_head(counted: RequestLog, url: str) -> None:
    """Reading a run: one GET per object (identity and segments), two LISTs (index
    generations, segments since the run was created), never a HEAD."""
    tracker = _tracker(url, counted)
    (run_id,) = _fill(tracker, 1)
    fresh = _tracker(url, counted)
    counted.reset()
    rec = fresh.record(run_id)
    assert rec.params == {"lr": "0"}
    counts = counted.counts()
    assert counts["HEAD"] == 0
    assert counts == Counter({"GET": 1 + 3, "LIST": 2})  # identity + 3 segments


def test_search_after_compaction_costs_three_requests_in_a_new_process(
    counted: RequestLog, url: str
) -> None:
    """A cold search of a compacted experiment: LIST index, GET index, LIST the
    experiment's top level (layout), LIST segments after the index's watermark."""
    tracker = _tracker(url, counted)
    ids = _fill(tracker)
    written = tracker.backend.compact()  # type: ignore[attr-defined]
    assert len(written) == 1
    counted.reset()
    assert _search_in_new_process(url, counted) == sorted(ids)
    assert counted.counts() == Counter({"LIST": 3, "GET": 1})
    segment_lists = [q for m, _p, q in counted.requests() if "segments" in q]
    assert len(segment_lists) == 1 and "start-after=" in segment_lists[0]


def test_warm_and_filtered_search_stay_within_budget(counted: RequestLog, url: str) -> None:
    """A second search lists three times and reads nothing; so does filter + order."""
    tracker = _tracker(url, counted)
    _fill(tracker)
    tracker.backend.compact()  # type: ignore[attr-defined]
    searcher = _tracker(url, counted)
    searcher.search_runs("exp")
    counted.reset()
    frame = searcher.search_runs("exp")
    assert len(frame) == N_RUNS
    assert counted.counts() == Counter({"LIST": 3})
    counted.reset()
    top = searcher.search_runs("exp", filter="metrics.acc > 0.5", order_by="metrics.acc DESC")
    assert list(top["params.lr"]) == [str(i) for i in range(N_RUNS - 1, 5, -1)]
    assert counted.counts() == Counter({"LIST": 3})


def test_search_reads_only_segments_written_after_the_index(counted: RequestLog, url: str) -> None:
    """After compaction, a new run costs one GET per segment of it, not a re-read of all."""
    tracker = _tracker(url, counted, compact_after=None)
    _fill(tracker)
    tracker.backend.compact()  # type: ignore[attr-defined]
    run = tracker.start_run("exp", params={"lr": "new"}, capture_env=False, git=False)
    run.end()
    searcher = _tracker(url, counted)
    counted.reset()
    frame = searcher.search_runs("exp")
    assert len(frame) == N_RUNS + 1
    assert set(frame.loc[frame["run_id"] == run.run_id, "status"]) == {"FINISHED"}
    assert counted.counts() == Counter({"LIST": 3, "GET": 1 + 2})  # index + 2 new segments


def test_a_fresh_index_lists_its_window_in_concurrent_ranges(counted: RequestLog, url: str) -> None:
    """When the files after an index's watermark minus the margin are many (a fresh
    index), a new process lists them in ranges the index names (on S3, concurrently):
    one LIST per range, each starting after its own name, and the same runs."""
    tracker = _tracker(url, counted)
    ids = _fill(tracker)  # 12 runs, 3 segments each: 36 names in the window
    tracker.backend.range_names = 10  # type: ignore[attr-defined]
    tracker.backend.compact()  # type: ignore[attr-defined]
    counted.reset()
    assert _search_in_new_process(url, counted) == sorted(ids)
    segment_lists = [q for m, _p, q in counted.requests() if "segments" in q]
    assert len(segment_lists) == 4  # cut after the 10th, 20th and 30th name
    assert all("start-after=" in q for q in segment_lists)
    assert counted.counts() == Counter({"LIST": 2 + 4, "GET": 1})
