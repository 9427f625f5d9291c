"""moto's S3-compatible server, made atomic per request for the tests.

moto checks ``If-None-Match: *`` and then writes, without a lock, on a threaded server
(``moto/s3/responses.py::put_object``), and answers 412 before it reads the request
body. Under concurrent writers that lets two conditional PUTs of one key both succeed
and leaves unread bodies on keep-alive connections, which hangs clients. Real S3 makes
the conditional write atomic. This script runs moto's own WSGI application the way
``moto.server.main`` does, with two changes that restore S3's contract: each request
body is read in full first, and a request that changes state (any method but GET and
HEAD: PUT, POST, DELETE) runs alone, while reads (GET, HEAD, LIST) run side by side,
as on S3 (a readers-writer lock: no read overlaps a write, so a conditional PUT's
check and write stay one step for every observer).

Usage: ``python tests/_s3server.py <port>`` (binds 127.0.0.1).
"""

from __future__ import annotations

import io
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

#: Methods that only read moto's state (moto guards each object's bytes with its own lock).
READS = frozenset(("GET", "HEAD"))


class ReadersWriterLock:
    """Shared for readers, exclusive for a writer; a waiting writer goes before new readers."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._waiting_writers = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._waiting_writers += 1
            while self._writing or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


_lock = ReadersWriterLock()


def serialized(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    """Wrap a WSGI app: buffer the body, then run it under the lock (reads shared, a
    request that changes state alone)."""

    def wrapper(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        if length:
            body = stream.read(int(length))
        elif environ.get("wsgi.input_terminated"):  # chunked: werkzeug ends the stream
            body = stream.read()
        else:
            body = b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        read = environ.get("REQUEST_METHOD", "GET") in READS
        with _lock.reading() if read else _lock.writing():
            result = app(environ, start_response)
            try:
                return list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

    return wrapper


def main() -> None:
    port = int(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        "127.0.0.1", port, serialized(app), threaded=True, request_handler=MotoRequestHandler
    )


if __name__ == "__main__":
    main()
