"""The HTML report: self-contained, one SVG histogram per column, escaped text."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlopskit import drift


@pytest.fixture
def report() -> drift.DriftReport:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=800), "<b>c&</b>": rng.choice(list("ab"), 800)})
    cur = pd.DataFrame({"x": rng.normal(0.5, size=600), "<b>c&</b>": rng.choice(list("abz"), 600)})
    return drift.compare(ref, cur)


class TestHtml:
    def test_page_is_self_contained(self, report: drift.DriftReport, tmp_path: Path) -> None:
        """No scripts, no external URLs other than the SVG namespace, written to the path."""
        path = tmp_path / "report.html"
        page = report.to_html(path)
        assert path.read_text(encoding="utf-8") == page
        assert page.startswith("<!DOCTYPE html>")
        assert "<script" not in page.lower()
        urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
        assert urls == {"http://www.w3.org/2000/svg"}

    def test_one_histogram_per_column_with_both_samples(self, report: drift.DriftReport) -> None:
        """Each column gets an inline SVG with reference and current bars."""
        page = report.to_html()
        assert page.count("<svg") == 2
        assert page.count("reference ") > 0
        assert page.count("current ") > 0
        assert "<rect" in page

    def test_text_is_escaped(self, report: drift.DriftReport) -> None:
        """Column names cannot inject markup."""
        page = report.to_html()
        assert "<b>c&</b>" not in page
        assert "&lt;b&gt;c&amp;&lt;/b&gt;" in page

    def test_notebook_repr_is_a_fragment(self, report: drift.DriftReport) -> None:
        """_repr_html_ is a <div> fragment with the same summary."""
        frag = report._repr_html_()
        assert frag.startswith('<div class="mk-drift">')
        assert "1 of 2 columns drifted" in frag or "2 of 2 columns drifted" in frag

    def test_rows_without_statistics_render(self) -> None:
        """An all-missing column shows a dash and its note instead of failing."""
        rep = drift.compare({"x": [1.0, 2.0]}, {"x": [np.nan, np.nan]})
        page = rep.to_html()
        assert "—" in page
        assert "no usable value" in page
