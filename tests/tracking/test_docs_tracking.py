"""Every python example in docs/tracking.md runs, in order, in one fresh namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlopskit import _context

DOC = Path(__file__).parents[2] / "docs" / "tracking.md"


def test_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The examples in docs/tracking.md run as written and their assertions hold."""
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert len(blocks) >= 4
    try:
        for block in blocks:
            exec(compile(block, str(DOC), "exec"), {"__name__": "docs_tracking"})
    finally:
        _context.set_workspace_uri(None)
