"""The compacted run index of the object-store backend: same answers, fewer reads, safe races."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlopskit.errors import IntegrityError, InvalidInputError
from mlopskit.tracking import ObjectStoreBackend, RunInput, Tracker
from mlopskit.tracking._index import decode_index, encode_index, record_of, summary_of

_LEFT_RUNNING: list[Any] = []


@pytest.fixture(autouse=True)
def _end_left_running() -> Iterator[None]:
    """End the runs a test left RUNNING, so none stays the active run after it."""
    yield
    while _LEFT_RUNNING:
        _LEFT_RUNNING.pop().end()


def _tracker(root: str, **kw: Any) -> Tracker:
    return Tracker(root, ObjectStoreBackend(root, **kw))


def _fill(tracker: Tracker, n: int, experiment: str = "exp") -> list[str]:
    ids = []
    for i in range(n):
        run = tracker.start_run(
            experiment, params={"lr": str(i)}, tags={"k": str(i % 3)}, capture_env=False, git=False
        )
        run.log_metrics({"acc": i / 10}, step=0)
        run.log_metrics({"acc": i / 5}, step=1)
        if i % 4 == 0:
            run.log_input("sha256:" + "ab" * 32, name="train")
        if i % 5 == 4:
            run.end("FAILED")
        elif i % 7 != 6:
            run.end()
        else:
            run.flush()  # left RUNNING, its points written
            _LEFT_RUNNING.append(run)
        ids.append(run.run_id)
    return ids


def _dump(tracker: Tracker, **search: Any) -> list[dict[str, Any]]:
    recs = tracker.backend.list_runs(**search)
    return sorted((r.model_dump() for r in recs), key=lambda d: d["run_id"])


def _index_files(root: str, experiment: str = "exp") -> list[str]:
    base = Path(root) / "tracking" / "index" / experiment
    return sorted(p.name for p in base.glob("*.parquet")) if base.exists() else []


def test_search_over_an_index_equals_a_search_over_segments(tmp_path: Path) -> None:
    """Every run field a search returns is the same read from the index or from segments."""
    root = str(tmp_path / "ws")
    writer = _tracker(root, compact_after=None)
    _fill(writer, 15)
    before = _dump(_tracker(root, compact_after=None))
    assert writer.backend.compact() != []  # type: ignore[attr-defined]
    after = _tracker(root, compact_after=None)
    assert _dump(after) == before
    assert _dump(after, keys={"params.lr", "metrics.acc"}) == _dump(
        _tracker(root, compact_after=None), keys={"params.lr", "metrics.acc"}
    )
    frame = after.search_runs("exp", filter="metrics.acc >= 1.0", order_by="params.lr")
    assert sorted(frame["params.lr"], key=int) == [str(i) for i in range(5, 15)]


def test_runs_changed_after_compaction_are_read_from_their_segments(tmp_path: Path) -> None:
    """A metric, tag or status written after the index is visible to the next search."""
    root = str(tmp_path / "ws")
    tracker = _tracker(root, compact_after=None)
    ids = _fill(tracker, 7)
    tracker.backend.compact()  # type: ignore[attr-defined]
    running = tracker.get_run(ids[6])  # the one left RUNNING
    running.log_metrics({"acc": 9.0}, step=5)
    running.set_tags({"k": "late"})
    running.end()
    new = tracker.start_run("exp", params={"lr": "new"}, capture_env=False, git=False)
    new.end()
    frame = _tracker(root, compact_after=None).search_runs("exp").set_index("run_id")
    assert frame.loc[ids[6], "metrics.acc"] == 9.0
    assert frame.loc[ids[6], "tags.k"] == "late"
    assert frame.loc[ids[6], "status"] == "FINISHED"
    assert frame.loc[new.run_id, "params.lr"] == "new"
    assert len(frame) == 8


def test_a_search_that_meets_many_new_segments_compacts(tmp_path: Path) -> None:
    """With compact_after=N, the first search past N new segments writes an index."""
    root = str(tmp_path / "ws")
    _fill(_tracker(root, compact_after=None), 6)
    assert _index_files(root) == []
    searcher = _tracker(root, compact_after=5)
    first = searcher.search_runs("exp")
    assert _index_files(root) == ["000000000001.parquet"]
    searcher.search_runs("exp")  # everything is in the index now: nothing new to write
    assert _index_files(root) == ["000000000001.parquet"]
    again = _tracker(root).search_runs("exp")
    assert sorted(again["run_id"]) == sorted(first["run_id"])


def test_a_damaged_index_is_reported_and_the_segments_answer(tmp_path: Path) -> None:
    """Garbage in the newest index: a warning naming it, the older index or segments answer."""
    root = str(tmp_path / "ws")
    tracker = _tracker(root, compact_after=None)
    _fill(tracker, 5)
    expected = _dump(_tracker(root, compact_after=None))
    tracker.backend.compact()  # type: ignore[attr-defined]
    bad = Path(root) / "tracking" / "index" / "exp" / "000000000002.parquet"
    bad.write_bytes(b"PAR1 not really parquet")
    reader = _tracker(root, compact_after=None)
    with pytest.warns(RuntimeWarning, match=r"000000000002\.parquet"):
        got = _dump(reader)
    assert got == expected
    assert str(bad).replace("\\", "/") in {p.replace("\\", "/") for p in reader.backend.damaged}  # type: ignore[attr-defined]
    # the next compaction steps past the damaged generation
    assert reader.backend.compact()[0].endswith("000000000003.parquet")  # type: ignore[attr-defined]


def test_an_index_row_for_another_run_is_refused_when_encoding(tmp_path: Path) -> None:
    """encode_index refuses a row whose summary names a run other than its key."""
    root = str(tmp_path / "ws")
    tracker = _tracker(root, compact_after=None)
    ids = _fill(tracker, 2)
    rows = {r.run_id: r for r in tracker.backend.list_runs()}
    from mlopskit.tracking._index import IndexRow

    forged = {ids[0]: IndexRow(summary_of(rows[ids[1]]), frozenset())}
    with pytest.raises(ValueError, match="holds run"):
        encode_index(forged)


def _index_rows(n: int = 3) -> dict[str, Any]:
    """``n`` index rows of runs in ``exp``, each with a segment and a writer."""
    from mlopskit.tracking._index import IndexRow
    from mlopskit.tracking._model import WriterInfo, stored_record
    from mlopskit.tracking._segments import segment_name

    rows = {}
    for i in range(n):
        run_id = f"{i:032x}"
        rec = stored_record(
            run_id=run_id,
            experiment="exp",
            name=f"r{i}",
            status="FINISHED",
            start_time=1_700_000_000.0 + i,
            end_time=1_700_000_100.0 + i,
            parent_id=None,
            user="u",
            host="h",
            params={"lr": str(i)},
            tags={"k": "v"},
        )
        rec.metrics = {"acc": i / 4}
        rec.writers = [WriterInfo(writer_id="w1", host="h", pid=7, heartbeat=1_700_000_050.0)]
        name = segment_name(1_700_000_000_000_000_000 + i, "w1", i + 1, run_id, "jsonl")
        rows[run_id] = IndexRow(summary_of(rec), frozenset({name}))
    return rows


def _tampered(blob: bytes, change: Any) -> bytes:
    """The index ``blob`` with its rows (as dicts) passed through ``change``."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(blob))
    rows = table.to_pylist()
    changed = change(rows)
    if isinstance(changed, pa.Table):
        out = changed.replace_schema_metadata(table.schema.metadata)
    else:
        out = pa.Table.from_pylist(rows, schema=table.schema)
    sink = io.BytesIO()
    pq.write_table(out, sink)
    return sink.getvalue()


def _set(name: str, value: Any) -> Any:
    def change(rows: list[dict[str, Any]]) -> None:
        rows[1][name] = value

    return change


def _other_runs_segment(rows: list[dict[str, Any]]) -> None:
    rows[1]["segments"] = rows[0]["segments"]


def _heartbeat(rows: list[dict[str, Any]]) -> None:
    rows[1]["writers"][0]["heartbeat"] = -1e30


def _params_as_text(rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    from mlopskit.tracking._index import _schema

    schema = _schema()
    schema = schema.set(schema.get_field_index("params"), pa.field("params", pa.string()))
    for row in rows:
        row["params"] = json.dumps(dict(row["params"]))
    return pa.Table.from_pylist(rows, schema=schema)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (_set("status", "DONE"), "invalid status"),
        (_set("start_time", float("nan")), "start_time is not a time"),
        (_set("end_time", 1e300), "end_time is not a time"),
        (_set("experiment", "other"), "not in 'exp'"),
        (_set("parent_id", "../up"), "parent_id is not a run id"),
        (_set("params", [("lr", None)]), "params: a value is missing"),
        (_set("metrics", None), "metrics are missing"),
        (_other_runs_segment, "not one of this run's"),
        (_heartbeat, "bad writer heartbeat"),
    ],
)
def test_a_damaged_index_row_is_an_integrity_error_naming_the_index_and_run(
    change: Any, why: str
) -> None:
    """A damaged value in one row of an index: IntegrityError naming the object and the run."""
    rows = _index_rows()
    blob = _tampered(encode_index(rows, watermark=1_700_000_500.0), change)
    second = sorted(rows)[1]
    with pytest.raises(IntegrityError, match=rf"bad\.parquet.*{second}.*{why}") as info:
        decode_index("bad.parquet", blob, "exp")
    assert info.value.path == "bad.parquet"


def test_a_row_with_an_invalid_run_id_or_a_column_of_another_type_is_an_integrity_error() -> None:
    """A run id that is not one, or a column of the wrong type: IntegrityError naming it."""
    blob = encode_index(_index_rows(), watermark=1_700_000_500.0)
    with pytest.raises(IntegrityError, match=r"bad\.parquet.*'\.\./x'.*not a valid run id"):
        decode_index("bad.parquet", _tampered(blob, _set("run_id", "../x")), "exp")
    with pytest.raises(IntegrityError, match=r"bad\.parquet.*column 'params'"):
        decode_index("bad.parquet", _tampered(blob, _params_as_text), "exp")


def test_an_index_of_the_first_format_is_still_read() -> None:
    """An index written by an earlier version (a JSON summary per row) decodes to the same
    rows as this version's index."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _index_rows()
    ids = sorted(rows)
    table = pa.table(
        {
            "run_id": ids,
            "status": [rows[i].summary["status"] for i in ids],
            "start_time": [rows[i].summary["run"]["start_time"] for i in ids],
            "end_time": [rows[i].summary["end_time"] for i in ids],
            "summary": [json.dumps(rows[i].summary) for i in ids],
            "segments": [sorted(rows[i].segments) for i in ids],
            "lifecycle": [[] for _ in ids],
        }
    ).replace_schema_metadata({"format": "mlopskit.tracking.index/1", "watermark": "1700000500.0"})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    old = decode_index("old.parquet", sink.getvalue(), "exp")
    new = decode_index("new.parquet", encode_index(rows, watermark=1_700_000_500.0), "exp")
    assert sorted(old) == sorted(new) == ids
    for run_id in ids:
        assert old[run_id].segments == new[run_id].segments
        assert old[run_id].record().model_dump() == new[run_id].record().model_dump()
        assert old[run_id].writers == new[run_id].writers  # validated == built from columns
        assert new[run_id].writers[0].model_fields_set == old[run_id].writers[0].model_fields_set


_COMPACT = """
import sys, time
from mlopskit.tracking import ObjectStoreBackend
root, start = sys.argv[1], float(sys.argv[2])
backend = ObjectStoreBackend(root, compact_after=None)
while time.time() < start:
    time.sleep(0.001)
print(",".join(backend.compact()))
"""


def test_racing_compactors_create_each_generation_once_and_lose_no_run(tmp_path: Path) -> None:
    """Four processes compacting at once: no generation written twice, every index whole."""
    root = str(tmp_path / "ws")
    ids = _fill(_tracker(root, compact_after=None), 10)
    start = time.time() + 3.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _COMPACT, root, str(start)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    written = [Path(o).name for o in outs if o]
    assert written, "at least one compactor wins"
    assert len(written) == len(set(written)), "a generation was created twice"
    assert sorted(written) == _index_files(root)
    for name in written:
        path = Path(root) / "tracking" / "index" / "exp" / name
        rows = decode_index(str(path), path.read_bytes(), "exp")
        assert sorted(rows) == sorted(ids)
    assert sorted(_tracker(root).search_runs("exp")["run_id"]) == sorted(ids)


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


@given(
    params=st.dictionaries(_TEXT, _TEXT, max_size=4),
    tags=st.dictionaries(_TEXT, _TEXT, max_size=4),
    metrics=st.dictionaries(_TEXT, st.floats(allow_nan=False, allow_infinity=False), max_size=4),
    name=_TEXT,
)
@settings(max_examples=40, deadline=None)
def test_an_index_round_trips_every_summary(
    params: dict[str, str], tags: dict[str, str], metrics: dict[str, float], name: str
) -> None:
    """encode_index then decode_index gives back each run's record exactly."""
    from mlopskit.tracking._index import IndexRow
    from mlopskit.tracking._model import stored_record

    rec = stored_record(
        run_id="a" * 32,
        experiment="exp",
        name=name,
        status="FINISHED",
        start_time=1_700_000_000.5,
        end_time=1_700_000_100.25,
        parent_id=None,
        user="u",
        host="h",
        params=params,
        tags=tags,
    )
    rec.metrics = metrics
    rec.inputs = [RunInput(digest="sha256:" + "0" * 64, name="d", context=None)]
    row = IndexRow(summary_of(rec), frozenset({"s1.jsonl", "s2.jsonl"}))
    back = decode_index("x.parquet", encode_index({rec.run_id: row}), "exp")
    assert back[rec.run_id].segments == row.segments
    assert record_of(back[rec.run_id].summary).model_dump() == rec.model_dump()


_OPS = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
_ATOM = st.one_of(
    st.builds(
        lambda op, v: f"metrics.acc {op} {v}",
        _OPS,
        st.sampled_from(["0", "0.5", "1", "1.5", "-1", "1e400"]),
    ),
    st.builds(
        lambda kind, op, v: f"{kind} {op} {v}",
        st.sampled_from(["params.lr", "tags.k", "params.missing"]),
        _OPS,
        st.sampled_from(["'1'", "'2'", "'x'", "1", "2.0"]),
    ),
    st.sampled_from(["tags.k like '1%'", "params.lr is null", "metrics.acc in (0.2, 0.4)"]),
)
_FILTER = st.recursive(
    _ATOM,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a}) and ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) or ({b})", inner, inner),
        st.builds(lambda a: f"not ({a})", inner),
    ),
    max_leaves=4,
)


@pytest.fixture(scope="module")
def sqlite_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite workspace with runs in two experiments, filled once for the module."""
    root = str(tmp_path_factory.mktemp("sq") / "ws")
    tracker = Tracker(root)
    for i in range(12):
        exp = "exp" if i % 2 else "other"
        with tracker.start_run(
            exp, params={"lr": str(i % 4)}, tags={"k": str(i % 3)}, capture_env=False, git=False
        ) as run:
            if i % 5:
                run.log_metrics({"acc": i / 5})
    return root


@given(text=_FILTER, experiment=st.sampled_from([None, "exp", ["exp", "other"]]))
@settings(max_examples=60, deadline=None)
def test_sqlite_filters_narrowed_in_sql_match_the_python_filter(
    sqlite_root: str, text: str, experiment: Any
) -> None:
    """The runs a SQLite search finds with SQL narrowing are exactly those the filter selects."""
    from mlopskit.errors import NotFoundError
    from mlopskit.tracking._query import compile_filter, parse_filter
    from mlopskit.tracking._search import get_value

    tracker = Tracker(sqlite_root)
    exps = [experiment] if isinstance(experiment, str) else experiment
    test = compile_filter(parse_filter(text), get_value)
    expected = {r.run_id for r in tracker.backend.list_runs(exps) if test(r)}
    try:
        got = set(tracker.search_runs(experiment, filter=text)["run_id"])
    except NotFoundError:  # a key no run has is an error instead of an empty answer
        assert not expected
        return
    assert got == expected


_WRITE = """
import sys
from mlopskit.tracking import ObjectStoreBackend, Tracker
root, rank = sys.argv[1], int(sys.argv[2])
tracker = Tracker(root, ObjectStoreBackend(root, compact_after=3))
for i in range(3):
    with tracker.start_run("busy", params={"rank": rank, "i": i}, capture_env=False, git=False) as run:
        for step in range(3):
            run.log_metric("x", rank * 100 + i * 10 + step, step=step)
            run.flush()
        tracker.search_runs("busy")  # searches compact opportunistically mid-write
"""

_COMPACT_LOOP = """
import sys, time
from mlopskit.tracking import ObjectStoreBackend
backend = ObjectStoreBackend(sys.argv[1], compact_after=None)
for _ in range(8):
    backend.compact()
    time.sleep(0.05)
"""


def test_compaction_during_concurrent_writes_loses_no_run_or_point(tmp_path: Path) -> None:
    """Writers, searching writers and a compactor at once: every run and latest value is seen."""
    root = str(tmp_path / "ws")
    procs = [subprocess.Popen([sys.executable, "-c", _WRITE, root, str(rank)]) for rank in range(4)]
    procs.append(subprocess.Popen([sys.executable, "-c", _COMPACT_LOOP, root]))
    for p in procs:
        assert p.wait(timeout=300) == 0
    assert _index_files(root, "busy"), "some compaction happened"
    frame = _tracker(root).search_runs("busy")
    assert len(frame) == 12
    assert set(frame["status"]) == {"FINISHED"}
    got = {(int(r["params.rank"]), int(r["params.i"])): r["metrics.x"] for _, r in frame.iterrows()}
    assert got == {(rank, i): rank * 100 + i * 10 + 2 for rank in range(4) for i in range(3)}
    history = _tracker(root).get_run(frame["run_id"].iloc[0]).metric_history("x")
    assert len(history) == 3


_TEAM = str(Path(__file__).with_name("_team_writers.py"))


@pytest.mark.s3
@pytest.mark.slow
def test_sixty_four_writers_on_s3_lose_nothing_and_searches_see_every_ended_run(
    s3_url: str,
) -> None:
    """64 writer processes (8 at a time) on one S3 experiment: every point stored exactly
    once, and a search in a fresh process during the writes sees every run ended before it.
    """
    sys.path.insert(0, str(Path(__file__).parent))
    from _team_writers import FLUSHES, STEPS, value

    out = subprocess.run(
        [sys.executable, _TEAM, s3_url, "64", "8"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    ended = {run_id: rank for run_id, (rank, _) in report["ended"].items()}
    assert sorted(ended.values()) == list(range(64))
    last_end = max(t for _, t in report["ended"].values())
    assert len(report["searches"]) >= 2
    assert min(s["started"] for s in report["searches"]) < last_end, "a search ran mid-write"
    for search in report["searches"]:
        for run_id in search["ended_before"]:
            assert search["seen"][run_id] == ["FINISHED", value(ended[run_id], STEPS - 1)]
    backend = ObjectStoreBackend(s3_url, compact_after=None)
    assert backend.files.children(backend.files.path("index", "team")), "searches compacted"
    frame = Tracker(s3_url, backend).search_runs("team")
    assert sorted(frame["run_id"]) == sorted(ended)
    assert set(frame["status"]) == {"FINISHED"}
    for run_id, rank in ended.items():
        history = backend.metric_history(run_id, "x")
        assert [(s, v) for s, v, _ in history] == [(s, value(rank, s)) for s in range(STEPS)]
    segments = backend.files.find(backend.files.path("experiments", "team"))
    assert len([p for p in segments if p.endswith(".jsonl")]) == 64 * (FLUSHES + 2)


class TestPruning:
    def _generations(self, root: str, n: int) -> Tracker:
        tracker = _tracker(root, compact_after=None)
        for _ in range(n):
            _fill(tracker, 1)
            tracker.backend.compact()  # type: ignore[attr-defined]
        return tracker

    def test_prune_keeps_the_newest_generations_once_superseded_past_grace(
        self, tmp_path: Path
    ) -> None:
        """compact(prune=2, grace=0) leaves the two newest index generations, runs all found."""
        root = str(tmp_path / "ws")
        tracker = self._generations(root, 3)
        expected = _dump(_tracker(root, compact_after=None))
        tracker.backend.compact(prune=2, grace=0)  # type: ignore[attr-defined]
        assert _index_files(root) == ["000000000003.parquet", "000000000004.parquet"]
        assert _dump(_tracker(root, compact_after=None)) == expected

    def test_a_generation_superseded_within_grace_is_kept(self, tmp_path: Path) -> None:
        """A generation whose successor is younger than the grace period is not deleted."""
        root = str(tmp_path / "ws")
        tracker = self._generations(root, 3)
        assert tracker.backend.prune_indexes(keep=1, grace=3600) == []  # type: ignore[attr-defined]
        assert len(_index_files(root)) == 3
        old = Path(root) / "tracking" / "index" / "exp" / "000000000002.parquet"
        past = time.time() - 7200
        os.utime(old, (past, past))  # generation 2 superseded generation 1 two hours ago
        deleted = tracker.backend.prune_indexes(keep=1, grace=3600)  # type: ignore[attr-defined]
        assert [Path(p).name for p in deleted] == ["000000000001.parquet"]
        assert _index_files(root) == ["000000000002.parquet", "000000000003.parquet"]

    def test_a_reader_whose_index_was_pruned_falls_back_and_stays_exact(
        self, tmp_path: Path
    ) -> None:
        """A reader that listed before pruning finds its generation gone: same answer."""
        root = str(tmp_path / "ws")
        self._generations(root, 2)
        expected = _dump(_tracker(root, compact_after=None))
        reader = _tracker(root, compact_after=None)
        real = reader.backend.files.children  # type: ignore[attr-defined]

        def listed_then_pruned(base: str) -> list[str]:
            names = real(base)
            if "/index/" in base:  # the reader listed; now every generation is pruned
                for name in names:
                    Path(base, name).unlink()
            return names

        reader.backend.files.children = listed_then_pruned  # type: ignore[attr-defined]
        assert _dump(reader) == expected

    def test_keep_below_one_is_refused(self, tmp_path: Path) -> None:
        """prune_indexes(keep=0) is an InvalidInputError and deletes nothing."""
        root = str(tmp_path / "ws")
        tracker = self._generations(root, 2)
        with pytest.raises(InvalidInputError, match="keep must be an integer >= 1"):
            tracker.backend.prune_indexes(keep=0, grace=0)  # type: ignore[attr-defined]
        assert len(_index_files(root)) == 2

    @pytest.mark.s3
    def test_prune_on_s3(self, s3_url: str) -> None:
        """On S3 the same rule holds: the newest generations stay, searches stay whole."""
        tracker = Tracker(s3_url, ObjectStoreBackend(s3_url, compact_after=None))
        ids = _fill(tracker, 2)
        tracker.backend.compact()  # type: ignore[attr-defined]
        ids += _fill(tracker, 1)
        tracker.backend.compact(prune=1, grace=0)  # type: ignore[attr-defined]
        backend = ObjectStoreBackend(s3_url, compact_after=None)
        names = backend.files.children(backend.files.path("index", "exp"))
        assert names == ["000000000002.parquet"]
        assert sorted(r.run_id for r in backend.list_runs(["exp"])) == sorted(ids)


def test_a_damaged_newest_index_with_a_later_watermark_falls_back_to_the_older_ones(
    tmp_path: Path,
) -> None:
    """The newest index names a later watermark but holds a damaged row: the search
    uses the older generation and lists after its watermark (not the damaged one's), so
    the runs written between the two compactions are found."""
    root = str(tmp_path / "ws")
    tracker = _tracker(root, compact_after=None)
    _fill(tracker, 2)
    tracker.backend.compact()  # type: ignore[attr-defined]
    time.sleep(0.05)
    _fill(tracker, 2)
    tracker.backend.compact()  # type: ignore[attr-defined]
    expected = _dump(_tracker(root, compact_after=None))
    newest = Path(root) / "tracking" / "index" / "exp" / "000000000002.parquet"
    newest.write_bytes(_tampered(newest.read_bytes(), _set("status", "DONE")))
    reader = _tracker(root, compact_after=None)
    reader.backend.margin = 0.0  # type: ignore[attr-defined]
    with pytest.warns(RuntimeWarning, match=r"000000000002\.parquet.*invalid status"):
        assert _dump(reader) == expected
    assert len(expected) == 4
