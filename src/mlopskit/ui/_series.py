"""Metric series for charts: a visible x range, decimated on the server.

A chart asks for at most ``points`` points of a series, optionally within ``[start, end]``
of its x axis. When the range holds more, :func:`decimate` keeps, per bucket of
consecutive points, the lowest and the highest value (min-max decimation, the M4 idea):
every spike and dip survives, so the line looks like the full series at screen
resolution. Zooming in asks again for the smaller range, which soon holds few enough
points to be returned exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Window", "decimate", "window"]


@dataclass(frozen=True)
class Window:
    """The points of a series sent to a chart: ``exact`` when nothing was dropped."""

    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    total: int
    in_range: int
    exact: bool


def decimate(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], points: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """At most ``points`` points of ``(x, y)``: per bucket its min and max, in x order.

    The first and last points are always kept. Non-finite values are never chosen as a
    bucket's min or max unless the bucket holds nothing else.
    """
    import numpy as np

    n = len(x)
    if n <= points:
        return x, y
    points = max(points, 4)
    buckets = (points - 2) // 2
    size = -(-n // buckets)  # ceil
    pad = buckets * size - n
    finite = np.isfinite(y)
    low = np.where(finite, y, np.inf)
    high = np.where(finite, y, -np.inf)
    if pad:
        low = np.concatenate([low, np.full(pad, np.inf)])
        high = np.concatenate([high, np.full(pad, -np.inf)])
    base = np.arange(buckets) * size
    lo = base + low.reshape(buckets, size).argmin(axis=1)
    hi = base + high.reshape(buckets, size).argmax(axis=1)
    idx = np.unique(np.concatenate([[0, n - 1], np.minimum(lo, n - 1), np.minimum(hi, n - 1)]))
    return x[idx], y[idx]


def window(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    *,
    start: float | None = None,
    end: float | None = None,
    points: int = 2000,
) -> Window:
    """The part of a series (sorted by ``x``) in ``[start, end]``, decimated to ``points``.

    One point beyond each end of the range is kept, so a zoomed line runs to the edges.
    """
    import numpy as np

    total = len(x)
    lo = 0 if start is None else max(int(np.searchsorted(x, start, side="left")) - 1, 0)
    hi = total if end is None else min(int(np.searchsorted(x, end, side="right")) + 1, total)
    xs, ys = x[lo:hi], y[lo:hi]
    in_range = len(xs)
    dx, dy = decimate(xs, ys, points)
    return Window(x=dx, y=dy, total=total, in_range=in_range, exact=len(dx) == in_range)
