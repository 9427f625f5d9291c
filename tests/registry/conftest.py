"""Fixtures for the registry tests: one store per backend, a fake run, race workers."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlopskit import _context


class FakeRun:
    """What the registry may know of a run: an id and an experiment."""

    def __init__(self, run_id: str, experiment: str = "exp") -> None:
        self.run_id = run_id
        self.experiment = experiment


class Doubler:
    """A tiny model: predict() doubles its input."""

    def __init__(self, factor: float = 2.0) -> None:
        self.factor = factor

    def predict(self, x: Any) -> Any:
        return x * self.factor


@pytest.fixture
def active_run() -> Iterator[FakeRun]:
    """A run made active through the shared context (as tracking would)."""
    run = FakeRun(f"run{uuid.uuid4().hex[:12]}")
    token = _context.set_active_run(run)
    try:
        yield run
    finally:
        _context.reset_active_run(token)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary workspace made current for the test."""
    monkeypatch.setenv("MLOPSKIT_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("MLOPSKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "ws"


@pytest.fixture(scope="session")
def run_workers() -> Any:
    """Start worker processes (tests/versioning/_workers.py) that begin at the same moment."""
    path = Path(__file__).parents[1] / "versioning" / "races.py"
    spec = importlib.util.spec_from_file_location("_mlopskit_registry_races", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.run_workers
