"""Fuzzing tracking's parsers with mutated input: only mlopskit errors ever escape.

Each property starts from valid input (a segment the backend wrote, a filter the
grammar accepts, an MLflow file store, a SQLite database) and mutates it: flipped,
inserted and deleted bytes, truncation, or text from the grammar's own alphabet.
The budget is bounded (``max_examples``) so the session fits in CI.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlopskit.errors import MlopskitError
from mlopskit.tracking import ObjectStoreBackend, SQLiteBackend, Tracker, import_mlflow
from mlopskit.tracking._query import (
    Compare,
    Field,
    compile_filter,
    parse_filter,
    parse_order_by,
    render,
)
from mlopskit.tracking._search import get_value
from mlopskit.tracking._segments import parse_segment

pytestmark = pytest.mark.fuzz

BUDGET = settings(
    max_examples=int(os.environ.get("MLOPSKIT_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few random byte-level edits (flip, insert, delete, truncate)."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "replace"]))
        pos = draw(st.integers(0, max(len(out) - 1, 0)))
        if op == "flip" and out:
            out[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            out[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and out:
            del out[pos : pos + draw(st.integers(1, 16))]
        elif op == "truncate":
            del out[pos:]
        elif op == "replace" and out:
            token = draw(st.sampled_from([b"null", b"[]", b"{}", b'"x"', b"1e999", b"-1", b"\xff"]))
            out[pos : pos + len(token)] = token
    return bytes(out)


def _only_mlopskit_errors(fn: Callable[[], Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # damaged input is reported by a warning: expected
        try:
            fn()
        except MlopskitError:
            pass


# -- segments ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def segment_source() -> tuple[str, list[bytes]]:
    """A memory:// workspace with one run, and the bytes of each of its segments."""
    root = f"memory://fuzz-{uuid.uuid4().hex[:8]}"
    tracker = Tracker(root, ObjectStoreBackend(root))
    with tracker.start_run("exp", params={"lr": 0.1}, tags={"t": "x"}, capture_env=False) as run:
        run.log_batch("loss", [0.5, 0.25, 0.125])
        run.log_input(tracker.store.put_bytes(b"data"), context="train")
        run.log_artifact(b"weights", name="model.bin")
    files = ObjectStoreBackend(root).files
    paths = [
        p
        for p in files.find(files.path("experiments", "exp", "segments"))
        if p.endswith(f".{run.run_id}.jsonl")
    ]
    return run.run_id, [files.read(p) for p in paths]


@given(data=st.data())
@BUDGET
def test_mutated_segment_parses_or_is_an_integrity_error(
    data: st.DataObject, segment_source: tuple[str, list[bytes]]
) -> None:
    """parse_segment on damaged bytes returns events or raises IntegrityError, nothing else."""
    _, blobs = segment_source
    blob = data.draw(mutated(data.draw(st.sampled_from(blobs))))
    _only_mlopskit_errors(lambda: parse_segment("fuzz.jsonl", blob))


@given(data=st.data())
@BUDGET
def test_reading_a_run_with_a_mutated_segment_raises_only_mlopskit_errors(
    data: st.DataObject, segment_source: tuple[str, list[bytes]]
) -> None:
    """get_run, search_runs and metric_history over a damaged segment never raise raw errors."""
    run_id, blobs = segment_source
    root = f"memory://fuzzrun-{uuid.uuid4().hex[:8]}"
    backend = ObjectStoreBackend(root)
    files = backend.files
    victim = data.draw(st.integers(0, len(blobs) - 1))
    for i, blob in enumerate(blobs):
        body = data.draw(mutated(blob)) if i == victim else blob
        files.fs.pipe_file(
            files.path("experiments", "exp", run_id, f"{i:020d}-w-{i:08d}.jsonl"), body
        )
    files.fs.pipe_file(
        files.path("runs", f"{run_id}.json"),
        data.draw(st.sampled_from([b"{}", b"not json", b'{"run_id": 1}'])),
    )
    tracker = Tracker(root, backend)
    _only_mlopskit_errors(lambda: tracker.search_runs("exp", filter="metrics.loss >= 0"))
    _only_mlopskit_errors(lambda: tracker.get_run(run_id).record())
    _only_mlopskit_errors(lambda: backend.metric_history(run_id, "loss"))


# -- filters -------------------------------------------------------------------------------

_VALID_FILTERS = [
    "metrics.acc > 0.9 and params.lr < 0.1",
    "not (tags.team = 'x' or status in ('FAILED', 'KILLED'))",
    "params.opt like 'ad%m_' and name ilike '%RUN%'",
    "metrics.`val.acc` >= 1e-3 or end_time is not null",
    "params.\"odd name\" not in ('a\\'b', 'c') and duration <= 10",
]
_ALPHABET = st.sampled_from(
    [*"()'\"`%_.,<>=! \\", "and ", "or ", "not ", "in ", "like ", "is ", "null", "metrics.a"]
)


@given(
    text=st.one_of(
        st.text(max_size=60),
        st.lists(_ALPHABET, max_size=30).map("".join),
        st.sampled_from(_VALID_FILTERS).flatmap(
            lambda f: mutated(f.encode()).map(lambda b: b.decode("utf-8", "replace"))
        ),
    )
)
@BUDGET
def test_filter_parser_raises_only_syntax_errors(text: str) -> None:
    """Any text is either a filter (that renders, re-parses and evaluates) or a FilterSyntaxError."""
    from mlopskit.errors import FilterSyntaxError
    from mlopskit.tracking._model import RunRecord

    try:
        node = parse_filter(text)
    except FilterSyntaxError:
        return
    if node is None:
        return
    assert parse_filter(render(node)) == node
    rec = RunRecord(run_id="r", experiment="e", name="n", status="FINISHED", start_time=0.0)
    rec.params["lr"] = "0.1"
    compile_filter(node, get_value)(rec)


@given(text=st.one_of(st.text(max_size=40), st.lists(_ALPHABET, max_size=10).map("".join)))
@BUDGET
def test_order_by_parser_raises_only_syntax_errors(text: str) -> None:
    """Any order_by entry parses or raises FilterSyntaxError."""
    from mlopskit.errors import FilterSyntaxError

    try:
        parse_order_by([text])
    except FilterSyntaxError:
        pass


# -- MLflow stores -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small MLflow file store, as MLflow lays it out."""
    pytest.importorskip("yaml")
    root = tmp_path_factory.mktemp("mlruns")
    run = root / "1" / ("a" * 32)
    for path, text in {
        root / "1" / "meta.yaml": "experiment_id: '1'\nlifecycle_stage: active\nname: exp\n",
        run / "meta.yaml": (
            f"run_id: {'a' * 32}\nrun_name: r\nstatus: 3\nstart_time: 1700000000000\n"
            "end_time: 1700000001000\nuser_id: me\nlifecycle_stage: active\n"
        ),
        run / "params" / "lr": "0.01",
        run / "tags" / "mlflow.runName": "r",
        run / "metrics" / "loss": "1700000000500 0.5 0\n1700000000600 0.25 1\n",
    }.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@given(data=st.data())
@BUDGET
def test_import_of_a_mutated_mlflow_store_raises_only_mlopskit_errors(
    data: st.DataObject, mlflow_store: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """import_mlflow over damaged meta.yaml, params or metric files reports or refuses, never crashes."""
    copy = tmp_path_factory.mktemp("mutant") / "mlruns"
    shutil.copytree(mlflow_store, copy)
    files = sorted(p for p in copy.rglob("*") if p.is_file())
    victim = data.draw(st.sampled_from(files))
    victim.write_bytes(data.draw(mutated(victim.read_bytes())))
    root = f"memory://fuzzml-{uuid.uuid4().hex[:8]}"
    tracker = Tracker(root, ObjectStoreBackend(root))
    _only_mlopskit_errors(lambda: import_mlflow(copy, tracker=tracker))


# -- a damaged SQLite database ---------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tracking.sqlite with a few runs, metrics and artifacts, checkpointed into one file."""
    root = tmp_path_factory.mktemp("sqlitews")
    backend = SQLiteBackend(root / "tracking.sqlite")
    tracker = Tracker(str(root), backend)
    for i in range(3):
        with tracker.start_run("exp", params={"i": i}, capture_env=False) as run:
            run.log_batch("loss", [float(j) for j in range(50)])
    backend.close()
    conn = sqlite3.connect(root / "tracking.sqlite")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    return root / "tracking.sqlite"


@given(data=st.data())
@settings(
    max_examples=max(1, BUDGET.max_examples // 2),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_damaged_sqlite_file_raises_only_mlopskit_errors(
    data: st.DataObject, sqlite_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Random damage to tracking.sqlite gives mlopskit errors (or correct reads), never sqlite3's."""
    work = tmp_path_factory.mktemp("dmg")
    raw = bytearray(sqlite_db.read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] ^= 1 << data.draw(st.integers(0, 7))
    (work / "tracking.sqlite").write_bytes(bytes(raw))
    backend = SQLiteBackend(work / "tracking.sqlite", attempts=1, busy_timeout=0.1)
    tracker = Tracker(str(work), backend)

    def read_everything() -> None:
        for run_id in tracker.search_runs("exp")["run_id"]:
            tracker.get_run(run_id).metric_history("loss")

    try:
        _only_mlopskit_errors(read_everything)
    finally:
        backend.close()


@pytest.mark.parametrize("key", ["`", "a`b", 'q"`', "back\\`slash"])
def test_a_key_with_a_backquote_renders_as_text_that_parses_back(key: str) -> None:
    """A param named with a backquote survives render -> parse (it is written double-quoted)."""
    node = Compare(field=Field(kind="params", name=key), op="=", value="v")
    assert parse_filter(render(node)) == node
