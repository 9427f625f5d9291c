"""Reading datasets and models from a directory with no workspace says so and creates nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import mlopskit as mk
from mlopskit.errors import NotFoundError

READS: dict[str, Callable[[], Any]] = {
    "datasets.names": lambda: mk.datasets.names(),
    "datasets.get": lambda: mk.datasets.get("iris"),
    "datasets.get(uri)": lambda: mk.datasets.get("iris/2"),
    "datasets.versions": lambda: mk.datasets.versions("iris"),
    "datasets.load": lambda: mk.datasets.load("iris"),
    "datasets.diff": lambda: mk.datasets.diff("iris/1", "iris/2"),
    "registry.names": lambda: mk.registry.names(),
    "registry.get": lambda: mk.registry.get("clf"),
    "registry.get(alias)": lambda: mk.registry.get("clf@champion"),
    "registry.versions": lambda: mk.registry.versions("clf"),
    "registry.load": lambda: mk.registry.load("clf@champion"),
    "registry.aliases": lambda: mk.registry.aliases("clf"),
    "registry.history": lambda: mk.registry.history("clf"),
    "registry.tags": lambda: mk.registry.tags("clf"),
}


@pytest.fixture(params=["missing", "empty directory", "other files"])
def nowhere(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A workspace path that holds no workspace: absent, an empty dir, or a project dir."""
    path = tmp_path / "ws"
    if request.param != "missing":
        path.mkdir()
    if request.param == "other files":
        (path / "README.md").write_text("not a workspace\n")
        (path / ".gitignore").write_text("*.pyc\n")
    return path


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


@pytest.mark.parametrize("read", list(READS))
def test_a_read_with_no_workspace_says_so_and_creates_nothing(read: str, nowhere: Path) -> None:
    """Every module-level dataset/registry read names the path and how to make a workspace."""
    before = (nowhere.exists(), _tree(nowhere))
    with mk.Workspace(nowhere), pytest.raises(NotFoundError) as info:
        READS[read]()
    message = str(info.value)
    assert f"no mlopskit workspace at {str(nowhere)!r}" in message
    assert "mk.datasets.commit()" in message
    assert info.value.path == str(nowhere)
    assert (nowhere.exists(), _tree(nowhere)) == before


def test_writers_still_create_the_workspace(tmp_path: Path) -> None:
    """A commit into a missing workspace creates it, and reads then work there."""
    where = tmp_path / "new"
    with mk.Workspace(where):
        mk.datasets.commit("iris", pd.DataFrame({"a": [1, 2]}))
        assert mk.datasets.names() == ["iris"]
        assert mk.registry.names() == []
        with pytest.raises(NotFoundError, match="no model named 'clf'"):
            mk.registry.get("clf")


def test_a_workspace_mlopskit_created_but_left_empty_reads_as_empty(tmp_path: Path) -> None:
    """A root holding only the .gitignore mlopskit writes is a workspace: reads answer empty."""
    from mlopskit._config import GITIGNORE

    where = tmp_path / "made"
    where.mkdir()
    (where / ".gitignore").write_text(GITIGNORE)
    with mk.Workspace(where):
        assert mk.datasets.names() == []
        assert mk.registry.names() == []
