"""bench_serve's HTTP clients: every answer counted and checked, whole bodies sent and read."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_serve.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_bench_serve_client", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bench_serve = _load()
bench_tools = sys.modules["_bench"]  # the record's row checks, as bench_serve imported them
CLIENTS = {"lean": bench_serve.lean_loop, "http.client": bench_serve.http_client_loop}


class _Answers(BaseHTTPRequestHandler):
    """Keep-alive answers: the body the test set, after checking the request's body."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = body == self.server.expect
        self.server.bodies.append(len(body))
        answer = self.server.answer if ok else b'{"error": "wrong body"}'
        self.send_response(self.server.status if ok else 400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()  # the head, then the body: two writes
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    expect = b""
    answer = b""
    status = 200
    bodies: list[int]


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Answers)
    srv.bodies = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(10)


def _url(srv: _Server) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}"


class TestClients:
    @pytest.mark.parametrize("client", sorted(CLIENTS))
    @pytest.mark.parametrize("path", ["/v2/models/m/infer", "/invocations"])
    def test_every_answer_is_counted(self, server: _Server, client: str, path: str) -> None:
        """Each connection sends max_requests // clients requests after one warm-up."""
        server.expect = b'{"inputs": []}'
        key = "outputs" if path != "/invocations" else "predictions"
        server.answer = json.dumps({key: [1]}).encode()
        load = CLIENTS[client](_url(server), path, server.expect, 3, 60.0, 30)
        assert load.answers == 30
        assert len(server.bodies) == 30 + 3
        assert load.rate > 0 and load.p99 > 0 and load.client_cpu >= 0

    @pytest.mark.parametrize("client", sorted(CLIENTS))
    def test_large_bodies_are_sent_and_read_whole(self, server: _Server, client: str) -> None:
        """A body larger than the socket buffers arrives whole; a large answer is read whole."""
        server.expect = b"[" + b"1.0," * 1_000_000 + b"1.0]"
        server.answer = b'{"outputs": [' + b"0," * 300_000 + b"0]}"
        load = CLIENTS[client](_url(server), "/infer", server.expect, 2, 60.0, 4)
        assert load.answers == 4
        assert server.bodies == [len(server.expect)] * 6

    @pytest.mark.parametrize("client", sorted(CLIENTS))
    @pytest.mark.parametrize(
        ("status", "answer"), [(500, b'{"outputs": []}'), (200, b'{"error": "no"}')]
    )
    def test_an_answer_that_is_not_a_prediction_fails_the_loop(
        self, server: _Server, client: str, status: int, answer: bytes
    ) -> None:
        """A non-200 status, or a 200 without a prediction in its body, is refused."""
        server.expect, server.answer, server.status = b"{}", answer, status
        with pytest.raises(RuntimeError, match="answered"):
            CLIENTS[client](_url(server), "/infer", b"{}", 2, 60.0, 10)


class TestAnswerSize:
    @given(
        status=st.integers(100, 599),
        body=st.binary(max_size=300),
        headers=st.lists(
            st.tuples(
                st.sampled_from(["Server", "Date", "X-Request-Id", "content-type"]),
                st.text("abc 123;=", max_size=20),
            ),
            max_size=4,
        ),
        spelling=st.sampled_from(["Content-Length", "content-length", "CONTENT-LENGTH"]),
    )
    def test_finds_status_and_body(
        self, status: int, body: bytes, headers: list[tuple[str, str]], spelling: str
    ) -> None:
        """Whatever the headers around Content-Length, the body is where it says; a
        head not yet whole is (0, 0, -1)."""
        lines = [*(f"{k}: {v}" for k, v in headers), f"{spelling}: {len(body)}"]
        lines.insert(len(lines) // 2, lines.pop())  # not always the last header
        head = (f"HTTP/1.1 {status} Whatever\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode()
        got = bench_serve.answer_size(head + body)
        assert got == (status, len(head), len(head) + len(body))
        assert bench_serve.answer_size(head[:-1]) == (0, 0, -1)

    def test_an_answer_without_content_length_is_refused(self) -> None:
        """A chunked answer (no Content-Length) cannot be measured: an error says so."""
        with pytest.raises(RuntimeError, match="Content-Length"):
            bench_serve.answer_size(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")


class _Stand:
    """A stand-in for one of bench_logger's two servers: the test's HTTP server."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stopped = False

    def cpu_seconds(self) -> float:
        return time.perf_counter()

    def processes(self) -> list[tuple[int, str, str]]:
        return []

    def stop(self) -> None:
        self.stopped = True


@pytest.mark.parametrize(("pin", "writer"), [(False, "auto"), (True, "auto"), (True, "thread")])
def test_logger_rows_are_rows_the_record_keeps(
    server: _Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pin: bool, writer: str
) -> None:
    """Both prediction-logger rows, pinned or not, are well formed (the record left the
    pinned ones out of run18-run21 as malformed) and say when they were pinned; the
    logged server gets the writer asked for, and a writer other than the default is
    named in the rows."""
    import pandas as pd

    x = pd.DataFrame({f"f{i}": [0.5, 1.5] for i in range(3)})
    server.expect = bench_serve.mlflow_body(x.head(1))
    server.answer = b'{"predictions": [1]}'
    stands: list[_Stand] = []

    writers: list[str | None] = []

    def start(
        root: Path, ws: str, log: bool = False, workers: int = 1, writer: str = "auto"
    ) -> _Stand:
        writers.append(writer if log else None)
        stands.append(_Stand(_url(server)))
        return stands[-1]

    monkeypatch.setattr(bench_serve, "start_mlopskit", start)
    monkeypatch.setattr(bench_serve, "pinned", lambda *s: contextlib.nullcontext())
    monkeypatch.setattr(bench_serve, "ROWS", [])
    bench_serve.bench_logger(tmp_path, "ws", x, 1, 0.05, pin=pin, writer=writer)
    rows = bench_serve.ROWS
    assert [r["row"].split(" with ")[0] for r in rows] == [
        "http throughput",
        "server CPU per request",
    ]
    assert all(bench_tools.row_problems(r) == [] for r in rows)
    assert all(("pinned" in r["row"]) == pin for r in rows)
    assert all(s.stopped for s in stands) and len(stands) == 4  # fresh servers every pair
    assert all("3 segments written" in r["row"] for r in rows)
    assert sorted(writers, key=str) == sorted([writer, writer, None, None], key=str)
    assert all(("[writer=" in r["row"]) == (writer != "auto") for r in rows)


def test_logger_windows_are_long_enough_to_write_segments(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each measured window of the logger rows asks for as many requests as three of the
    logger's segments hold (4,000 requests before run30: no segment was written while
    measured), the warm-up excepted."""
    import pandas as pd

    from mlopskit.deploy import PredictionLogger
    from mlopskit.store import ArtifactStore

    asked: list[int] = []

    def loop(url: str, path: str, body: bytes, clients: int, seconds: float, n: int, s: Any):
        asked.append(n)
        return bench_serve.Load(1000.0, 0.001, 1e-4, 1e-5, n)

    monkeypatch.setattr(bench_serve, "load_loop", loop)
    monkeypatch.setattr(bench_serve, "start_mlopskit", lambda *a, **k: _Stand("http://x"))
    monkeypatch.setattr(bench_serve, "ROWS", [])
    x = pd.DataFrame({f"f{i}": [0.5, 1.5] for i in range(3)})
    bench_serve.bench_logger(tmp_path, "ws", x, 1, 30.0)
    segment = PredictionLogger(ArtifactStore("memory://bench-window")).max_rows
    measured = [n for n in asked if n != 400]  # warm() asks 400
    assert len(measured) == 4 and all(n == 3 * segment for n in measured)


@pytest.mark.parametrize("pin", [False, True])
def test_every_round_of_a_pairing_starts_and_stops_its_own_servers(
    server: _Server, monkeypatch: pytest.MonkeyPatch, pin: bool
) -> None:
    """Each round measures a new pair of server processes (so a row's spread holds the
    variation between processes), pinned only when asked, and leaves none running."""
    import pandas as pd

    x = pd.DataFrame({f"f{i}": [0.5, 1.5] for i in range(3)})
    server.expect = bench_serve.v2_body(x.head(1))
    server.answer = b'{"outputs": [1]}'
    started: list[_Stand] = []
    pinned_with: list[tuple[Any, ...]] = []

    def start() -> _Stand:
        if len(started) % 2 == 0:  # a round's first start: the last round's pair stopped
            assert all(s.stopped for s in started)
        started.append(_Stand(_url(server)))
        return started[-1]

    @contextlib.contextmanager
    def pinned(*servers: Any) -> Iterator[None]:
        pinned_with.append(servers)
        yield

    monkeypatch.setattr(bench_serve, "pinned", pinned)
    monkeypatch.setattr(bench_serve, "ROWS", [])
    monkeypatch.setattr(bench_serve, "NOTES", [])
    bodies = {1: (server.expect, server.expect)}
    path = "/v2/models/bench/infer"
    bench_serve.bench_http(start, start, "anchor", (path, path), bodies, 3, 0.05, (1, 1), pin=pin)
    assert len(started) == 6 and all(s.stopped for s in started)
    assert len({id(s) for s in started}) == 6
    rounds = [{started[i], started[i + 1]} for i in (0, 2, 4)]  # each round's two servers
    assert [set(p) for p in pinned_with] == (rounds if pin else [])
    rows = bench_serve.ROWS
    assert all(bench_tools.row_problems(r) == [] and r["n"] == 3 for r in rows)
    assert sorted({r["row"].split(": ")[1] for r in rows}) == [
        "1 row, 1 client",
        "1 row, 8 clients",
    ]
    assert "3 rounds, each with both servers started afresh" in bench_serve.NOTES[-1]


def test_a_malformed_row_is_refused_when_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """A row the record would leave out fails the bench at once, not after the run."""
    monkeypatch.setattr(bench_serve, "ROWS", [])
    with pytest.raises(ValueError, match="mode 'http, pinned'"):
        bench_serve.add_row(
            "r", "http, pinned", "a", [(1.0, 2.0)], unit="s", goal=None, higher_is_better=False
        )
    assert bench_serve.ROWS == []


@pytest.mark.parametrize("k", [0, 1])
@pytest.mark.parametrize("failing", ["first", "second"])
def test_a_server_that_fails_to_start_stops_the_one_already_started(k: int, failing: str) -> None:
    """No server outlives a failed round, whichever of the pair starts first or fails."""
    up: list[_Stand] = []

    def ok() -> _Stand:
        up.append(_Stand("http://127.0.0.1:1"))
        return up[-1]

    def fails() -> _Stand:
        raise RuntimeError("anchor did not start")

    first, second = (fails, ok) if failing == "first" else (ok, fails)
    with (
        pytest.raises(RuntimeError, match="did not start"),
        bench_serve.started_pair(k, first, second),
    ):
        pytest.fail("the block ran without both servers")
    assert all(s.stopped for s in up)
    assert len(up) == (1 if (k == 0) == (failing == "second") else 0)


def test_started_pair_yields_in_the_callers_order_and_stops_both() -> None:
    """Pair k's start order alternates, but the block always gets (first's, second's)."""
    order: list[str] = []

    def make(name: str) -> Any:
        def start() -> _Stand:
            order.append(name)
            return _Stand(name)

        return start

    for k, expect in ((0, ["a", "b"]), (1, ["b", "a"])):
        order.clear()
        with bench_serve.started_pair(k, make("a"), make("b")) as (x, y):
            assert (x.url, y.url) == ("a", "b") and not (x.stopped or y.stopped)
        assert order == expect and x.stopped and y.stopped
