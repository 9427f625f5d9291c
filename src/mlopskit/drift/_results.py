"""Result models of the two-sample statistics."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "Binning",
    "ChiSquareResult",
    "DriftResult",
    "HellingerResult",
    "JensenShannonResult",
    "KSResult",
    "PSIResult",
    "WassersteinResult",
]

CategoryValue = bool | int | float | str


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")


class Binning(_Frozen):
    """The bins a binned statistic used.

    Numeric bins (``strategy`` quantile, uniform or explicit) are right-closed,
    ``(edges[i], edges[i + 1]]``, with ``edges[0] = -inf`` and ``edges[-1] = +inf``.
    ``"sturges"`` (the Evidently preset) uses numpy's half-open bins over the pooled
    range. ``"categories"`` bins are the distinct values of both samples.
    """

    strategy: Literal["quantile", "uniform", "explicit", "categories", "sturges"]
    requested: int | None = None
    n_bins: int
    edges: list[float] | None = None
    categories: list[CategoryValue] | None = None
    eps: float | None = None


class DriftResult(_Frozen):
    """A two-sample statistic and its verdict.

    ``drifted`` is ``statistic >= threshold`` for distances and ``p_value < threshold``
    for tests. ``exact`` is False when a bucketed profile stood in for the reference;
    then the exact statistic lies within ``error_bound`` of ``statistic`` where a bound
    is known.
    """

    method: str
    statistic: float
    p_value: float | None = None
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int
    exact: bool = True
    error_bound: float | None = None


class PSIResult(DriftResult):
    """Population stability index: ``sum((c - r) * ln(c / r))`` over bins."""

    method: Literal["psi"] = "psi"
    binning: Binning


class JensenShannonResult(DriftResult):
    """Jensen-Shannon distance (the square root of the divergence) over bins."""

    method: Literal["jensen_shannon"] = "jensen_shannon"
    binning: Binning
    base: float


class HellingerResult(DriftResult):
    """Hellinger distance ``sqrt(1 - sum(sqrt(r * c)))`` over bins, in [0, 1]."""

    method: Literal["hellinger"] = "hellinger"
    binning: Binning


class ChiSquareResult(DriftResult):
    """Pearson's chi-square test of homogeneity on the 2 x k table of bin counts."""

    method: Literal["chi2"] = "chi2"
    binning: Binning
    dof: int


class KSResult(DriftResult):
    """Two-sample Kolmogorov-Smirnov test, as ``scipy.stats.ks_2samp``."""

    method: Literal["ks"] = "ks"
    p_value: float
    alternative: Literal["two-sided", "less", "greater"]
    mode: Literal["exact", "asymp"]
    statistic_location: float
    statistic_sign: int


class WassersteinResult(DriftResult):
    """First Wasserstein distance, divided by the reference standard deviation if normed."""

    method: Literal["wasserstein"] = "wasserstein"
    distance: float
    scale: float | None = None
