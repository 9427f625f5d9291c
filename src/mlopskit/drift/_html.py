"""HTML for a drift report: a summary table and, per column, a histogram chart.

The histograms are drawn by the same chart code as the web UI (``mlopskit._charts``:
the vendored uPlot and ``mkcharts.js``), inlined so the page stays self-contained: no
script, style, font or image is fetched. Stored text (column names, bin labels) is
escaped in markup and reaches the charts as JSON data (``script_json``), never as
markup. Each histogram also has its bin shares as a plain table (``<details>``), which
is what a reader without JavaScript sees.
"""

from __future__ import annotations

import math
import uuid
from html import escape
from typing import TYPE_CHECKING, Any

from mlopskit._charts import render_charts

if TYPE_CHECKING:
    from mlopskit.drift._report import ColumnDrift, DriftReport, Histogram

__all__ = ["histogram_chart", "render"]

_REF, _CUR = "#4c72b0", "#dd8452"
_CSS = """
.mk-drift{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#222;
max-width:1000px}
.mk-drift table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
.mk-drift th,.mk-drift td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}
.mk-drift td.num{text-align:right;font-variant-numeric:tabular-nums}
.mk-drift .yes{color:#b00020;font-weight:600}.mk-drift .no{color:#2e7d32}
.mk-drift .col{margin:18px 0;border-top:1px solid #eee;padding-top:8px}
.mk-drift .note{color:#666;font-size:12px}
.mk-drift .legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
.mk-drift .chart{min-height:220px;max-width:900px}
.mk-drift details.bins{font-size:12px;color:#444}
"""


def _num(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.4g}"


def _verdict(flag: bool | None) -> str:
    if flag is None:
        return '<span class="note">—</span>'
    return '<span class="yes">drift</span>' if flag else '<span class="no">ok</span>'


def _finite(values: list[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]


def histogram_chart(hist: Histogram, *, chart_id: str) -> dict[str, Any]:
    """The chart spec of one histogram for ``MKCharts.barChart`` (reference vs current)."""
    return {
        "id": chart_id,
        "type": "bar",
        "percent": True,
        "labels": [str(label) for label in hist.labels],
        "series": [
            {"label": "reference", "values": _finite(hist.reference), "color": _REF},
            {"label": "current", "values": _finite(hist.current), "color": _CUR},
        ],
    }


def _bin_table(hist: Histogram) -> str:
    rows = "".join(
        f'<tr><td>{escape(label)}</td><td class="num">{r:.2%}</td><td class="num">{c:.2%}</td></tr>'
        for label, r, c in zip(hist.labels, hist.reference, hist.current)
    )
    return (
        '<details class="bins"><summary>bin shares</summary><table>'
        f"<tr><th>bin</th><th>reference</th><th>current</th></tr>{rows}</table></details>"
    )


def _row(r: ColumnDrift) -> str:
    cells = [
        escape(r.column),
        escape(r.method),
        f'<td class="num">{_num(r.statistic)}</td>',
        f'<td class="num">{_num(r.p_value_adjusted if r.p_value_adjusted is not None else r.p_value)}</td>',
        f'<td class="num">{_num(r.threshold)}</td>',
        _verdict(r.value_drifted),
        f'<td class="num">{r.missing_share_reference:.2%} → {r.missing_share_current:.2%}</td>',
        _verdict(r.missing_drifted),
        _verdict(r.drifted),
    ]
    tds = "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in cells)
    return f"<tr>{tds}</tr>"


def _section(r: ColumnDrift, chart_id: str | None) -> str:
    head = (
        f"<h3>{escape(r.column)} <small>({escape(r.kind)}, {escape(r.method)})</small> "
        f"{_verdict(r.drifted)}</h3>"
    )
    extra = []
    if not r.exact:
        bound = "" if r.error_bound is None else f" (within ±{_num(r.error_bound)})"
        extra.append(f"computed from a bucketed profile{bound}")
    if r.note:
        extra.append(r.note)
    note = f'<p class="note">{escape("; ".join(extra))}</p>' if extra else ""
    chart = ""
    if r.histogram is not None and chart_id is not None:
        chart = f'<div class="chart" id="{chart_id}"></div>{_bin_table(r.histogram)}'
    return f'<div class="col">{head}{note}{chart}</div>'


def render(report: DriftReport, *, standalone: bool) -> str:
    """The report as HTML: a whole page, or a fragment for notebooks."""
    rule = {
        "share": f"share of drifted columns ≥ {report.drift_share:g}",
        "bonferroni": "any column drifts (p-values Bonferroni-adjusted)",
        "fdr_bh": "any column drifts (p-values Benjamini-Hochberg-adjusted)",
    }[report.rule]
    preset = f", preset {escape(report.preset)}" if report.preset else ""
    summary = (
        f"<h2>Drift report: {_verdict(report.drifted)}</h2>"
        f"<p>{report.n_drifted} of {report.n_columns} columns drifted "
        f"({report.share_drifted:.0%}); rule: {escape(rule)}{preset}. "
        f"Reference {report.reference_rows:,} rows, current {report.current_rows:,} rows.</p>"
        f'<p class="legend"><span style="background:{_REF}"></span>reference'
        f'<span style="background:{_CUR}"></span>current</p>'
    )
    header = "".join(
        f"<th>{h}</th>"
        for h in (
            "column",
            "method",
            "statistic",
            "p-value",
            "threshold",
            "values",
            "missing share",
            "missing",
            "verdict",
        )
    )
    table = f"<table><tr>{header}</tr>{''.join(_row(r) for r in report.columns)}</table>"
    # A page holds one report; a notebook may show many fragments, so theirs are unique.
    prefix = "mk-drift" if standalone else f"mk-drift-{uuid.uuid4().hex[:12]}"
    ids = [
        f"{prefix}-{i}" if r.histogram is not None else None for i, r in enumerate(report.columns)
    ]
    charts = [
        histogram_chart(r.histogram, chart_id=cid)
        for r, cid in zip(report.columns, ids)
        if r.histogram is not None and cid is not None
    ]
    scripts = render_charts(charts, element_id=f"{prefix}-data")
    body = (
        f'<div class="mk-drift"><style>{_CSS}</style>{summary}{table}'
        f"{''.join(_section(r, cid) for r, cid in zip(report.columns, ids))}{scripts}</div>"
    )
    if not standalone:
        return body
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Drift report</title></head>"
        f"<body>{body}</body></html>"
    )
