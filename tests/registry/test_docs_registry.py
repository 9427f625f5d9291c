"""Every python example in docs/registry.md runs, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlopskit import _context

DOC = Path(__file__).parents[2] / "docs" / "registry.md"


def test_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The examples in docs/registry.md run as written and their assertions hold."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLOPSKIT_HOME", raising=False)
    monkeypatch.setenv("MLOPSKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(_context, "_process_workspace", [None])
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert len(blocks) >= 4
    namespace: dict[str, object] = {"__name__": "docs_registry"}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
