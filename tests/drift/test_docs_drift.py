"""docs/drift.md: every ```python block runs, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "drift.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


class TestDriftDocs:
    def test_the_page_has_examples(self) -> None:
        """The page keeps its runnable examples (a guard against a silently empty test)."""
        assert len(_blocks()) >= 8

    def test_every_example_runs(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The examples run top to bottom without error, their assertions holding."""
        pytest.importorskip("distributed")
        monkeypatch.chdir(tmp_path)
        namespace: dict[str, object] = {"__name__": "drift_docs"}
        for i, block in enumerate(_blocks()):
            try:
                exec(compile(block, f"{DOC.name}[block {i}]", "exec"), namespace)
            except Exception as exc:  # pragma: no cover - the message names the block
                raise AssertionError(f"docs/drift.md block {i} failed: {exc!r}\n{block}") from exc
