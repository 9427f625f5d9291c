"""The local web UI (``mlopskit ui``): runs, metric charts, artifacts, lineage, the model
registry, datasets and drift, read from one workspace (local or ``s3://``).

Needs the ``ui`` extra (``pip install 'pymlopskit[ui]'``: Starlette and uvicorn, the ASGI
stack ``deploy.serve`` uses). The charts are uPlot, vendored in the package: the UI
works offline. See docs/ui.md::

    from mlopskit.ui import serve_ui

    server = serve_ui("./.mlopskit", port=0, background=True)
    print(server.url)
    server.stop()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlopskit.ui._app import create_app
    from mlopskit.ui._data import WorkspaceData
    from mlopskit.ui._server import UIServer, serve_ui

__all__ = ["UIServer", "WorkspaceData", "create_app", "serve_ui"]

_LAZY = {
    "UIServer": "mlopskit.ui._server",
    "WorkspaceData": "mlopskit.ui._data",
    "create_app": "mlopskit.ui._app",
    "serve_ui": "mlopskit.ui._server",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mlopskit.ui' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
