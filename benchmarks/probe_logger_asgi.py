"""Process CPU per one-row ``/invocations`` request through the whole ASGI app, with and
without a prediction logger (not a bench: no HTTP, no anchor; a probe for where the
logger's cost goes under traffic).

    python benchmarks/probe_logger_asgi.py [--requests 12000] [--max-rows N]

Builds the bench's model and workspace (``bench_serve.make_model``), then for each of
logger / no logger (alternating, twice) calls ``build_app(..., logger=)`` in process:
400 warm requests, then ``--requests`` timed ones; prints process CPU (every thread) per
request and the logger's segments written, rows buffered and rows written. With
``--max-rows`` above the requests the logger never writes (its per-request cost alone).
After the warm requests the process freezes what it holds out of the garbage collector,
as ``serve()`` does once the model is loaded (``--no-freeze``: not).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_serve


async def _measure(app: Any, body: bytes, n: int, freeze: bool) -> float:
    started: list[dict[str, Any]] = []
    startup = [{"type": "lifespan.startup"}]

    async def lifespan_receive() -> dict[str, Any]:
        if startup:
            return startup.pop()
        await asyncio.Event().wait()
        return {}

    async def lifespan_send(message: dict[str, Any]) -> None:
        started.append(message)

    lifespan = asyncio.ensure_future(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, lifespan_receive, lifespan_send)
    )
    while not any(m["type"].startswith("lifespan.startup") for m in started):
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.5)  # the model loads on a thread
    headers = [
        (b"host", b"x"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/invocations",
        "raw_path": b"/invocations",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 80),
    }
    out: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        out.append(message)

    for _ in range(400):
        out.clear()
        await app(scope, receive, send)
    if out[0]["status"] != 200:
        raise RuntimeError(f"the app answered {out[0]}")
    if freeze:  # what serve() does once the model is loaded (freeze_gc)
        gc.collect()
        gc.freeze()
    c0 = time.process_time()
    for _ in range(n):
        await app(scope, receive, send)
    cpu = (time.process_time() - c0) / n * 1e6
    lifespan.cancel()
    return cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=12_000)
    ap.add_argument("--max-rows", type=int, default=10_000)
    ap.add_argument(
        "--no-freeze", action="store_true", help="leave the loaded objects to the collector"
    )
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="probe-logger-asgi-"))
    os.environ.setdefault("MLOPSKIT_CACHE_DIR", str(root / "cache"))
    model, x = bench_serve.make_model(root)
    ws = bench_serve.package_mlopskit(root, model, x)

    import mlopskit as mk
    from mlopskit.deploy import PredictionLogger
    from mlopskit.deploy._server import build_app

    workspace = mk.set_workspace(ws)
    body = bench_serve.mlflow_body(x.head(1))
    for k in range(2):
        for logged in (True, False) if k % 2 == 0 else (False, True):
            logger = (
                PredictionLogger(workspace.store, name=f"probe{k}", max_rows=args.max_rows)
                if logged
                else None
            )
            us = asyncio.run(
                _measure(
                    build_app("bench@champion", logger=logger),
                    body,
                    args.requests,
                    not args.no_freeze,
                )
            )
            what = ""
            if logger is not None:
                what = (
                    f", segments written {logger.segments_written}, rows buffered "
                    f"{logger._buffered_rows}, rows written {logger.rows_written}"
                )
                logger.close()
            print(f"logger={logged}: {us:.1f} us CPU per request (process){what}", flush=True)


if __name__ == "__main__":
    main()
