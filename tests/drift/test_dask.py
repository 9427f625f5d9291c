"""Dask DataFrames: partitions are profiled on a real distributed cluster and merged."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from mlopskit import drift

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    with (
        distributed.LocalCluster(
            processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 20000
    ref = pd.DataFrame(
        {"x": rng.normal(size=n), "k": rng.integers(0, 5, n), "c": rng.choice(list("abc"), n)}
    )
    ref.loc[::97, "x"] = np.nan
    cur = pd.DataFrame(
        {"x": rng.normal(0.5, size=n), "k": rng.integers(0, 5, n), "c": rng.choice(list("abd"), n)}
    )
    return ref, cur


class TestDask:
    def test_profile_of_a_dask_frame_is_the_pandas_profile(
        self, client: object, frames: tuple
    ) -> None:
        """Profiling 7 partitions on the cluster and merging equals profiling in pandas."""
        ref, _ = frames
        ddf = dd.from_pandas(ref, npartitions=7)
        assert drift.profile(ddf, max_buckets=512) == drift.profile(ref, max_buckets=512)

    def test_compare_accepts_dask_frames_on_either_side(
        self, client: object, frames: tuple
    ) -> None:
        """compare(dask, dask) and compare(profile, dask) give the profile-based report."""
        ref, cur = frames
        dref, dcur = dd.from_pandas(ref, npartitions=4), dd.from_pandas(cur, npartitions=3)
        rep = drift.compare(dref, dcur)
        expected = drift.compare(drift.profile(ref), drift.profile(cur))
        assert rep == expected
        assert rep.drifted_columns == ["x", "c"]
        assert drift.compare(drift.profile(ref), dcur) == expected
