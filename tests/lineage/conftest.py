"""A fresh workspace (tracking, datasets, registry) under tmp_path for each lineage test."""

from __future__ import annotations

from pathlib import Path

import pytest

import mlopskit as mk


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> mk.Workspace:
    """The current workspace, rooted in tmp_path."""
    monkeypatch.setenv("MLOPSKIT_HOME", str(tmp_path / "ws"))
    return mk.current_workspace()
