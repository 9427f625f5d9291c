"""The lineage HTML view: self-contained, escaped, and rendered by a real browser."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mlopskit as mk
from mlopskit import Lineage, LineageNode, LineageRecord
from mlopskit.tracking import start_run
from mlopskit.versioning import Endpoint, LineageEdge, record_edge

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class _Page(HTMLParser):
    """Collects the node list items and every tag of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.items: list[tuple[str, str]] = []
        self._li: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "li":
            self._li, self._text = dict(attrs).get("data-id") or "", []

    def handle_endtag(self, tag: str) -> None:
        if tag == "li" and self._li is not None:
            self.items.append((self._li, "".join(self._text)))
            self._li = None

    def handle_data(self, data: str) -> None:
        if self._li is not None:
            self._text.append(data)


def _graph(labels: list[str]) -> Lineage:
    nodes = [
        LineageNode(kind=kind, id=f"{kind}:{label}", digest=None, label=label)
        for kind, label in zip(itertools.cycle(["dataset", "run", "model"]), labels)
    ]
    records = [
        LineageRecord(source=a, target=b, relation="used", depth=1, direction="down")
        for a, b in itertools.pairwise(nodes)
    ]
    return Lineage(nodes[0], records)


@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=5, unique=True))
def test_html_labels_cannot_break_out(labels: list[str]) -> None:
    """Whatever a stored name holds (<script>, quotes, &), the page parses to one list item
    per node whose text is the name, and no tag the page did not write."""
    g = _graph(labels)
    page = _Page()
    page.feed(g.to_html())
    assert [text for _, text in page.items] == [f"{n.kind} {n.label}" for n in g._order()]
    assert [i for i, _ in page.items] == [n.id for n in g._order()]
    assert set(page.tags) <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "svg", "defs",
        "marker", "path", "line", "text", "g", "rect", "ul", "li", "table", "tr", "th", "td",
    }  # fmt: skip


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine")
def test_chromium_renders_every_node_without_console_errors(
    ws: mk.Workspace, tmp_path: Path
) -> None:
    """Headless Chromium loads the page with no console message and shows every node."""
    dv = mk.datasets.commit("events", pd.DataFrame({"x": [1.0]}))
    with start_run(experiment="e"):
        mk.datasets.load(dv.uri)
        mv = mk.registry.register("clf", {"w": 1})
    evil = Endpoint(kind="deployment", label='prod<script>console.error("x")</script>')
    record_edge(
        ws.store, LineageEdge(relation="deployed", inputs={"m": mv.__mlopskit_node__}, output=evil)
    )
    g = mk.lineage(dv, direction="down")
    assert evil.id in {n.id for n in g.nodes}
    page = tmp_path / "lineage.html"
    page.write_text(g.to_html(), encoding="utf-8")
    assert CHROMIUM is not None
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert ":CONSOLE" not in proc.stderr, proc.stderr
    dom = _Page()
    dom.feed(proc.stdout)
    assert {i for i, _ in dom.items} == {n.id for n in g.nodes}
    assert "script" not in dom.tags
