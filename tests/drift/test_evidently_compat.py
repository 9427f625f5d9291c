"""preset="evidently" against Evidently 0.7.23 itself.

Evidently does not import under pandas 3, so this runs in its own venv:
``nox -s evidently`` (evidently==0.7.23, pandas<3). Elsewhere it is skipped.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlopskit import drift

os.environ.setdefault("DO_NOT_TRACK", "1")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    evidently = pytest.importorskip("evidently", minversion="0.7.23")
    from evidently import Report
    from evidently.presets import DataDriftPreset

P_VALUE_TESTS = {"ks", "chisquare", "z"}
EV_NAMES = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "PSI": "psi",
    "Jensen-Shannon distance": "jensenshannon",
    "Wasserstein distance (normed)": "wasserstein",
    "Hellinger distance": "hellinger",
    **{
        name: name
        for name in ("ks", "chisquare", "z", "psi", "jensenshannon", "wasserstein", "hellinger")
    },
}


def _frames(n_ref: int, n_cur: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def make(n: int, shift: float) -> pd.DataFrame:
        x = rng.normal(shift, 1, n)
        x[rng.random(n) < 0.03] = np.nan
        x[rng.random(n) < 0.01] = np.inf
        return pd.DataFrame(
            {
                "shifted": rng.normal(shift, 1 + shift, n),
                "same": rng.normal(0, 1, n),
                "lognormal": rng.lognormal(shift, 1, n),
                "with_missing": x,
                "few_floats": rng.choice([0.5, 1.5, 2.5, 3.5], n),
                "binary_float": rng.choice([0.0, 1.0], n, p=[0.7 - shift / 4, 0.3 + shift / 4]),
                "wide_int": rng.integers(0, 60 + int(20 * shift), n),
                "small_int": rng.integers(0, 4 + int(shift > 0), n),
                "cat": rng.choice(["a", "b", "c"] + (["new"] if shift else []), n),
                "binary_cat": rng.choice(["yes", "no"], n, p=[0.5 + shift / 5, 0.5 - shift / 5]),
                "flag": rng.random(n) < 0.4 + shift / 5,
            }
        )

    return make(n_ref, 0.0), make(n_cur, 0.5)


def _evidently(
    ref: pd.DataFrame, cur: pd.DataFrame, **preset: Any
) -> tuple[dict[str, tuple[str, float]], float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snap = Report([DataDriftPreset(**preset)]).run(cur, ref).dict()
    values: dict[str, tuple[str, float]] = {}
    share = float("nan")
    for m in snap["metrics"]:
        cfg = m["config"]
        if cfg["type"].endswith("ValueDrift"):
            values[cfg["column"]] = (EV_NAMES[cfg["method"]], float(m["value"]))
        elif cfg["type"].endswith("DriftedColumnsCount"):
            share = float(m["value"]["share"])
    return values, share


def _assert_matches(
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    ours: drift.DriftReport,
    theirs: dict[str, tuple[str, float]],
    share: float,
) -> None:
    assert set(theirs) == {r.column for r in ours.columns}
    for row in ours.columns:
        method, value = theirs[row.column]
        assert row.method == method, row.column
        score = row.p_value if method in P_VALUE_TESTS else row.statistic
        assert score == pytest.approx(value, rel=1e-9, abs=1e-300), (row.column, method)
    assert ours.share_drifted == pytest.approx(share, rel=1e-12)
    assert ours.drifted == (share >= 0.5)


NUMERICAL = [
    "shifted",
    "same",
    "lognormal",
    "with_missing",
    "few_floats",
    "binary_float",
    "wide_int",
]


@pytest.mark.parametrize(("n_ref", "n_cur"), [(5000, 4000), (600, 450)])
class TestAgainstEvidently:
    def test_automatic_choice(self, n_ref: int, n_cur: int) -> None:
        """The default preset: same test per column, same values, same dataset share."""
        ref, cur = _frames(n_ref, n_cur, 1)
        theirs, share = _evidently(ref, cur)
        _assert_matches(ref, cur, drift.compare(ref, cur, preset="evidently"), theirs, share)

    @pytest.mark.parametrize("method", ["psi", "jensenshannon", "hellinger"])
    def test_one_method_for_every_column(self, n_ref: int, n_cur: int, method: str) -> None:
        """PSI, Jensen-Shannon and Hellinger on numerical and categorical columns alike."""
        ref, cur = _frames(n_ref, n_cur, 2)
        theirs, share = _evidently(ref, cur, method=method)
        ours = drift.compare(ref, cur, preset="evidently", method=method)
        _assert_matches(ref, cur, ours, theirs, share)

    @pytest.mark.parametrize("method", ["ks", "wasserstein"])
    def test_numerical_methods(self, n_ref: int, n_cur: int, method: str) -> None:
        """KS and normed Wasserstein on the numerical columns."""
        ref, cur = _frames(n_ref, n_cur, 3)
        theirs, share = _evidently(ref, cur, num_method=method)
        ours = drift.compare(ref, cur, preset="evidently", method=dict.fromkeys(NUMERICAL, method))
        _assert_matches(ref, cur, ours, theirs, share)

    def test_from_an_exact_profile(self, n_ref: int, n_cur: int) -> None:
        """A profile of the reference reproduces Evidently too (no raw reference needed)."""
        ref, cur = _frames(n_ref, n_cur, 4)
        theirs, share = _evidently(ref, cur, method="psi")
        ours = drift.compare(
            drift.profile(ref, max_buckets=10_000), cur, preset="evidently", method="psi"
        )
        _assert_matches(ref, cur, ours, theirs, share)
