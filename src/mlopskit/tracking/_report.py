"""``runs_report``: one self-contained HTML page of runs — works offline, in one file.

The page holds the run table, one chart per metric (drawn by the UI's vendored uPlot
through :func:`mlopskit._charts.render_charts`, inlined), the runs' logged figures and
images, and the first rows of their logged tables.

Every field read back from the store is untrusted. Text in the page is HTML-escaped
(``_esc``), also inside ``title`` attributes; chart data reaches the page as JSON in a
``<script type="application/json">`` element and is drawn on a canvas, never parsed as
markup; images are embedded as ``data:`` URIs of an allow-listed image type whose bytes
start as that type does (an SVG shown through ``<img>`` runs no script), each at most
:data:`MAX_IMAGE_BYTES`. Runs are never dropped silently: when ``max_runs`` cuts the
list, the page says how many it shows of how many, and how to see all.
"""

from __future__ import annotations

import base64
import html
import math
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timezone
from typing import TYPE_CHECKING

from mlopskit._charts import render_charts
from mlopskit.errors import MlopskitError
from mlopskit.tracking._model import STATUSES, RunRecord
from mlopskit.tracking._search import select_runs

if TYPE_CHECKING:
    import pandas as pd

    from mlopskit.store import ArtifactRef, ArtifactStore
    from mlopskit.tracking._tracker import Tracker

__all__ = ["MAX_IMAGE_BYTES", "ReportImage", "ReportTable", "RunsReport", "build_report"]

# The palette of mkcharts.js, in its order: a run's swatch in the table is its line's color.
_COLORS = (
    "#4c72b0",
    "#dd8452",
    "#55a868",
    "#c44e52",
    "#8172b3",
    "#937860",
    "#da8bc3",
    "#8c8c8c",
    "#ccb974",
    "#64b5cd",
)
_MAX_POINTS = 2000  # per series: thinned evenly beyond (the last point always kept)
_CELL_CHARS = 48  # a wider cell is cut, its full text on hover
_TITLE_CHARS = 2000  # the hover text is cut there
#: An image larger than this is listed, not embedded.
MAX_IMAGE_BYTES = 2 * 1024 * 1024
_MAX_EMBEDDED = 24 * 1024 * 1024  # all images of one page together
_MAX_TABLE_BYTES = 32 * 1024 * 1024  # a larger Parquet artifact is listed, not read
_TABLE_ROWS = 10
_TABLE_COLUMNS = 20
_PARQUET = "application/vnd.apache.parquet"
_IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:13px;margin-bottom:1.5em}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5} .FAILED,.KILLED{color:#c00} .RUNNING{color:#06c}
.charts,.images{display:flex;flex-wrap:wrap;gap:16px} figure{margin:0}
.chart{width:480px} figcaption{font-weight:600;font-size:14px;margin-bottom:4px}
.notice{background:#fff8e1;border:1px solid #f0d98c;padding:6px 10px;display:inline-block}
.images img{max-width:480px;max-height:480px;border:1px solid #eee}
small{color:#666} [title]{cursor:help}
"""


@dataclass
class ReportImage:
    """A logged figure or image of a run: embedded when ``data`` is set, else listed
    with ``note`` saying why not."""

    run_id: str
    name: str
    media_type: str
    size: int
    data: bytes | None = None
    note: str = ""


@dataclass
class ReportTable:
    """A logged table of a run: its first rows (``head``), its shape, or why it is not
    shown (``note``)."""

    run_id: str
    name: str
    head: pd.DataFrame | None = None
    rows: int = 0
    columns: int = 0
    note: str = ""


@dataclass
class RunsReport:
    """Runs, their metric histories, figures, images and tables, rendered to HTML.

    Attributes:
        title: the page title.
        runs: the runs in the table (ordered).
        histories: metric → run id → [(step, value)].
        total: how many runs matched (more than ``len(runs)`` when ``max_runs`` cut
            the list; None when unknown).
        images: the runs' logged figures and images.
        tables: the runs' logged tables.
    """

    title: str
    runs: list[RunRecord]
    histories: dict[str, dict[str, list[tuple[int, float]]]] = field(default_factory=dict)
    total: int | None = None
    images: list[ReportImage] = field(default_factory=list)
    tables: list[ReportTable] = field(default_factory=list)

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """The page as a string; also written to ``path`` when given."""
        page = self._render()
        if path is not None:
            with open(os.fspath(path), "w", encoding="utf-8") as f:
                f.write(page)
        return page

    def _repr_html_(self) -> str:
        # several reports can share a notebook page: their element ids must not collide
        return self._body(f"mk-report-{uuid.uuid4().hex[:12]}")

    def _render(self) -> str:
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{_esc(self.title)}</title><style>{_CSS}</style></head>"
            f"<body>{self._body('mk-report')}</body></html>"
        )

    def labels(self) -> dict[str, str]:
        """Run id → the name its line and rows carry: the run's name, followed by its
        short id when another run shown has the same name."""
        counts: dict[str, int] = {}
        for r in self.runs:
            counts[r.name] = counts.get(r.name, 0) + 1
        return {
            r.run_id: r.name if counts[r.name] == 1 else f"{r.name} ({r.run_id[:8]})"
            for r in self.runs
        }

    def _body(self, prefix: str) -> str:
        colors = {r.run_id: _COLORS[i % len(_COLORS)] for i, r in enumerate(self.runs)}
        labels = self.labels()
        parts = [f"<h1>{_esc(self.title)}</h1>"]
        if self.total is not None and self.total > len(self.runs):
            parts.append(
                f"<p class='notice'>Showing {len(self.runs)} of {self.total} runs (newest "
                "first): pass <code>max_runs=None</code> to see all.</p>"
            )
        parts.append(self._table(colors, labels))
        parts.append(self._charts(labels, prefix))
        parts.append(self._images(labels))
        parts.append(self._tables(labels))
        return "".join(parts)

    def _table(self, colors: dict[str, str], labels: dict[str, str]) -> str:
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
                f"<td><b style='color:{colors[r.run_id]}'>&#9632;</b> "
                f"{_cell(labels[r.run_id])}<br><small>{_esc(r.run_id[:12])}</small></td>",
                f"<td class='{status_class}'>{_esc(r.status)}</td>",
                f"<td>{_esc(start)}</td>",
                f"<td>{_esc(dur)}</td>",
            ]
            cells += [f"<td>{_cell(r.params.get(p, ''))}</td>" for p in params]
            cells += [
                f"<td>{'' if m not in r.metrics else _esc(format(r.metrics[m], '.6g'))}</td>"
                for m in metrics
            ]
            rows.append("<tr>" + "".join(cells) + "</tr>")
        header = "".join(f"<th>{_cell(h)}</th>" for h in head)
        return f"<table><tr>{header}</tr>{''.join(rows)}</table>"

    def _charts(self, labels: dict[str, str], prefix: str) -> str:
        if not self.histories:
            return ""
        figures, charts = [], []
        for i, (metric, series) in enumerate(sorted(self.histories.items())):
            chart_id = f"{prefix}-chart-{i}"
            lines = []
            for r in self.runs:  # every run in every chart: a run keeps its color
                points = _thin(sorted(series.get(r.run_id, [])))
                lines.append(
                    {
                        "label": labels[r.run_id],
                        "x": [s for s, _ in points],
                        "y": [v if math.isfinite(v) else None for _, v in points],
                    }
                )
            charts.append({"id": chart_id, "type": "line", "series": lines, "xLabel": "step"})
            figures.append(
                f"<figure><figcaption>{_esc(metric)}</figcaption>"
                f"<div class='chart' id='{chart_id}'></div></figure>"
            )
        return (
            f"<h2>Metrics</h2><div class='charts'>{''.join(figures)}</div>"
            f"{render_charts(charts, element_id=f'{prefix}-charts')}"
        )

    def _images(self, labels: dict[str, str]) -> str:
        if not self.images:
            return ""
        items = []
        for img in self.images:
            caption = f"{_cell(labels.get(img.run_id, img.run_id[:12]))} · {_cell(img.name)}"
            if img.data is None:
                items.append(
                    f"<figure><figcaption>{caption}</figcaption>"
                    f"<small>{_esc(img.note)}</small></figure>"
                )
                continue
            uri = f"data:{img.media_type};base64,{base64.b64encode(img.data).decode('ascii')}"
            items.append(
                f"<figure><figcaption>{caption}</figcaption>"
                f"<img src='{uri}' alt='{_esc(img.name)}'></figure>"
            )
        return f"<h2>Figures and images</h2><div class='images'>{''.join(items)}</div>"

    def _tables(self, labels: dict[str, str]) -> str:
        if not self.tables:
            return ""
        parts = ["<h2>Tables</h2>"]
        for t in self.tables:
            caption = f"{_cell(labels.get(t.run_id, t.run_id[:12]))} · {_cell(t.name)}"
            if t.head is None:
                parts.append(f"<h3>{caption}</h3><p><small>{_esc(t.note)}</small></p>")
                continue
            shown = (
                f"{t.rows} rows × {t.columns} columns"
                + (f"; first {len(t.head)} rows" if t.rows > len(t.head) else "")
                + (f", first {_TABLE_COLUMNS} columns" if t.columns > _TABLE_COLUMNS else "")
            )
            parts.append(f"<h3>{caption} <small>({_esc(shown)})</small></h3>")
            parts.append(_frame_html(t.head))
        return "".join(parts)


def _esc(value: object) -> str:
    """Text for HTML content and quoted attributes: every field read back is untrusted."""
    return html.escape(str(value), quote=True)


def _cell(value: object) -> str:
    """A table cell's text, escaped; cut to a readable width with the full value on hover."""
    text = str(value)
    if len(text) <= _CELL_CHARS:
        return _esc(text)
    full = text if len(text) <= _TITLE_CHARS else text[: _TITLE_CHARS - 1] + "…"
    return f"<span title='{_esc(full)}'>{_esc(text[: _CELL_CHARS - 1])}…</span>"


def _frame_html(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{_cell(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False, name=None)
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _thin(points: list[tuple[int, float]]) -> list[tuple[int, float]]:
    if len(points) <= _MAX_POINTS:
        return points
    stride = len(points) / _MAX_POINTS
    out = [points[int(i * stride)] for i in range(_MAX_POINTS)]
    out[-1] = points[-1]
    return out


def _image_type(name: str, ref: ArtifactRef) -> str | None:
    """The image media type of an artifact, from its recorded type or its suffix."""
    media = (ref.media_type or "").split(";")[0].strip().lower()
    if media in _IMAGE_TYPES.values():
        return media
    if ref.kind != "blob" or media:
        return None
    return _IMAGE_TYPES.get(os.path.splitext(name)[1].lower())


def _looks_like(media: str, data: bytes) -> bool:
    """Whether the bytes start as an image of type ``media`` does."""
    if media == "image/png":
        return data.startswith(b"\x89PNG\r\n\x1a\n")
    if media == "image/jpeg":
        return data.startswith(b"\xff\xd8\xff")
    if media == "image/gif":
        return data[:6] in (b"GIF87a", b"GIF89a")
    if media == "image/webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    return data.lstrip()[:1] == b"<"  # SVG: markup, shown through <img> (no script runs)


def _collect_image(
    store: ArtifactStore, run_id: str, name: str, ref: ArtifactRef, media: str, budget: list[int]
) -> ReportImage:
    img = ReportImage(run_id=run_id, name=name, media_type=media, size=ref.size)
    if ref.size > MAX_IMAGE_BYTES:
        img.note = (
            f"{ref.size / 2**20:.1f} MiB: too large to embed (limit "
            f"{MAX_IMAGE_BYTES / 2**20:.0f} MiB); load it with run.load_artifact({name!r})"
        )
    elif ref.size > budget[0]:
        img.note = "not embedded: the page holds its limit of images already"
    else:
        try:
            data = store.get_bytes(ref)
        except MlopskitError as exc:  # damaged or missing: say so, draw the rest
            img.note = f"not shown: {type(exc).__name__}: {exc}"
            return img
        if _looks_like(media, data):
            img.data = data
            budget[0] -= len(data)
        else:
            img.note = f"not shown: the bytes are not a {media} image"
    return img


def _collect_table(store: ArtifactStore, run_id: str, name: str, ref: ArtifactRef) -> ReportTable:
    table = ReportTable(run_id=run_id, name=name)
    if ref.size > _MAX_TABLE_BYTES:
        table.note = (
            f"{ref.size / 2**20:.1f} MiB of Parquet: not read for the report; load it "
            f"with run.load_artifact({name!r})"
        )
        return table
    import pandas as pd

    try:
        frame = store.get(ref)
    except MlopskitError as exc:  # damaged or missing: say so, draw the rest
        table.note = f"not shown: {type(exc).__name__}: {exc}"
        return table
    if not isinstance(frame, pd.DataFrame):
        table.note = f"not shown: holds a {type(frame).__name__}, not a table"
        return table
    table.rows, table.columns = frame.shape
    table.head = frame.iloc[:_TABLE_ROWS, :_TABLE_COLUMNS]
    return table


def build_report(
    tracker: Tracker,
    experiment: str | Iterable[str] | None = None,
    *,
    filter: str | None = None,
    metrics: Iterable[str] | None = None,
    max_runs: int | None = 50,
) -> RunsReport:
    """Collect runs (newest first, at most ``max_runs``), the histories of ``metrics``
    (default: all), and the figures, images and tables the runs logged."""
    matched = select_runs(tracker, experiment, filter=filter)
    runs = matched if max_runs is None else matched[:max_runs]
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
    store = tracker.store
    images: list[ReportImage] = []
    tables: list[ReportTable] = []
    budget = [_MAX_EMBEDDED]
    for r in runs:
        # a listing's records leave artifacts out: read each shown run's own
        artifacts = r.artifacts or tracker.backend.get_run(r.run_id).artifacts
        for name, ref in sorted(artifacts.items()):
            media = _image_type(name, ref)
            if media is not None:
                images.append(_collect_image(store, r.run_id, name, ref, media, budget))
            elif (ref.media_type or "").startswith(_PARQUET):
                tables.append(_collect_table(store, r.run_id, name, ref))
    if experiment is None:
        title = "mlopskit runs"
    elif isinstance(experiment, str):
        title = f"mlopskit runs: {experiment}"
    else:
        title = "mlopskit runs: " + ", ".join(experiment)
    return RunsReport(
        title=title,
        runs=runs,
        histories=histories,
        total=len(matched),
        images=images,
        tables=tables,
    )
