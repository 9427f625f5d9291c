"""Fixtures for the versioning tests: one store per backend (memory, local, S3 server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlopskit import _context


class FakeRun:
    """What versioning may know of a run: an id and an experiment (see mlopskit._context)."""

    def __init__(self, run_id: str, experiment: str = "exp") -> None:
        self.run_id = run_id
        self.experiment = experiment


@pytest.fixture
def active_run() -> Iterator[Any]:
    """A run made active through the shared context (as tracking would)."""
    run = FakeRun(f"run{uuid.uuid4().hex[:12]}")
    token = _context.set_active_run(run)
    try:
        yield run
    finally:
        _context.reset_active_run(token)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary workspace made current for the test (module-level functions use it)."""
    root = tmp_path / "ws"
    monkeypatch.setenv("MLOPSKIT_HOME", str(root))
    monkeypatch.setenv("MLOPSKIT_CACHE_DIR", str(tmp_path / "cache"))
    return root


def _load_races() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_mlopskit_versioning_races", Path(__file__).with_name("races.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def run_workers() -> Any:
    """Start worker processes (tests/versioning/_workers.py) that begin at the same moment."""
    return _load_races().run_workers
