"""runs_report: a self-contained page with the run table and metric curves."""

from __future__ import annotations

import re
from pathlib import Path

import mlopskit as mk


class TestRunsReport:
    def test_html_is_self_contained(self, workspace: str, tmp_path: Path) -> None:
        """The page inlines its SVG charts and loads nothing from the network."""
        for lr in (0.1, 0.2):
            with mk.start_run("rep", params={"lr": lr}):
                for step in range(600):
                    mk.log_metric("loss", lr / (step + 1))
                mk.log_metric("final", 1.0)
        out = tmp_path / "report.html"
        page = mk.runs_report("rep").to_html(out)
        assert out.read_text() == page
        assert page.count("<svg") == 2
        assert "<polyline" in page
        assert "<circle" in page  # a one-point series
        assert "<script" not in page
        assert not re.search(r"(src|href)=['\"]https?:", page)
        assert "params.lr" in page

    def test_notebook_repr_and_empty(self, workspace: str) -> None:
        """The report renders in a notebook, also with no runs."""
        assert "<table>" in mk.runs_report("nothing-here")._repr_html_()
