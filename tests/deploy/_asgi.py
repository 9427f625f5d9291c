"""Driving an ASGI app directly (no socket): one POST whose body is whole, so the event
loop's order is exactly the app's."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def post(
    app: Any,
    client: Any,
    body: bytes,
    send: Callable[[dict[str, Any]], Awaitable[None]],
    path: str = "/invocations",
) -> None:
    """POST ``body`` (JSON) to ``path`` from connection ``client``; the app's messages go
    to ``send``."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": client,
        "server": ("127.0.0.1", 8080),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # never: the body is whole
        raise AssertionError

    await app(scope, receive, send)
