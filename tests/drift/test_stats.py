"""PSI, Jensen-Shannon, Hellinger, chi-square and Wasserstein on two samples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from drift_strategies import samples
from hypothesis import given, settings
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlopskit import drift
from mlopskit.errors import InvalidInputError, SchemaError


def plain_quantile_psi(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> float:
    """The textbook recipe: reference quantile edges, open outer bins, shares floored at 1e-4."""
    edges = np.quantile(ref, np.linspace(0, 1, bins + 1))
    r = np.bincount(np.searchsorted(edges[1:-1], ref), minlength=bins) / ref.size
    c = np.bincount(np.searchsorted(edges[1:-1], cur), minlength=bins) / cur.size
    r, c = np.maximum(r, 1e-4), np.maximum(c, 1e-4)
    return float(np.sum((c - r) * np.log(c / r)))


@pytest.fixture
def normal_pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    return rng.normal(size=5000), rng.normal(0.2, 1.1, size=4000)


class TestPSI:
    def test_hand_computed_with_explicit_edges(self) -> None:
        """Two bins with shares (0.5, 0.5) vs (0.25, 0.75) give 0.25 * ln 3."""
        res = drift.psi([0.0, 0.0, 2.0, 2.0], [0.0, 2.0, 2.0, 2.0], bins=[-1.0, 1.0, 3.0])
        expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
        assert res.statistic == pytest.approx(expected, rel=1e-15)
        assert res.binning.edges == [-math.inf, 1.0, math.inf]

    def test_reproduces_the_plain_quantile_recipe(self, normal_pair: tuple) -> None:
        """Native PSI equals the textbook numpy recipe (10 reference-quantile bins) to 1e-12."""
        ref, cur = normal_pair
        assert drift.psi(ref, cur).statistic == pytest.approx(
            plain_quantile_psi(ref, cur), rel=1e-12
        )
        assert drift.psi(ref, cur, bins=7).statistic == pytest.approx(
            plain_quantile_psi(ref, cur, 7), rel=1e-12
        )

    def test_quantile_edges_are_numpys_bit_for_bit(self, normal_pair: tuple) -> None:
        """The inner edges are np.quantile(ref, linspace(0, 1, bins + 1))[1:-1], bitwise."""
        ref, cur = normal_pair
        res = drift.psi(ref, cur, bins=13)
        expected = np.quantile(ref, np.linspace(0, 1, 14))[1:-1]
        assert res.binning.edges[1:-1] == expected.tolist()
        assert (res.binning.requested, res.binning.n_bins) == (13, 13)

    def test_uniform_binning_uses_equal_widths_over_the_reference_range(self) -> None:
        """binning='uniform' puts edges at linspace(min, max, bins + 1)."""
        ref = np.append(np.arange(30.0), 100.0)
        res = drift.psi(ref, ref, bins=5, binning="uniform")
        assert res.binning.edges[1:-1] == np.linspace(0, 100, 6)[1:-1].tolist()
        assert res.binning.strategy == "uniform"

    def test_values_outside_the_reference_range_land_in_the_open_outer_bins(self) -> None:
        """Current values far above the reference are counted in the last bin, not dropped."""
        ref = np.linspace(0, 1, 1000)
        res = drift.psi(ref, np.full(100, 50.0))
        share_last = 1.0
        expected = (share_last - 0.1) * math.log(share_last / 0.1) + 9 * (1e-4 - 0.1) * math.log(
            1e-4 / 0.1
        )
        assert res.statistic == pytest.approx(expected, rel=1e-12)
        assert res.drifted

    def test_empty_bins_get_the_documented_epsilon(self) -> None:
        """A share of 0 is raised to eps (1e-4 by default, or as given), without renormalising."""
        ref = np.linspace(0, 1, 1000)
        cur = np.linspace(0, 0.05, 100)  # everything in the first bin
        for eps in (1e-4, 1e-3):
            res = drift.psi(ref, cur, eps=eps)
            expected = (1 - 0.1) * math.log(1 / 0.1) + 9 * (eps - 0.1) * math.log(eps / 0.1)
            assert res.statistic == pytest.approx(expected, rel=1e-12)
            assert res.binning.eps == eps

    def test_a_point_mass_covering_bins_gets_a_bin_of_its_own(self) -> None:
        """Ties: 50% zeros make the edge 0 repeat; (prev(0), 0] becomes its own bin."""
        rng = np.random.default_rng(0)
        ref = np.concatenate([np.zeros(500), rng.uniform(1, 2, 500)])
        res = drift.psi(ref, ref)
        inner = res.binning.edges[1:-1]
        assert inner[:2] == [np.nextafter(0.0, -1.0), 0.0]
        assert res.binning.n_bins == len(set(np.quantile(ref, np.linspace(0, 1, 11))[1:-1])) + 2
        below = drift.psi(ref, np.concatenate([np.full(500, -1.0), rng.uniform(1, 2, 500)]))
        assert below.drifted

    def test_a_constant_reference_is_binned_by_value(self) -> None:
        """A constant column has one distinct value: a shift below or above it is drift."""
        ref = np.full(500, 5.0)
        assert drift.psi(ref, np.full(500, 3.0)).drifted
        assert drift.psi(ref, np.full(40, 5.0)).statistic == 0.0

    def test_discrete_numeric_columns_are_binned_by_value(self) -> None:
        """At most 20 distinct reference values: one bin per value of either sample."""
        ref = np.tile([1.0, 2.0, 3.0], 100)
        cur = np.tile([1.0, 2.0, 4.0], 100)
        res = drift.psi(ref, cur)
        assert res.binning.strategy == "categories"
        assert res.binning.categories == [1.0, 2.0, 3.0, 4.0]

    def test_unseen_categories_count_with_a_reference_share_of_eps(self) -> None:
        """A category absent from the reference contributes (c - eps) * ln(c / eps)."""
        res = drift.psi(["a"] * 50 + ["b"] * 50, ["a"] * 50 + ["b"] * 40 + ["new"] * 10)
        expected = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.1 - 1e-4) * math.log(0.1 / 1e-4)
        assert res.statistic == pytest.approx(expected, rel=1e-12)
        assert res.binning.categories == ["a", "b", "new"]

    @settings(max_examples=80, deadline=None)
    @given(samples(min_size=2))
    def test_identical_samples_give_zero(self, a: np.ndarray) -> None:
        """A sample compared with itself has PSI 0."""
        assert drift.psi(a, a.copy()).statistic == 0.0

    @settings(max_examples=80, deadline=None)
    @given(samples(), samples())
    def test_is_never_negative(self, a: np.ndarray, b: np.ndarray) -> None:
        """Every term (c - r) * ln(c / r) is >= 0, so PSI is too."""
        assert drift.psi(a, b).statistic >= 0.0

    def test_bad_bins_are_rejected(self) -> None:
        """Non-increasing edges, fewer than two edges or zero bins are InvalidInputErrors."""
        for bins in ([1.0, 1.0, 2.0], [1.0], 0, [0.0, np.inf]):
            with pytest.raises(InvalidInputError):
                drift.psi([1.0, 2.0], [1.0, 2.0], bins=bins)  # type: ignore[arg-type]


class TestJensenShannon:
    def test_equals_scipy_on_the_bin_shares(self, normal_pair: tuple) -> None:
        """The distance is scipy's jensenshannon of the shares, base 2 by default."""
        ref, cur = normal_pair
        res = drift.jensen_shannon(ref, cur)
        edges = np.asarray(res.binning.edges[1:-1])
        r = np.bincount(np.searchsorted(edges, ref), minlength=10)
        c = np.bincount(np.searchsorted(edges, cur), minlength=10)
        assert res.statistic == pytest.approx(jensenshannon(r, c, base=2), rel=1e-12)
        nat = drift.jensen_shannon(ref, cur, base=math.e)
        assert nat.statistic == pytest.approx(jensenshannon(r, c), rel=1e-12)

    def test_disjoint_categories_give_one_in_base_2(self) -> None:
        """Completely different samples are at the maximum distance 1."""
        assert drift.jensen_shannon(["a"] * 5, ["b"] * 5).statistic == pytest.approx(1.0)


class TestHellinger:
    def test_hand_computed(self) -> None:
        """Shares (0.5, 0.5) vs (1, 0) give sqrt(1 - sqrt(0.5))."""
        res = drift.hellinger(["x", "y"], ["x", "x"])
        assert res.statistic == pytest.approx(math.sqrt(1 - math.sqrt(0.5)), rel=1e-12)

    def test_bounds(self) -> None:
        """Identical samples are at 0, disjoint ones at 1."""
        assert drift.hellinger(["a", "b"], ["b", "a"]).statistic == 0.0
        assert drift.hellinger(["a"], ["b"]).statistic == 1.0


class TestChiSquare:
    def test_equals_scipy_chi2_contingency(self) -> None:
        """The 2 x k table of category counts goes to scipy unchanged (Yates for 1 dof)."""
        ref = ["a"] * 30 + ["b"] * 50 + ["c"] * 20
        cur = ["a"] * 40 + ["b"] * 30 + ["c"] * 25 + ["d"] * 5
        res = drift.chi2(ref, cur)
        exp = stats.chi2_contingency([[30, 50, 20, 0], [40, 30, 25, 5]])
        assert (res.statistic, res.p_value, res.dof) == pytest.approx(
            (exp.statistic, exp.pvalue, exp.dof), rel=1e-12
        )
        two = drift.chi2(["a"] * 9 + ["b"], ["a"] * 5 + ["b"] * 5)
        exp2 = stats.chi2_contingency([[9, 1], [5, 5]])
        assert two.p_value == pytest.approx(exp2.pvalue, rel=1e-12)

    def test_a_single_category_is_no_evidence_of_drift(self) -> None:
        """With one category in both samples the statistic is 0 and the p-value 1."""
        res = drift.chi2(["a"] * 3, ["a"] * 7)
        assert (res.statistic, res.p_value, res.dof, res.drifted) == (0.0, 1.0, 0, False)


class TestWasserstein:
    def test_distance_equals_scipy_and_statistic_is_normed_by_reference_std(
        self, normal_pair: tuple
    ) -> None:
        """distance is scipy's W1; statistic divides it by the reference std (ddof 0)."""
        ref, cur = normal_pair
        res = drift.wasserstein(ref, cur)
        w = stats.wasserstein_distance(ref, cur)
        assert res.distance == pytest.approx(w, rel=1e-12)
        assert res.statistic == pytest.approx(w / np.std(ref), rel=1e-12)
        raw = drift.wasserstein(ref, cur, normalize=False)
        assert raw.statistic == pytest.approx(w, rel=1e-12)
        assert raw.scale is None

    def test_constant_reference(self) -> None:
        """With a zero-spread reference, any difference is infinite drift; none is 0."""
        assert drift.wasserstein([2.0] * 5, [2.0] * 3).statistic == 0.0
        res = drift.wasserstein([2.0] * 5, [2.0, 2.5])
        assert (res.statistic, res.drifted) == (math.inf, True)
        assert '"statistic":Infinity' in res.model_dump_json()

    def test_categorical_input_is_a_schema_error(self) -> None:
        """Wasserstein needs numbers."""
        with pytest.raises(SchemaError):
            drift.wasserstein(["a"], ["b"])


class TestInputs:
    def test_lists_series_and_nullable_integers_are_accepted(self) -> None:
        """Python lists, pandas Series and Int64 with pd.NA give the same statistic."""
        a = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22]
        b = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]
        base = drift.psi(a, b).statistic
        assert drift.psi(pd.Series(a), pd.Series(b)).statistic == base
        with_na = pd.Series([*a, None], dtype="Int64")
        assert drift.psi(with_na, b).statistic == base

    def test_booleans_are_categories(self) -> None:
        """bool samples are categorical (two categories)."""
        res = drift.chi2([True, False, True], [True, True, True])
        assert res.binning.categories == [False, True]

    def test_numeric_against_categorical_is_a_schema_error(self) -> None:
        """Mixing kinds between the samples is refused with both kinds named."""
        with pytest.raises(SchemaError, match=r"numeric.*categorical"):
            drift.psi([1.0, 2.0], ["a", "b"])

    def test_unsupported_category_values_are_a_schema_error(self) -> None:
        """Categories must be str, int, float or bool; a tuple is refused with a hint."""
        with pytest.raises(SchemaError, match="astype"):
            drift.psi(pd.Series([(1, 2), (3, 4)]), pd.Series([(1, 2)]))

    def test_two_dimensional_input_is_refused(self) -> None:
        """A 2-d array or a DataFrame is not one sample."""
        with pytest.raises(InvalidInputError):
            drift.psi(np.ones((3, 2)), np.ones(3))
        with pytest.raises(InvalidInputError, match="compare"):
            drift.psi(pd.DataFrame({"a": [1.0]}), [1.0])
