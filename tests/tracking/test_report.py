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
        with mk.start_run(experiment="other"):
            pass
        assert "<table>" in mk.runs_report(filter="name = 'none'")._repr_html_()


class TestReportEscaping:
    def test_every_field_is_escaped(self) -> None:
        """Markup in any stored field (status and run id included) is shown as text, never run."""
        from mlopskit.tracking import RunRecord, RunsReport

        evil = "<script>alert(1)</script>'\""
        rec = RunRecord(
            run_id=evil,
            experiment="exp",
            name=evil,
            status=evil,
            start_time=1.0,
            end_time=2.0,
            params={evil: evil},
            metrics={evil: 1.0},
            tags={evil: evil},
        )
        page = RunsReport(
            title=evil, runs=[rec], histories={evil: {evil: [(0, 1.0), (1, 2.0)]}}
        ).to_html()
        assert "<script" not in page
        assert "alert(1)</script>" not in page
        assert "&lt;script&gt;" in page
        assert "class=''" in page  # an unknown status is never used as a class name
