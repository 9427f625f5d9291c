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

__all__ = ["Walk", "ks_from_walk", "ks_pvalue", "walk", "wasserstein_from_walk"]

Alternative = Literal["two-sided", "less", "greater"]
Mode = Literal["auto", "exact", "asymp"]
_MAX_AUTO_N = 10000  # scipy: 'auto' is exact when max(n1, n2) <= 10000

_log = get_logger("mlopskit.drift")


@dataclass(frozen=True)
class Walk:
    """The pooled sorted values and both cumulative counts along them (last axis)."""

    values: NDArray[np.float64]
    cum_a: NDArray[np.integer[Any]]
    cum_b: NDArray[np.integer[Any]]
    ends: NDArray[np.bool_]  # last position of each run of equal values
    n_a: NDArray[np.int64]  # totals, shape (..., 1)
    n_b: NDArray[np.int64]


def walk(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    wa: NDArray[np.int64] | None = None,
    wb: NDArray[np.int64] | None = None,
) -> Walk:
    """Merge two samples sorted along the last axis (optionally with counts per value)."""
    n1 = a.shape[-1]
    v = np.concatenate((a, b), axis=-1)
    order = np.argsort(v, axis=-1, kind="stable")
    vs = np.take_along_axis(v, order, axis=-1)
    del v
    from_b = order >= n1
    if wa is None and wb is None:
        # int32 counts cumsum twice as fast; the division below is exact either way.
        small = vs.shape[-1] < np.iinfo(np.int32).max
        cum_b = np.cumsum(from_b, axis=-1, dtype=np.int32 if small else np.int64)
        cum_a = np.arange(1, vs.shape[-1] + 1, dtype=np.int64) - cum_b
        tot_a = np.full((*a.shape[:-1], 1), n1, dtype=np.int64)
        tot_b = np.full((*b.shape[:-1], 1), b.shape[-1], dtype=np.int64)
    else:
        ones_a = np.ones(a.shape, np.int64) if wa is None else wa
        ones_b = np.ones(b.shape, np.int64) if wb is None else wb
        w = np.take_along_axis(np.concatenate((ones_a, ones_b), axis=-1), order, axis=-1)
        cum_a = np.cumsum(np.where(from_b, 0, w), axis=-1)
        cum_b = np.cumsum(np.where(from_b, w, 0), axis=-1)
        tot_a = ones_a.sum(axis=-1, keepdims=True)
        tot_b = ones_b.sum(axis=-1, keepdims=True)
    del order, from_b
    ends = np.empty(vs.shape, dtype=bool)
    np.not_equal(vs[..., 1:], vs[..., :-1], out=ends[..., :-1])
    ends[..., -1] = True
    return Walk(vs, cum_a, cum_b, ends, tot_a, tot_b)


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
    diffs = w.cum_a / w.n_a
    diffs -= w.cum_b / w.n_b
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
        loc[r] = _first_location(values2[r], ends2[r] & (diffs2[r] == target), a2[r])
    return d.reshape(max_s.shape), loc.reshape(max_s.shape), sign.reshape(max_s.shape)


def wasserstein_from_walk(w: Walk) -> NDArray[np.float64]:
    """W1 = sum |F_a - F_b| * dx over the pooled points (scipy's formula, per row)."""
    diffs = np.abs(w.cum_a / w.n_a - w.cum_b / w.n_b)
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
