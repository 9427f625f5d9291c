"""Fixtures for the tracker tests: a fresh workspace per test, made current; this directory
on sys.path (``run_specs``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlopskit import _context

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh local workspace (SQLite backend), current for the test, cwd outside git."""
    root = tmp_path / "ws"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLOPSKIT_TRACKING_BACKEND", raising=False)
    with _context.using_workspace(str(root)):
        yield str(root)


@pytest.fixture(autouse=True)
def _outside_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every tracker test outside the repository, so no git diff is captured."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
