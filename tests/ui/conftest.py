"""UI test fixtures: a sample workspace, the UI server in a subprocess, headless Chromium.

The server is ``serve_ui`` in a subprocess on 127.0.0.1:0
and is stopped by pid. Browser tests need Debian's ``chromium`` (``/usr/bin/chromium``,
or ``MLOPSKIT_CHROMIUM``) and Playwright for Python; without them they skip, saying why.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from ui_harness import CHROMIUM_ARGS, PageWatch, UIProcess, chromium_path  # noqa: E402
from ui_sample import build_workspace  # noqa: E402


@pytest.fixture(scope="session")
def sample_workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A workspace with runs (metrics, params, image/table/text artifacts), two dataset
    versions and a registered model with an alias; returns its path and ids."""
    root = tmp_path_factory.mktemp("ws") / "ws"
    return build_workspace(root)


@pytest.fixture(scope="session")
def ui_server(sample_workspace: dict[str, Any]) -> Iterator[UIProcess]:
    """The UI over the sample workspace, in a subprocess on an ephemeral port."""
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    server = UIProcess(sample_workspace["root"])
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium driven by Playwright (skips when either is missing).

    Module-scoped: Playwright's sync API runs an event loop in this thread while it is
    open, which would make ``asyncio.run`` fail in tests that run later.
    """
    exe = chromium_path()
    if exe is None:
        pytest.skip("no chromium binary (apt-get install chromium, or set MLOPSKIT_CHROMIUM)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[PageWatch]:
    """A fresh page (1280×900) whose console errors the test can assert on."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield PageWatch(context.new_page())
    finally:
        context.close()


@pytest.fixture
def shoot(tmp_path: Path) -> Any:
    """Save a full-page screenshot under tmp_path (and copy it to $MLOPSKIT_SCREENSHOTS)."""

    def take(page: Any, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        target = os.environ.get("MLOPSKIT_SCREENSHOTS")
        if target:
            os.makedirs(target, exist_ok=True)
            shutil.copy(path, os.path.join(target, path.name))
        return path

    return take
