"""Kolmogorov-Smirnov: identical to scipy.stats.ks_2samp, computed on one merged walk."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from drift_strategies import samples
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mlopskit import drift
from mlopskit.errors import InvalidInputError, SchemaError

ALTERNATIVES = ["two-sided", "less", "greater"]
MODES = ["auto", "exact", "asymp"]


def _scipy(a: np.ndarray, b: np.ndarray, alternative: str, mode: str) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return stats.ks_2samp(a, b, alternative=alternative, method=mode)


def _assert_same(a: np.ndarray, b: np.ndarray, alternative: str, mode: str) -> None:
    ours = drift.ks(a, b, alternative=alternative, method=mode)  # type: ignore[arg-type]
    ref = _scipy(a, b, alternative, mode)
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-12, abs=0)  # type: ignore[attr-defined]
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-12, abs=1e-300)  # type: ignore[attr-defined]
    assert ours.statistic_location == ref.statistic_location  # type: ignore[attr-defined]
    assert ours.statistic_sign == ref.statistic_sign  # type: ignore[attr-defined]


class TestAgainstScipy:
    @pytest.mark.parametrize("alternative", ALTERNATIVES)
    @pytest.mark.parametrize("mode", MODES)
    def test_continuous_samples_of_unequal_size(self, alternative: str, mode: str) -> None:
        """Statistic, p-value, location and sign equal scipy's for n1 != n2."""
        rng = np.random.default_rng(7)
        for n1, n2 in [(1, 2), (5, 3), (37, 58), (400, 251), (1000, 1000)]:
            _assert_same(rng.normal(size=n1), rng.normal(0.2, 1.1, size=n2), alternative, mode)

    @pytest.mark.parametrize("alternative", ALTERNATIVES)
    @pytest.mark.parametrize("mode", MODES)
    def test_ties_within_and_between_samples(self, alternative: str, mode: str) -> None:
        """Heavily tied integer data gives scipy's values (ECDFs right-continuous)."""
        rng = np.random.default_rng(11)
        for n1, n2 in [(30, 30), (90, 41), (300, 377)]:
            a = rng.integers(0, 5, size=n1).astype(float)
            b = rng.integers(1, 7, size=n2).astype(float)
            _assert_same(a, b, alternative, mode)

    def test_auto_is_exact_up_to_10000_and_asymptotic_above(self) -> None:
        """method='auto' switches at max(n1, n2) <= 10000, as scipy does."""
        rng = np.random.default_rng(3)
        small = drift.ks(rng.normal(size=10000), rng.normal(size=300))
        large = drift.ks(rng.normal(size=10001), rng.normal(size=300))
        assert (small.mode, large.mode) == ("exact", "asymp")
        _assert_same(rng.normal(size=10001), rng.normal(0.1, size=300), "two-sided", "auto")

    def test_impossible_exact_falls_back_to_asymptotic_without_a_warning(self) -> None:
        """Where scipy warns and uses asymp, ks() uses asymp silently and says so."""
        rng = np.random.default_rng(5)
        a, b = rng.normal(size=50021), rng.normal(0.05, size=49999)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ours = drift.ks(a, b, method="exact")
        with pytest.warns(RuntimeWarning, match="Switching to 'asymp'"):
            ref = stats.ks_2samp(a, b, method="exact")
        assert ours.mode == "asymp"
        assert (ours.statistic, ours.p_value) == pytest.approx(
            (ref.statistic, ref.pvalue), rel=1e-12
        )

    @settings(max_examples=150, deadline=None)
    @given(samples(), samples(), st.sampled_from(ALTERNATIVES), st.sampled_from(MODES))
    def test_any_finite_samples(self, a: np.ndarray, b: np.ndarray, alt: str, mode: str) -> None:
        """For arbitrary finite samples (ties, -0.0, tiny values) the result equals scipy's."""
        if mode == "asymp" and a.size == b.size == 1:
            mode = "exact"  # scipy's asymptotic p-value is NaN there (see below)
        _assert_same(a, b, alt, mode)

    def test_asymptotic_p_value_of_two_single_values_is_refused(self) -> None:
        """scipy returns NaN there; ks() raises instead of a NaN verdict."""
        with pytest.raises(InvalidInputError, match="method='exact'"):
            drift.ks([1.0], [2.0], method="asymp")


class TestProperties:
    @settings(max_examples=100, deadline=None)
    @given(samples())
    def test_identical_samples_give_zero(self, a: np.ndarray) -> None:
        """A sample compared with itself has D = 0 and p-value 1."""
        res = drift.ks(a, a.copy())
        assert (res.statistic, res.p_value, res.drifted) == (0.0, 1.0, False)

    @settings(max_examples=100, deadline=None)
    @given(
        st.lists(st.integers(-50, 50), min_size=1, max_size=60),
        st.lists(st.integers(-50, 50), min_size=1, max_size=60),
    )
    def test_invariant_under_strictly_increasing_transforms(
        self, a: list[int], b: list[int]
    ) -> None:
        """D and the p-value depend only on the order of the pooled values."""
        x, y = np.array(a, float), np.array(b, float)
        f = lambda v: v**3 + 5 * v - 1000  # noqa: E731 - strictly increasing, exact on small ints
        before, after = drift.ks(x, y), drift.ks(f(x), f(y))
        assert (after.statistic, after.p_value) == (before.statistic, before.p_value)

    def test_p_values_are_float64_not_float32(self) -> None:
        """Tiny p-values survive (alibi-detect stores float32 and rounds them to 0)."""
        rng = np.random.default_rng(0)
        res = drift.ks(rng.normal(size=2000), rng.normal(1.0, size=2000))
        assert 0 < res.p_value < 1e-60
        assert res.drifted is True


class TestInputs:
    def test_nan_and_infinities_are_left_out(self) -> None:
        """Missing values do not enter the statistic: the result equals the clean one."""
        rng = np.random.default_rng(1)
        a, b = rng.normal(size=200), rng.normal(size=150)
        dirty = np.concatenate([a, [np.nan, np.inf, -np.inf]])
        assert drift.ks(dirty, b) == drift.ks(a, b).model_copy(update={"n_reference": 200})

    def test_categorical_sample_is_a_schema_error(self) -> None:
        """KS is numeric only; strings get a SchemaError that names the alternatives."""
        with pytest.raises(SchemaError, match="chi2"):
            drift.ks(["a", "b"], ["a", "c"])

    def test_all_missing_sample_is_an_invalid_input_error(self) -> None:
        """A sample with no finite value cannot be tested."""
        with pytest.raises(InvalidInputError, match="no finite"):
            drift.ks([np.nan, np.inf], [1.0, 2.0])

    def test_bad_alternative_is_rejected(self) -> None:
        """An unknown alternative is an InvalidInputError, not a silent default."""
        with pytest.raises(InvalidInputError, match="alternative"):
            drift.ks([1.0], [2.0], alternative="bigger")  # type: ignore[arg-type]


class TestColumnBlocks:
    def test_many_columns_walked_in_blocks_equal_scipy(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """compare(method='ks') stacks equal-size columns into 2-d blocks; each row equals scipy."""
        import pandas as pd

        from mlopskit.drift import _compare

        monkeypatch.setattr(_compare, "_BLOCK_ELEMENTS", 7 * 900)  # 7 columns per block
        rng = np.random.default_rng(9)
        ref = pd.DataFrame({f"c{i}": rng.normal(size=500) for i in range(17)})
        cur = pd.DataFrame({f"c{i}": rng.normal(i / 40, size=400) for i in range(17)})
        cur["c3"] = np.round(cur["c3"], 1)  # ties in one column
        rep = drift.compare(ref, cur, method="ks")
        for row in rep.columns:
            exp = stats.ks_2samp(ref[row.column], cur[row.column])
            assert (row.statistic, row.p_value) == pytest.approx(
                (exp.statistic, exp.pvalue), rel=1e-12
            )


class TestBoundedSearch:
    """Large samples: D is found from a grid of exact ECDF values plus a walk of the few
    intervals whose bounds reach the best value — still equal to scipy's."""

    def test_large_samples_equal_scipy(self) -> None:
        """Continuous, shifted and heavily tied samples of 40,000 and 30,000 values."""
        rng = np.random.default_rng(13)
        cases = [
            (rng.normal(size=40000), rng.normal(size=30000)),
            (rng.normal(size=40000), rng.normal(0.05, 1.1, size=30000)),
            (np.round(rng.normal(size=40000), 2), np.round(rng.normal(0.02, size=30000), 2)),
            (rng.integers(0, 9, 40000).astype(float), rng.integers(0, 9, 30000).astype(float)),
        ]
        for a, b in cases:
            for alternative in ALTERNATIVES:
                _assert_same(a, b, alternative, "auto")

    @settings(max_examples=60, deadline=None)
    @given(samples(min_size=1, max_size=300), samples(min_size=1, max_size=300), st.integers(1, 8))
    def test_coarse_grids_refine_to_the_same_answer(
        self, a: np.ndarray, b: np.ndarray, grid: int
    ) -> None:
        """With a grid of a few points almost every interval is walked; the result is unchanged."""
        from mlopskit.drift import _ecdf, _methods

        old = (_ecdf._GRID, _methods._BOUNDED_MIN)
        _ecdf._GRID, _methods._BOUNDED_MIN = grid, 0
        try:
            for alternative in ALTERNATIVES:
                _assert_same(a, b, alternative, "exact")
        finally:
            _ecdf._GRID, _methods._BOUNDED_MIN = old
