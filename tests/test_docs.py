"""Every ```python block of every page in docs/ runs, in order, in one namespace per page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlopskit import _context

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(
    p
    for p in [*DOCS.glob("*.md"), DOCS.parent / "README.md"]
    if "```python" in p.read_text(encoding="utf-8")
)
# Pages whose examples need an optional package, and the package.
NEEDS = {"drift.md": "distributed"}


def _blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)


def test_capability_pages_have_examples() -> None:
    """Each capability page keeps runnable examples (guards against an empty run)."""
    names = {p.name for p in PAGES}
    assert {"store.md", "tracking.md", "drift.md", "versioning.md", "registry.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page's examples run top to bottom as written, their assertions holding."""
    if page.name in NEEDS:
        pytest.importorskip(NEEDS[page.name])
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLOPSKIT_HOME", raising=False)
    monkeypatch.setenv("MLOPSKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(_context, "_process_workspace", [None])
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for i, block in enumerate(_blocks(page)):
        try:
            exec(compile(block, f"{page.name}[block {i}]", "exec"), namespace)
        except Exception as exc:  # the message names the page and block
            raise AssertionError(f"docs/{page.name} block {i} failed: {exc!r}\n{block}") from exc
