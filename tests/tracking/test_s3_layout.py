"""The time-ordered segment layout (docs/layout-tracking.md): what a search after an index
finds when clocks disagree, when a PUT is slow, when runs are purged, and in workspaces an
older version wrote.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlopskit.tracking import ObjectStoreBackend, RunRecord, Tracker
from mlopskit.tracking._index import encode_index, index_hints
from mlopskit.tracking._segments import parse_segment_name, segment_name

MARGIN = 30.0  # seconds; the behaviour is the same at the default 300


def _backend(url: str, *, margin: float = MARGIN, lag: float = 0.0) -> ObjectStoreBackend:
    backend = ObjectStoreBackend(url, compact_after=None)
    backend.margin = margin
    if lag:
        backend.clock = lambda: time.time() - lag
    return backend


def _new_run(backend: ObjectStoreBackend, name: str, value: float, step: int = 0) -> str:
    run_id = uuid.uuid4().hex
    backend.create_run(
        RunRecord(
            run_id=run_id,
            experiment="exp",
            name=name,
            status="RUNNING",
            start_time=time.time(),
            params={"p": name},
        )
    )
    backend.log_metrics(run_id, [("loss", value, step, time.time())])
    backend.finish(run_id, "FINISHED", time.time())
    return run_id


def _by_id(backend: ObjectStoreBackend) -> dict[str, RunRecord]:
    return {r.run_id: r for r in backend.list_runs(["exp"])}


@settings(max_examples=25, deadline=None)
@given(lag=st.floats(0.0, MARGIN * 0.95), value=st.floats(-1e6, 1e6))
def test_a_writer_whose_clock_lags_by_less_than_the_margin_is_still_found(
    lag: float, value: float
) -> None:
    """After an index, a writer whose clock runs behind by less than the margin is seen:
    its new run, and a later point it logs to a run the index holds."""
    url = f"memory://skew-{uuid.uuid4().hex[:8]}"
    compactor = _backend(url)
    old = _new_run(compactor, "old", 1.0)
    assert compactor.compact() != []
    late = _backend(url, lag=lag)
    new = _new_run(late, "new", value)
    late.log_metrics(old, [("loss", value, 5, time.time())])
    reader = _backend(url)
    runs = _by_id(reader)
    assert set(runs) == {old, new}
    assert runs[new].metrics == {"loss": value} and runs[new].status == "FINISHED"
    assert runs[old].metrics == {"loss": value}
    fresh = _backend(url)
    assert fresh.get_run(old).metrics == {"loss": value}
    assert [p[:2] for p in fresh.metric_history(old, "loss")] == [(0, 1.0), (5, value)]


@settings(max_examples=15, deadline=None)
@given(
    batches=st.lists(
        st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=4), min_size=1, max_size=4
    ),
    slow=st.integers(0, 4),
)
def test_a_republished_segment_is_counted_once(batches: list[list[float]], slow: int) -> None:
    """A segment whose PUT took longer than half the margin is created again under a later
    time; readers count its points once (same writer and seq)."""
    url = f"memory://republish-{uuid.uuid4().hex[:8]}"
    writer = _backend(url, margin=0.2)
    real = writer.files.create
    left = [slow]

    def late_create(path: str, data: bytes) -> None:
        real(path, data)
        if left[0] > 0 and "/segments/" in path:
            left[0] -= 1
            time.sleep(0.11)  # the PUT "returned" after half the margin: published again

    writer.files.create = late_create  # type: ignore[method-assign]
    run_id = _new_run(writer, "r", 0.0)
    expected = [(0, 0.0)]
    step = 1
    for batch in batches:
        points = [("loss", v, step + i, time.time()) for i, v in enumerate(batch)]
        writer.log_metrics(run_id, points)
        expected += [(step + i, v) for i, v in enumerate(batch)]
        step += len(batch)
    names = [
        parsed
        for p in writer.files.find(writer.files.path("experiments", "exp", "segments"))
        if (parsed := parse_segment_name(p.rpartition("/")[2])) is not None
    ]
    copies = len(names) - len({(n[1], n[2]) for n in names})
    assert copies >= slow  # (a loaded machine may make an ordinary PUT slow too)
    reader = _backend(url)
    assert [p[:2] for p in reader.metric_history(run_id, "loss")] == expected
    assert reader.get_run(run_id).metrics == {"loss": expected[-1][1]}
    compactor = _backend(url)
    compactor.compact()
    (rec,) = _backend(url).list_runs(["exp"])
    assert rec.metrics == {"loss": expected[-1][1]} and rec.status == "FINISHED"


def test_a_purged_run_stays_gone_from_searches_that_use_an_older_index(tmp_path: Path) -> None:
    """gc after compaction: a search with the index that still holds the run leaves it out,
    and so does every later index."""
    root = str(tmp_path / "ws")
    tracker = Tracker(root, _backend(root))
    keep = _new_run(tracker.backend, "keep", 1.0)  # type: ignore[arg-type]
    gone = _new_run(tracker.backend, "gone", 2.0)  # type: ignore[arg-type]
    tracker.backend.compact()  # type: ignore[attr-defined]
    tracker.delete_run(gone)
    report = tracker.gc(older_than=timedelta(0), dry_run=False)
    assert report.purged_runs == [gone]
    assert set(_by_id(_backend(root))) == {keep}
    _backend(root).compact()
    assert set(_by_id(_backend(root))) == {keep}


def _to_older_layout(root: Path) -> None:
    """Move every run's files to the per-run layout of earlier versions (and drop the
    identity's ``created``), as an earlier version would have written them."""
    tracking = root / "tracking"
    for path in sorted((tracking / "experiments" / "exp" / "segments").iterdir()):
        parsed = parse_segment_name(path.name)
        assert parsed is not None
        time_ns, writer, seq, run_id, kind = parsed
        folder = tracking / "experiments" / "exp" / run_id
        if kind == "json":
            folder = folder / "lifecycle"
        folder.mkdir(parents=True, exist_ok=True)
        path.rename(folder / f"{time_ns:020d}-{writer}-{seq:08d}.{kind}")
    (tracking / "experiments" / "exp" / "segments").rmdir()
    for ident in (tracking / "runs").iterdir():
        data = json.loads(ident.read_text())
        data.pop("created")
        ident.write_text(json.dumps(data))


def test_an_older_layout_is_still_read_and_mixes_with_new_files(tmp_path: Path) -> None:
    """Runs an earlier version wrote (per-run folders, no creation time) read as before,
    alongside runs and points this version adds, before and after compaction."""
    root = tmp_path / "ws"
    first = _backend(str(root))
    old_a = _new_run(first, "a", 1.0)
    old_b = _new_run(first, "b", 2.0)
    tracker = Tracker(str(root), first)
    tracker.delete_run(old_b)
    _to_older_layout(root)
    assert not (root / "tracking" / "experiments" / "exp" / "segments").exists()
    writer = _backend(str(root))
    new = _new_run(writer, "n", 3.0)
    writer.log_metrics(old_a, [("loss", 4.0, 9, time.time())])
    for _ in range(2):  # before and after an index
        reader = _backend(str(root))
        runs = _by_id(reader)
        assert set(runs) == {old_a, old_b, new}
        assert runs[old_a].metrics == {"loss": 4.0} and runs[new].metrics == {"loss": 3.0}
        assert runs[old_b].lifecycle == "deleted" and runs[old_a].lifecycle == "active"
        assert _backend(str(root)).get_run(old_a).metrics == {"loss": 4.0}
        assert [p[:2] for p in _backend(str(root)).metric_history(old_a, "loss")] == [
            (0, 1.0),
            (9, 4.0),
        ]
        _backend(str(root)).compact()
    assert os.path.isdir(root / "tracking" / "experiments" / "exp" / old_a)


def test_files_written_while_compacting_are_folded_into_the_index() -> None:
    """A run written while the compactor reads is in the index it publishes (its
    watermark is the second listing's), and every search finds it."""
    from mlopskit.tracking._index import index_name, read_index

    url = f"memory://catchup-{uuid.uuid4().hex[:8]}"
    compactor = _backend(url)
    first = _new_run(compactor, "a", 1.0)
    other = _backend(url)
    real = compactor.files.read_many
    made: list[str] = []

    def reading(paths: list[str], **kw: bool) -> dict[str, bytes]:
        if not made:
            made.append(_new_run(other, "b", 2.0))
        return real(paths, **kw)

    compactor.files.read_many = reading  # type: ignore[method-assign]
    started = time.time()
    (path,) = compactor.compact()
    assert path.endswith(index_name(1))
    rows, watermark = read_index(path, compactor.files.read(path), "exp")
    assert set(rows) == {first, made[0]}
    assert watermark is not None and watermark >= started
    runs = _by_id(_backend(url))
    assert runs[first].metrics == {"loss": 1.0} and runs[made[0]].metrics == {"loss": 2.0}


# -- a listing cut into ranges (S3: listed concurrently) --------------------------------

_RUN = "ab" * 16
_NAMES = sorted(
    segment_name(t, "w-1", seq, _RUN, kind)
    for seq, (t, kind) in enumerate(
        [(10**18 + i * 7_919_000_000, "jsonl") for i in range(24)]
        + [(10**18 + 5, "json"), (2 * 10**18, "purged"), (0, "jsonl")],
        start=1,
    )
)
_SPLIT = st.one_of(
    st.sampled_from(_NAMES),
    st.from_regex(r"\A[0-9]{1,20}\Z"),
    st.text(st.characters(exclude_categories=("C",)), max_size=30),
)


@pytest.fixture(scope="module")
def listed_bucket(s3_endpoint: str) -> str:
    """A segments directory on the S3 server holding ``_NAMES``, a nested key and keys
    under neighbouring prefixes (none of which a listing of the directory returns)."""
    import s3fs

    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint})
    bucket = f"ranges-{uuid.uuid4().hex[:8]}"
    fs.mkdir(bucket)
    base = f"{bucket}/ws/tracking/experiments/exp/segments"
    others = [f"{base}/nested/{_NAMES[3]}", f"{base}x/{_NAMES[4]}", f"{bucket}/ws/z"]
    fs.pipe({**{f"{base}/{n}": b"" for n in _NAMES}, **dict.fromkeys(others, b"")})
    return f"s3://{base}"


@pytest.mark.s3
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    after=st.one_of(st.none(), _SPLIT),
    splits=st.lists(_SPLIT, max_size=8),
    page=st.sampled_from([None, 1, 2, 5]),
)
def test_a_listing_cut_into_ranges_finds_exactly_what_one_listing_finds(
    listed_bucket: str, after: str | None, splits: list[str], page: int | None
) -> None:
    """Whatever the splits (an index's hint, untrusted) and the page size, a listing after
    a name returns each file after it once, in order, and nothing under another prefix."""
    backend = ObjectStoreBackend(listed_bucket.rpartition("/ws/")[0] + "/ws")
    backend.files.page_keys = page
    found = backend.files.list_after(listed_bucket, after, splits)
    assert [p.rpartition("/")[2] for p in found] == [
        n for n in _NAMES if after is None or n > after
    ]


@pytest.mark.s3
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lag=st.floats(0.0, MARGIN * 0.95), value=st.floats(-1e6, 1e6))
def test_a_lagging_writer_is_found_inside_a_range_of_a_fresh_index_listing(
    s3_url: str, lag: float, value: float
) -> None:
    """On S3, an index whose window holds many files cuts a search's listing into ranges;
    a file a lagging writer creates between two of them (a new run, a point of a run the
    index holds) is still found, by a search and by get_run."""
    url = f"{s3_url}-{uuid.uuid4().hex[:8]}"
    compactor = _backend(url)
    compactor.range_names = 2
    old = [_new_run(compactor, f"old{i}", 1.0) for i in range(3)]
    (path,) = compactor.compact()
    assert len(index_hints(compactor.files.read(path))[1]) >= 3  # 9 names: ranges of 2
    late = _backend(url, lag=lag)
    new = _new_run(late, "new", value)
    late.log_metrics(old[0], [("loss", value, 5, time.time())])
    runs = _by_id(_backend(url))
    assert set(runs) == {*old, new}
    assert runs[new].metrics == {"loss": value} and runs[new].status == "FINISHED"
    assert runs[old[0]].metrics == {"loss": value} and runs[old[1]].metrics == {"loss": 1.0}
    assert _backend(url).get_run(old[0]).metrics == {"loss": value}


@pytest.mark.s3
def test_a_listing_reads_keys_only_and_leaves_other_listings_whole(listed_bucket: str) -> None:
    """list_after's pages are read for their keys alone; a listing made afterwards
    through the same client (fsspec's ls) still gets each key's size and time."""
    backend = ObjectStoreBackend(listed_bucket.rpartition("/ws/")[0] + "/ws")
    backend.files.page_keys = 5
    found = backend.files.list_after(listed_bucket, None, [_NAMES[10]])
    assert [p.rpartition("/")[2] for p in found] == _NAMES
    entries = backend.files.fs.ls(listed_bucket, detail=True)
    files = [e for e in entries if e["type"] == "file"]
    assert len(files) == len(_NAMES)
    assert all(e["size"] == 0 and e["LastModified"] is not None for e in files)


def _page(keys: list[str], truncated: bool) -> bytes:
    from xml.sax.saxutils import escape

    contents = "".join(
        f"<Contents><Key>{escape(k)}</Key><LastModified>2026-12-02T05:59:38.000Z</LastModified>"
        "<ETag>&quot;d41d8&quot;</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass>"
        "</Contents>"
        for k in keys
    )
    token = "<NextContinuationToken>t&amp;1</NextContinuationToken>" if truncated else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Name>b</Name><Prefix>p/</Prefix><KeyCount>{len(keys)}</KeyCount>"
        f"<MaxKeys>1000</MaxKeys><IsTruncated>{str(truncated).lower()}</IsTruncated>"
        f"{contents}{token}</ListBucketResult>"
    ).encode()


@settings(max_examples=100, deadline=None)
@given(
    keys=st.lists(
        st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Cn")), min_size=1),
        max_size=6,
    ),
    truncated=st.booleans(),
)
def test_a_keys_only_page_gives_the_keys_botocore_parses(keys: list[str], truncated: bool) -> None:
    """A ListObjectsV2 page read for its keys alone (the listing hook) gives exactly the
    keys, truncation and continuation token botocore's full parse gives."""
    import botocore.session
    from botocore.parsers import RestXMLParser

    from mlopskit.tracking._files import _KEYS_ONLY, _keys_only

    shape = (
        botocore.session.get_session()
        .get_service_model("s3")
        .operation_model("ListObjectsV2")
        .output_shape
    )
    body = _page(keys, truncated)

    def parse(keys_only: bool) -> dict[str, object]:
        response: dict[str, object] = {"status_code": 200, "headers": {}, "body": body}
        custom: dict[str, object] = {}
        token = _KEYS_ONLY.set(keys_only)
        try:
            _keys_only(response_dict=response, customized_response_dict=custom)
        finally:
            _KEYS_ONLY.reset(token)
        parsed: dict[str, object] = RestXMLParser().parse(response, shape)
        parsed.update(custom)
        return parsed

    full, fast = parse(False), parse(True)
    assert [c["Key"] for c in fast.get("Contents", [])] == keys  # type: ignore[attr-defined]
    assert [c["Key"] for c in full.get("Contents", [])] == keys  # type: ignore[attr-defined]
    for name in ("IsTruncated", "NextContinuationToken", "KeyCount", "Prefix"):
        assert fast.get(name) == full.get(name)


def test_an_index_footer_hint_that_is_not_a_list_of_segment_names_is_dropped() -> None:
    """Listing splits in an index footer are untrusted hints: anything but a list of
    segment names is ignored (the watermark still reads), so it cannot steer a listing."""
    import io

    import pyarrow.parquet as pq

    good = encode_index({}, 1.7e9, [_NAMES[2], _NAMES[9]])
    assert index_hints(good) == (1.7e9, (_NAMES[2], _NAMES[9]))
    table = pq.ParquetFile(io.BytesIO(good)).read()
    for bad in (b"{", b'"x"', b"[1, 2]", b'["../../etc"]', json.dumps([_NAMES[1], "x"]).encode()):
        meta = {**(table.schema.metadata or {}), b"splits": bad}
        sink = io.BytesIO()
        pq.write_table(table.replace_schema_metadata(meta), sink)
        assert index_hints(sink.getvalue()) == (1.7e9, ())
    assert index_hints(b"not parquet") == (None, ())


@settings(max_examples=200, deadline=None)
@given(
    when=st.datetimes(datetime(1970, 1, 2), datetime(9999, 12, 30)),
    form=st.sampled_from(
        ["%Y-%m-%dT%H:%M:%S.{ms}Z", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"]
    ),
    other=st.one_of(
        st.text(max_size=30),
        st.sampled_from(
            ["Wed, 02 Dec 2026 05:59:38 GMT", "1796156531", "2026-12-02T05:59:38+01:00"]
        ),
    ),
)
def test_listing_timestamps_parse_to_what_botocore_parses(
    when: datetime, form: str, other: str
) -> None:
    """The LastModified parser a listing installs on its S3 session gives botocore's own
    value for S3's format (the same instant, in UTC), and defers on anything else."""
    from botocore.utils import parse_timestamp
    from dateutil.tz import tzutc

    from mlopskit.tracking._files import s3_timestamp

    text = when.strftime(form.replace("{ms}", f"{when.microsecond // 1000:03d}"))
    ours, theirs = s3_timestamp(text), parse_timestamp(text)
    assert ours == theirs and ours.timestamp() == theirs.timestamp()
    assert ours.utcoffset() == timedelta(0) and type(ours.tzinfo) is tzutc
    try:
        expected: object = parse_timestamp(other)
    except Exception as exc:  # botocore's own error: ours must raise the same
        expected = type(exc)
    try:
        found: object = s3_timestamp(other)
    except Exception as exc:
        found = type(exc)
    assert found == expected
