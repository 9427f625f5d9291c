"""``preset="evidently"``: Evidently 0.7.23's drift definitions, reproduced.

Read from ``evidently/legacy/calculations/stattests`` and ``core/datasets.py`` of the
0.7.23 release; the ``evidently`` nox session checks every value against Evidently
itself. What is reproduced:

- column types (``infer_column_type`` on the current data): floats are numerical;
  integers are categorical with at most 10 distinct values, else numerical; bool and
  category are categorical; strings are categorical (Evidently calls a string column with
  more distinct values than half its rows *text* and runs a text-content test; here it
  stays categorical, and the row's note says so);
- NaN and +-inf are dropped from each sample before any test; missing shares are
  reported but do not change a verdict unless ``missing_threshold`` is given;
- the automatic test: with at most 1000 reference values, KS for numerical columns with
  more than 5 distinct values (pooled), else chi-square (more than 2) or the z-test;
  above 1000, normed Wasserstein for numerical columns with more than 5 distinct values,
  else Jensen-Shannon;
- binning (``get_binned_data``): numerical columns with more than 20 distinct reference
  values use ``np.histogram_bin_edges(ref + cur, "sturges")``, others one bin per
  distinct value of either sample; PSI fills empty shares with ``min_nonzero / 1e6`` when
  ``min_nonzero <= 1e-4``, else ``1e-4``; Jensen-Shannon uses no fill and natural logs;
- PSI is ``sum((r - c) * ln(r / c))``; Wasserstein is ``W1 / max(std(ref), 0.001)``;
  chi-square is ``scipy.stats.chisquare(cur_counts, ref_counts * n_cur / n_ref)``;
  Hellinger is Evidently's (density histograms over Sturges edges of the distinct values);
- thresholds 0.1 for distances, 0.05 for p-values; drift when distance ``>=`` threshold,
  KS ``p <= threshold``, chi-square and z ``p < threshold``; the dataset drifts when the
  share of drifted columns is ``>= 0.5``.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Literal

import numpy as np

from mlopskit.drift._methods import (
    Options,
    Outcome,
    Plot,
    category_plot,
    js_value,
    ks_outcome,
    wasserstein_outcome,
)
from mlopskit.drift._results import Binning
from mlopskit.drift._sides import CatSide, NumSide, Side, align_categories, numeric_as_categories
from mlopskit.errors import InvalidInputError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "ALIASES",
    "EVIDENTLY_THRESHOLDS",
    "EvidentlyKind",
    "auto_method",
    "column_kind",
    "outcome",
    "verdict",
]

EvidentlyKind = Literal["num", "cat"]
EVIDENTLY_THRESHOLDS: dict[str, float] = {
    "psi": 0.1,
    "jensenshannon": 0.1,
    "wasserstein": 0.1,
    "hellinger": 0.1,
    "ks": 0.05,
    "chisquare": 0.05,
    "z": 0.05,
}
ALIASES = {"jensen_shannon": "jensenshannon", "chi2": "chisquare"}
_INTEGER_CARDINALITY_LIMIT = 10


def column_kind(dtype: str, cur: Side) -> tuple[EvidentlyKind, str | None]:
    """Evidently's type of a column from the current data, and a note when it differs."""
    if isinstance(cur, CatSide):
        textual = dtype in ("string", "object")
        if textual and cur.valid and len(cur.values) > 0.5 * cur.valid:
            return "cat", "Evidently would treat this string column as text"
        return "cat", None
    if dtype.startswith(("int", "uint")):
        few = cur.distinct_at_most(_INTEGER_CARDINALITY_LIMIT) if cur.valid else True
        return ("cat" if few else "num"), None
    return "num", None


def _n_values(kind: EvidentlyKind, ref: Side, cur: Side) -> int:
    """Distinct non-missing values of both samples together, capped at 6 for numbers."""
    if isinstance(ref, CatSide) and isinstance(cur, CatSide):
        return len(align_categories(ref, cur)[0])
    assert isinstance(ref, NumSide)
    assert isinstance(cur, NumSide)
    # Only "more than 2" and "more than 5" matter, and the union has at least as many
    # distinct values as either side (a bucketed sketch has more than its budget).
    if not (ref.distinct_at_most(5) and cur.distinct_at_most(5)):
        return 6
    return len(numeric_as_categories(ref, cur)[0])


def auto_method(kind: EvidentlyKind, ref: Side, cur: Side) -> str:
    """``_get_default_stattest``: the test Evidently picks for a column."""
    n_values = _n_values(kind, ref, cur)
    if ref.valid <= 1000:
        if kind == "num" and n_values > 5:
            return "ks"
        return "chisquare" if n_values > 2 else "z"
    if kind == "num" and n_values > 5:
        return "wasserstein"
    return "jensenshannon"


def verdict(method: str, statistic: float, p_value: float | None, threshold: float) -> bool:
    """Evidently's comparison: KS ``p <= t``; chi-square and z ``p < t``; others ``>= t``."""
    if method == "ks":
        assert p_value is not None
        return bool(p_value <= threshold)
    if method in ("chisquare", "z"):
        assert p_value is not None
        return bool(p_value < threshold)
    return bool(statistic >= threshold)


def _sturges(lo: float, hi: float, size: int, integer: bool) -> NDArray[np.float64]:
    """``np.histogram_bin_edges(a, "sturges")`` from the range and size of ``a``."""
    first, last = lo, hi
    if first == last:
        first, last = first - 0.5, last + 0.5
    width = (hi - lo) / (np.log2(size) + 1.0)
    if width:
        if integer and width < 1:
            width = 1
        n = int(np.ceil((last - first) / width))
    else:
        n = 1
    return np.linspace(first, last, n + 1)


def _hist(side: NumSide, edges: NDArray[np.float64]) -> NDArray[np.int64]:
    """``np.histogram(values, edges)[0]``: half-open bins, the last one closed."""
    if side.exact and side.raw is not None and side._dist is None:
        counts: NDArray[np.int64] = np.histogram(side.raw, edges)[0].astype(np.int64)
        return counts
    d = side.dist()
    lt = d.count_lt(edges)
    upper = lt[1:].copy()
    upper[-1] = d.count_le(edges[-1:])[0]
    out: NDArray[np.int64] = (upper - lt[:-1]).astype(np.int64)
    return out


def _range(side: NumSide) -> tuple[float, float]:
    if side._dist is None and side.raw is not None:
        return float(side.raw.min()), float(side.raw.max())
    d = side.dist()
    return float(d.values[0]), float(d.values[-1])


def _fill(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Evidently's zero fill: ``min_nonzero / 1e6`` if ``min_nonzero <= 1e-4``, else ``1e-4``."""
    zero = p == 0
    if not zero.any():
        return p
    m = float(p[~zero].min())
    return np.where(zero, m / 10**6 if m <= 0.0001 else 0.0001, p)


def _binned(
    kind: EvidentlyKind, ref: Side, cur: Side, integer: bool
) -> tuple[Binning, NDArray[np.float64], NDArray[np.float64], Plot]:
    """``get_binned_data`` without the fill: shares per bin of both samples."""
    if (
        kind == "num"
        and isinstance(ref, NumSide)
        and isinstance(cur, NumSide)
        and not ref.distinct_at_most(20)
    ):
        (lo_r, hi_r), (lo_c, hi_c) = _range(ref), _range(cur)
        edges = _sturges(min(lo_r, lo_c), max(hi_r, hi_c), ref.valid + cur.valid, integer)
        r, c = _hist(ref, edges), _hist(cur, edges)
        binning = Binning(strategy="sturges", n_bins=int(r.size), edges=[float(e) for e in edges])
        labels = [f"[{a:.4g}, {b:.4g})" for a, b in itertools.pairwise(edges)]
        plot = Plot(labels, list(r / ref.valid), list(c / cur.valid))
        return binning, r / ref.valid, c / cur.valid, plot
    if isinstance(ref, CatSide) and isinstance(cur, CatSide):
        cats, ri, ci = align_categories(ref, cur)
    else:
        assert isinstance(ref, NumSide)
        assert isinstance(cur, NumSide)
        cats, ri, ci = numeric_as_categories(ref, cur)
    binning = Binning(strategy="categories", n_bins=len(cats), categories=cats)
    return binning, ri / ref.valid, ci / cur.valid, category_plot(cats, ri, ci)


def _psi(kind: EvidentlyKind, ref: Side, cur: Side, integer: bool) -> Outcome:
    binning, r, c, plot = _binned(kind, ref, cur, integer)
    r, c = _fill(r), _fill(c)
    return Outcome(float(np.sum((r - c) * np.log(r / c))), binning=binning, plot=plot)


def _jensenshannon(kind: EvidentlyKind, ref: Side, cur: Side, integer: bool) -> Outcome:
    binning, r, c, plot = _binned(kind, ref, cur, integer)
    return Outcome(js_value(r, c, None), binning=binning, plot=plot)  # type: ignore[arg-type]


def _counts(
    kind: EvidentlyKind, ref: Side, cur: Side
) -> tuple[list[object], NDArray[np.int64], NDArray[np.int64]]:
    if isinstance(ref, CatSide) and isinstance(cur, CatSide):
        return align_categories(ref, cur)  # type: ignore[return-value]
    assert isinstance(ref, NumSide)
    assert isinstance(cur, NumSide)
    return numeric_as_categories(ref, cur)  # type: ignore[return-value]


def _chisquare(kind: EvidentlyKind, ref: Side, cur: Side) -> Outcome:
    from scipy.stats import chi2 as chi2_dist

    cats, r, c = _counts(kind, ref, cur)
    f_exp = r * (cur.valid / ref.valid)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(f_exp > 0, (c - f_exp) ** 2 / np.where(f_exp > 0, f_exp, 1), np.inf)
    terms = np.where((f_exp == 0) & (c == 0), 0.0, terms)
    stat = float(np.sum(terms))
    p = float(chi2_dist.sf(stat, len(cats) - 1))
    binning = Binning(strategy="categories", n_bins=len(cats), categories=cats)  # type: ignore[arg-type]
    return Outcome(stat, p, binning=binning, plot=category_plot(cats, r, c))


def _z(kind: EvidentlyKind, ref: Side, cur: Side) -> Outcome:
    from scipy.stats import norm

    cats, r, c = _counts(kind, ref, cur)
    binning = Binning(strategy="categories", n_bins=len(cats), categories=cats)  # type: ignore[arg-type]
    plot = category_plot(cats, r, c)
    if len(cats) == 1:  # one value, the same in both samples
        return Outcome(0.0, 1.0, binning=binning, plot=plot)
    n1, n2 = ref.valid, cur.valid
    p1 = float(n1 - r[0]) / n1  # share of "not the first key"
    p2 = float(n2 - c[0]) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    denom = np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p2) / denom
    p = 2 * (1 - norm.cdf(np.abs(z)))
    return Outcome(float(z), float(p), binning=binning, plot=plot)


def _hellinger(kind: EvidentlyKind, ref: Side, cur: Side, integer: bool) -> Outcome:
    if isinstance(ref, CatSide) or kind == "cat":
        cats, r, c = _counts(kind, ref, cur)
        bc = float(sum(np.sqrt(float(a) * float(b)) for a, b in zip(r / ref.valid, c / cur.valid)))
        stat = float(np.sqrt(1 - float(np.clip(bc, 0, 1))))
        binning = Binning(strategy="categories", n_bins=len(cats), categories=cats)  # type: ignore[arg-type]
        return Outcome(stat, binning=binning, plot=category_plot(cats, r, c))
    assert isinstance(cur, NumSide)
    keys = np.asarray(numeric_as_categories(ref, cur)[0], dtype=np.float64)
    edges = _sturges(float(keys.min()), float(keys.max()), keys.size, integer)
    width = (edges.max() - edges.min()) / (edges.size - 1)
    h1 = _hist(ref, edges) / (ref.valid * np.diff(edges))
    h2 = _hist(cur, edges) / (cur.valid * np.diff(edges))
    total = 0.0
    for a, b in zip(h1, h2):
        total += float(np.sqrt(float(a) * float(b))) * width
    stat = float(np.sqrt(1 - float(np.clip(total, 0, 1))))
    binning = Binning(strategy="sturges", n_bins=int(h1.size), edges=[float(e) for e in edges])
    return Outcome(stat, binning=binning)


def _wasserstein(ref: Side, cur: Side) -> Outcome:
    out = wasserstein_outcome(ref, cur, Options(normalize=False))
    assert isinstance(ref, NumSide)
    std = ref.dist().mean_std()[1]
    norm = max(std, 0.001)
    bound = None if out.error_bound is None else out.error_bound / norm
    extra = {"distance": out.statistic, "scale": norm}
    return Outcome(
        out.statistic / norm, exact=out.exact, error_bound=bound, extra=extra, plot=out.plot
    )


def outcome(method: str, kind: EvidentlyKind, ref: Side, cur: Side, integer: bool) -> Outcome:
    """Evidently's statistic ``method`` on one column."""
    numeric = isinstance(ref, NumSide)
    if method in ("ks", "wasserstein") and (kind != "num" or not numeric):
        raise InvalidInputError(
            f"Evidently's {method} test is for numerical columns; this one is categorical",
            method=method,
        )
    if method == "psi":
        out = _psi(kind, ref, cur, integer)
    elif method == "jensenshannon":
        out = _jensenshannon(kind, ref, cur, integer)
    elif method == "hellinger":
        out = _hellinger(kind, ref, cur, integer)
    elif method == "chisquare":
        out = _chisquare(kind, ref, cur)
    elif method == "z":
        out = _z(kind, ref, cur)
    elif method == "ks":
        out = ks_outcome(ref, cur, Options())
    elif method == "wasserstein":
        out = _wasserstein(ref, cur)
    else:
        raise InvalidInputError(
            f"unknown Evidently method {method!r}; use one of {sorted(EVIDENTLY_THRESHOLDS)}",
            found=method,
        )
    if numeric and not (ref.exact and cur.exact):  # type: ignore[union-attr]
        out.exact = False
    return out
