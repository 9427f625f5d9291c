"""HTML for a drift report: a summary table and, per column, inline SVG histograms.

The page is self-contained: inline CSS and SVG, no scripts, no fonts or images fetched.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlopskit.drift._report import ColumnDrift, DriftReport, Histogram

__all__ = ["render", "svg_histogram"]

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
"""


def _num(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.4g}"


def _verdict(flag: bool | None) -> str:
    if flag is None:
        return '<span class="note">—</span>'
    return '<span class="yes">drift</span>' if flag else '<span class="no">ok</span>'


def svg_histogram(hist: Histogram, *, width: int = 640, height: int = 170) -> str:
    """Reference and current shares per bin as side-by-side bars, in one inline SVG."""
    n = len(hist.labels)
    top = max([*hist.reference, *hist.current, 1e-12])
    plot_h = height - 34
    slot = (width - 20) / max(n, 1)
    bar = max(slot * 0.4, 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">',
        f'<line x1="10" y1="{plot_h + 4}" x2="{width - 10}" y2="{plot_h + 4}" stroke="#999"/>',
    ]
    step = max(1, n // 8)
    for i, (label, r, c) in enumerate(zip(hist.labels, hist.reference, hist.current)):
        x = 10 + i * slot + slot * 0.1
        for j, (share, color) in enumerate(((r, _REF), (c, _CUR))):
            h = plot_h * share / top
            parts.append(
                f'<rect x="{x + j * bar:.1f}" y="{plot_h + 4 - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{color}" fill-opacity="0.85">'
                f"<title>{escape(label)}: {'reference' if j == 0 else 'current'} "
                f"{share:.2%}</title></rect>"
            )
        if i % step == 0:
            short = label if len(label) <= 18 else label[:17] + "…"
            parts.append(
                f'<text x="{x:.1f}" y="{height - 14}" font-size="10" fill="#555">'
                f"{escape(short)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


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


def _section(r: ColumnDrift) -> str:
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
    svg = svg_histogram(r.histogram) if r.histogram is not None else ""
    return f'<div class="col">{head}{note}{svg}</div>'


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
    body = (
        f'<div class="mk-drift"><style>{_CSS}</style>{summary}{table}'
        f"{''.join(_section(r) for r in report.columns)}</div>"
    )
    if not standalone:
        return body
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Drift report</title></head>"
        f"<body>{body}</body></html>"
    )
