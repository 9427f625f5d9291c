"""compare(): per-column rows, the automatic choice, thresholds, dataset rules, missing values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from drift_strategies import frames
from hypothesis import HealthCheck, given, settings
from scipy import stats

from mlopskit import drift
from mlopskit.errors import InvalidInputError, SchemaError


@pytest.fixture
def pair() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n, m = 4000, 3000
    ref = pd.DataFrame(
        {
            "shifted": rng.normal(size=n),
            "same": rng.normal(size=n),
            "cat": rng.choice(list("abc"), n),
            "small_int": rng.integers(0, 4, n),
        }
    )
    cur = pd.DataFrame(
        {
            "shifted": rng.normal(1.0, size=m),
            "same": rng.normal(size=m),
            "cat": rng.choice(list("abc"), m),
            "small_int": rng.integers(0, 4, m),
            "extra": rng.normal(size=m),
        }
    )
    return ref, cur


class TestReport:
    def test_one_row_per_reference_column_with_the_verdict_fields(self, pair: tuple) -> None:
        """Rows follow the reference columns; extra current columns are ignored."""
        ref, cur = pair
        rep = drift.compare(ref, cur)
        assert [r.column for r in rep.columns] == ["shifted", "same", "cat", "small_int"]
        assert rep.drifted_columns == ["shifted"]
        row = rep["shifted"]
        assert (row.kind, row.method, row.drifted, row.n_reference, row.n_current) == (
            "numeric",
            "psi",
            True,
            4000,
            3000,
        )
        assert (rep.n_columns, rep.n_drifted, rep.share_drifted, rep.drifted) == (4, 1, 0.25, False)
        assert (rep.reference_rows, rep.current_rows, rep.rule) == (4000, 3000, "share")

    def test_frame_dict_and_json(self, pair: tuple) -> None:
        """to_frame is indexed by column; to_dict and to_json carry everything back."""
        rep = drift.compare(*pair)
        frame = rep.to_frame()
        assert frame.index.tolist() == ["shifted", "same", "cat", "small_int"]
        assert bool(frame.loc["shifted", "drifted"]) is True
        assert {"statistic", "p_value", "threshold", "missing_share_current"} <= set(frame.columns)
        assert rep.to_dict()["columns"][0]["column"] == "shifted"
        assert drift.DriftReport.model_validate_json(rep.to_json()) == rep

    def test_unknown_column_lookup_is_a_key_error(self, pair: tuple) -> None:
        """report['nope'] raises KeyError."""
        with pytest.raises(KeyError):
            drift.compare(*pair)["nope"]


class TestAutomaticChoice:
    @pytest.mark.parametrize(
        ("n", "kind", "expected"),
        [
            (5000, "continuous", "psi"),
            (300, "continuous", "ks"),
            (5000, "categorical", "psi"),
            (200, "categorical", "chi2"),
            (5000, "discrete", "psi"),
            (200, "discrete", "chi2"),
        ],
    )
    def test_psi_when_its_noise_is_small_else_a_test(
        self, n: int, kind: str, expected: str
    ) -> None:
        """PSI when (k - 1)(1/n_ref + 1/n_cur) <= 0.02; otherwise KS or chi-square."""
        rng = np.random.default_rng(1)
        make = {
            "continuous": lambda: rng.normal(size=n),
            "categorical": lambda: rng.choice(list("abcd"), n),
            "discrete": lambda: rng.integers(0, 6, n).astype(float),
        }[kind]
        rep = drift.compare({"x": make()}, {"x": make()})
        assert rep["x"].method == expected

    def test_many_categories_need_more_rows_for_psi(self) -> None:
        """200 categories at 5,000 rows would make PSI noisy: chi-square is chosen."""
        rng = np.random.default_rng(2)
        cats = [f"c{i}" for i in range(200)]
        rep = drift.compare({"x": rng.choice(cats, 5000)}, {"x": rng.choice(cats, 5000)})
        assert rep["x"].method == "chi2"


class TestMethodsAndThresholds:
    def test_one_method_per_column(self, pair: tuple) -> None:
        """A mapping picks methods per column; the others stay automatic."""
        rep = drift.compare(*pair, method={"shifted": "ks", "cat": "jensenshannon"})
        assert [r.method for r in rep.columns] == ["ks", "psi", "jensen_shannon", "psi"]

    def test_unknown_method_and_numeric_only_methods(self, pair: tuple) -> None:
        """An unknown name is an InvalidInputError; KS on a categorical column a SchemaError."""
        with pytest.raises(InvalidInputError, match="unknown method"):
            drift.compare(*pair, method="magic")
        with pytest.raises(SchemaError, match="categorical"):
            drift.compare(*pair, method={"cat": "ks"})

    def test_thresholds_for_all_by_column_or_by_method(self, pair: tuple) -> None:
        """A float applies to all; a mapping by column name wins over one by method name."""
        assert {r.threshold for r in drift.compare(*pair, thresholds=0.3).columns} == {0.3}
        rep = drift.compare(*pair, thresholds={"psi": 0.2, "same": 0.01})
        assert [r.threshold for r in rep.columns] == [0.2, 0.01, 0.2, 0.2]
        assert rep["same"].drifted is False or rep["same"].statistic >= 0.01

    def test_bins_are_honoured(self, pair: tuple) -> None:
        """bins and binning reach every numeric binned column."""
        rep = drift.compare(*pair, bins=25, binning="uniform")
        assert rep["shifted"].binning.requested == 25
        assert rep["shifted"].binning.strategy == "uniform"


class TestDatasetRules:
    def test_share_rule(self, pair: tuple) -> None:
        """The dataset drifts when share_drifted >= drift_share."""
        assert drift.compare(*pair, drift_share=0.25).drifted is True
        assert drift.compare(*pair, drift_share=0.26).drifted is False

    def _pvalue_pair(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        rng = np.random.default_rng(3)
        shifts = [0.0, 0.05, 0.12, 0.2, 0.0, 0.3]
        ref = pd.DataFrame({f"c{i}": rng.normal(size=400) for i in range(6)})
        cur = pd.DataFrame({f"c{i}": rng.normal(s, size=300) for i, s in enumerate(shifts)})
        return ref, cur

    def test_bonferroni_adjusts_p_values_by_the_number_of_tests(self) -> None:
        """p_adj = min(1, p * m); columns and the dataset are judged on p_adj."""
        ref, cur = self._pvalue_pair()
        plain = drift.compare(ref, cur, method="ks")
        adj = drift.compare(ref, cur, method="ks", rule="bonferroni")
        for a, b in zip(plain.columns, adj.columns):
            assert b.p_value_adjusted == pytest.approx(min(1.0, a.p_value * 6), rel=1e-12)
            assert b.value_drifted == (b.p_value_adjusted < 0.05)
        assert adj.drifted == any(r.drifted for r in adj.columns)

    def test_benjamini_hochberg_matches_scipy(self) -> None:
        """fdr_bh adjusted p-values equal scipy.stats.false_discovery_control."""
        ref, cur = self._pvalue_pair()
        rep = drift.compare(ref, cur, method="ks", rule="fdr_bh")
        p = np.array([r.p_value for r in rep.columns])
        expected = stats.false_discovery_control(p, method="bh")
        assert [r.p_value_adjusted for r in rep.columns] == pytest.approx(
            expected.tolist(), rel=1e-12
        )

    def test_distance_columns_are_not_adjusted(self, pair: tuple) -> None:
        """PSI has no p-value: with a correction rule its verdict stays the threshold's."""
        rep = drift.compare(*pair, rule="bonferroni")
        assert rep["shifted"].p_value_adjusted is None
        assert rep.drifted is True


class TestMissingValues:
    def test_nan_and_infinities_are_separated_and_reported(self) -> None:
        """The statistic ignores NaN/inf; the missing shares are reported per side."""
        rng = np.random.default_rng(4)
        x = rng.normal(size=2000)
        y = rng.normal(size=2000)
        dirty = y.copy()
        dirty[:50], dirty[50:60], dirty[60:70] = np.nan, np.inf, -np.inf
        rep = drift.compare({"x": x}, {"x": dirty}, method="ks")
        clean = drift.ks(x, y[70:])
        row = rep["x"]
        assert (row.statistic, row.p_value) == (clean.statistic, clean.p_value)
        assert (row.missing_share_reference, row.missing_share_current) == (0.0, 70 / 2000)

    def test_a_change_in_missing_share_is_drift(self) -> None:
        """Same values but 10% more missing: drifted by the missing test (default 0.05)."""
        rng = np.random.default_rng(5)
        x = rng.normal(size=2000)
        y = rng.normal(size=2000)
        y[:200] = np.nan
        row = drift.compare({"x": x}, {"x": y})["x"]
        assert (row.value_drifted, row.missing_drifted, row.drifted) == (False, True, True)
        off = drift.compare({"x": x}, {"x": y}, missing_threshold=None)["x"]
        assert (off.missing_drifted, off.drifted) == (None, False)

    def test_all_missing_columns_have_a_verdict_and_a_note(self) -> None:
        """No NaN verdicts: all-missing current drifts; all-missing on both sides does not."""
        ref = {"a": [1.0, 2.0, 3.0], "b": [np.nan] * 3, "c": [np.nan] * 3}
        cur = {"a": [np.nan, np.inf], "b": [np.nan] * 2, "c": [1.0, 2.0]}
        rep = drift.compare(ref, cur, method="ks")
        a, b, c = rep["a"], rep["b"], rep["c"]
        assert (a.statistic, a.value_drifted, a.drifted) == (None, True, True)
        assert "current sample has no usable value" in a.note
        assert (b.statistic, b.value_drifted, b.drifted) == (None, False, False)
        assert "either sample" in b.note
        assert (c.statistic, c.value_drifted) == (None, True)

    def test_binned_statistics_count_missing_values_with_the_bins(self) -> None:
        """PSI counts bins and NaN/inf of a raw current column in one pass, with equal results."""
        rng = np.random.default_rng(6)
        x, y = rng.normal(size=3000), rng.normal(size=3000)
        dirty = y.copy()
        dirty[:30], dirty[30:40], dirty[40:45] = np.nan, -np.inf, np.inf
        for method in ("psi", "jensen_shannon", "hellinger", "chi2"):
            row = drift.compare({"x": x}, {"x": dirty}, method=method)["x"]
            clean = drift.compare({"x": x}, {"x": y[45:]}, method=method)["x"]
            assert (row.statistic, row.p_value) == (clean.statistic, clean.p_value)
            assert (row.n_current, row.missing_share_current) == (2955, 45 / 3000)
        empty = drift.compare({"x": x}, {"x": [np.nan, -np.inf, np.inf]}, method="psi")["x"]
        assert (empty.statistic, empty.drifted, empty.missing_share_current) == (None, True, 1.0)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(frames(min_rows=1), frames(min_rows=1))
    def test_never_a_nan_statistic_or_verdict(self, ref: pd.DataFrame, cur: pd.DataFrame) -> None:
        """Whatever the data, each row has a bool verdict and a statistic that is None or a number."""
        for method in ("auto", "psi", "chi2", "hellinger", "jensen_shannon"):
            rep = drift.compare(ref, cur, method=method)
            for row in rep.columns:
                assert isinstance(row.drifted, bool)
                assert row.statistic is None or not math.isnan(row.statistic)
                assert row.p_value is None or not math.isnan(row.p_value)


class TestInputs:
    def test_records_and_mappings(self, pair: tuple) -> None:
        """A list of record dicts and a mapping of columns work like DataFrames."""
        ref, cur = pair
        expected = drift.compare(ref, cur.drop(columns="extra"))
        assert drift.compare(ref.to_dict("list"), cur.to_dict("records")) == expected

    def test_compare_two_profiles(self, pair: tuple) -> None:
        """The current side may be a profile too (how Dask current data is handled)."""
        ref, cur = pair
        rep = drift.compare(drift.profile(ref), drift.profile(cur))
        assert rep.drifted_columns == ["shifted"]

    def test_empty_inputs_are_refused(self, pair: tuple) -> None:
        """Zero rows on either side is an InvalidInputError, as is an empty column list."""
        ref, cur = pair
        with pytest.raises(InvalidInputError, match="no rows"):
            drift.compare(ref.iloc[:0], cur)
        with pytest.raises(InvalidInputError, match="no rows"):
            drift.compare(ref, cur.iloc[:0])
        with pytest.raises(InvalidInputError, match="no columns"):
            drift.compare(ref, cur, columns=[])

    def test_missing_columns_and_kind_mismatches(self, pair: tuple) -> None:
        """Columns absent from the current data, or numeric vs categorical, are SchemaErrors."""
        ref, cur = pair
        with pytest.raises(SchemaError, match=r"\['cat'\] are missing from the current"):
            drift.compare(ref, cur.drop(columns="cat"))
        bad = cur.assign(same=cur["same"].astype(str))
        with pytest.raises(SchemaError, match="'same' is numeric in the reference"):
            drift.compare(ref, bad)

    def test_unsupported_dtypes_can_be_left_out(self, pair: tuple) -> None:
        """A datetime column is refused with a hint; columns=[...] leaves it out."""
        ref, cur = pair
        ref = ref.assign(when=pd.Timestamp("2024-01-01"))
        cur = cur.assign(when=pd.Timestamp("2024-01-02"))
        with pytest.raises(SchemaError, match="columns="):
            drift.compare(ref, cur)
        assert drift.compare(ref, cur, columns=["shifted"]).n_columns == 1

    def test_mixed_type_categories(self) -> None:
        """An object column of str and int values is categorical; each value a category."""
        rep = drift.compare({"m": ["a", 1, "a", 2] * 10}, {"m": ["a", 1, 3, 3] * 10}, method="psi")
        assert rep["m"].binning.categories == [1, 2, 3, "a"]
        assert rep["m"].drifted

    def test_ragged_columns_are_refused(self) -> None:
        """Columns of different lengths in a mapping are an InvalidInputError."""
        with pytest.raises(InvalidInputError, match="not a valid table"):
            drift.compare({"a": [1.0, 2.0], "b": [1.0]}, {"a": [1.0], "b": [2.0]})

    def test_bad_arguments(self, pair: tuple) -> None:
        """Unknown presets and rules are refused; so are duplicate column names."""
        with pytest.raises(InvalidInputError, match="preset"):
            drift.compare(*pair, preset="whylogs")  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="rule"):
            drift.compare(*pair, rule="holm")  # type: ignore[arg-type]
        dup = pd.DataFrame([[1.0, 2.0]], columns=["a", "a"])
        with pytest.raises(SchemaError, match="duplicate"):
            drift.compare(dup, dup)


class TestParameterValidation:
    """Bad parameters are refused up front: never a silent "no drift"."""

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"thresholds": math.nan},
            {"thresholds": math.inf},
            {"thresholds": -0.1},
            {"thresholds": {"shifted": math.nan}},
            {"thresholds": {"psi": -1.0}},
            {"thresholds": {"ks": 1.5}, "method": "ks"},  # a p-value threshold above 1
            {"thresholds": "0.1"},
            {"drift_share": math.nan},
            {"drift_share": 2},
            {"drift_share": 0},
            {"drift_share": -0.5},
            {"eps": math.nan},
            {"eps": 0.0},
            {"eps": -1e-4},
            {"eps": 2.0},
            {"missing_threshold": math.nan},
            {"missing_threshold": -0.01},
            {"missing_threshold": 1.5},
        ],
    )
    def test_nan_negative_and_out_of_range_values_are_refused(
        self, pair: tuple, kwargs: dict
    ) -> None:
        """NaN, infinite, negative or out-of-range parameters raise InvalidInputError
        naming the parameter, instead of comparisons that are all False."""
        with pytest.raises(InvalidInputError) as info:
            drift.compare(*pair, **kwargs)
        assert next(iter(kwargs)) in str(info.value)

    def test_a_nan_threshold_used_to_mean_no_drift(self, pair: tuple) -> None:
        """The shifted column drifts with a valid threshold (the case NaN would hide)."""
        assert drift.compare(*pair, thresholds={"shifted": 0.05})["shifted"].drifted

    @pytest.mark.parametrize("bins", [0, -3, 10**9, 10_001, True])
    def test_bins_are_bounded(self, pair: tuple, bins: int) -> None:
        """bins=10**9 is refused at once instead of allocating until out of memory."""
        with pytest.raises(InvalidInputError, match="bins"):
            drift.compare(*pair, bins=bins, method="psi")

    def test_too_many_explicit_edges_are_refused(self, pair: tuple) -> None:
        """Explicit edges are bounded the same way."""
        with pytest.raises(InvalidInputError, match="bins"):
            drift.compare(*pair, bins=range(20_000), method="psi")
        with pytest.raises(InvalidInputError, match="bins"):
            drift.compare(*pair, bins=["a", "b"], method="psi")

    def test_the_largest_allowed_values_work(self, pair: tuple) -> None:
        """The bounds are inclusive where documented: bins=10_000, drift_share=1, eps=1."""
        report = drift.compare(*pair, bins=10_000, drift_share=1.0, eps=1.0, thresholds=0.0)
        assert report.n_columns == 4
