"""Store tests keep every per-user cache (stat cache, read cache) under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _user_cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-user cache directory (MLOPSKIT_CACHE_DIR) of each test is its own."""
    monkeypatch.setenv("MLOPSKIT_CACHE_DIR", str(tmp_path / "user-cache"))
