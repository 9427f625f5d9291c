"""Drift: two-sample statistics, dataset reports, reference profiles and monitors.

Depends only on numpy, pandas, scipy and pydantic (and Dask, optionally, for Dask
DataFrames). scipy is imported on first use, not here. See ``docs/drift.md``.
"""

from __future__ import annotations

from mlopskit.drift._compare import compare
from mlopskit.drift._monitor import Monitor
from mlopskit.drift._profile import (
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    merge_profiles,
    profile,
)
from mlopskit.drift._report import ColumnDrift, DriftReport, Histogram
from mlopskit.drift._results import (
    Binning,
    ChiSquareResult,
    DriftResult,
    HellingerResult,
    JensenShannonResult,
    KSResult,
    PSIResult,
    WassersteinResult,
)
from mlopskit.drift._twosample import chi2, hellinger, jensen_shannon, ks, psi, wasserstein

__all__ = [
    "Binning",
    "CategoricalProfile",
    "ChiSquareResult",
    "ColumnDrift",
    "DriftReport",
    "DriftResult",
    "HellingerResult",
    "Histogram",
    "JensenShannonResult",
    "KSResult",
    "Monitor",
    "NumericProfile",
    "PSIResult",
    "ReferenceProfile",
    "WassersteinResult",
    "chi2",
    "compare",
    "hellinger",
    "jensen_shannon",
    "ks",
    "merge_profiles",
    "profile",
    "psi",
    "wasserstein",
]
