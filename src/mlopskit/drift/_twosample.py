"""The public two-sample functions: ``psi``, ``ks``, ``wasserstein``, ``jensen_shannon``,
``chi2`` and ``hellinger``.

Each takes a reference and a current sample (numpy array, pandas Series, list, or — for
the reference — a column of a :class:`ReferenceProfile`) and returns a result model.
NaN and infinities are left out of the statistic; a sample with no finite (non-missing)
value is an :class:`InvalidInputError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np

from mlopskit.drift._binning import BinSpec
from mlopskit.drift._columns import category_counts, numeric_array
from mlopskit.drift._methods import DEFAULT_THRESHOLDS, METHODS, Options, Outcome, verdict
from mlopskit.drift._results import (
    ChiSquareResult,
    DriftResult,
    HellingerResult,
    JensenShannonResult,
    KSResult,
    PSIResult,
    WassersteinResult,
)
from mlopskit.drift._sides import CatSide, NumSide, Side
from mlopskit.errors import InvalidInputError, SchemaError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["chi2", "hellinger", "jensen_shannon", "ks", "psi", "to_side", "wasserstein"]

R = TypeVar("R", bound=DriftResult)


def to_side(sample: Any, *, what: str) -> Side:
    """A numeric or categorical sample from an array-like, a Series or a column profile."""
    import pandas as pd

    from mlopskit.drift._profile import CategoricalProfile, NumericProfile

    if isinstance(sample, (NumericProfile, CategoricalProfile)):
        return sample.side()
    if isinstance(sample, pd.DataFrame):
        raise InvalidInputError(f"{what} must be one column; use compare() for DataFrames")
    if not isinstance(sample, pd.Series):
        arr = np.asarray(sample) if not isinstance(sample, np.ndarray) else sample
        if arr.ndim != 1:
            raise InvalidInputError(f"{what} must be 1-dimensional; found shape {arr.shape}")
        if arr.dtype.kind in "iuf":
            return NumSide.from_values(np.asarray(arr, dtype=np.float64))
        sample = pd.Series(arr, dtype=object if arr.dtype.kind not in "bOSU" else None)
    from mlopskit.drift._columns import column_kind

    if column_kind(sample, name=what) == "numeric":
        return NumSide.from_values(numeric_array(sample))
    return CatSide.from_counts(category_counts(sample, name=what))


def _pair(reference: Any, current: Any) -> tuple[Side, Side]:
    ref = to_side(reference, what="reference")
    cur = to_side(current, what="current")
    if type(ref) is not type(cur):
        kinds = ["numeric" if isinstance(s, NumSide) else "categorical" for s in (ref, cur)]
        raise SchemaError(
            f"the reference is {kinds[0]} but the current sample is {kinds[1]}; "
            "convert one of them so both have the same kind",
            expected=kinds[0],
            found=kinds[1],
        )
    for name, side in (("reference", ref), ("current", cur)):
        if side.valid == 0:
            raise InvalidInputError(
                f"the {name} sample has no finite, non-missing value ({side.rows} rows); "
                "a statistic needs at least one",
            )
    return ref, cur


def _run(
    model: type[R],
    method: str,
    reference: Any,
    current: Any,
    threshold: float | None,
    opts: Options,
) -> R:
    ref, cur = _pair(reference, current)
    out: Outcome = METHODS[method](ref, cur, opts)
    thr = DEFAULT_THRESHOLDS[method] if threshold is None else float(threshold)
    fields: dict[str, Any] = dict(out.extra)
    if out.binning is not None:
        fields["binning"] = out.binning
    return model(
        statistic=out.statistic,
        p_value=out.p_value,
        threshold=thr,
        drifted=verdict(method, out.statistic, out.p_value, thr),
        n_reference=ref.valid,
        n_current=cur.valid,
        exact=out.exact,
        error_bound=out.error_bound,
        **fields,
    )


def psi(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    bins: int | Sequence[float] = 10,
    binning: Literal["quantile", "uniform"] = "quantile",
    eps: float = 1e-4,
    threshold: float | None = None,
) -> PSIResult:
    """Population stability index ``sum((c - r) * ln(c / r))`` over reference bins.

    Args:
        reference: The reference sample (or a column of a ReferenceProfile).
        current: The current sample.
        bins: The number of bins, or explicit edges ``e0 < ... < ek`` (outer bins open).
        binning: ``"quantile"`` (reference quantiles) or ``"uniform"`` (equal width).
        eps: Shares below ``eps`` are raised to ``eps`` (no renormalisation).
        threshold: Drift when ``psi >= threshold`` (default 0.1).
    """
    opts = Options(spec=BinSpec.make(bins, binning), eps=eps)
    return _run(PSIResult, "psi", reference, current, threshold, opts)


def ks(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    alternative: Literal["two-sided", "less", "greater"] = "two-sided",
    method: Literal["auto", "exact", "asymp"] = "auto",
    threshold: float | None = None,
) -> KSResult:
    """Two-sample Kolmogorov-Smirnov test, identical to ``scipy.stats.ks_2samp``.

    Args:
        reference: The reference sample (``data1`` in scipy's terms).
        current: The current sample (``data2``).
        alternative: ``"two-sided"``, ``"less"`` or ``"greater"`` as in scipy.
        method: ``"auto"`` (exact when the larger sample has at most 10,000 values),
            ``"exact"`` or ``"asymp"``; where scipy would warn and fall back to
            asymptotic, ``mode`` in the result says ``"asymp"``.
        threshold: Drift when ``p_value < threshold`` (default 0.05).
    """
    if alternative not in ("two-sided", "less", "greater"):
        raise InvalidInputError(
            f"alternative must be two-sided, less or greater; found {alternative!r}"
        )
    if method not in ("auto", "exact", "asymp"):
        raise InvalidInputError(f"method must be auto, exact or asymp; found {method!r}")
    opts = Options(alternative=alternative, mode=method)
    return _run(KSResult, "ks", reference, current, threshold, opts)


def wasserstein(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    normalize: bool = True,
    threshold: float | None = None,
) -> WassersteinResult:
    """First Wasserstein distance, by default divided by the reference standard deviation.

    Args:
        reference: The reference sample.
        current: The current sample.
        normalize: Divide by the reference's population standard deviation (a constant
            reference gives ``inf`` if the samples differ, else 0). ``distance`` in the
            result is always the raw W1, equal to ``scipy.stats.wasserstein_distance``.
        threshold: Drift when the statistic ``>= threshold`` (default 0.1).
    """
    opts = Options(normalize=normalize)
    return _run(WassersteinResult, "wasserstein", reference, current, threshold, opts)


def jensen_shannon(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    bins: int | Sequence[float] = 10,
    binning: Literal["quantile", "uniform"] = "quantile",
    base: float = 2.0,
    threshold: float | None = None,
) -> JensenShannonResult:
    """Jensen-Shannon distance over reference bins (base 2 by default, so in [0, 1]).

    Args:
        reference: The reference sample.
        current: The current sample.
        bins: Number of bins or explicit edges, as for :func:`psi`.
        binning: ``"quantile"`` or ``"uniform"``.
        base: Logarithm base (``math.e`` gives Evidently's scale, max ``sqrt(ln 2)``).
        threshold: Drift when the distance ``>= threshold`` (default 0.1).
    """
    opts = Options(spec=BinSpec.make(bins, binning), base=base)
    return _run(JensenShannonResult, "jensen_shannon", reference, current, threshold, opts)


def chi2(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    bins: int | Sequence[float] = 10,
    binning: Literal["quantile", "uniform"] = "quantile",
    correction: bool = True,
    threshold: float | None = None,
) -> ChiSquareResult:
    """Chi-square test of homogeneity (``scipy.stats.chi2_contingency`` on the 2 x k table).

    Categories (or bins of a numeric sample) empty in both samples are dropped; with a
    single category left the statistic is 0 and the p-value 1.

    Args:
        reference: The reference sample.
        current: The current sample.
        bins: Number of bins or explicit edges for numeric samples.
        binning: ``"quantile"`` or ``"uniform"``.
        correction: Yates' continuity correction when the table has one degree of freedom.
        threshold: Drift when ``p_value < threshold`` (default 0.05).
    """
    opts = Options(spec=BinSpec.make(bins, binning), correction=correction)
    return _run(ChiSquareResult, "chi2", reference, current, threshold, opts)


def hellinger(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    bins: int | Sequence[float] = 10,
    binning: Literal["quantile", "uniform"] = "quantile",
    threshold: float | None = None,
) -> HellingerResult:
    """Hellinger distance ``sqrt(1 - sum(sqrt(r * c)))`` over reference bins, in [0, 1].

    Args:
        reference: The reference sample.
        current: The current sample.
        bins: Number of bins or explicit edges, as for :func:`psi`.
        binning: ``"quantile"`` or ``"uniform"``.
        threshold: Drift when the distance ``>= threshold`` (default 0.1).
    """
    opts = Options(spec=BinSpec.make(bins, binning))
    return _run(HellingerResult, "hellinger", reference, current, threshold, opts)
