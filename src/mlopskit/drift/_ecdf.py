"""One merged walk over two sorted samples: the Kolmogorov-Smirnov and Wasserstein kernels.

scipy's ``ks_2samp`` evaluates both ECDFs at all ``n1 + n2`` pooled points with two
``searchsorted`` calls of ``n1 + n2`` needles each. Here both samples are sorted once,
a stable merge (numpy's timsort finds the two runs and gallops) gives the pooled order,
and cumulative counts along it are the ECDFs. Only the last point of each group of
tied values is a point where both ECDFs are right-continuous; the others are masked.
Every array operation is along the last axis, so a 2-d block of columns with equal
sample sizes is processed in one pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mlopskit._log import get_logger
from mlopskit.errors import InvalidInputError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "Walk",
    "ks_bounded",
    "ks_from_walk",
    "ks_pvalue",
    "pooled",
    "walk",
    "walk_pooled",
    "wasserstein_from_walk",
]

Alternative = Literal["two-sided", "less", "greater"]
Mode = Literal["auto", "exact", "asymp"]
_MAX_AUTO_N = 10000  # scipy: 'auto' is exact when max(n1, n2) <= 10000
_GRID = 1 << 14  # grid points of the bounded KS search
_BOUNDED_MIN = 1 << 16  # pooled values from which the bounded search beats the full walk

_log = get_logger("mlopskit.drift")


@dataclass(frozen=True)
class Walk:
    """The pooled sorted values and both cumulative counts along them (last axis).

    ``cum_a`` is ``None`` for unit weights, where it is ``position + 1 - cum_b``.
    """

    values: NDArray[np.float64]
    cum_a: NDArray[np.integer[Any]] | None
    cum_b: NDArray[np.integer[Any]]
    ends: NDArray[np.bool_]  # last position of each run of equal values
    n_a: NDArray[np.int64]  # totals, shape (..., 1)
    n_b: NDArray[np.int64]

    def diffs(self) -> NDArray[np.float64]:
        """``F_a - F_b`` at every pooled position, as ``cnt_a / n_a - cnt_b / n_b``.

        With unit weights the counts of ``a`` are formed as exact float64 integers in
        place (positions < 2**53), which divides to the same bits as scipy's int64 counts.
        """
        if self.cum_a is not None:
            out: NDArray[np.float64] = self.cum_a / self.n_a
            out -= self.cum_b / self.n_b
            return out
        n = self.values.shape[-1]
        d: NDArray[np.float64] = np.arange(1, n + 1, dtype=np.float64)
        if self.cum_b.ndim > 1:
            d = np.repeat(d[None, :], self.cum_b.shape[0], axis=0).reshape(self.cum_b.shape)
        d -= self.cum_b
        d /= self.n_a
        d -= self.cum_b / self.n_b
        return d


def pooled(
    a_raw: list[NDArray[np.float64]], b_raw: list[NDArray[np.float64]]
) -> NDArray[np.float64]:
    """Rows ``[sorted(a_i), sorted(b_i)]`` in one buffer: one copy, halves sorted in place."""
    n1, n2 = a_raw[0].size, b_raw[0].size
    v = np.empty((len(a_raw), n1 + n2))
    for row, (a, b) in enumerate(zip(a_raw, b_raw)):
        v[row, :n1] = a
        v[row, n1:] = b
    v[:, :n1].sort(axis=-1)
    v[:, n1:].sort(axis=-1)
    v += 0.0  # fold -0.0 into 0.0
    return v


def walk(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    wa: NDArray[np.int64] | None = None,
    wb: NDArray[np.int64] | None = None,
) -> Walk:
    """Merge two samples sorted along the last axis (optionally with counts per value)."""
    if wa is None and wb is None:
        return walk_pooled(np.concatenate((a, b), axis=-1), a.shape[-1])
    n1 = a.shape[-1]
    v = np.concatenate((a, b), axis=-1)
    order = np.argsort(v, axis=-1, kind="stable")
    vs = np.take_along_axis(v, order, axis=-1)
    del v
    from_b = order >= n1
    ones_a = np.ones(a.shape, np.int64) if wa is None else wa
    ones_b = np.ones(b.shape, np.int64) if wb is None else wb
    w = np.take_along_axis(np.concatenate((ones_a, ones_b), axis=-1), order, axis=-1)
    del order
    cum_a = np.cumsum(np.where(from_b, 0, w), axis=-1)
    cum_b = np.cumsum(np.where(from_b, w, 0), axis=-1)
    return Walk(
        vs,
        cum_a,
        cum_b,
        _ends(vs),
        ones_a.sum(axis=-1, keepdims=True),
        ones_b.sum(axis=-1, keepdims=True),
    )


def walk_pooled(v: NDArray[np.float64], n1: int) -> Walk:
    """The walk over rows of :func:`pooled` (each row: ``n1`` sorted values, then the rest)."""
    order = np.argsort(v, axis=-1, kind="stable")  # a stable merge of the two sorted runs
    if v.ndim == 1 or v.shape[0] == 1:  # plain take is faster than take_along_axis
        vs = np.take(v.reshape(-1), order.reshape(-1)).reshape(v.shape)
    else:
        vs = np.take_along_axis(v, order, axis=-1)
    from_b = order >= n1
    del order
    n = int(v.shape[-1])
    # int32 counts cumsum twice as fast; the division by n is exact either way.
    cum_b = np.cumsum(from_b, axis=-1, dtype=np.int32 if n < np.iinfo(np.int32).max else np.int64)
    del from_b
    shape = (*v.shape[:-1], 1)
    return Walk(
        vs, None, cum_b, _ends(vs), np.full(shape, n1, np.int64), np.full(shape, n - n1, np.int64)
    )


def _ends(vs: NDArray[np.float64]) -> NDArray[np.bool_]:
    """The last position of each run of equal values."""
    ends = np.empty(vs.shape, dtype=bool)
    np.not_equal(vs[..., 1:], vs[..., :-1], out=ends[..., :-1])
    ends[..., -1] = True
    return ends


def _first_location(
    values: NDArray[np.float64], mask: NDArray[np.bool_], a_sorted: NDArray[np.float64]
) -> float:
    """scipy's statistic_location: the first pooled point (data1 before data2) in ``mask``."""
    xs = values[mask]  # ascending
    lo = np.searchsorted(a_sorted, xs, side="left")
    hi = np.searchsorted(a_sorted, xs, side="right")
    in_a = hi > lo
    return float(xs[np.argmax(in_a)] if in_a.any() else xs[0])


def ks_from_walk(
    w: Walk, a_values: NDArray[np.float64], alternative: Alternative
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int8]]:
    """D, its location and sign per row, exactly as ``scipy.stats.ks_2samp`` computes them."""
    diffs = w.diffs()
    if w.ends.all():  # no ties: every pooled point is a point of both ECDFs
        max_s, min_raw = diffs.max(axis=-1), diffs.min(axis=-1)
    else:
        max_s = np.where(w.ends, diffs, -np.inf).max(axis=-1)
        min_raw = np.where(w.ends, diffs, np.inf).min(axis=-1)
    min_s = np.clip(-min_raw, 0, 1)
    rows = max_s.reshape(-1).size
    a2 = a_values.reshape(rows, -1)
    diffs2 = diffs.reshape(rows, -1)
    ends2 = w.ends.reshape(rows, -1)
    values2 = w.values.reshape(rows, -1)
    d = np.empty(rows)
    loc = np.empty(rows)
    sign = np.empty(rows, dtype=np.int8)
    for r, (mx, mn, mn_raw) in enumerate(
        zip(max_s.reshape(-1), min_s.reshape(-1), min_raw.reshape(-1))
    ):
        use_min = alternative == "less" or (alternative == "two-sided" and mn > mx)
        target = mn_raw if use_min else mx
        d[r] = mn if use_min else mx
        sign[r] = -1 if use_min else 1
        first = int(np.argmax(diffs2[r] == target))  # smallest pooled value at the target
        x = values2[r][first]
        if ends2[r][first] and np.searchsorted(a2[r], x, "right") > np.searchsorted(a2[r], x):
            loc[r] = float(x)  # also the first one in data1: scipy's choice
        else:
            loc[r] = _first_location(values2[r], ends2[r] & (diffs2[r] == target), a2[r])
    return d.reshape(max_s.shape), loc.reshape(max_s.shape), sign.reshape(max_s.shape)


def _ranges(starts: NDArray[np.int64], stops: NDArray[np.int64]) -> NDArray[np.int64]:
    """The concatenated index ranges ``[start, stop)``."""
    lengths = stops - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    out: NDArray[np.int64] = np.arange(total, dtype=np.int64) + shift
    return out


def ks_bounded(
    a: NDArray[np.float64], b: NDArray[np.float64], alternative: Alternative
) -> tuple[float, float, int]:
    """D, location and sign of two sorted samples, without walking every pooled point.

    Both ECDFs are evaluated exactly (``searchsorted``) at a grid of about ``2 * _GRID``
    sample values. Between two grid points ``t' < t``, any pooled point ``x`` has
    ``#a <= x <= #a < t`` and ``#b <= x >= #b <= t'``, so ``F_a - F_b`` there is bounded by
    ``#a<t / n_a - #b<=t' / n_b`` above (and symmetrically below); float division and
    subtraction are monotone, so the bound holds for the rounded values too. Only the
    intervals whose bound reaches the best grid value are walked point by point. The
    result is the same float scipy computes, found in a fraction of the pooled points.
    """
    n1, n2 = a.size, b.size
    s1, s2 = max(1, n1 // _GRID), max(1, n2 // _GRID)
    t = np.unique(np.concatenate((a[s1 - 1 :: s1], b[s2 - 1 :: s2], a[-1:], b[-1:])))
    le_a = np.searchsorted(a, t, "right")
    le_b = np.searchsorted(b, t, "right")
    lt_a = np.searchsorted(a, t, "left")
    lt_b = np.searchsorted(b, t, "left")
    prev_a = np.concatenate(([0], le_a[:-1]))  # #a <= previous grid point
    prev_b = np.concatenate(([0], le_b[:-1]))
    grid = le_a / n1 - le_b / n2  # exact F_a - F_b at the grid points
    hi, lo = grid.max(), grid.min()
    interior = (lt_a > prev_a) | (lt_b > prev_b)
    refine = interior & ((lt_a / n1 - prev_b / n2 >= hi) | (prev_a / n1 - lt_b / n2 <= lo))
    idx = np.flatnonzero(refine)
    xs, diffs = t, grid
    if idx.size:
        ia = _ranges(prev_a[idx], lt_a[idx])
        ib = _ranges(prev_b[idx], lt_b[idx])
        sub = walk_pooled(np.concatenate((a[ia], b[ib])), ia.size)
        # counts before each refined interval that the sub-walk does not see
        off_a = prev_a[idx] - np.concatenate(([0], np.cumsum(lt_a[idx] - prev_a[idx])[:-1]))
        off_b = prev_b[idx] - np.concatenate(([0], np.cumsum(lt_b[idx] - prev_b[idx])[:-1]))
        which = np.searchsorted(t[idx], sub.values, "left")  # the interval of each point
        cum_b = sub.cum_b + off_b[which]
        cum_a = np.arange(1, sub.values.size + 1) - sub.cum_b + off_a[which]
        sub_diffs = cum_a / n1 - cum_b / n2
        xs = np.concatenate((t, sub.values[sub.ends]))
        diffs = np.concatenate((grid, sub_diffs[sub.ends]))
    max_s = diffs.max()
    min_raw = diffs.min()
    min_s = float(np.clip(-min_raw, 0, 1))
    use_min = alternative == "less" or (alternative == "two-sided" and min_s > max_s)
    target = min_raw if use_min else max_s
    cand = np.sort(xs[diffs == target])
    in_a = np.searchsorted(a, cand, "right") > np.searchsorted(a, cand, "left")
    loc = float(cand[np.argmax(in_a)] if in_a.any() else cand[0])
    return (min_s if use_min else float(max_s)), loc, (-1 if use_min else 1)


def wasserstein_from_walk(w: Walk) -> NDArray[np.float64]:
    """W1 = sum |F_a - F_b| * dx over the pooled points (scipy's formula, per row)."""
    diffs = np.abs(w.diffs())
    deltas = np.diff(w.values, axis=-1)
    vecdot = getattr(np, "vecdot", None)  # numpy >= 2; scipy uses it too
    if vecdot is not None:
        return np.asarray(vecdot(diffs[..., :-1], deltas), dtype=np.float64)
    return np.asarray(np.sum(diffs[..., :-1] * deltas, axis=-1), dtype=np.float64)


def _exact_p(n1: int, n2: int, g: int, d: float, alternative: str) -> tuple[bool, float, float]:
    try:
        from scipy.stats._stats_py import _attempt_exact_2kssamp
    except ImportError as exc:  # pragma: no cover - a future scipy moved its helper
        raise NotImplementedError("scipy's exact two-sample KS helper is unavailable") from exc
    success, d2, prob = _attempt_exact_2kssamp(n1, n2, g, d, alternative)
    return bool(success), float(d2), float(prob)


def ks_pvalue(
    d: float, n1: int, n2: int, alternative: Alternative, mode: Mode
) -> tuple[float, float, Literal["exact", "asymp"]]:
    """The p-value of D as ``scipy.stats.ks_2samp`` computes it: ``(d, p, mode used)``.

    Where scipy warns and falls back from exact to asymptotic, this falls back silently
    and reports ``"asymp"`` as the mode used.
    """
    from scipy.stats import distributions

    g = math.gcd(n1, n2)
    n1g, n2g = n1 // g, n2 // g
    if mode == "auto":
        mode = "exact" if max(n1, n2) <= _MAX_AUTO_N else "asymp"
    elif mode == "exact" and n1g >= np.iinfo(np.int32).max / n2g:
        _log.debug("ks_exact_not_possible", n1=n1, n2=n2)
        mode = "asymp"
    prob = -np.inf
    if mode == "exact":
        success, d, prob = _exact_p(n1, n2, g, d, alternative)
        if not success:
            _log.debug("ks_exact_failed", n1=n1, n2=n2)
            mode = "asymp"
    if mode == "asymp":
        m, n = sorted([float(n1), float(n2)], reverse=True)
        en = m * n / (m + n)
        if np.round(en) == 0:
            raise InvalidInputError(
                "the asymptotic KS p-value is undefined for two samples of one value each "
                "(scipy returns NaN); use method='exact'",
                found=(n1, n2),
            )
        if alternative == "two-sided":
            prob = distributions.kstwo.sf(d, np.round(en))
        else:
            z = np.sqrt(en) * d
            expt = -2 * z**2 - 2 * z * (m + 2 * n) / np.sqrt(m * n * (m + n)) / 3.0
            prob = np.exp(expt)
    return float(d), float(np.clip(prob, 0, 1)), "exact" if mode == "exact" else "asymp"
