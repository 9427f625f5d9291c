"""The HTML report: self-contained, one histogram chart per column, escaped text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlopskit import _charts, drift

EVIL = "</script><script>window.__pwned=1</script><b>c&</b>"


@pytest.fixture
def report() -> drift.DriftReport:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=800), EVIL: rng.choice(list("ab"), 800)})
    cur = pd.DataFrame({"x": rng.normal(0.5, size=600), EVIL: rng.choice(["a", "b", EVIL], 600)})
    return drift.compare(ref, cur)


def _chart_data(page: str) -> list[dict[str, object]]:
    found = re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', page, re.S)
    assert len(found) == 1
    data: list[dict[str, object]] = json.loads(found[0])
    return data


class TestHtml:
    def test_page_is_self_contained(self, report: drift.DriftReport, tmp_path: Path) -> None:
        """Nothing is fetched: no src= or href= to a URL, no @import, uPlot inlined."""
        path = tmp_path / "report.html"
        page = report.to_html(path)
        assert path.read_text(encoding="utf-8") == page
        assert page.startswith("<!DOCTYPE html>")
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.I)
        assert "@import" not in page
        assert "uPlot" in page and "MKCharts" in page
        assert "<script src" not in page.lower()

    def test_one_histogram_per_column_with_both_samples(self, report: drift.DriftReport) -> None:
        """Each column gets a chart box and chart data with reference and current shares."""
        page = report.to_html()
        charts = _chart_data(page)
        assert len(charts) == 2
        for chart in charts:
            assert f'id="{chart["id"]}"' in page
            labels = [s["label"] for s in chart["series"]]  # type: ignore[index]
            assert labels == ["reference", "current"]
            shares = chart["series"][0]["values"]  # type: ignore[index]
            assert sum(shares) == pytest.approx(1.0)
            assert len(chart["labels"]) == len(shares)  # type: ignore[arg-type]

    def test_text_is_escaped(self, report: drift.DriftReport) -> None:
        """Column names and bin labels cannot inject markup or end a script early."""
        page = report.to_html()
        assert EVIL not in page
        assert "window.__pwned=1</script>" not in page
        assert "&lt;/script&gt;&lt;script&gt;window.__pwned=1" in page  # headings, tables
        charts = _chart_data(page)  # and the chart data reads back exactly
        assert any(EVIL in chart["labels"] for chart in charts)  # type: ignore[operator]

    def test_bin_shares_are_readable_without_script(self, report: drift.DriftReport) -> None:
        """Each histogram's shares are also a plain table, for readers without JavaScript."""
        page = report.to_html()
        assert page.count('<details class="bins">') == 2
        assert re.search(r'<td class="num">\d+\.\d\d%</td>', page)

    def test_notebook_repr_is_a_fragment(self, report: drift.DriftReport) -> None:
        """_repr_html_ is a <div> fragment with the same summary and ids unique per call."""
        frag = report._repr_html_()
        assert frag.startswith('<div class="mk-drift">')
        assert "1 of 2 columns drifted" in frag or "2 of 2 columns drifted" in frag
        ids = {c["id"] for c in _chart_data(frag)}
        assert ids.isdisjoint(c["id"] for c in _chart_data(report._repr_html_()))

    def test_standalone_page_is_deterministic(self, report: drift.DriftReport) -> None:
        """The same report writes the same file twice (diffable, cacheable)."""
        assert report.to_html() == report.to_html()

    def test_rows_without_statistics_render(self) -> None:
        """An all-missing column shows a dash and its note instead of failing."""
        rep = drift.compare({"x": [1.0, 2.0]}, {"x": [np.nan, np.nan]})
        page = rep.to_html()
        assert "—" in page
        assert "no usable value" in page


class TestScriptJson:
    @pytest.mark.parametrize("text", ["</script>", "<!--", "]]>", "\u2028", "&amp;", "<b>"])
    def test_no_string_can_leave_the_element(self, text: str) -> None:
        """Any string round-trips through script_json, and '<', '>', '&' never appear raw."""
        element = _charts.script_json({"k": [text]}, element_id="x")
        body = element[len('<script type="application/json" id="x">') : -len("</script>")]
        assert "<" not in body and ">" not in body and "&" not in body
        assert json.loads(body) == {"k": [text]}

    @given(
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(),
            lambda inner: (
                st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
            ),
            max_leaves=20,
        )
    )
    def test_any_json_round_trips_inside_html(self, data: object) -> None:
        """Whatever JSON data is embedded, the element holds no raw '<', '>' or '&' and
        parses back to the same data."""
        element = _charts.script_json(data, element_id="d")
        body = element[len('<script type="application/json" id="d">') : -len("</script>")]
        assert not set(body) & {"<", ">", "&"}
        assert json.loads(body) == data

    def test_element_id_is_sanitised(self) -> None:
        """An id cannot break out of its attribute."""
        element = _charts.script_json([], element_id='a" onload="x')
        assert element.startswith('<script type="application/json" id="aonloadx">')
