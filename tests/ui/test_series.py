"""Server-side decimation of metric series: bounded, faithful, exact when small."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mlopskit.ui._series import decimate, window

values = hnp.arrays(
    np.float64,
    st.integers(0, 3000),
    elements=st.floats(-1e6, 1e6, allow_nan=False) | st.sampled_from([np.nan, np.inf, -np.inf]),
)


class TestDecimate:
    @settings(max_examples=150, deadline=None)
    @given(y=values, points=st.integers(4, 500))
    def test_bounded_ordered_subset_with_extremes(self, y: np.ndarray, points: int) -> None:
        """At most ``points`` points, a subsequence of the input in x order, keeping the
        first and last points and the global finite min and max."""
        x = np.arange(len(y), dtype=np.float64)
        dx, dy = decimate(x, y, points)
        assert len(dx) == len(y) if len(y) <= points else len(dx) <= points
        assert np.all(np.diff(dx) > 0)
        idx = dx.astype(int)
        np.testing.assert_array_equal(dy, y[idx])
        if len(y):
            assert dx[0] == 0 and dx[-1] == len(y) - 1
        finite = y[np.isfinite(y)]
        if finite.size:
            assert finite.min() in dy and finite.max() in dy

    @given(y=hnp.arrays(np.float64, st.integers(0, 200), elements=st.floats(-1, 1)))
    def test_small_series_are_returned_whole(self, y: np.ndarray) -> None:
        """A series no longer than the budget comes back exactly."""
        x = np.arange(len(y), dtype=np.float64)
        dx, dy = decimate(x, y, 200)
        np.testing.assert_array_equal(dx, x)
        np.testing.assert_array_equal(dy, y)


class TestWindow:
    @settings(max_examples=100, deadline=None)
    @given(
        n=st.integers(1, 5000),
        a=st.floats(-10, 6000),
        b=st.floats(-10, 6000),
        points=st.integers(10, 400),
    )
    def test_range_is_covered_and_counted(self, n: int, a: float, b: float, points: int) -> None:
        """Every point in [start, end] is counted in ``in_range``; what is returned lies in
        the range or is the one neighbour beyond each end; ``exact`` means nothing dropped."""
        start, end = min(a, b), max(a, b)
        x = np.arange(n, dtype=np.float64)
        y = np.sin(x)
        win = window(x, y, start=start, end=end, points=points)
        inside = int(((x >= start) & (x <= end)).sum())
        assert inside <= win.in_range <= inside + 2
        assert win.total == n
        assert len(win.x) <= max(points, 4)
        assert win.exact == (len(win.x) == win.in_range)
        if inside:
            assert win.x.min() >= start - 1 and win.x.max() <= end + 1

    def test_zooming_in_becomes_exact(self) -> None:
        """A million points are decimated whole, and exact in a narrow zoomed range."""
        x = np.arange(1_000_000, dtype=np.float64)
        y = np.random.default_rng(0).normal(size=x.size)
        whole = window(x, y, points=2000)
        assert not whole.exact and len(whole.x) <= 2000 and whole.in_range == 1_000_000
        zoomed = window(x, y, start=500_000, end=500_999, points=2000)
        assert zoomed.exact and zoomed.in_range == 1002
        np.testing.assert_array_equal(zoomed.y, y[499_999:501_001])


class TestSeriesCache:
    def test_cache_keeps_within_its_point_budget(self) -> None:
        """The series cache evicts the least recently used series to stay within budget,
        keeping the newest even when it alone is over."""
        from mlopskit.ui._data import _TTLCache

        cache = _TTLCache(size=10, ttl=60, budget=100, weight=len)
        cache.put("a", [0] * 60)
        cache.put("b", [0] * 30)
        assert cache.get("a") is not None  # a is now the most recent
        cache.put("c", [0] * 30)  # 120 > 100: b (least recent) goes
        assert cache.get("b") is None and cache.get("a") is not None
        cache.put("d", [0] * 500)
        assert cache.get("d") is not None and cache.get("a") is None and cache.get("c") is None

    def test_entries_expire(self) -> None:
        """An entry older than the time to live is not returned."""
        from mlopskit.ui._data import _TTLCache

        cache = _TTLCache(size=10, ttl=0.0)
        cache.put("a", 1)
        assert cache.get("a") is None
