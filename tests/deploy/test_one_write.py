"""serve() sends a response's head and body in one write: one TCP segment per answer."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

import mlopskit as mk
from mlopskit.deploy import Predictor, serve
from mlopskit.deploy._server import _HeadWithBody


class _Recorder:
    """A transport that records what reaches it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.calls.append(("write", bytes(data)))

    def writelines(self, items: Any) -> None:
        self.calls.append(("writelines", [bytes(i) for i in items]))

    def close(self) -> None:
        self.calls.append(("close", None))

    def write_eof(self) -> None:
        self.calls.append(("write_eof", None))

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


def _sent(calls: list[tuple[str, Any]]) -> bytes:
    return b"".join(
        (b"".join(arg) if kind == "writelines" else arg) for kind, arg in calls if arg is not None
    )


class TestHeadWithBody:
    def test_head_and_body_written_in_one_step_go_out_together(self) -> None:
        """Two writes in one loop step reach the transport as one writelines; nothing is
        left to send after the step."""

        head = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"

        async def main() -> list[tuple[str, Any]]:
            rec = _Recorder()
            t = _HeadWithBody(rec, asyncio.get_running_loop())
            t.write(head)
            t.write(b"{}")
            assert rec.calls == [("writelines", [head, b"{}"])]
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            return rec.calls

        calls = asyncio.run(main())
        assert len(calls) == 1

    def test_a_write_alone_goes_out_when_the_step_ends(self) -> None:
        """A lone write is sent once the step ends, before the loop waits for I/O."""

        async def main() -> None:
            rec = _Recorder()
            t = _HeadWithBody(rec, asyncio.get_running_loop())
            t.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            assert rec.calls == []
            await asyncio.sleep(0)
            assert rec.calls == [("write", b"HTTP/1.1 100 Continue\r\n\r\n")]
            t.write(b"a")
            t.write(b"b")
            t.write(b"c")  # a third write in the step is held again, then sent
            await asyncio.sleep(0)
            assert _sent(rec.calls) == b"HTTP/1.1 100 Continue\r\n\r\nabc"

        asyncio.run(main())

    @pytest.mark.parametrize("end", ["close", "write_eof"])
    def test_close_sends_what_is_held_first(self, end: str) -> None:
        """Closing (or half-closing) never drops a held write: it goes out first."""

        async def main() -> None:
            rec = _Recorder()
            t = _HeadWithBody(rec, asyncio.get_running_loop())
            t.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            getattr(t, end)()
            assert rec.calls == [("write", b"HTTP/1.1 400 Bad Request\r\n\r\n"), (end, None)]
            await asyncio.sleep(0)
            assert len(rec.calls) == 2  # the scheduled flush finds nothing left

        asyncio.run(main())

    def test_everything_else_is_the_transports(self) -> None:
        """What uvicorn asks of a transport besides writing is the transport's answer."""

        async def main() -> None:
            t = _HeadWithBody(_Recorder(), asyncio.get_running_loop())
            assert t.get_extra_info("peername") == ("127.0.0.1", 1)
            assert t.is_closing() is False

        asyncio.run(main())


def _data_segments_in(sock: socket.socket) -> int:
    """Linux's tcpi_data_segs_in: the segments carrying data this socket received."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 160)
    return int(struct.unpack_from("<I", info, 152)[0])


def _answer(sock: socket.socket) -> tuple[int, bytes]:
    """One HTTP answer read whole (it says its Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return int(head[9:12]), body


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="TCP_INFO's layout is Linux's")
def test_each_answer_arrives_in_one_segment(tmp_path: Path) -> None:
    """Over a real keep-alive connection every answer — a prediction, an error, a health
    check — is one TCP segment (two, head then body, before)."""
    rows = pd.DataFrame({"a": [1.0, 2.0], "b": [0.5, 1.5]})
    with mk.Workspace(tmp_path / "ws"):
        mk.registry.register("w", np.array([2.0, 1.0]), input_example=rows)
        predictor = Predictor("w/1")
    body = json.dumps({"dataframe_split": rows.to_dict(orient="split")}).encode()
    requests = [
        (b"POST /invocations", body, 200),
        (b"POST /invocations", b"{not json", 400),
        (b"GET /v2/health/ready", b"", 200),
        (b"POST /v2/models/w/infer", b'{"inputs": []}', 400),
    ]
    with serve(predictor, background=True) as handle:
        port = int(handle.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for _ in range(5):
                for line, payload, status in requests:
                    before = _data_segments_in(sock)
                    sock.sendall(
                        line + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload
                    )
                    got, answer = _answer(sock)
                    assert got == status, answer
                    assert _data_segments_in(sock) - before == 1, line
