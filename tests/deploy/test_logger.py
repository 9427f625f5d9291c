"""PredictionLogger: sampled, buffered, immutable segments in the store; read back whole."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mlopskit._edges import (
    Endpoint,
    RequestEntry,
    RequestIndex,
    find_request,
    node_segment,
    record_requests,
)
from mlopskit.deploy import PredictionLogger, PredictionRecord, _logger
from mlopskit.errors import IntegrityError, InvalidInputError, InvalidNameError
from mlopskit.store import ArtifactStore
from mlopskit.versioning import edges_into


def _batch(i: int, n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(n, dtype=float) + i, "city": [f"c{i}"] * n})


class TestRoundTrip:
    def test_rows_read_back_as_logged(self, file_store: ArtifactStore) -> None:
        """Every logged row comes back with its request id, model, variant, inputs and output."""
        with PredictionLogger(file_store, name="churn") as plog:
            plog.log(
                PredictionRecord(
                    inputs=_batch(1),
                    outputs=np.array([0, 1, 0]),
                    model="sha256:abc",
                    variant="canary",
                    latency_ms=2.5,
                    request_id="r1",
                )
            )
            plog.log({"inputs": _batch(2, 1), "outputs": [1], "request_id": "r2"})
        frame = plog.read()
        assert frame["request_id"].tolist() == ["r1", "r1", "r1", "r2"]
        assert frame["row"].tolist() == [0, 1, 2, 0]
        assert frame["input.x"].tolist() == [1.0, 2.0, 3.0, 2.0]
        assert frame["input.city"].tolist() == ["c1", "c1", "c1", "c2"]
        assert frame["output"].tolist() == [0, 1, 0, 1]
        assert frame.loc[0, "variant"] == "canary" and frame.loc[0, "latency_ms"] == 2.5
        assert frame["error"].isna().all()

    def test_multi_output_and_failed_requests(self, file_store: ArtifactStore) -> None:
        """2-D outputs become output.<i> columns; a failed request keeps its inputs and error."""
        with PredictionLogger(file_store, name="m") as plog:
            plog.log({"inputs": _batch(0, 2), "outputs": np.array([[0.2, 0.8], [0.6, 0.4]])})
            plog.log({"inputs": _batch(1, 1), "outputs": None, "error": "boom"})
        frame = plog.read()
        assert frame["output.1"].tolist()[:2] == [0.8, 0.4]
        assert frame["error"].isna().tolist() == [True, True, False]
        assert frame["error"].iloc[2] == "boom"

    def test_log_request_reads_back_as_log_of_a_record(self, file_store: ArtifactStore) -> None:
        """A request logged by its fields (what serve() does) reads back as the same
        request logged as a PredictionRecord, and is sampled and buffered the same way."""
        fields: dict[str, Any] = {
            "outputs": np.array([0.25, 0.75]),
            "model": "sha256:abc",
            "variant": "canary",
            "latency_ms": 1.5,
            "request_id": "r1",
            "time": 10.0,
            "error": None,
        }
        numeric = pd.DataFrame(np.arange(4.0).reshape(2, 2), columns=["a", "b"])
        with PredictionLogger(file_store, name="records") as by_record:
            assert by_record.log(PredictionRecord(inputs=numeric, **fields))
            assert by_record.log(PredictionRecord(inputs=_batch(1, 2), **fields, extra={"k": 1}))
        with PredictionLogger(file_store, name="fields") as by_fields:
            assert by_fields.log_request(numeric, **fields)
            assert by_fields.log_request(_batch(1, 2), **fields, extra={"k": 1})
            assert by_fields.segments() == []  # buffered until close
        pd.testing.assert_frame_equal(by_fields.read(), by_record.read())
        with PredictionLogger(file_store, name="none", sample=0.0) as sampled:
            assert not sampled.log_request(numeric, **fields)
        assert sampled.dropped == 1 and len(sampled.read()) == 0

    def test_filters(self, file_store: ArtifactStore) -> None:
        """read() filters by time window, model digest and variant."""
        with PredictionLogger(file_store, name="m") as plog:
            plog.log({"inputs": _batch(0, 1), "model": "sha256:a", "variant": "v1", "time": 10.0})
            plog.log({"inputs": _batch(1, 1), "model": "sha256:b", "variant": "v2", "time": 20.0})
        assert plog.read(since=15.0)["time"].tolist() == [20.0]
        assert plog.read(until=15.0)["time"].tolist() == [10.0]
        assert plog.read(model="sha256:a")["variant"].tolist() == ["v1"]
        assert plog.read(variant="v2")["model"].tolist() == ["sha256:b"]

    def test_empty_log_reads_as_empty_frame(self, file_store: ArtifactStore) -> None:
        """A log with no segments reads as an empty frame with the record columns."""
        frame = PredictionLogger(file_store, name="nothing").read()
        assert len(frame) == 0 and "request_id" in frame.columns


class TestBuffering:
    def test_nothing_is_written_until_flush(self, file_store: ArtifactStore) -> None:
        """log() only buffers; flush() writes one segment; close() writes the rest and refuses more."""
        plog = PredictionLogger(file_store, name="m")
        plog.log({"inputs": _batch(0)})
        assert plog.segments() == []
        assert plog.flush() == 3
        assert len(plog.segments()) == 1
        plog.log({"inputs": _batch(1)})
        plog.close()
        assert len(plog.segments()) == 2 and len(plog.read()) == 6
        with pytest.raises(InvalidInputError, match="closed"):
            plog.log({"inputs": _batch(2)})
        plog.close()  # idempotent

    def test_size_bound_triggers_a_segment(self, file_store: ArtifactStore) -> None:
        """With writer="thread", when the buffer reaches max_rows it is written by the
        writer thread, off the request path, so memory stays bounded."""
        plog = PredictionLogger(file_store, name="m", max_rows=10, writer="thread")
        for i in range(7):
            plog.log({"inputs": _batch(i)})  # 3 rows each
        # The 4th request brings the buffer to 12 rows: one segment; 9 rows stay buffered.
        deadline = time.monotonic() + 30
        while plog.segments_written < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (plog.segments_written, plog.rows_written) == (1, 12)
        assert plog._writer is not None and plog._writer.name == "mlopskit-log-m"
        plog.close()
        assert len(plog.read()) == 21

    def test_backlogged_while_the_writer_is_behind(self, file_store: ArtifactStore) -> None:
        """backlogged() is true exactly while max_pending buffers wait for a slow store
        (the server then logs off its event loop); nothing is lost once the store catches
        up."""
        plog = PredictionLogger(file_store, name="slow", max_rows=3, max_pending=1, writer="thread")
        gate = threading.Event()
        write = plog._write

        def slow_store(batch: list[PredictionRecord]) -> None:
            gate.wait(30)  # the store answers once the test lets it
            write(batch)

        plog._write = slow_store  # type: ignore[method-assign]
        assert not plog.backlogged()
        plog.log({"inputs": _batch(0)})  # a full buffer: the writer takes it and waits
        deadline = time.monotonic() + 30
        while plog._queue is not None and plog._queue.qsize() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not plog.backlogged()
        plog.log({"inputs": _batch(1)})  # the next full buffer waits in the queue
        assert plog.backlogged()
        gate.set()
        plog.close()
        assert not plog.backlogged()
        assert len(plog.read()) == 6

    def test_inline_writer_stores_the_full_buffer_in_the_call(
        self, file_store: ArtifactStore
    ) -> None:
        """A local store writes inline by default: the log() call that fills the buffer
        has stored its segment when it returns, and no writer thread is started."""
        plog = PredictionLogger(file_store, name="m", max_rows=10)
        assert plog.writer == "inline" and "writer='inline'" in repr(plog)
        for i in range(3):
            plog.log({"inputs": _batch(i)})
        assert plog.segments_written == 0
        plog.log({"inputs": _batch(3)})  # 12 rows: this call writes the segment
        assert (plog.segments_written, plog.rows_written) == (1, 12)
        assert len(plog.segments()) == 1 and plog._writer is None
        assert not plog.backlogged()
        assert not [t for t in threading.enumerate() if t.name == "mlopskit-log-m"]
        plog.close()
        assert len(plog.read()) == 12

    @pytest.mark.parametrize("writer", ["inline", "thread"])
    def test_a_failed_write_never_fails_log(self, file_store: ArtifactStore, writer: str) -> None:
        """A segment the store refuses is counted in failed_rows and logged, never raised
        to the caller (whose prediction succeeded); the next segment is written."""
        plog = PredictionLogger(file_store, name="m", max_rows=3, writer=writer)
        put = file_store.put_bytes
        calls = []

        def refuse_once(data: bytes, **kw: Any) -> Any:
            calls.append(1)
            if len(calls) == 1:
                raise OSError("disk full")
            return put(data, **kw)

        file_store.put_bytes = refuse_once  # type: ignore[method-assign]
        try:
            assert plog.log({"inputs": _batch(0)}) is True
            plog.flush()  # waits for the writer thread
            assert (plog.failed_rows, plog.segments_written) == (3, 0)
            plog.log({"inputs": _batch(1)})
            plog.close()
        finally:
            del file_store.put_bytes
        assert plog.failed_rows == 3
        assert plog.read()["input.x"].tolist() == [1.0, 2.0, 3.0]

    def test_bad_writer(self, file_store: ArtifactStore) -> None:
        with pytest.raises(InvalidInputError, match="writer must be one of"):
            PredictionLogger(file_store, name="m", writer="process")

    def test_segments_are_immutable_store_objects(self, file_store: ArtifactStore) -> None:
        """Each segment is a verified object under its own create-only ref, never appended to."""
        plog = PredictionLogger(file_store, name="m")
        for i in range(3):
            plog.log({"inputs": _batch(i)})
            plog.flush()
        refs = plog.segments()
        assert len(refs) == 3 and all(r.startswith("predictions/m/") for r in refs)
        for name in refs:
            assert len(file_store.refs.history(name)) == 1

    @pytest.mark.parametrize("writer", ["inline", "thread"])
    def test_threads_lose_nothing(self, file_store: ArtifactStore, writer: str) -> None:
        """8 threads logging concurrently (with size-triggered writes) lose and duplicate no row."""
        plog = PredictionLogger(file_store, name="m", max_rows=50, writer=writer)

        def work(t: int) -> None:
            for i in range(40):
                plog.log(
                    {"inputs": pd.DataFrame({"x": [t * 1000.0 + i]}), "request_id": f"{t}-{i}"}
                )

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        plog.close()
        ids = plog.read()["request_id"]
        assert len(ids) == 320 and ids.is_unique

    def test_processes_log_to_one_store(self, tmp_path: Path) -> None:
        """Two processes logging to one store at once both keep every row (no shared file)."""
        url = str(tmp_path / "store")
        script = (
            "import sys, pandas as pd\n"
            "from mlopskit.store import ArtifactStore\n"
            "from mlopskit.deploy import PredictionLogger\n"
            "p = PredictionLogger(ArtifactStore(sys.argv[1]), name='m', max_rows=7)\n"
            "for i in range(60):\n"
            "    p.log({'inputs': pd.DataFrame({'x': [float(i)]}), 'request_id': sys.argv[2] + str(i)})\n"
            "p.close()\n"
        )
        procs = [subprocess.Popen([sys.executable, "-c", script, url, tag]) for tag in ("a", "b")]
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
        ids = PredictionLogger(ArtifactStore(url), name="m").read()["request_id"]
        assert len(ids) == 120 and ids.is_unique

    def test_interpreter_exit_writes_the_buffer(self, tmp_path: Path) -> None:
        """A process that never closes its logger still writes what it buffered when it exits."""
        url = str(tmp_path / "store")
        script = (
            "import sys, pandas as pd\n"
            "from mlopskit.store import ArtifactStore\n"
            "from mlopskit.deploy import PredictionLogger\n"
            "p = PredictionLogger(ArtifactStore(sys.argv[1]), name='m')\n"
            "p.log({'inputs': pd.DataFrame({'x': [1.0, 2.0]})})\n"
        )
        subprocess.run([sys.executable, "-c", script, url], check=True, timeout=120)
        assert len(PredictionLogger(ArtifactStore(url), name="m").read()) == 2


class TestRecords:
    def test_log_stamps_id_and_time_and_leaves_the_record_alone(
        self, file_store: ArtifactStore
    ) -> None:
        """A record without id or time gets a fresh id and the time of log() in the
        segment; the caller's record object is not changed."""
        rec = PredictionRecord(inputs=_batch(0, 1))
        before = time.time()
        with PredictionLogger(file_store, name="m") as plog:
            plog.log(rec)
            plog.log(rec)
        after = time.time()
        frame = plog.read()
        assert before <= frame["time"].min() <= frame["time"].max() <= after
        assert frame["request_id"].nunique() == 2
        assert all(len(r) == 32 for r in frame["request_id"])
        assert rec.request_id == "" and rec.time is None

    def test_each_request_is_indexed_once(self, file_store: ArtifactStore) -> None:
        """A request logged twice in one segment (a shadow variant, a retry) is one entry
        of the request index: its earliest time and every package digest that answered
        (names without a digest are left out); a request with no rows is not indexed."""
        a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
        with PredictionLogger(file_store, name="m") as plog:
            plog.log({"inputs": _batch(0, 2), "model": a, "request_id": "r1", "time": 20.0})
            plog.log(
                {"inputs": _batch(1, 1), "model": b, "request_id": "r1", "time": 10.0},
            )
            plog.log({"inputs": _batch(2, 1), "model": "local", "request_id": "r2", "time": 5.0})
            plog.log({"inputs": _batch(3, 0), "model": a, "request_id": "r3", "time": 1.0})
        (segment_ref,) = plog.segments()
        ((segment, entry),) = find_request(file_store, "r1")
        assert segment.digest == file_store.refs.get(segment_ref).digest
        assert entry == RequestEntry(time=10.0, packages=[a, b])
        assert [e for _, e in find_request(file_store, "r2")] == [RequestEntry(time=5.0)]
        assert find_request(file_store, "r3") == []
        assert len(plog.read()) == 4

    @pytest.mark.parametrize(
        "frames",
        [
            [{"x": [1, 2]}, {"x": [3]}],
            [{"x": [1, 2]}, {"x": [0.5]}],
            [{"x": [True]}, {"x": [False, True]}],
            [{"x": [True]}, {"x": [3]}],
            [{"x": [1], "s": ["a"]}, {"x": [2], "s": ["b"]}],
            [{"x": [1.5]}, {"z": [2.5]}, {"z": [np.nan]}],
            [{"x": np.array([1, 2], dtype="int32")}, {"x": np.array([3], dtype="int64")}],
        ],
    )
    def test_inputs_keep_their_column_types(
        self, file_store: ArtifactStore, frames: list[dict[str, Any]]
    ) -> None:
        """Requests with the same columns are stacked as pandas concatenates them: each
        numeric column reads back with the dtype and values of ``pd.concat`` of the
        logged frames (ints stay ints, ints with floats become floats), text stays text."""
        with PredictionLogger(file_store, name="m") as plog:
            for i, cols in enumerate(frames):
                plog.log({"inputs": pd.DataFrame(cols), "request_id": f"r{i}"})
        got = plog.read()
        want = pd.concat([pd.DataFrame(c) for c in frames], ignore_index=True)
        for col in want.columns:
            logged = got[f"input.{col}"]
            if want[col].dtype.kind in "biuf":
                assert logged.dtype == want[col].dtype, col
            assert logged.isna().tolist() == want[col].isna().tolist()
            assert logged.dropna().tolist() == want[col].dropna().tolist()

    def test_reordered_sliced_and_transposed_frames_log_what_they_show(
        self, file_store: ArtifactStore
    ) -> None:
        """A frame whose columns were reordered, a row slice of a frame and a transposed
        frame each log the values the frame shows, under its own column names."""
        base = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [10.0, 20.0, 30.0]})
        with PredictionLogger(file_store, name="m") as plog:
            plog.log({"inputs": base[["b", "a"]], "request_id": "swap"})
            plog.log({"inputs": base.iloc[1:], "request_id": "slice"})
            plog.log({"inputs": base.T.reset_index(drop=True), "request_id": "t"})
        got = plog.read().set_index(["request_id", "row"])
        assert got.loc["swap"][["input.b", "input.a"]].values.tolist() == [
            [10.0, 1.0],
            [20.0, 2.0],
            [30.0, 3.0],
        ]
        assert got.loc["slice"][["input.a", "input.b"]].values.tolist() == [
            [2.0, 20.0],
            [3.0, 30.0],
        ]
        assert got.loc["t"][["input.0", "input.1", "input.2"]].values.tolist() == [
            [1.0, 2.0, 3.0],
            [10.0, 20.0, 30.0],
        ]

    def test_a_frame_of_ints_and_floats_is_logged_as_floats(
        self, file_store: ArtifactStore
    ) -> None:
        """Requests whose numeric columns differ in type are stacked as one float array
        (what a model given the frame's values sees), their values kept."""
        with PredictionLogger(file_store, name="m") as plog:
            for i in range(3):
                plog.log({"inputs": pd.DataFrame({"x": [i], "y": [i + 0.5]})})
        got = plog.read()
        assert [str(got[c].dtype) for c in ("input.x", "input.y")] == ["float64", "float64"]
        assert got["input.x"].tolist() == [0.0, 1.0, 2.0]

    def test_many_requests_in_one_segment(self, file_store: ArtifactStore) -> None:
        """A segment of thousands of one-row requests reads back in order, and every one
        of its request ids is indexed with its own time and package."""
        pkg = "sha256:" + "c" * 64
        frames = [pd.DataFrame({"x": [float(i)], "y": [i * 2.0]}) for i in range(3000)]
        with PredictionLogger(file_store, name="many") as plog:
            for i, frame in enumerate(frames):
                plog.log(
                    PredictionRecord(
                        frame, np.array([i % 2]), pkg, request_id=f"q{i}", time=100.0 + i
                    )
                )
        got = plog.read()
        assert got["request_id"].tolist() == [f"q{i}" for i in range(3000)]
        assert got["input.y"].tolist() == [i * 2.0 for i in range(3000)]
        assert got["output"].tolist() == [i % 2 for i in range(3000)]
        ((_, entry),) = find_request(file_store, "q2999")
        assert entry == RequestEntry(time=3099.0, packages=[pkg])


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=4)
_COLUMN_SETS = [("f0", "f1"), ("a",), (0, 1, 2)]
_NUMBERS = st.sampled_from(["float64", "float32", "int64", "int32", "bool"])


@st.composite
def _requests(draw: st.DrawFn) -> dict[str, Any]:
    """One request's record: mostly the server's case (a numeric frame of shared columns,
    a numeric array out), otherwise mixed dtypes, text, NaN/None, arrays, dict outputs,
    failed requests and extras."""
    n = draw(st.integers(0, 3))
    kind = draw(st.sampled_from(["numeric"] * 4 + ["mixed", "array"]))
    cols = draw(st.sampled_from(_COLUMN_SETS))
    if kind == "numeric":
        dtype = draw(_NUMBERS)
        values = np.array(
            draw(
                st.lists(
                    st.floats(-5, 5) | st.just(np.nan),
                    min_size=n * len(cols),
                    max_size=n * len(cols),
                )
            )
        )
        if dtype == "bool":
            data = np.nan_to_num(values).reshape(n, len(cols)) > 0
        elif dtype.startswith("int"):
            data = np.nan_to_num(values).reshape(n, len(cols)).astype(dtype)
        else:
            data = values.reshape(n, len(cols)).astype(dtype)
        inputs: Any = pd.DataFrame(data, columns=pd.Index(cols))
    elif kind == "mixed":
        inputs = pd.DataFrame(
            {
                "a": draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n)),
                "s": draw(st.lists(st.none() | _TEXT, min_size=n, max_size=n)),
            }
        )
    else:
        inputs = np.array(draw(st.lists(st.floats(-5, 5), min_size=n * 2, max_size=n * 2))).reshape(
            n, 2
        )
    out = draw(st.sampled_from(["1d", "1d", "2d", "float", "none", "dict", "list", "short"]))
    outputs: Any = {
        "1d": np.arange(n),
        "2d": np.arange(n * 2, dtype=float).reshape(n, 2),
        "float": np.linspace(0, 1, n),
        "none": None,
        "dict": {"p": np.arange(n) / 2, "label": [f"l{i}" for i in range(n)]},
        "list": list(range(n)),
        "short": np.arange(max(n - 1, 0)),
    }[out]
    record: dict[str, Any] = {
        "inputs": inputs,
        "outputs": outputs,
        "request_id": draw(st.sampled_from(["", "r1", "r2"]) | _TEXT),
        "model": draw(st.sampled_from(["", "sha256:" + "a" * 64, "local"])),
        "variant": draw(st.sampled_from(["", "champion", "canary"])),
        "latency_ms": draw(st.floats(0, 100) | st.just(np.nan)),
        "time": draw(st.none() | st.floats(0, 4e9) | st.just(np.nan)),
        "error": draw(st.none() | st.none() | _TEXT),
    }
    if draw(st.integers(0, 5)) == 0:
        record["extra"] = {"k": draw(st.none() | st.integers(0, 3) | _TEXT)}
    return record


def _read(data: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(data))


@settings(max_examples=150, deadline=None)
@given(records=st.lists(_requests(), min_size=1, max_size=8))
def test_segments_read_back_as_the_frame_path_writes_them(records: list[dict[str, Any]]) -> None:
    """A segment written from a batch's arrays (the server's case, without pandas) reads
    back as the same frame — columns, dtypes, values, None and NaN — as the segment the
    frame path writes; batches it does not take go through the frame path."""
    plog = PredictionLogger(ArtifactStore(f"memory://segments-{uuid.uuid4().hex}"), name="m")
    for record in records:
        plog.log(record)
    batch = plog._buffer
    data, sizes = _logger._segment(batch)
    frame, want_sizes = _logger._frame_of(batch)
    assert sizes == want_sizes
    pd.testing.assert_frame_equal(_read(data), _read(_logger._parquet(frame)))


@pytest.mark.parametrize("sizes", [[2, 0], [0, 1, 1], [1, 0, 0, 2]])
def test_a_request_of_no_rows_logs_no_row(sizes: list[int]) -> None:
    """A request whose inputs have no rows logs nothing, and every other request's rows
    keep their own id on both paths, even when the totals make one row per request."""
    plog = PredictionLogger(ArtifactStore(f"memory://segments-{uuid.uuid4().hex}"), name="m")
    cols = pd.Index(["a", "b"])
    for i, n in enumerate(sizes):
        plog.log(
            PredictionRecord(
                pd.DataFrame(np.full((n, 2), float(i)), columns=cols),
                np.arange(n),
                "m",
                request_id=f"r{i}",
            )
        )
    batch = plog._buffer
    data, got_sizes = _logger._segment(batch)
    assert got_sizes == sizes
    want = [f"r{i}" for i, n in enumerate(sizes) for _ in range(n)]
    assert _read(data)["request_id"].tolist() == want
    assert _read(data)["input.a"].tolist() == [float(int(r[1:])) for r in want]
    frame, _ = _logger._frame_of(batch)
    pd.testing.assert_frame_equal(_read(data), _read(_logger._parquet(frame)))


def test_the_servers_batches_skip_the_frame() -> None:
    """One-row numeric frames with numeric outputs (what serve() logs) take the array path."""
    plog = PredictionLogger(ArtifactStore(f"memory://segments-{uuid.uuid4().hex}"), name="m")
    cols = pd.Index([f"f{i}" for i in range(20)])
    for i in range(5):
        plog.log(
            PredictionRecord(
                pd.DataFrame(np.full((1, 20), float(i)), columns=cols), np.array([i % 2]), "m"
            )
        )
    assert _logger._arrow_table(plog._buffer) is not None


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["ab", "ba", "abc", "xy"]), min_size=1, max_size=12))
def test_each_request_keeps_its_own_column_names(layouts: list[str]) -> None:
    """Every request's frame has its own Index (as the server's codec makes them): a
    request logs under its own names, whether the last request's names were the same
    (reused) or not (one-column frames, named by the letters; value = the request)."""
    plog = PredictionLogger(ArtifactStore(f"memory://names-{uuid.uuid4().hex}"), name="m")
    for i, cols in enumerate(layouts):
        frame = pd.DataFrame(np.full((1, len(cols)), float(i)), columns=pd.Index(list(cols)))
        plog.log_request(frame, np.array([i]), request_id=f"r{i}")
    plog.flush()
    got = plog.read().set_index("request_id")
    for i, cols in enumerate(layouts):
        row = got.loc[f"r{i}"]
        for c in "abcxy":
            value = row.get(f"input.{c}")
            if c in cols:
                assert value == float(i), (i, cols, c)
            else:
                assert value is None or pd.isna(value), (i, cols, c)


def test_prepare_imports_what_a_segment_write_needs() -> None:
    """``prepare()`` (what serve() calls while loading) leaves no import for the first
    segment written under traffic."""
    code = (
        "import sys\n"
        "from mlopskit.deploy import PredictionLogger\n"
        "from mlopskit.store import ArtifactStore\n"
        "import pandas as pd, numpy as np\n"
        "plog = PredictionLogger(ArtifactStore('memory://prep'), name='m')\n"
        "plog.prepare()\n"
        "plog.log_request(pd.DataFrame({'a': [1.0]}), np.array([1]))\n"
        "before = set(sys.modules)\n"
        "plog.flush()\n"
        "new = sorted(m for m in set(sys.modules) - before if m.split('.')[0] in "
        "('pyarrow', 'mlopskit'))\n"
        "assert not new, new\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


_DIGESTS = st.sampled_from(["sha256:" + c * 64 for c in "abc"])
_ENTRIES = st.dictionaries(
    st.text(min_size=1, max_size=12),
    st.tuples(
        st.none() | st.floats(0, 4e9, allow_nan=False),
        st.lists(_DIGESTS, unique=True).map(sorted),
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=60, deadline=None)
@given(entries=_ENTRIES)
def test_request_index_reads_back_as_written(entries: dict[str, tuple]) -> None:
    """The request index record written from (time, packages) pairs gives find_request
    every id with its own time and packages, and no id it was not given."""
    store = ArtifactStore(f"memory://request-index-{uuid.uuid4().hex}")
    segment = Endpoint(digest="sha256:" + "d" * 64, kind="prediction", label="m")
    record_requests(store, segment, entries)
    for rid, (when, packages) in entries.items():
        assert find_request(store, rid) == [(segment, RequestEntry(time=when, packages=packages))]
    assert find_request(store, "\x00not-a-logged-id") == []


@st.composite
def _indexed_batches(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """Batches of requests as the logger buffers them: mostly the server's (distinct
    text ids, one model, one row each), else repeated ids, several or odd models, no or
    NaN times, requests of no rows."""
    n = draw(st.integers(1, 12))
    odd = draw(st.booleans())
    ids = st.sampled_from(["r1", "r2", "r3"]) | st.integers(0, 2) if odd else st.nothing()
    rids = [draw(ids) if odd and draw(st.booleans()) else f"id{i}" for i in range(n)]
    models = st.sampled_from(["sha256:" + "a" * 64, "sha256:" + "b" * 64, "local", None])
    model = draw(models)
    plog = PredictionLogger(ArtifactStore(f"memory://request-cols-{uuid.uuid4().hex}"), name="m")
    for rid in rids:
        rows = draw(st.sampled_from([0, 1, 2])) if odd else 1
        plog.log_request(
            pd.DataFrame({"x": np.zeros(rows)}),
            np.zeros(rows),
            model=draw(models) if odd and draw(st.booleans()) else model,
            request_id=rid,
            time=draw(st.floats(0, 4e9) | st.just(np.nan) | st.integers(0, 10)),
        )
    return plog._buffer


@settings(max_examples=150, deadline=None)
@given(batch=_indexed_batches())
def test_request_columns_of_the_servers_batches_are_the_general_ones(
    batch: list[tuple[Any, ...]],
) -> None:
    """The request index read off a batch's columns (the server's case) equals the one
    the general per-request pass builds, for every batch either takes."""
    sizes = [_logger._entry_rows(e) for e in batch]
    got = _logger._request_columns(batch, sizes)
    want = _logger._request_columns_general(batch, sizes)
    assert got == want
    assert [type(t) for t in got[1]] == [type(t) for t in want[1]]


def test_an_index_of_the_first_layout_still_reads() -> None:
    """A request index written as a table of entries (schema_version 1, before the
    columns) still leads each of its ids to its segment and packages."""
    store = ArtifactStore(f"memory://request-index-{uuid.uuid4().hex}")
    segment = Endpoint(digest="sha256:" + "e" * 64, kind="prediction", label="m")
    pkg = "sha256:" + "a" * 64
    old = RequestIndex(
        segment=segment,
        requests={"r1": RequestEntry(time=3.0, packages=[pkg]), "r2": RequestEntry()},
    )
    name = f"lineage/request/{node_segment(segment.id)}"
    store.refs.set(name, store.put_record(old.model_dump(mode="json")), expected=None)
    assert find_request(store, "r1") == [(segment, RequestEntry(time=3.0, packages=[pkg]))]
    assert find_request(store, "r2") == [(segment, RequestEntry())]
    assert find_request(store, "r3") == []


@pytest.mark.parametrize(
    "damage",
    [
        {"times": []},
        {"package_of": [5]},
        {"package_of": ["0"]},
        {"packages": [[3]]},
        {"ids": "r1"},
        {"segment": {"kind": "prediction"}},
    ],
)
def test_a_damaged_request_index_is_an_integrity_error(damage: dict[str, Any]) -> None:
    """An index record whose columns disagree, name a missing package set or hold the
    wrong types is an IntegrityError naming the ref, never a wrong answer."""
    store = ArtifactStore(f"memory://request-index-{uuid.uuid4().hex}")
    segment = Endpoint(digest="sha256:" + "f" * 64, kind="prediction", label="m")
    name = f"lineage/request/{node_segment(segment.id)}"
    payload = {
        "schema_version": 2,
        "segment": segment.model_dump(mode="json"),
        "ids": ["r1"],
        "times": [1.0],
        "packages": [["sha256:" + "a" * 64]],
        "package_of": [0],
    }
    store.refs.set(name, store.put_record({**payload, **damage}), expected=None)
    with pytest.raises(IntegrityError) as err:
        find_request(store, "r1")
    assert err.value.path == name


class TestSampling:
    def test_sample_fraction_is_binomial(self, file_store: ArtifactStore) -> None:
        """With sample=0.3, the kept share of 2,000 requests lies in the binomial 99.9% interval."""
        plog = PredictionLogger(file_store, name="m", sample=0.3, seed=1)
        kept = sum(plog.log({"inputs": pd.DataFrame({"x": [1.0]})}) for _ in range(2000))
        lo, hi = stats.binom.interval(0.999, 2000, 0.3)
        assert lo <= kept <= hi
        assert plog.dropped == 2000 - kept
        plog.close()
        assert len(plog.read()) == kept

    @pytest.mark.parametrize("sample", [-0.1, 1.5])
    def test_bad_sample(self, file_store: ArtifactStore, sample: float) -> None:
        """A sampling fraction outside [0, 1] is refused."""
        with pytest.raises(InvalidInputError, match="sample"):
            PredictionLogger(file_store, sample=sample)

    def test_bad_name(self, file_store: ArtifactStore) -> None:
        """A log name that could escape its ref prefix is refused."""
        with pytest.raises(InvalidNameError):
            PredictionLogger(file_store, name="../etc")


class TestIntegrity:
    def test_damaged_segment_names_its_ref(self, file_store: ArtifactStore) -> None:
        """A segment ref pointing at bytes that are not a segment is an IntegrityError naming it."""
        junk = file_store.put_bytes(b"not parquet")
        file_store.refs.set("predictions/m/20990101T000000.000000Z-1-deadbeef", junk, expected=None)
        with pytest.raises(IntegrityError, match="20990101T000000") as err:
            PredictionLogger(file_store, name="m").read()
        assert err.value.digest == junk.digest

    def test_lineage_from_segment_to_package(self, file_store: ArtifactStore) -> None:
        """Each segment records a lineage edge from the package digests it holds."""
        with PredictionLogger(file_store, name="m") as plog:
            plog.log({"inputs": _batch(0), "model": "sha256:" + "a" * 64})
        segment = file_store.refs.get(plog.segments()[0])
        (edge,) = edges_into(file_store, segment.digest)
        assert edge.inputs["package"].digest == "sha256:" + "a" * 64


@pytest.mark.s3
def test_logger_on_s3(s3_bucket: str) -> None:
    """Segments written to S3 (moto on 127.0.0.1) read back whole from a fresh store; a
    remote store's segments are written by a writer thread unless told otherwise."""
    url = f"s3://{s3_bucket}/ws"
    with PredictionLogger(ArtifactStore(url, cache=False), name="m", max_rows=4) as plog:
        assert plog.writer == "thread"
        for i in range(5):
            plog.log({"inputs": _batch(i), "request_id": f"r{i}"})
    frame = PredictionLogger(ArtifactStore(url, cache=False), name="m").read()
    assert sorted(set(frame["request_id"])) == [f"r{i}" for i in range(5)]
    assert len(frame) == 15


def test_lineage_walks_from_predictions_to_the_data(
    file_store: ArtifactStore,
    sk_model: object,
    churn_data: tuple[pd.DataFrame, np.ndarray],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """mk.lineage walks up from a prediction segment to the package, model version, run and dataset."""
    import mlopskit as mk

    monkeypatch.chdir(tmp_path)  # the walk opens the current workspace's tracking store
    monkeypatch.setenv("MLOPSKIT_HOME", str(tmp_path / "ws"))
    from mlopskit.deploy import Predictor
    from mlopskit.registry import Registry
    from mlopskit.versioning import Datasets

    X, _ = churn_data
    train = Datasets(file_store).commit("train", X)
    reg = Registry(file_store)
    reg.register("churn", sk_model, run="run-42", inputs=[train], input_example=X.head(3))
    pred = Predictor("churn/1", store=file_store)
    with PredictionLogger(file_store, name="churn") as plog:
        plog.log({"inputs": X.head(4), "outputs": pred.predict(X.head(4)), "model": pred.digest})
    segment = file_store.refs.get(plog.segments()[0])
    frame = mk.lineage(segment.digest, direction="up", store=file_store).to_frame()
    sources = set(zip(frame["from_kind"], frame["from"]))
    assert ("package", f"package:{pred.digest}") in sources  # the package
    assert ("model", "model:churn/1") in sources
    assert ("dataset", "dataset:train/1") in sources
    assert ("run", "run:run-42") in sources
