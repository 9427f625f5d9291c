"""Every ```python block of every page in docs/ runs, in order, in one namespace per page.

Conventions: a ```python block is executed (it may assert); code that must not run here —
another tool's side of a "coming from" page, shell lines — goes in a block tagged
otherwise (```py, ```bash, ```text), which the site highlights the same way.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tempfile
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
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the pages' mkdtemp() dirs
    monkeypatch.delenv("MLOPSKIT_HOME", raising=False)
    monkeypatch.setenv("MLOPSKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(_context, "_process_workspace", [None])
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for i, block in enumerate(_blocks(page)):
        try:
            exec(compile(block, f"{page.name}[block {i}]", "exec"), namespace)
        except Exception as exc:  # the message names the page and block
            raise AssertionError(f"docs/{page.name} block {i} failed: {exc!r}\n{block}") from exc


def _nav_files(nav: object) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [f for item in nav for f in _nav_files(item)]
    if isinstance(nav, dict):
        return [f for value in nav.values() for f in _nav_files(value)]
    return []


def test_every_page_is_in_the_site_nav() -> None:
    """mkdocs.yml's nav lists every docs page once and names no missing file."""
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((DOCS.parent / "mkdocs.yml").read_text(encoding="utf-8"))
    listed = _nav_files(config["nav"])
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(listed) == pages
    assert len(listed) == len(set(listed))


def test_coming_from_pages_show_both_sides() -> None:
    """Each "coming from" page pairs the other tool's code (not run) with ours (run)."""
    for tool in ("mlflow", "dvc", "wandb", "evidently"):
        text = (DOCS / f"coming-from-{tool}.md").read_text(encoding="utf-8")
        theirs = len(re.findall(r"^```(?:py|bash)\n", text, flags=re.M))
        ours = len(re.findall(r"^```python\n", text, flags=re.M))
        assert theirs >= 3 and ours >= theirs - 1, (tool, theirs, ours)


@pytest.mark.slow
def test_site_builds_strictly(tmp_path: Path) -> None:
    """`mkdocs build --strict` passes: no broken link, anchor or API reference (~25 s)."""
    for module in ("mkdocs", "material", "mkdocstrings_handlers.python"):
        if importlib.util.find_spec(module.split(".")[0]) is None:
            pytest.skip(f"{module} is not installed (pip install 'pymlopskit[docs]')")
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=DOCS.parent,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-5000:]
    api = (tmp_path / "api" / "store" / "index.html").read_text(encoding="utf-8")
    assert "ArtifactStore" in api and "put_dir" in api  # generated from the docstrings
    assert (tmp_path / "layout-store" / "index.html").exists()
