"""``serve_ui``: run the UI's app with uvicorn on a socket bound before it starts.

The socket is bound here (``port=0`` picks a free port), so the URL is known before the
server runs: it is printed in the foreground and returned in the background. In the
foreground uvicorn handles the signals: Ctrl+C (SIGINT) stops the server and ``serve_ui``
returns; SIGTERM stops it and the process then exits with the signal's status, as servers
do. In the background the server runs in a daemon thread and :meth:`UIServer.stop` ends it.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from typing import Any

from mlopskit._log import get_logger
from mlopskit._optional import import_optional
from mlopskit.errors import ConfigError

__all__ = ["UIServer", "serve_ui"]

log = get_logger("mlopskit.ui")


class UIServer:
    """A UI server running in a background thread.

    Attributes:
        url: ``http://host:port`` where the UI answers.
        workspace: the workspace it shows.
    """

    def __init__(
        self,
        server: Any,
        thread: threading.Thread,
        sock: socket.socket,
        url: str,
        workspace: str,
    ) -> None:
        self._server = server
        self._thread = thread
        self._sock = sock
        self.url = url
        self.workspace = workspace

    def __repr__(self) -> str:
        return f"UIServer({self.url!r}, workspace={self.workspace!r})"

    def __enter__(self) -> UIServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to finish its requests and stop; wait up to ``timeout`` s."""
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()


def _check_port(port: object) -> int:
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ConfigError(
            f"port must be an integer in 0..65535 (0: any free port), found {port!r}",
            expected="0..65535",
            found=port,
        )
    return port


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
            "choose another port (0 picks a free one)",
            found=f"{host}:{port}",
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve_ui(
    workspace: str | os.PathLike[str] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    background: bool = False,
    read_only: bool = True,
) -> UIServer | None:
    """Serve the web UI over ``workspace`` (``mlopskit ui``).

    Args:
        workspace: a local path or fsspec URL (``s3://bucket/ws``); default
            ``MLOPSKIT_HOME`` or ``./.mlopskit``.
        host: the interface to listen on; 127.0.0.1 keeps it on this machine.
        port: the port; 0 picks a free one.
        background: return at once with a :class:`UIServer` (``.url``, ``.stop()``)
            instead of serving until interrupted.
        read_only: the UI offers no write action (see ``docs/ui.md``).

    Returns:
        The running server when ``background``; otherwise None once it has stopped.
    """
    _check_port(port)
    uvicorn = import_optional("uvicorn", "ui", purpose="the web UI")
    from mlopskit.ui._app import create_app

    uri = None if workspace is None else os.fspath(workspace)
    app = create_app(uri, read_only=read_only, warm=True, host=host)
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    url = f"http://{url_host}:{bound_port}"
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    from mlopskit.workspace import Workspace

    ws_uri = Workspace(uri).uri
    log.info("ui.start", url=url, workspace=ws_uri)
    if not background:
        print(f"mlopskit ui: {ws_uri} at {url} (Ctrl+C to stop)", flush=True)
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # Ctrl+C: the server has stopped; no traceback
            log.info("ui.stop", url=url)
        finally:
            sock.close()
        return None
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="mlopskit-ui", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        server.should_exit = True
        sock.close()
        raise ConfigError(f"the UI server did not start on {url}", found=url)
    return UIServer(server, thread, sock, url, ws_uri)


if __name__ == "__main__":  # pragma: no cover - manual use: python -m mlopskit.ui._server WS
    serve_ui(sys.argv[1] if len(sys.argv) > 1 else None)
