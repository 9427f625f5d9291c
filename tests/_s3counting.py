"""moto's S3 server with a request log, so tests can assert how many requests an operation costs.

It serves moto's application exactly as ``tests/_s3server.py`` does (bodies read in
full, one request at a time) and records every S3 request it answers as
``[method, path, query]``. Three extra routes, never counted: ``GET /_requests`` returns
the log as JSON, ``POST /_requests`` clears it, ``POST /_latency`` (body: seconds) adds
that latency to every S3 request from then on, outside the one-at-a-time lock: requests
in flight together wait together, as on a real object store, where a small request's
round trip (tens of milliseconds) dominates and many are answered at once (moto alone
answers on loopback in about a millisecond plus its own work, one request at a time).

Usage: ``python tests/_s3counting.py <port>`` (binds 127.0.0.1); in tests, the
:class:`RequestLog` helper reads and clears the log over HTTP.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_log: list[list[str]] = []
_log_lock = threading.Lock()
_latency = [0.0]


def counting(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """Wrap a WSGI app: record each request (then wait the latency set), answer the log
    and latency routes itself."""

    def wrapper(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "")
        if path == "/_requests":
            with _log_lock:
                body = json.dumps(_log).encode()
                if method == "POST":
                    _log.clear()
                    body = b"[]"
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if path == "/_latency" and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            _latency[0] = float(environ["wsgi.input"].read(length) or 0)
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b"{}"]
        if not path.startswith("/moto-api"):
            with _log_lock:
                _log.append([method, path, environ.get("QUERY_STRING", "")])
            if _latency[0]:
                time.sleep(_latency[0])
        return app(environ, start_response)

    return wrapper


def main() -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    from _s3server import serialized

    port = int(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        "127.0.0.1",
        port,
        counting(serialized(app)),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


class RequestLog:
    """A counting S3 server in a subprocess (start with :meth:`start`, stop with :meth:`stop`)."""

    def __init__(self, proc: subprocess.Popen[bytes], endpoint: str) -> None:
        self.proc = proc
        self.endpoint = endpoint

    @classmethod
    def start(cls) -> RequestLog:
        """Start the server on a free 127.0.0.1 port and wait until it answers."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        endpoint = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [sys.executable, __file__, str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ},
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/_requests", timeout=1).close()
                return cls(proc, endpoint)
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    raise RuntimeError("the counting S3 server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server by its pid."""
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def requests(self) -> list[list[str]]:
        """Every request since the last :meth:`reset`: ``[method, path, query]``."""
        with urllib.request.urlopen(f"{self.endpoint}/_requests", timeout=10) as resp:
            result: list[list[str]] = json.loads(resp.read())
        return result

    def reset(self) -> None:
        """Forget the requests logged so far."""
        req = urllib.request.Request(f"{self.endpoint}/_requests", data=b"", method="POST")
        urllib.request.urlopen(req, timeout=10).close()

    def set_latency(self, seconds: float) -> None:
        """Add ``seconds`` to every S3 request from now on (0: none); concurrent ones overlap."""
        req = urllib.request.Request(
            f"{self.endpoint}/_latency", data=repr(float(seconds)).encode(), method="POST"
        )
        urllib.request.urlopen(req, timeout=10).close()

    def counts(self) -> Counter[str]:
        """Requests since the last reset by kind: PUT, GET, HEAD, LIST, DELETE, POST."""
        out: Counter[str] = Counter()
        for method, _path, query in self.requests():
            listing = method == "GET" and ("list-type" in query or "prefix=" in query)
            out["LIST" if listing else method] += 1
        return out


CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def counting_server() -> Iterator[RequestLog]:
    """A started counting server with test credentials in the environment (restored after)."""
    saved = {k: os.environ.get(k) for k in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    server = RequestLog.start()
    try:
        yield server
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


if __name__ == "__main__":
    main()
