"""runs_report: one self-contained page with the run table, uPlot metric charts, the runs'
figures, images and tables — every stored field escaped, no run dropped silently."""

from __future__ import annotations

import html
import json
import re
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlopskit as mk
from mlopskit.tracking import RunRecord, RunsReport

EVIL = "<script>console.error('pwned')</script>'\""


def _png(width: int = 4, height: int = 3) -> bytes:
    """A real PNG (a red rectangle), built by hand: no imaging library needed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


class _Figure:
    """What log_figure needs of a matplotlib figure: savefig writing PNG bytes."""

    def savefig(self, buf: Any, format: str = "png", **_: Any) -> None:
        buf.write(_png())


class _Tags(HTMLParser):
    """Every tag and its attributes, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def _chart_data(page: str) -> list[dict[str, Any]]:
    match = re.search(r'<script type="application/json" id="mk-report-charts">(.*?)</script>', page)
    assert match is not None
    data: list[dict[str, Any]] = json.loads(match.group(1))
    return data


def _sweep(tmp_path: Path) -> list[Any]:
    """Three runs: two share a name; metrics, a figure, an image file, an SVG and a table."""
    runs = []
    for i, lr in enumerate((0.1, 0.2, 0.3)):
        with mk.start_run("rep", name="twin" if i < 2 else "solo", params={"lr": lr}) as run:
            for step in range(50):
                mk.log_metric("loss", lr / (step + 1))
            mk.log_metric("final", 1.0)
            runs.append(run)
    with mk.start_run("rep", run_id=runs[0].run_id):
        mk.log_figure(_Figure(), "curve.png")
        svg = tmp_path / "diagram.svg"
        svg.write_text("<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>")
        mk.log_artifact(svg)
        mk.log_table("errors", pd.DataFrame({"id": range(30), "label": ["cat"] * 30}))
    return runs


class TestRunsReport:
    def test_html_is_self_contained_with_uplot_charts(self, workspace: str, tmp_path: Path) -> None:
        """The page inlines uPlot and its chart data, and loads nothing from the network."""
        _sweep(tmp_path)
        out = tmp_path / "report.html"
        page = mk.runs_report("rep").to_html(out)
        assert out.read_text() == page
        assert "uPlot" in page and "MKCharts" in page
        charts = _chart_data(page)
        assert [len(c["series"]) for c in charts] == [3, 3]  # final, loss: every run each
        assert {tuple(c["series"][0]["x"][:2]) for c in charts} <= {(0,), (0, 1)}
        assert not re.search(r"(src|href)=['\"]https?:", page)
        assert "params.lr" in page

    def test_lines_are_named_by_run_and_twins_by_short_id(
        self, workspace: str, tmp_path: Path
    ) -> None:
        """A line carries its run's name; two runs with one name get name + short id."""
        runs = _sweep(tmp_path)
        labels = {s["label"] for s in _chart_data(mk.runs_report("rep").to_html())[0]["series"]}
        assert labels == {
            f"twin ({runs[0].run_id[:8]})",
            f"twin ({runs[1].run_id[:8]})",
            "solo",
        }

    def test_figures_images_and_tables_are_shown(self, workspace: str, tmp_path: Path) -> None:
        """A logged figure and image are embedded as data: URIs; a logged table shows its
        first rows and its shape."""
        _sweep(tmp_path)
        page = mk.runs_report("rep").to_html()
        imgs = [a["src"] or "" for t, a in _tags(page) if t == "img"]
        assert sorted(s.split(";")[0] for s in imgs) == ["data:image/png", "data:image/svg+xml"]
        assert "30 rows × 2 columns; first 10 rows" in page
        assert page.count("<td>cat</td>") == 10

    def test_an_image_too_large_is_listed_not_embedded(
        self, workspace: str, tmp_path: Path
    ) -> None:
        """An image over the size bound is named with its size, not embedded."""
        from mlopskit.tracking._report import MAX_IMAGE_BYTES

        big = tmp_path / "big.png"
        big.write_bytes(_png() + b"\x00" * (MAX_IMAGE_BYTES + 1))
        with mk.start_run("big"):
            mk.log_artifact(big)
        page = mk.runs_report("big").to_html()
        assert "<img" not in page
        assert "too large to embed" in page

    def test_bytes_that_are_not_the_named_image_type_are_not_embedded(
        self, workspace: str, tmp_path: Path
    ) -> None:
        """A '.png' holding HTML is not put in an <img> as a PNG."""
        fake = tmp_path / "x.png"
        fake.write_bytes(b"<html><script>alert(1)</script></html>")
        with mk.start_run("fake"):
            mk.log_artifact(fake)
        page = mk.runs_report("fake").to_html()
        assert "<img" not in page
        assert "not a image/png image" in page

    def test_runs_beyond_max_runs_are_announced(self, workspace: str) -> None:
        """With more runs than max_runs the page says how many it shows of how many and
        how to see all; max_runs=None shows every run."""
        for _ in range(4):
            with mk.start_run("many"):
                mk.log_metric("m", 1.0)
        report = mk.runs_report("many", max_runs=3)
        assert len(report.runs) == 3 and report.total == 4
        assert "Showing 3 of 4 runs" in report.to_html()
        assert "max_runs=None" in report.to_html()
        everything = mk.runs_report("many", max_runs=None)
        assert len(everything.runs) == 4
        assert "Showing" not in everything.to_html()
        assert len(mk.runs_report("many", limit=2).runs) == 2  # the former name

    def test_wide_params_are_cut_with_the_full_value_on_hover(self, workspace: str) -> None:
        """A long param shows its start and carries the whole value in a title attribute."""
        wide = "x" * 300
        with mk.start_run("wide", params={"layers": wide}):
            pass
        page = mk.runs_report("wide").to_html()
        titles = [a.get("title") for _, a in _tags(page) if a.get("title")]
        assert wide in titles
        assert wide not in re.sub(r"title='[^']*'", "", page)

    def test_bad_max_runs_is_refused(self, workspace: str) -> None:
        """max_runs must be a non-negative integer or None."""
        with pytest.raises(mk.errors.InvalidInputError, match="max_runs"):
            mk.runs_report("x", max_runs=-1)

    def test_notebook_repr_and_empty(self, workspace: str) -> None:
        """The report renders in a notebook, also with no runs."""
        with mk.start_run(experiment="other"):
            pass
        assert "<table>" in mk.runs_report(filter="name = 'none'")._repr_html_()

    def test_two_reports_in_one_notebook_use_distinct_element_ids(self, workspace: str) -> None:
        """Two reports shown on one notebook page never draw into each other's charts."""
        with mk.start_run("nb"):
            mk.log_metric("m", 1.0)
        report = mk.runs_report("nb")
        ids = [re.findall(r"id='([^']+-chart-0)'", report._repr_html_()) for _ in range(2)]
        assert len(ids[0]) == len(ids[1]) == 1 and ids[0] != ids[1]


class TestReportEscaping:
    def test_every_field_is_escaped(self) -> None:
        """Markup in any stored field (status and run id included) is shown as text, never run."""
        rec = RunRecord(
            run_id=EVIL,
            experiment="exp",
            name=EVIL,
            status=EVIL,
            start_time=1.0,
            end_time=2.0,
            params={EVIL: EVIL * 5},
            metrics={EVIL: 1.0},
            tags={EVIL: EVIL},
        )
        page = RunsReport(
            title=EVIL, runs=[rec], histories={EVIL: {EVIL: [(0, 1.0), (1, 2.0)]}}
        ).to_html()
        assert "console.error('pwned')</script>" not in page
        assert "&lt;script&gt;" in page
        assert "class=''" in page  # an unknown status is never used as a class name
        scripts = [a for t, a in _tags(page) if t == "script"]
        assert len(scripts) == 3  # uPlot + mkcharts, the chart data, the drawing call

    def test_a_planted_script_in_a_stored_run_stays_text(
        self, workspace: str, tmp_path: Path
    ) -> None:
        """A run whose name, param and table cell hold <script> renders them as text."""
        with mk.start_run("evil", name="n<script>x</script>", params={"p": EVIL}):
            mk.log_table("t", pd.DataFrame({"c": [EVIL]}))
            mk.log_metric("m", 1.0)
        page = mk.runs_report("evil").to_html()
        assert len([t for t, _ in _tags(page) if t == "script"]) == 3
        assert "<script>x</script>" not in page
        assert page.count("&lt;script&gt;console.error(&#x27;pwned&#x27;)") >= 2


_text = st.lists(
    st.sampled_from([*"<>&'\"/=ab ", "<script>", "</script>", "<img src=x>", "]]>", "-->"]),
    max_size=12,
).map("".join)


@settings(max_examples=60, deadline=None)
@given(name=_text, param=_text, cell=_text, metric=_text)
def test_no_stored_text_becomes_markup(name: str, param: str, cell: str, metric: str) -> None:
    """Whatever a run's name, param, metric name or table cell holds, the page parses to
    the same tags: the three chart scripts, no <img>, and the text as text."""
    from mlopskit.tracking._report import ReportTable

    rec = RunRecord(
        run_id="r" * 32,
        experiment="exp",
        name=name,
        status="FINISHED",
        start_time=1.0,
        end_time=2.0,
        params={"p": param},
        metrics={"m": 1.0},
    )
    page = RunsReport(
        title=name,
        runs=[rec],
        histories={metric: {rec.run_id: [(0, 1.0)]}},
        tables=[ReportTable(run_id=rec.run_id, name=cell, head=pd.DataFrame({cell: [cell]}))],
    ).to_html()
    tags = [t for t, _ in _tags(page)]
    assert tags.count("script") == 3
    assert "img" not in tags
    assert html.escape(name[:20], quote=True) in page


def _chromium() -> str | None:
    import os
    import shutil

    for candidate in (os.environ.get("MLOPSKIT_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and os.path.exists(candidate):
            return candidate
    return shutil.which("chromium")


class TestInABrowser:
    def test_chromium_draws_every_chart_without_console_errors(
        self, workspace: str, tmp_path: Path
    ) -> None:
        """Headless Chromium opens the file: no console error, one uPlot canvas per metric,
        the images decoded, a planted script never runs; a screenshot is kept."""
        exe = _chromium()
        if exe is None:
            pytest.skip("no chromium binary (apt-get install chromium, or set MLOPSKIT_CHROMIUM)")
        sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
        _sweep(tmp_path)
        with mk.start_run("rep", name=EVIL, params={"p": EVIL}):
            mk.log_metric("loss", 0.5)
            mk.log_table("t", pd.DataFrame({"c": [EVIL]}))
        out = tmp_path / "report.html"
        mk.runs_report("rep").to_html(out)
        errors: list[str] = []
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=exe, args=["--no-sandbox", "--disable-gpu"], headless=True
            )
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1600})
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
                page.goto(out.as_uri())
                page.wait_for_selector("#mk-report-chart-1 canvas")
                canvases = page.locator(".chart canvas").count()
                decoded = page.evaluate(
                    "Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
                )
                legend = page.locator("#mk-report-chart-1 .u-legend").inner_text()
                page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            finally:
                browser.close()
        assert errors == []
        assert canvases >= 2
        assert decoded == [True, True]
        assert "solo" in legend and "twin (" in legend
        assert (tmp_path / "report.png").stat().st_size > 10_000
