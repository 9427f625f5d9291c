"""moto's S3-compatible server, made atomic per request for the tests.

moto checks ``If-None-Match: *`` and then writes, without a lock, on a threaded server
(``moto/s3/responses.py::put_object``), and answers 412 before it reads the request
body. Under concurrent writers that lets two conditional PUTs of one key both succeed
and leaves unread bodies on keep-alive connections, which hangs clients. Real S3 makes
the conditional write atomic. This script runs moto's own WSGI application the way
``moto.server.main`` does, with two changes that restore S3's contract: each request
body is read in full first, and requests are handled one at a time.

Usage: ``python tests/_s3server.py <port>`` (binds 127.0.0.1).
"""

from __future__ import annotations

import io
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

_lock = threading.Lock()


def serialized(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    """Wrap a WSGI app: buffer the body, then run one request at a time."""

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
        with _lock:
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
