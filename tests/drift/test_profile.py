"""Reference profiles: exact sketches, bucketed sketches, JSON, and exact merges."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from drift_strategies import frames, partitions, samples
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from scipy import stats

from mlopskit import drift
from mlopskit.drift._sketch import Dist, bucket_keys, exact_dist, from_ordered, ordered, sketch
from mlopskit.errors import InvalidInputError, SchemaError


class TestSketch:
    def test_ordered_bits_sort_like_the_floats_and_invert(self) -> None:
        """The int64 transform is monotone (−0.0 folded into 0.0) and round-trips."""
        x = np.array(
            [-np.finfo(float).max, -1.0, -5e-324, -0.0, 0.0, 5e-324, 1.0, np.finfo(float).max]
        )
        u = ordered(x)
        assert np.all(np.diff(u) >= 0)
        assert u[3] == u[4] == 0
        back = from_ordered(u)
        assert back.tolist() == [*x[:3].tolist(), 0.0, 0.0, *x[5:].tolist()]

    @settings(max_examples=100, deadline=None)
    @given(samples(), st.lists(st.floats(0, 1), min_size=1, max_size=12))
    def test_exact_quantiles_are_numpys_bit_for_bit(self, x: np.ndarray, qs: list[float]) -> None:
        """Dist.quantiles equals np.quantile (linear) exactly, compact or not."""
        d = exact_dist(x)
        expected = np.quantile(x + 0.0, qs)
        assert d.quantiles(qs).tolist() == expected.tolist()
        assert d.compact().quantiles(qs).tolist() == expected.tolist()

    @settings(max_examples=60, deadline=None)
    @given(samples(min_size=5, max_size=200), st.integers(0, 20))
    def test_a_bucket_representative_bounds_its_members(
        self, x: np.ndarray, precision: int
    ) -> None:
        """Every value is <= its bucket's representative and > the previous one."""
        d = exact_dist(x).coarsen(precision)
        assert d.counts is not None
        assert d.counts.sum() == x.size
        keys = bucket_keys(x + 0.0, precision)
        reps = d.values[np.searchsorted(bucket_keys(d.values, precision), keys)]
        assert np.all(x <= reps)
        assert d.count_le(d.values).tolist() == [int(np.sum(x <= r)) for r in d.values]

    def test_the_finest_precision_that_fits_is_chosen(self) -> None:
        """A sketch uses the largest precision whose occupied buckets fit the budget."""
        x = np.random.default_rng(0).normal(size=20000)
        s = sketch(exact_dist(x), 256)
        finer = exact_dist(x).coarsen(s.precision + 1)
        assert s.values.size <= 256 < finer.values.size


class TestProfile:
    def test_small_columns_are_kept_exactly(self) -> None:
        """With few distinct values every value and count is kept, with missing counts apart."""
        df = pd.DataFrame(
            {
                "x": [1.5, 1.5, np.nan, np.inf, -np.inf, -2.0, -0.0],
                "c": ["a", None, "b", "a", "a", None, "b"],
            }
        )
        p = drift.profile(df)
        x = p["x"]
        assert (x.rows, x.nan, x.posinf, x.neginf, x.valid) == (7, 1, 1, 1, 4)
        assert (x.values, x.counts, x.min, x.max, x.exact) == (
            [-2.0, 0.0, 1.5],
            [1, 1, 2],
            -2.0,
            1.5,
            True,
        )
        c = p["c"]
        assert (c.values, c.counts, c.missing) == (["a", "b"], [3, 2], 2)
        assert p.schema_version == 1

    def test_large_columns_are_bucketed_within_the_budget(self) -> None:
        """More distinct values than max_buckets: a bucketed sketch of at most that size."""
        x = np.random.default_rng(1).normal(size=50000)
        p = drift.profile({"x": x}, max_buckets=512)
        col = p["x"]
        assert not col.exact
        assert not p.exact
        assert len(col.values) <= 512
        assert sum(col.counts) == 50000
        assert (col.min, col.max) == (x.min(), x.max())

    def test_moments_quantiles_and_histogram(self) -> None:
        """Mean, std (ddof 0), quantiles and histogram come from the sketch, exact if exact."""
        x = np.random.default_rng(2).normal(3, 2, size=3000)
        col = drift.profile({"x": x})["x"]
        assert col.mean == pytest.approx(x.mean(), rel=1e-12)
        assert col.std == pytest.approx(x.std(), rel=1e-12)
        assert col.quantiles([0.1, 0.5]).tolist() == np.quantile(x, [0.1, 0.5]).tolist()
        edges, counts = col.histogram(4)
        assert edges[0] == -np.inf
        assert edges[-1] == np.inf
        assert counts.tolist() == [750, 750, 750, 750]

    def test_json_round_trip(self) -> None:
        """to_json/from_json give back an equal profile (exact and bucketed columns)."""
        rng = np.random.default_rng(3)
        df = pd.DataFrame(
            {"x": rng.normal(size=5000), "k": rng.integers(0, 4, 5000), "b": [True, False] * 2500}
        )
        p = drift.profile(df, max_buckets=128)
        text = p.to_json()
        assert '"schema_version":1' in text
        assert drift.ReferenceProfile.from_json(text) == p

    def test_corrupted_json_is_refused(self) -> None:
        """Counts that do not add up to the valid rows fail validation."""
        p = drift.profile({"x": [1.0, 2.0, 2.0]})
        bad = p.to_json().replace('"counts":[1,2]', '"counts":[1,3]')
        with pytest.raises(ValidationError, match="counts sum"):
            drift.ReferenceProfile.from_json(bad)

    def test_max_buckets_below_32_is_refused(self) -> None:
        """A budget too small to be useful is an InvalidInputError."""
        with pytest.raises(InvalidInputError, match="max_buckets"):
            drift.profile({"x": [1.0]}, max_buckets=4)


def _profile(df: pd.DataFrame) -> drift.ReferenceProfile:
    return drift.profile(df, max_buckets=32)


class TestMerge:
    @settings(max_examples=80, deadline=None)
    @given(st.data(), frames(max_rows=80))
    def test_merge_of_partitions_is_the_profile_of_the_whole(
        self, data: st.DataObject, df: pd.DataFrame
    ) -> None:
        """merge_profiles(profile(part) for part) == profile(concat), bucketed or not."""
        parts = data.draw(partitions(df))
        assert drift.merge_profiles([_profile(p) for p in parts]) == _profile(df)

    @settings(max_examples=50, deadline=None)
    @given(frames(max_rows=40), frames(max_rows=40), frames(max_rows=40))
    def test_merge_is_associative_and_commutative(
        self, a: pd.DataFrame, b: pd.DataFrame, c: pd.DataFrame
    ) -> None:
        """(a + b) + c == a + (b + c) == c + b + a."""
        pa, pb, pc = _profile(a), _profile(b), _profile(c)
        left = (pa + pb) + pc
        assert left == pa + (pb + pc)
        assert left == pc.merge(pb, pa)

    def test_merge_of_a_normal_sample_in_ten_parts(self) -> None:
        """A realistic case: 10 parts of 10,000 normal values, bucketed, merge exactly."""
        x = np.random.default_rng(4).normal(size=100000)
        df = pd.DataFrame({"x": x})
        parts = [drift.profile(df.iloc[i : i + 10000]) for i in range(0, 100000, 10000)]
        assert functools.reduce(lambda p, q: p + q, parts) == drift.profile(df)

    def test_profiles_that_cannot_merge(self) -> None:
        """Different budgets, columns or kinds are refused with the difference named."""
        a = drift.profile({"x": [1.0]})
        with pytest.raises(InvalidInputError, match="max_buckets"):
            a.merge(drift.profile({"x": [1.0]}, max_buckets=64))
        with pytest.raises(SchemaError, match="different columns"):
            a.merge(drift.profile({"y": [1.0]}))
        with pytest.raises(SchemaError, match="numeric in one"):
            a.merge(drift.profile({"x": ["s"]}))
        with pytest.raises(InvalidInputError):
            drift.merge_profiles([])


class TestAccuracyFromAProfile:
    def test_an_exact_profile_gives_the_raw_data_result_bit_for_bit(self) -> None:
        """compare(profile(ref), cur) == compare(ref, cur) for every method when exact."""
        rng = np.random.default_rng(5)
        ref = pd.DataFrame({"x": rng.normal(size=3000), "c": rng.choice(list("abc"), 3000)})
        cur = pd.DataFrame({"x": rng.normal(0.1, size=2000), "c": rng.choice(list("abd"), 2000)})
        p = drift.profile(ref)
        assert p.exact
        for method in ("psi", "ks", "wasserstein", "jensen_shannon", "chi2", "hellinger"):
            cols = ["x"] if method in ("ks", "wasserstein") else None
            raw = drift.compare(ref, cur, method=method, columns=cols)
            assert drift.compare(p, cur, method=method, columns=cols) == raw, method
        assert drift.compare(p, cur, preset="evidently") == drift.compare(
            ref, cur, preset="evidently"
        )

    def test_psi_from_a_bucketed_profile_is_exact_under_its_edges(self) -> None:
        """The stored edges are the bins; counting the raw reference in them gives the same PSI."""
        rng = np.random.default_rng(6)
        ref, cur = rng.normal(size=40000), rng.normal(0.05, size=30000)
        col = drift.profile({"x": ref}, max_buckets=256)["x"]
        res = drift.psi(col, cur)
        inner = res.binning.edges[1:-1]
        explicit = drift.psi(ref, cur, bins=[inner[0] - 1, *inner, inner[-1] + 1])
        assert res.statistic == explicit.statistic
        assert res.exact  # PSI is exact under the stored edges
        assert res.statistic == pytest.approx(drift.psi(ref, cur).statistic, abs=2e-3)

    def test_ks_and_wasserstein_from_a_bucketed_profile_are_within_their_bounds(self) -> None:
        """KS D and normed W1 from buckets are within the reported error bound of the truth."""
        rng = np.random.default_rng(7)
        ref, cur = rng.lognormal(size=40000), rng.lognormal(0.02, size=20000)
        col = drift.profile({"x": ref}, max_buckets=256)["x"]
        k = drift.ks(col, cur)
        truth = stats.ks_2samp(ref, cur)
        assert not k.exact
        assert k.error_bound is not None
        assert k.error_bound > 0
        assert k.statistic <= truth.statistic <= k.statistic + k.error_bound
        w = drift.wasserstein(col, cur)
        w_true = stats.wasserstein_distance(ref, cur)
        assert w.error_bound is not None
        assert w.scale is not None
        assert abs(w.distance - w_true) <= w.error_bound * w.scale  # bound on W1, in std units
        assert w.scale == pytest.approx(np.std(ref), rel=2**-8)

    def test_dist_counts_are_the_profile_counts(self) -> None:
        """A profile's sketch as a Dist reports the stored counts."""
        col = drift.profile({"x": [1.0, 1.0, 2.0]})["x"]
        d = col.dist()
        assert isinstance(d, Dist)
        assert d.n == 3
        assert d.count_le([1.0]).tolist() == [2]
