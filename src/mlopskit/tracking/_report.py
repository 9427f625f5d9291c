"""``runs_report``: one self-contained HTML page (inline SVG, no script, no network)."""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timezone
from typing import TYPE_CHECKING

from mlopskit.tracking._model import STATUSES, RunRecord
from mlopskit.tracking._search import select_runs

if TYPE_CHECKING:
    from mlopskit.tracking._tracker import Tracker

__all__ = ["RunsReport", "build_report"]

_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_MAX_POINTS = 400
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:13px;margin-bottom:2em}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f5f5f5} .FAILED,.KILLED{color:#c00} .RUNNING{color:#06c}
.charts{display:flex;flex-wrap:wrap;gap:16px} figure{margin:0}
figcaption{font-weight:600;font-size:14px;margin-bottom:4px}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
"""


@dataclass
class RunsReport:
    """Runs and their metric histories, rendered to HTML.

    Attributes:
        title: the page title.
        runs: the runs in the table (ordered).
        histories: metric → run id → [(step, value)].
    """

    title: str
    runs: list[RunRecord]
    histories: dict[str, dict[str, list[tuple[int, float]]]] = field(default_factory=dict)

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """The page as a string; also written to ``path`` when given."""
        page = self._render()
        if path is not None:
            with open(os.fspath(path), "w", encoding="utf-8") as f:
                f.write(page)
        return page

    def _repr_html_(self) -> str:
        return self._body()

    def _render(self) -> str:
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{_esc(self.title)}</title><style>{_CSS}</style></head>"
            f"<body>{self._body()}</body></html>"
        )

    def _body(self) -> str:
        colors = {r.run_id: _COLORS[i % len(_COLORS)] for i, r in enumerate(self.runs)}
        parts = [f"<h1>{_esc(self.title)}</h1>", self._table(colors)]
        if self.histories:
            legend = "".join(
                f"<span><b style='color:{colors[r.run_id]}'>&#9632;</b> {_esc(r.name)}</span>"
                for r in self.runs
            )
            parts.append(f"<div class='legend'>{legend}</div><div class='charts'>")
            for metric, series in sorted(self.histories.items()):
                parts.append(_chart(metric, series, colors))
            parts.append("</div>")
        return "".join(parts)

    def _table(self, colors: dict[str, str]) -> str:
        params = sorted({k for r in self.runs for k in r.params})
        metrics = sorted({k for r in self.runs for k in r.metrics})
        head = (
            ["run", "status", "start (UTC)", "duration"]
            + [f"params.{p}" for p in params]
            + [f"metrics.{m}" for m in metrics]
        )
        rows = []
        for r in self.runs:
            try:
                start = r.start_time.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            except (OverflowError, OSError, ValueError, TypeError):
                start = ""
            dur = "" if r.duration is None else f"{r.duration:.2f} s"
            status_class = r.status if r.status in STATUSES else ""  # a known word, never markup
            cells = [
                f"<td><b style='color:{colors[r.run_id]}'>&#9632;</b> {_esc(r.name)}"
                f"<br><small>{_esc(r.run_id[:12])}</small></td>",
                f"<td class='{status_class}'>{_esc(r.status)}</td>",
                f"<td>{_esc(start)}</td>",
                f"<td>{_esc(dur)}</td>",
            ]
            cells += [f"<td>{_esc(r.params.get(p, ''))}</td>" for p in params]
            cells += [
                f"<td>{'' if m not in r.metrics else _esc(format(r.metrics[m], '.6g'))}</td>"
                for m in metrics
            ]
            rows.append("<tr>" + "".join(cells) + "</tr>")
        header = "".join(f"<th>{_esc(h)}</th>" for h in head)
        return f"<table><tr>{header}</tr>{''.join(rows)}</table>"


def _esc(value: object) -> str:
    """Text for HTML content and quoted attributes: every field read back is untrusted."""
    return html.escape(str(value), quote=True)


def _thin(points: list[tuple[int, float]]) -> list[tuple[int, float]]:
    if len(points) <= _MAX_POINTS:
        return points
    stride = len(points) / _MAX_POINTS
    out = [points[int(i * stride)] for i in range(_MAX_POINTS)]
    out[-1] = points[-1]
    return out


def _chart(
    metric: str,
    series: dict[str, list[tuple[int, float]]],
    colors: dict[str, str],
    width: int = 420,
    height: int = 240,
) -> str:
    pts = [p for s in series.values() for p in s]
    if not pts:
        return ""
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    left, right, top, bottom = 56, 10, 10, 28
    w, h = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * w

    def sy(y: float) -> float:
        return top + h - (y - y0) / (y1 - y0) * h

    lines = []
    for run_id, points in series.items():
        thin = _thin(sorted(points))
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in thin)
        if len(thin) == 1:
            x, y = thin[0]
            lines.append(
                f"<circle cx='{sx(x):.1f}' cy='{sy(y):.1f}' r='3' "
                f"fill='{colors.get(run_id, '#000')}'/>"
            )
        else:
            lines.append(
                f"<polyline fill='none' stroke-width='1.5' "
                f"stroke='{colors.get(run_id, '#000')}' points='{coords}'/>"
            )
    axes = (
        f"<line x1='{left}' y1='{top + h}' x2='{left + w}' y2='{top + h}' stroke='#999'/>"
        f"<line x1='{left}' y1='{top}' x2='{left}' y2='{top + h}' stroke='#999'/>"
        f"<text x='{left - 4}' y='{top + 10}' font-size='10' text-anchor='end'>{y1:.4g}</text>"
        f"<text x='{left - 4}' y='{top + h}' font-size='10' text-anchor='end'>{y0:.4g}</text>"
        f"<text x='{left}' y='{height - 8}' font-size='10'>{int(x0)}</text>"
        f"<text x='{left + w}' y='{height - 8}' font-size='10' text-anchor='end'>{int(x1)}</text>"
        f"<text x='{left + w / 2}' y='{height - 8}' font-size='10' text-anchor='middle'>step</text>"
    )
    return (
        f"<figure><figcaption>{_esc(metric)}</figcaption>"
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='{_esc(metric)}'>{axes}{''.join(lines)}</svg></figure>"
    )


def build_report(
    tracker: Tracker,
    experiment: str | Iterable[str] | None = None,
    *,
    filter: str | None = None,
    metrics: Iterable[str] | None = None,
    limit: int | None = 50,
) -> RunsReport:
    """Collect runs (newest first) and the histories of ``metrics`` (default: all)."""
    runs = select_runs(tracker, experiment, filter=filter, limit=limit)
    names = sorted({k for r in runs for k in r.metrics}) if metrics is None else list(metrics)
    histories: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for metric in names:
        series = {}
        for r in runs:
            points = tracker.backend.metric_history(r.run_id, metric)
            if points:
                series[r.run_id] = [(s, v) for s, v, _ in points]
        if series:
            histories[metric] = series
    if experiment is None:
        title = "mlopskit runs"
    elif isinstance(experiment, str):
        title = f"mlopskit runs: {experiment}"
    else:
        title = "mlopskit runs: " + ", ".join(experiment)
    return RunsReport(title=title, runs=runs, histories=histories)
