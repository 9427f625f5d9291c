"""The native statistics, computed on one column's reference and current samples.

Each method returns an :class:`Outcome` (statistic, p-value, binning, exactness and a
small histogram for the report); the public two-sample functions and ``compare`` wrap it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mlopskit.drift._binning import BinSpec, bin_counts, numeric_bins
from mlopskit.drift._ecdf import (
    _BOUNDED_MIN,
    ks_bounded,
    ks_from_walk,
    ks_pvalue,
    pooled,
    walk,
    walk_pooled,
    wasserstein_from_walk,
)
from mlopskit.drift._results import Binning
from mlopskit.drift._sides import (
    CatSide,
    EmptySample,
    NumSide,
    Side,
    align_categories,
    numeric_as_categories,
)
from mlopskit.drift._sketch import Dist
from mlopskit.errors import SchemaError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "DEFAULT_THRESHOLDS",
    "DISCRETE_LIMIT",
    "METHODS",
    "TESTS",
    "Options",
    "Outcome",
    "Plot",
    "binned_counts",
    "chi2_test",
    "hellinger_value",
    "js_value",
    "ks_block",
    "psi_value",
    "verdict",
]

DISCRETE_LIMIT = 20  # numeric references with at most this many distinct values are binned by value
EPS = 1e-4
DEFAULT_THRESHOLDS: dict[str, float] = {
    "psi": 0.1,
    "ks": 0.05,
    "wasserstein": 0.1,
    "jensen_shannon": 0.1,
    "chi2": 0.05,
    "hellinger": 0.1,
}
TESTS = frozenset({"ks", "chi2"})  # p-value tests: drift when p < threshold


def verdict(method: str, statistic: float, p_value: float | None, threshold: float) -> bool:
    """Native rule: tests drift when ``p < threshold``; distances when ``statistic >= threshold``."""
    if method in TESTS:
        assert p_value is not None
        return bool(p_value < threshold)
    return bool(statistic >= threshold)


@dataclass(frozen=True)
class Plot:
    """Shares per bin of both samples, for the report's histograms."""

    labels: list[str]
    reference: list[float]
    current: list[float]


@dataclass
class Outcome:
    """What a method computed for one column."""

    statistic: float
    p_value: float | None = None
    binning: Binning | None = None
    exact: bool = True
    error_bound: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    plot: Plot | None = None


@dataclass(frozen=True)
class Options:
    """Per-call options of the native methods."""

    spec: BinSpec = field(default_factory=BinSpec)
    eps: float = EPS
    base: float = 2.0
    normalize: bool = True
    alternative: Literal["two-sided", "less", "greater"] = "two-sided"
    mode: Literal["auto", "exact", "asymp"] = "auto"
    correction: bool = True


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _shares(counts: NDArray[np.int64]) -> list[float]:
    total = counts.sum()
    return [float(v) for v in (counts / total if total else counts.astype(float))]


def _bin_labels(inner: NDArray[np.float64]) -> list[str]:
    if inner.size == 0:
        return ["all"]
    labels = [f"≤ {_fmt(inner[0])}"]
    labels += [f"({_fmt(a)}, {_fmt(b)}]" for a, b in itertools.pairwise(inner)]
    labels.append(f"> {_fmt(inner[-1])}")
    return labels


_TOP_CATEGORIES = 20


def category_plot(cats: list[Any], r: NDArray[np.int64], c: NDArray[np.int64]) -> Plot:
    """Shares per category; beyond the 20 largest, the rest are summed as "(other)"."""
    rs, cs = np.asarray(_shares(r)), np.asarray(_shares(c))
    labels = [str(v) for v in cats]
    if len(labels) > _TOP_CATEGORIES:
        keep = np.sort(np.argsort(-np.maximum(rs, cs), kind="stable")[: _TOP_CATEGORIES - 1])
        rest = np.setdiff1d(np.arange(len(labels)), keep)
        labels = [labels[i] for i in keep] + [f"(other {rest.size})"]
        rs = np.append(rs[keep], rs[rest].sum())
        cs = np.append(cs[keep], cs[rest].sum())
    return Plot(labels, [float(v) for v in rs], [float(v) for v in cs])


def dist_plot(a: Dist, b: Dist, bins: int = 20) -> Plot:
    """Shares in equal-width bins between the pooled 1% and 99% quantiles (open ends)."""
    qa, qb = a.quantiles([0.01, 0.99]), b.quantiles([0.01, 0.99])
    lo, hi = float(min(qa[0], qb[0])), float(max(qa[1], qb[1]))
    inner = np.unique(np.linspace(lo, hi, bins + 1)[1:-1]) if hi > lo else np.array([lo])
    r = bin_counts(a.count_le(inner), a.n)
    c = bin_counts(b.count_le(inner), b.n)
    return Plot(_bin_labels(inner), _shares(r), _shares(c))


def _aligned(ref: NumSide, cur: NumSide) -> tuple[Dist, Dist, bool]:
    """Both distributions at a common precision (exact unless a profile is bucketed)."""
    a, b = ref.dist(), cur.dist()
    if a.exact and b.exact:
        return a, b, True
    m = min(a.precision, b.precision)
    return a.coarsen(m), b.coarsen(m), False


def binned_counts(
    ref: Side, cur: Side, spec: BinSpec
) -> tuple[Binning, NDArray[np.int64], NDArray[np.int64], Plot]:
    """The bins of a column and the reference and current counts in them.

    Categorical columns, and numeric columns whose reference has at most
    :data:`DISCRETE_LIMIT` distinct values (unless explicit edges are given), are
    binned by value over both samples; other numeric columns by ``spec``.
    """
    if isinstance(ref, CatSide) and isinstance(cur, CatSide):
        cats, r, c = align_categories(ref, cur)
        return _category_binning(cats), r, c, category_plot(cats, r, c)
    assert isinstance(ref, NumSide)
    assert isinstance(cur, NumSide)
    if spec.strategy != "explicit" and ref.distinct_at_most(DISCRETE_LIMIT):
        if cur.valid == 0:
            raise EmptySample
        cats_f, r, c = numeric_as_categories(ref, cur)
        return _category_binning(cats_f), r, c, category_plot(cats_f, r, c)
    if cur.exact:
        a = ref.dist()
        bins = numeric_bins(spec, a)
        le = cur.count_le(bins.inner)  # on raw values: counts the missing ones too
        if cur.valid == 0:
            raise EmptySample
        c = bin_counts(le, cur.valid)
    else:
        a, b, _ = _aligned(ref, cur)
        bins = numeric_bins(spec, a)
        c = bin_counts(b.count_le(bins.inner), b.n)
    r = bin_counts(a.count_le(bins.inner), a.n)
    binning = Binning(
        strategy=bins.strategy,
        requested=bins.requested,
        n_bins=bins.n_bins,
        edges=[-np.inf, *bins.inner.tolist(), np.inf],
    )
    return binning, r, c, Plot(_bin_labels(bins.inner), _shares(r), _shares(c))


def _category_binning(cats: list[Any]) -> Binning:
    return Binning(strategy="categories", n_bins=len(cats), categories=cats)


def psi_value(r: NDArray[np.int64], c: NDArray[np.int64], eps: float) -> float:
    """``sum((q - p) * ln(q / p))`` with shares below ``eps`` raised to ``eps``."""
    p = np.maximum(r / r.sum(), eps)
    q = np.maximum(c / c.sum(), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def _rel_entr(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """``x * ln(x / y)`` with ``0 * ln(0) = 0`` (y > 0 wherever x > 0)."""
    pos = x > 0
    safe_x = np.where(pos, x, 1.0)
    safe_y = np.where(pos, y, 1.0)
    return np.where(pos, x * np.log(safe_x / safe_y), 0.0)


def js_value(r: NDArray[np.int64], c: NDArray[np.int64], base: float | None) -> float:
    """Jensen-Shannon distance as ``scipy.spatial.distance.jensenshannon`` computes it."""
    p = r / r.sum()
    q = c / c.sum()
    m = (p + q) / 2.0
    js = float(np.sum(_rel_entr(p, m)) + np.sum(_rel_entr(q, m)))
    if base is not None:
        js /= float(np.log(base))
    return float(np.sqrt(max(js, 0.0) / 2.0))


def hellinger_value(r: NDArray[np.int64], c: NDArray[np.int64]) -> float:
    """``sqrt(1 - BC)`` with the Bhattacharyya coefficient ``BC = sum(sqrt(p * q))``."""
    bc = float(np.sum(np.sqrt((r / r.sum()) * (c / c.sum()))))
    return float(np.sqrt(1.0 - min(max(bc, 0.0), 1.0)))


def chi2_test(
    r: NDArray[np.int64], c: NDArray[np.int64], correction: bool
) -> tuple[float, float, int]:
    """``scipy.stats.chi2_contingency`` on the 2 x k table, bins empty in both dropped."""
    keep = (r + c) > 0
    if int(keep.sum()) < 2:
        return 0.0, 1.0, 0
    from scipy.stats import chi2_contingency

    res = chi2_contingency(np.vstack((r[keep], c[keep])), correction=correction)
    return float(res.statistic), float(res.pvalue), int(res.dof)


def _binned(kind: str) -> Callable[[Side, Side, Options], Outcome]:
    def run(ref: Side, cur: Side, opts: Options) -> Outcome:
        binning, r, c, plot = binned_counts(ref, cur, opts.spec)
        if kind == "psi":
            binning = binning.model_copy(update={"eps": opts.eps})
            return Outcome(psi_value(r, c, opts.eps), binning=binning, plot=plot)
        if kind == "jensen_shannon":
            return Outcome(
                js_value(r, c, opts.base), binning=binning, plot=plot, extra={"base": opts.base}
            )
        if kind == "hellinger":
            return Outcome(hellinger_value(r, c), binning=binning, plot=plot)
        stat, p, dof = chi2_test(r, c, opts.correction)
        return Outcome(stat, p, binning=binning, plot=plot, extra={"dof": dof})

    return run


def _numeric_only(method: str, ref: Side, cur: Side) -> tuple[NumSide, NumSide]:
    if not (isinstance(ref, NumSide) and isinstance(cur, NumSide)):
        raise SchemaError(
            f"{method} needs numeric samples; this column is categorical. "
            "Use psi, jensen_shannon, hellinger or chi2 for categories",
            method=method,
        )
    return ref, cur


def _ks_p(d: float, n1: int, n2: int, opts: Options, a: Dist, b: Dist) -> tuple[float, float, str]:
    try:
        return ks_pvalue(d, n1, n2, opts.alternative, opts.mode)
    except NotImplementedError:  # pragma: no cover - fallback for a scipy without the helper
        from scipy.stats import ks_2samp

        ra = a.values if a.counts is None else np.repeat(a.values, a.counts)
        rb = b.values if b.counts is None else np.repeat(b.values, b.counts)
        res = ks_2samp(ra, rb, alternative=opts.alternative, method=opts.mode)
        return float(res.statistic), float(res.pvalue), opts.mode


def _ks_extra(opts: Options, mode: str, loc: float, sign: int) -> dict[str, Any]:
    return {
        "alternative": opts.alternative,
        "mode": mode,
        "statistic_location": float(loc),
        "statistic_sign": int(sign),
    }


def ks_outcome(ref: Side, cur: Side, opts: Options) -> Outcome:
    """Two-sample KS on the merged walk; equal to ``scipy.stats.ks_2samp`` when exact."""
    rs, cs = _numeric_only("ks", ref, cur)
    if rs.raw is not None and cs.raw is not None and rs.unsorted and cs.unsorted:
        return ks_block([rs.raw], [cs.raw], opts)[0]  # raw samples: sort into one buffer
    a, b, exact = _aligned(rs, cs)
    w = walk(a.values, b.values, a.counts, b.counts)
    d, loc, sign = ks_from_walk(w, a.values, opts.alternative)
    del w
    d_used, p, mode = _ks_p(float(d), a.n, b.n, opts, a, b)
    bound = None if exact else max(a.max_mass, b.max_mass)
    extra = _ks_extra(opts, mode, float(loc), int(sign))
    return Outcome(d_used, p, exact=exact, error_bound=bound, extra=extra, plot=dist_plot(a, b))


def ks_block(
    refs: list[NDArray[np.float64]], curs: list[NDArray[np.float64]], opts: Options
) -> list[Outcome]:
    """KS for several raw columns of equal sample sizes, walked together as one 2-d block."""
    v = pooled(refs, curs)
    n1, n2 = refs[0].size, curs[0].size
    if v.shape[0] == 1 and n1 + n2 >= _BOUNDED_MIN:  # large: bound intervals, walk few points
        d1, loc1, sign1 = ks_bounded(v[0, :n1], v[0, n1:], opts.alternative)
        d, loc, sign = np.array([d1]), np.array([loc1]), np.array([sign1])
    else:
        w = walk_pooled(v, n1)
        d, loc, sign = ks_from_walk(w, v[:, :n1], opts.alternative)
        del w
    out = []
    for i in range(v.shape[0]):
        da, db = Dist(v[i, :n1]), Dist(v[i, n1:])
        d_used, p, mode = _ks_p(float(d[i]), n1, n2, opts, da, db)
        extra = _ks_extra(opts, mode, float(loc[i]), int(sign[i]))
        out.append(Outcome(d_used, p, extra=extra, plot=dist_plot(da, db)))
    return out


def wasserstein_outcome(ref: Side, cur: Side, opts: Options) -> Outcome:
    """W1 between the samples, divided by the reference standard deviation when normed.

    A constant reference (standard deviation 0) gives ``inf`` when the samples differ
    and ``0`` when they do not.
    """
    rs, cs = _numeric_only("wasserstein", ref, cur)
    a, b, exact = _aligned(rs, cs)
    a, b = a.compact(), b.compact()
    dist = float(wasserstein_from_walk(walk(a.values, b.values, a.counts, b.counts)))
    bound = None if exact else a.mean_spread + b.mean_spread
    scale = None
    stat = dist
    if opts.normalize:
        scale = a.mean_std()[1]
        if scale > 0:
            stat = dist / scale
            bound = None if bound is None else bound / scale
        else:
            stat = 0.0 if dist == 0 else float("inf")
            bound = None if bound is None else (0.0 if bound == 0 else float("inf"))
    return Outcome(
        stat,
        exact=exact,
        error_bound=bound,
        extra={"distance": dist, "scale": scale},
        plot=dist_plot(a, b),
    )


METHODS: dict[str, Callable[[Side, Side, Options], Outcome]] = {
    "psi": _binned("psi"),
    "jensen_shannon": _binned("jensen_shannon"),
    "hellinger": _binned("hellinger"),
    "chi2": _binned("chi2"),
    "ks": ks_outcome,
    "wasserstein": wasserstein_outcome,
}
