"""Chart code shared by the web UI and the static HTML reports.

The charts are drawn by uPlot (MIT), vendored under ``mlopskit/ui/static/vendor/uplot``
and shipped in the wheel, and a small layer over it, ``mlopskit/ui/static/mkcharts.js``.
The web UI serves those files; a static report inlines them (:func:`inline_assets`) so
the HTML file works offline and alone. This module reads files only: it imports no
layer of mlopskit, so ``drift`` (which may depend on the core alone) can use it.

Data reaches a page as JSON inside ``<script type="application/json">``
(:func:`script_json`), never as markup, so stored text cannot inject HTML or script.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["STATIC_DIR", "asset", "inline_assets", "render_charts", "script_json"]

#: The UI's static files: ``mkcharts.js``, ``app.js``, ``app.css``, ``vendor/uplot/*``.
STATIC_DIR = Path(__file__).resolve().parent / "ui" / "static"

_UPLOT_JS = "vendor/uplot/uPlot.iife.min.js"
_UPLOT_CSS = "vendor/uplot/uPlot.min.css"
_MKCHARTS = "mkcharts.js"


@cache
def asset(name: str) -> str:
    """The text of one static file (``"mkcharts.js"``, ``"vendor/uplot/uPlot.min.css"``)."""
    path = (STATIC_DIR / name).resolve()
    if STATIC_DIR not in path.parents:
        raise ValueError(f"asset {name!r} is outside {STATIC_DIR}")
    return path.read_text(encoding="utf-8")


def _no_close_tag(text: str, tag: str) -> str:
    # An inlined file must not end its own element early ("</script" inside a string).
    return text.replace(f"</{tag}", f"<\\/{tag}")


def inline_assets() -> str:
    """``<style>`` and ``<script>`` elements holding uPlot and mkcharts.js, for a
    self-contained HTML page (about 55 kB)."""
    css = _no_close_tag(asset(_UPLOT_CSS), "style")
    js = "\n".join(_no_close_tag(asset(name), "script") for name in (_UPLOT_JS, _MKCHARTS))
    return f"<style>{css}</style><script>{js}</script>"


def script_json(data: Any, *, element_id: str) -> str:
    """``data`` as a ``<script type="application/json">`` element safe to embed in HTML.

    ``<``, ``>`` and ``&`` are written as JSON escapes, so no string in ``data`` can close
    the element or open another; the page reads it back with ``JSON.parse``.
    """
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    safe_id = "".join(c for c in element_id if c.isalnum() or c in "-_")
    return f'<script type="application/json" id="{safe_id}">{text}</script>'


_DRAW = """(function(){var el=document.getElementById("%s");if(!el||!window.MKCharts)return;
JSON.parse(el.textContent).forEach(function(c){var box=document.getElementById(c.id);if(!box)return;
if(c.type==="bar")MKCharts.barChart(box,c);else MKCharts.lineChart(box,c);});})();"""


def render_charts(charts: Sequence[Mapping[str, Any]], *, element_id: str) -> str:
    """Everything a static page needs to draw ``charts``: uPlot and mkcharts.js inlined,
    the charts' data as JSON, and a script drawing each into the element with its ``id``.

    Each chart is ``{"id": …, "type": "bar" | "line", …}`` plus the options of
    ``MKCharts.barChart`` (``labels``, ``series: [{label, values, color}]``, ``percent``)
    or ``MKCharts.lineChart`` (``series: [{label, x, y}]``, ``time``, ``xLabel``). The page
    supplies the elements (``<div id=…>``); ``element_id`` names the data element (unique
    per page). Empty ``charts`` give an empty string.
    """
    if not charts:
        return ""
    safe_id = "".join(c for c in element_id if c.isalnum() or c in "-_")
    return (
        f"{inline_assets()}{script_json(list(charts), element_id=safe_id)}"
        f"<script>{_DRAW % safe_id}</script>"
    )
