"""The UI in headless Chromium: every page loads without console errors, filtering and
sorting change the rows, charts draw every run, images show, stored markup stays text.

A screenshot of each page is saved under tmp_path (and copied to $MLOPSKIT_SCREENSHOTS).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ui_harness import PageWatch, UIProcess
from ui_sample import EVIL

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

TIMEOUT = 20_000


def open_page(page: PageWatch, server: UIProcess, path: str) -> Any:
    page.page.goto(server.url + path)
    page.page.wait_for_selector("body[data-ready]", timeout=TIMEOUT)
    return page.page


def run_names(p: Any) -> list[str]:
    return p.eval_on_selector_all(
        "#runs-table tbody tr td:nth-child(2)", "els => els.map(e => e.textContent)"
    )


def assert_clean(page: PageWatch, p: Any) -> None:
    assert page.errors == []
    assert p.evaluate("window.__pwned") is None


class TestPages:
    @pytest.mark.parametrize(
        ("name", "path", "selector"),
        [
            ("runs", "/", "#runs-table tbody tr"),
            ("run", "/runs/{evil}", "#artifacts img"),
            ("compare", "/compare?runs={all}&key=loss", ".chart-box[data-loaded] canvas"),
            ("models", "/models", "#models-table"),
            ("model", "/models/clf", "#history-table"),
            ("datasets", "/datasets", "#datasets-table"),
            ("dataset", "/datasets/iris", "#diff-table"),
            ("drift", "/drift?reference=iris/1&current=iris/2", "#drift-table"),
        ],
    )
    def test_page_loads_without_errors(
        self,
        page: PageWatch,
        ui_server: UIProcess,
        sample_workspace: dict[str, Any],
        shoot: Any,
        name: str,
        path: str,
        selector: str,
    ) -> None:
        """Each page renders its main content with no console error and no injected script."""
        runs = sample_workspace["runs"]
        p = open_page(page, ui_server, path.format(evil=runs["evil"], all=",".join(runs.values())))
        p.wait_for_selector(selector, timeout=TIMEOUT)
        p.wait_for_load_state("networkidle")
        shoot(p, f"ui-{name}")
        assert_clean(page, p)
        assert p.locator(".error").count() == 0


class TestRunsTable:
    def test_filter_changes_the_rows(self, page: PageWatch, ui_server: UIProcess) -> None:
        """Typing a filter and pressing Enter shows only the matching runs."""
        p = open_page(page, ui_server, "/")
        assert len(run_names(p)) == 5
        p.fill("#filter", "metrics.acc > 0.8")
        p.press("#filter", "Enter")
        p.wait_for_function("() => document.querySelectorAll('#runs-table tbody tr').length === 2")
        assert sorted(run_names(p)) == ["lr-0.003", "lr-0.01"]
        p.wait_for_selector('#page-info[data-total="2"]')
        assert p.text_content("#page-info") == "rows 1–2 of 2"
        assert "filter=metrics.acc" in p.url  # the state is in the URL: shareable, reloadable
        assert_clean(page, p)

    def test_view_switch_shows_deleted_runs_as_text(
        self, page: PageWatch, ui_server: UIProcess, shoot: Any
    ) -> None:
        """The runs page hides deleted runs and counts only the others; choosing "deleted
        runs" shows them with their lifecycle, the markup in a name as text."""
        p = open_page(page, ui_server, "/")
        p.wait_for_selector('#page-info[data-total="5"]')
        assert len(run_names(p)) == 5
        assert p.locator('th[data-col="lifecycle"]').count() == 0
        p.select_option("#view", "deleted")
        p.wait_for_function("() => document.querySelectorAll('#runs-table tbody tr').length === 1")
        p.wait_for_selector('#page-info[data-total="1"]')
        assert run_names(p) == ["gone-" + EVIL]
        assert p.text_content("#runs-table tbody tr td:nth-child(4)") == "deleted"
        assert "view=deleted" in p.url
        shoot(p, "ui-runs-deleted")
        p.select_option("#view", "all")
        p.wait_for_selector('#page-info[data-total="6"]')
        assert len(run_names(p)) == 6
        assert_clean(page, p)

    def test_deleted_run_page_says_who_deleted_it(
        self, page: PageWatch, ui_server: UIProcess, sample_workspace: dict[str, Any]
    ) -> None:
        """A deleted run's page says it was deleted, by whom and why, the reason as text."""
        p = open_page(page, ui_server, f"/runs/{sample_workspace['deleted']}")
        p.wait_for_selector("#run-info")
        info = p.text_content("#run-info") or ""
        assert "deleted" in info and EVIL in info
        assert_clean(page, p)

    def test_first_rows_request_is_the_preloaded_one(
        self, page: PageWatch, ui_server: UIProcess
    ) -> None:
        """The runs page's first request starts with the HTML (Link preload) and is used once."""
        p = page.page
        urls: list[str] = []
        p.on("request", lambda r: urls.append(r.url) if "/api/runs?" in r.url else None)
        open_page(page, ui_server, "/")
        p.wait_for_load_state("networkidle")
        assert urls == [ui_server.url + "/api/runs?offset=0&limit=50"]
        initiators = p.evaluate(
            "() => performance.getEntriesByType('resource')"
            ".filter(e => e.name.includes('/api/runs?')).map(e => e.initiatorType)"
        )
        assert initiators == ["link"]
        assert_clean(page, p)

    def test_bad_filter_shows_the_error(self, page: PageWatch, ui_server: UIProcess) -> None:
        """A filter that does not parse shows the library's message, not a broken page."""
        p = open_page(page, ui_server, "/")
        p.fill("#filter", "metrics.acc >> 1")
        p.click("#apply")
        p.wait_for_selector("#errors .error")
        assert "position" in p.text_content("#errors")
        assert p.evaluate("window.__pwned") is None

    def test_sorting_by_a_column_header(self, page: PageWatch, ui_server: UIProcess) -> None:
        """Clicking a metric header sorts descending, clicking again ascending."""
        p = open_page(page, ui_server, "/")
        p.click('th[data-col="metrics.acc"]')
        p.wait_for_function(
            "() => document.querySelector('th[data-col=\"metrics.acc\"]').textContent.includes('▼')"
        )
        down = run_names(p)
        p.click('th[data-col="metrics.acc"]')
        p.wait_for_function(
            "() => document.querySelector('th[data-col=\"metrics.acc\"]').textContent.includes('▲')"
        )
        up = run_names(p)
        assert down[0] == "lr-0.003" and up == down[::-1]
        assert_clean(page, p)

    def test_sorting_by_a_column_whose_name_needs_quoting(
        self, page: PageWatch, ui_server: UIProcess
    ) -> None:
        """A param named with a space sorts too (the order_by back-quotes it)."""
        p = open_page(page, ui_server, "/?columns=name,params.batch%20size")
        p.click('th[data-col="params.batch size"]')
        p.wait_for_function(
            "() => document.querySelector('th[data-col=\"params.batch size\"]')"
            ".textContent.includes('▲')"
        )
        assert "params.%60batch+size%60" in p.url or "params.%60batch%20size%60" in p.url
        assert run_names(p)[0] == EVIL  # the only run that has it comes first
        assert p.locator("#errors .error").count() == 0
        assert_clean(page, p)

    def test_paging_and_column_choice(self, page: PageWatch, ui_server: UIProcess) -> None:
        """Small pages walk all runs; unticking a column removes it from the table."""
        p = open_page(page, ui_server, "/?limit=2")
        assert len(run_names(p)) == 2
        p.click("#next")
        p.wait_for_function(
            "() => document.querySelector('#page-info').textContent.startsWith('rows 3')"
        )
        p.click("#next")
        p.wait_for_function(
            "() => document.querySelector('#page-info').textContent.startsWith('rows 5')"
        )
        assert p.is_disabled("#next")
        p.click("#columns summary")
        p.uncheck('#columns input[value="status"]')
        p.wait_for_function("() => !document.querySelector('th[data-col=\"status\"]')")
        p.select_option("#page-size", "25")
        p.wait_for_function("() => document.querySelectorAll('#runs-table tbody tr').length === 5")
        assert p.is_disabled("#next") and p.is_disabled("#prev")
        assert_clean(page, p)

    def test_stored_markup_is_shown_as_text(
        self, page: PageWatch, ui_server: UIProcess, sample_workspace: dict[str, Any]
    ) -> None:
        """A run named with HTML shows that HTML as its name and runs none of it."""
        p = open_page(page, ui_server, f"/runs/{sample_workspace['runs']['evil']}")
        assert p.text_content("h1") == EVIL
        assert p.locator("img[src=x]").count() == 0
        assert_clean(page, p)


class TestCharts:
    def test_chart_draws_every_run(
        self, page: PageWatch, ui_server: UIProcess, sample_workspace: dict[str, Any]
    ) -> None:
        """Overlaying runs gives one series per run, each with its points."""
        ids = [v for k, v in sample_workspace["runs"].items() if k != "evil"]
        p = open_page(page, ui_server, "/compare?runs=" + ",".join(ids) + "&key=loss")
        p.wait_for_selector(".chart-box[data-loaded]")
        counts = p.evaluate(
            """() => { const u = document.querySelector('.chart')._mkplot;
                return u.data.slice(1).map(s => s.filter(v => v != null).length); }"""
        )
        assert counts == [60, 60, 60, 60]
        labels = p.eval_on_selector_all(
            ".u-legend .u-series .u-label", "e => e.map(x => x.textContent)"
        )
        assert {"lr-0.1", "lr-0.03", "lr-0.01", "lr-0.003"} <= set(labels)
        assert_clean(page, p)

    def test_selected_runs_open_in_one_chart(self, page: PageWatch, ui_server: UIProcess) -> None:
        """Ticking runs in the table and pressing Compare charts exactly those runs."""
        p = open_page(page, ui_server, "/?order_by=params.lr%20ASC")
        boxes = p.locator("#runs-table tbody tr .select-run")
        boxes.nth(0).check()
        boxes.nth(1).check()
        p.click("#compare")
        p.wait_for_selector(".chart-box[data-loaded]")
        assert p.text_content("h1") == "Compare 2 runs"
        p.select_option("#metric", "loss")
        p.wait_for_selector(".chart-box[data-loaded]")
        assert p.evaluate("() => document.querySelector('.chart')._mkplot.series.length") == 3
        assert_clean(page, p)

    def test_hover_shows_values_in_the_legend(
        self, page: PageWatch, ui_server: UIProcess, sample_workspace: dict[str, Any]
    ) -> None:
        """Moving the mouse over a chart shows the step and each run's value under it."""
        ids = [sample_workspace["runs"][k] for k in ("lr-0.1", "lr-0.01")]
        p = open_page(page, ui_server, "/compare?runs=" + ",".join(ids) + "&key=loss")
        p.wait_for_selector(".chart-box[data-loaded]")
        box = p.locator(".chart .u-over").bounding_box()
        assert box is not None
        p.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
        values = p.eval_on_selector_all(".u-legend .u-value", "e => e.map(x => x.textContent)")
        assert len(values) == 3 and all(v not in ("", "—", "--") for v in values), values
        assert_clean(page, p)

    def test_zoom_fetches_the_visible_range_exactly(
        self, page: PageWatch, ui_server: UIProcess, sample_workspace: dict[str, Any]
    ) -> None:
        """Dragging over a long series asks the server for that range and shows it exactly."""
        rid = sample_workspace["runs"]["evil"]
        p = open_page(page, ui_server, f"/compare?runs={rid}&key=loss")
        p.wait_for_selector(".chart-box[data-loaded]")
        assert p.get_attribute(".chart-box", "data-exact") == "0"  # 5,000 points > 2,000
        box = p.locator(".chart .u-over").bounding_box()
        assert box is not None
        y = box["y"] + box["height"] / 2
        with p.expect_response(lambda r: "/api/metrics" in r.url and "start=" in r.url):
            p.mouse.move(box["x"] + box["width"] * 0.40, y)
            p.mouse.down()
            p.mouse.move(box["x"] + box["width"] * 0.45, y, steps=5)
            p.mouse.up()
        p.wait_for_function("() => document.querySelector('.chart-box').dataset.exact === '1'")
        assert "(exact)" in p.text_content(".chart-box .note:last-child")
        assert_clean(page, p)

    def test_x_axis_and_smoothing_controls(
        self, page: PageWatch, ui_server: UIProcess, sample_workspace: dict[str, Any]
    ) -> None:
        """Switching to time re-draws with a time scale; smoothing changes the drawn values."""
        rid = sample_workspace["runs"]["lr-0.1"]
        p = open_page(page, ui_server, f"/compare?runs={rid}&key=loss")
        p.wait_for_selector(".chart-box[data-loaded]")
        before = p.evaluate("document.querySelector('.chart')._mkplot.data[1].slice(0, 5)")
        p.fill(".smoothing", "0.9")
        after = p.evaluate("document.querySelector('.chart')._mkplot.data[1].slice(0, 5)")
        assert after != before
        with p.expect_response(lambda r: "x=time" in r.url):
            p.select_option(".x-axis", "time")
        p.wait_for_function("() => document.querySelector('.chart')._mkplot.scales.x.time === true")
        assert_clean(page, p)


class TestLiveRun:
    def test_chart_of_a_running_run_refreshes(
        self, page: PageWatch, tmp_path: Path, shoot: Any
    ) -> None:
        """While another process is still logging, the run page's chart grows by itself."""
        writer_code = (
            "import sys, time, mlopskit as mk\n"
            "ws = mk.Workspace(sys.argv[1])\n"
            "with ws, ws.tracker.start_run('live', name='live-run', capture_env=False) as run:\n"
            "    print(run.run_id, flush=True)\n"
            "    for step in range(600):\n"
            "        run.log_metric('loss', 1 / (step + 1), step=step)\n"
            "        run.flush()\n"
            "        time.sleep(0.05)\n"
        )
        root = tmp_path / "live"
        root.mkdir()
        writer = subprocess.Popen(
            [sys.executable, "-c", writer_code, str(root)], stdout=subprocess.PIPE, text=True
        )
        server = None
        try:
            assert writer.stdout is not None
            run_id = writer.stdout.readline().strip()
            server = UIProcess(str(root))
            p = open_page(page, server, f"/runs/{run_id}")
            p.wait_for_selector(".chart-box[data-loaded]")
            first = int(p.get_attribute(".chart", "data-points") or 0)
            assert "live" in p.text_content(".chart-box .note:last-child")
            p.wait_for_function(
                f"() => +document.querySelector('.chart').dataset.points > {first}",
                timeout=TIMEOUT,
            )
            shoot(p, "ui-live-run")
            assert_clean(page, p)
        finally:
            if server is not None:
                server.stop()
            if writer.poll() is None:
                os.kill(writer.pid, signal.SIGTERM)
            writer.wait(timeout=30)
            if writer.stdout is not None:
                writer.stdout.close()


class TestArtifacts:
    def test_image_artifact_is_visible(
        self, page: PageWatch, ui_server: UIProcess, sample_workspace: dict[str, Any]
    ) -> None:
        """The PNG artifact is decoded and displayed on the run page."""
        p = open_page(page, ui_server, f"/runs/{sample_workspace['runs']['evil']}")
        img = p.locator('#artifacts img[alt="plots/sample.png"]')
        img.scroll_into_view_if_needed()
        p.wait_for_function(
            "() => document.querySelector('#artifacts img').complete && "
            "document.querySelector('#artifacts img').naturalWidth > 0"
        )
        assert img.is_visible()
        assert p.evaluate("document.querySelector('#artifacts img').naturalWidth") == 96
        rows = p.locator('[data-artifact="predictions.csv"] table tbody tr')
        rows.first.wait_for()
        assert rows.count() == 3
        files = p.locator('[data-artifact="model_dir"] table tbody tr a')
        files.first.wait_for()
        assert files.all_text_contents() == ["config.yaml", "weights/w.bin"]
        assert_clean(page, p)


class TestStaticDriftReport:
    def test_drift_html_renders_in_the_browser(
        self, page: PageWatch, tmp_path: Path, shoot: Any
    ) -> None:
        """DriftReport.to_html opened from disk draws a chart per column, offline, no errors."""
        import numpy as np
        import pandas as pd

        from mlopskit import drift

        rng = np.random.default_rng(1)
        ref = pd.DataFrame(
            {"amount": rng.lognormal(3, 1, 2000), EVIL: rng.choice(list("abc"), 2000)}
        )
        cur = pd.DataFrame(
            {"amount": rng.lognormal(3.3, 1, 1500), EVIL: rng.choice(list("abcd"), 1500)}
        )
        path = tmp_path / "drift.html"
        drift.compare(ref, cur).to_html(path)
        p = page.page
        p.route("http*://**", lambda route: route.abort())  # offline: any fetch would fail
        p.goto(path.as_uri())
        p.wait_for_function(
            "() => document.querySelectorAll('.mk-drift .chart canvas').length === 2"
        )
        shoot(p, "drift-report")
        every = p.eval_on_selector_all(
            ".mk-drift .chart", "e => e.map(x => [+x.dataset.bins, +x.dataset.labelEvery])"
        )
        for bins, step in every:
            assert bins >= 1 and step >= 1 and bins / step <= 20  # labels thinned, never crowded
        assert_clean(page, p)

    def test_render_charts_draws_line_charts_in_a_static_page(
        self, page: PageWatch, tmp_path: Path
    ) -> None:
        """The shared static chart code also draws line charts (for other HTML reports)."""
        from mlopskit._charts import render_charts

        charts = [
            {
                "id": "c1",
                "type": "line",
                "xLabel": "step",
                "series": [
                    {"label": EVIL, "x": [0, 1, 2], "y": [3.0, 2.0, 1.0]},
                    {"label": "b", "x": [1, 2, 3], "y": [1.0, None, 2.0]},
                ],
            }
        ]
        path = tmp_path / "lines.html"
        path.write_text(
            '<!DOCTYPE html><html><body><div id="c1"></div>'
            + render_charts(charts, element_id="data")
            + "</body></html>",
            encoding="utf-8",
        )
        p = page.page
        p.goto(path.as_uri())
        p.wait_for_selector("#c1 canvas")
        data = p.evaluate("() => document.getElementById('c1')._mkplot.data")
        assert data == [[0, 1, 2, 3], [3, 2, 1, None], [None, 1, None, 2]]
        assert_clean(page, p)
