"""The UI's ASGI app (Starlette): the pages, their static files and the JSON API.

Every route is a GET: the UI reads a workspace and changes nothing. The pages are one
HTML shell (no inline script) plus ``app.js``, which fetches ``/api/...`` and builds the
DOM with ``textContent``; a Content-Security-Policy allowing scripts from this origin
only backs that up. Artifacts are served as downloads (``Content-Disposition:
attachment``) except raster images, and never with a type the browser would run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mlopskit._charts import STATIC_DIR
from mlopskit._log import get_logger
from mlopskit.errors import ConfigError, IntegrityError, MlopskitError, NotFoundError
from mlopskit.ui._data import WorkspaceData

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["create_app"]

log = get_logger("mlopskit.ui")

_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_PAGES = (
    "/",
    "/runs",
    "/runs/{run_id}",
    "/compare",
    "/models",
    "/models/{name:path}",
    "/datasets",
    "/datasets/{name:path}",
    "/drift",
)


#: What app.js asks for first on "/" (kept equal to it: tests/ui check the preload is used).
_FIRST_RUNS = "/api/runs?offset=0&limit=50"


def _status(exc: Exception) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, IntegrityError):
        return 500
    return 400


def _filename(name: str) -> str:
    base = name.rsplit("/", 1)[-1] or "artifact"
    return re.sub(r"[^A-Za-z0-9._-]", "_", base)[:120] or "artifact"


def allowed_hosts(host: str) -> list[str]:
    """Host headers the UI answers when it listens on ``host``: loopback names only for a
    loopback address (so a web page cannot reach it through DNS rebinding), any for a
    wildcard address the user chose to expose."""
    if host in ("0.0.0.0", "::", ""):
        return ["*"]
    return sorted({"127.0.0.1", "localhost", host.strip("[]")})


def create_app(
    workspace: str | None = None,
    *,
    read_only: bool = True,
    warm: bool = False,
    host: str = "127.0.0.1",
) -> Starlette:
    """The UI's ASGI app over ``workspace`` (default: ``MLOPSKIT_HOME`` or ``./.mlopskit``).

    Args:
        workspace: a local path or any fsspec URL (``s3://bucket/ws``).
        read_only: the UI offers no write action either way; the flag is reported by
            ``/api/info`` and kept for write actions a later version may add.
        warm: list the runs once now, so the first request finds everything loaded.
        host: the address the app is served on; requests naming another host are
            refused (400), see :func:`allowed_hosts`.
    """
    from mlopskit._optional import import_optional

    import_optional("starlette", "ui", purpose="the web UI")
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from mlopskit.workspace import Workspace

    uri = Workspace(workspace).uri
    local = uri[len("file://") :] if uri.startswith("file://") else uri
    if "://" not in local and not os.path.isdir(local):
        raise ConfigError(
            f"no workspace at {local!r}: expected a directory mlopskit has written "
            "(set MLOPSKIT_HOME, pass the workspace, or log a run there first)",
            found=local,
        )
    data = WorkspaceData(uri)
    if warm:
        data.warm()
    index = STATIC_DIR / "index.html"

    def api(
        fn: Callable[[Request], Any],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                result = await run_in_threadpool(fn, request)
            except MlopskitError as exc:
                status = _status(exc)
                if status == 500:
                    log.error("ui.integrity", path=request.url.path, error=str(exc))
                body = {"error": {"type": type(exc).__name__, "message": str(exc)}}
                return JSONResponse(body, status_code=status)
            except Exception as exc:  # a bug or a storage failure: say so, in JSON
                log.exception("ui.error", path=request.url.path)
                message = f"{type(exc).__name__}: {exc} (while answering {request.url.path})"
                body = {"error": {"type": "InternalError", "message": message}}
                return JSONResponse(body, status_code=500)
            if isinstance(result, Response):
                return result
            return JSONResponse(result)

        return endpoint

    def q(request: Request, name: str) -> str | None:
        return request.query_params.get(name)

    def info(request: Request) -> Any:
        from mlopskit import __version__

        return {"workspace": data.uri, "read_only": read_only, "version": __version__}

    def runs(request: Request) -> Any:
        return data.runs(
            experiment=q(request, "experiment"),
            filter=q(request, "filter"),
            order_by=q(request, "order_by"),
            offset=q(request, "offset"),
            limit=q(request, "limit"),
            columns=q(request, "columns"),
            view=q(request, "view"),
        )

    def runs_count(request: Request) -> Any:
        return data.runs_count(
            experiment=q(request, "experiment"),
            filter=q(request, "filter"),
            view=q(request, "view"),
        )

    def run_columns(request: Request) -> Any:
        return data.run_columns(experiment=q(request, "experiment"), view=q(request, "view"))

    def run(request: Request) -> Any:
        return data.run(request.path_params["run_id"])

    def artifact(request: Request) -> Any:
        name = q(request, "name") or ""
        path = q(request, "path")
        run_id = request.path_params["run_id"]
        body, media, disposition = data.artifact_bytes(run_id, name, path)
        headers = {
            "Content-Disposition": f'{disposition}; filename="{_filename(path or name)}"',
            "Cache-Control": "private, max-age=3600",
        }
        return Response(body, media_type=media, headers=headers)

    def artifact_table(request: Request) -> Any:
        return data.artifact_table(request.path_params["run_id"], q(request, "name") or "")

    def artifact_files(request: Request) -> Any:
        return data.artifact_files(request.path_params["run_id"], q(request, "name") or "")

    def artifact_text(request: Request) -> Any:
        return data.artifact_text(request.path_params["run_id"], q(request, "name") or "")

    def metrics(request: Request) -> Any:
        return data.metric(
            (q(request, "runs") or "").split(","),
            q(request, "key") or "",
            x=q(request, "x"),
            start=q(request, "start"),
            end=q(request, "end"),
            points=q(request, "points"),
        )

    def lineage(request: Request) -> Any:
        return data.lineage(q(request, "uri") or "", q(request, "depth"))

    def experiments(request: Request) -> Any:
        return data.experiments()

    def models(request: Request) -> Any:
        return data.models()

    def model(request: Request) -> Any:
        return data.model(request.path_params["name"])

    def datasets(request: Request) -> Any:
        return data.datasets()

    def dataset(request: Request) -> Any:
        return data.dataset(request.path_params["name"], q(request, "version"))

    def dataset_diff(request: Request) -> Any:
        return data.dataset_diff(request.path_params["name"], q(request, "a"), q(request, "b"))

    def drift(request: Request) -> Any:
        return data.drift(q(request, "reference") or "", q(request, "current") or "")

    async def page(request: Request) -> Response:
        headers = {}
        if request.url.path == "/" and not request.url.query:
            # The runs page's first request, known before its script runs: start it now.
            headers["Link"] = f"<{_FIRST_RUNS}>; rel=preload; as=fetch; crossorigin"
        return FileResponse(index, media_type="text/html; charset=utf-8", headers=headers)

    async def not_found(request: Request) -> Response:
        body = {"error": {"type": "NotFoundError", "message": f"no API route {request.url.path}"}}
        return JSONResponse(body, status_code=404)

    routes = [
        Route("/api/info", api(info)),
        Route("/api/experiments", api(experiments)),
        Route("/api/runs", api(runs)),
        Route("/api/runs-count", api(runs_count)),
        Route("/api/runs-columns", api(run_columns)),
        Route("/api/runs/{run_id}", api(run)),
        Route("/api/runs/{run_id}/artifact", api(artifact)),
        Route("/api/runs/{run_id}/artifact/table", api(artifact_table)),
        Route("/api/runs/{run_id}/artifact/text", api(artifact_text)),
        Route("/api/runs/{run_id}/artifact/files", api(artifact_files)),
        Route("/api/metrics", api(metrics)),
        Route("/api/lineage", api(lineage)),
        Route("/api/models", api(models)),
        Route("/api/models/{name:path}", api(model)),
        Route("/api/datasets", api(datasets)),
        Route("/api/datasets/{name:path}/diff", api(dataset_diff)),
        Route("/api/datasets/{name:path}", api(dataset)),
        Route("/api/drift", api(drift)),
        Route("/api/{rest:path}", not_found),
        Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static"),
        *[Route(p, page) for p in _PAGES],
    ]
    middleware = [
        Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(host), www_redirect=False),
        Middleware(_SecurityHeaders),
    ]
    return Starlette(routes=routes, middleware=middleware)


class _SecurityHeaders:
    """Adds CSP, nosniff and no-referrer headers to every response (pure ASGI)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", _CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
