"""Datasets: commit, load, versions, diff, races for numbers, gc and lineage."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlopskit.errors import InvalidInputError, InvalidNameError, NotFoundError, SchemaError
from mlopskit.store import ArtifactStore
from mlopskit.versioning import Datasets, DatasetVersion, datasets, edges_of_run


def frame(n: int = 5) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "x": np.linspace(0, 1, n),
            "s": [f"r{i}" for i in range(n)],
            "k": pd.array([i if i % 2 else None for i in range(n)], dtype="Int64"),
        }
    )


class TestCommitAndLoad:
    def test_dataframe_round_trip(self, any_store: ArtifactStore) -> None:
        """A committed DataFrame loads back equal, with schema, rows and summary."""
        ds = Datasets(any_store)
        v = ds.commit("table", frame(), message="first", metadata={"source": "unit"})
        assert (v.name, v.number, v.rows, v.kind) == ("table", 1, 5, "dataframe")
        assert [c.name for c in v.schema] == ["id", "x", "s", "k"]
        assert {c.name: c.nullable for c in v.schema}["k"] is True
        assert v.summary[0].mean == 2.0
        assert v.metadata == {"source": "unit"}
        assert v.author
        assert v.created_at.tzinfo is not None
        pd.testing.assert_frame_equal(ds.load("table"), frame())

    def test_identical_content_returns_the_existing_version(self, any_store: ArtifactStore) -> None:
        """Committing equal content again makes no new number unless allow_empty=True."""
        ds = Datasets(any_store)
        v1 = ds.commit("t", frame())
        assert ds.commit("t", frame().copy()) == v1
        v2 = ds.commit("t", frame(), allow_empty=True)
        assert v2.number == 2
        assert ds.commit("t", frame(6)).number == 3

    def test_arrays_series_files_and_directories(
        self, any_store: ArtifactStore, tmp_path: Path
    ) -> None:
        """Arrays and Series load as such; files and directories load as local paths."""
        ds = Datasets(any_store)
        arr = np.arange(12.0).reshape(4, 3)
        va = ds.commit("arr", arr)
        assert (va.kind, va.rows, va.shape, len(va.summary)) == ("array", 4, [4, 3], 3)
        np.testing.assert_array_equal(ds.load("arr"), arr)
        s = pd.Series([1, 2, 3], name="y")
        assert ds.commit("ser", s).kind == "series"
        pd.testing.assert_series_equal(ds.load("ser"), s)

        f = tmp_path / "data.csv"
        f.write_text("a,b\n1,2\n")
        vf = ds.commit("csv", f)
        assert vf.kind == "file"
        loaded = ds.load("csv")
        assert loaded.read_text() == "a,b\n1,2\n"
        assert loaded.name == "data.csv"
        assert ds.load("csv", dest=tmp_path / "out.csv").read_text() == "a,b\n1,2\n"

        d = tmp_path / "images"
        (d / "sub").mkdir(parents=True)
        (d / "a.txt").write_text("A")
        (d / "sub" / "b.txt").write_text("B")
        vd = ds.commit("images", str(d))
        assert (vd.kind, vd.files) == ("directory", 2)
        out = ds.load("images")
        assert (out / "sub" / "b.txt").read_text() == "B"

    def test_get_by_number_latest_and_digest(self, memory_store: ArtifactStore) -> None:
        """Versions are found by number, 'latest', or digest (data or content)."""
        ds = Datasets(memory_store)
        v1 = ds.commit("t", frame(3))
        v2 = ds.commit("t", frame(4))
        assert ds.get("t") == v2
        assert ds.get("t", 1) == v1
        assert ds.get("t", "1") == v1
        assert ds.get("t", v1.digest) == v1
        assert ds.get("t", v1.content_hash) == v1
        assert ds.names() == ["t"]

    def test_versions_are_records_oldest_first(self, memory_store: ArtifactStore) -> None:
        """versions() lists the version records; to_frame() has one row per version with
        number, message, rows and digest."""
        ds = Datasets(memory_store)
        ds.commit("t", frame(3), message="a")
        ds.commit("t", frame(4), message="b")
        assert [v.uri for v in ds.versions("t")] == ["t/1", "t/2"]
        table = ds.versions("t").to_frame()
        assert table["number"].tolist() == [1, 2]
        assert table["message"].tolist() == ["a", "b"]
        assert table["rows"].tolist() == [3, 4]

    def test_errors(self, memory_store: ArtifactStore, tmp_path: Path) -> None:
        """Unknown names and versions, bad names and unsupported data are clear errors."""
        ds = Datasets(memory_store)
        with pytest.raises(NotFoundError, match="no dataset named 'nope'"):
            ds.get("nope")
        ds.commit("t", frame())
        with pytest.raises(NotFoundError, match="no version 9"):
            ds.load("t", 9)
        with pytest.raises(InvalidNameError):
            ds.commit("a/b", frame())
        with pytest.raises(InvalidInputError, match="cannot commit"):
            ds.commit("t", {"a": 1})
        with pytest.raises(NotFoundError):
            ds.commit("t", tmp_path / "missing.csv")

    def test_module_functions_use_the_current_workspace(self, workspace: Path) -> None:
        """mk.datasets.commit/load/get/versions/diff act on the workspace in effect."""
        v = datasets.commit("w", frame(), message="m")
        assert isinstance(v, DatasetVersion)
        pd.testing.assert_frame_equal(datasets.load("w"), frame())
        assert datasets.get("w", 1) == v
        assert [v.number for v in datasets.versions("w")] == [1]
        assert datasets.names() == ["w"]
        datasets.commit("w", frame(7))
        assert datasets.diff("w/1", "w/2").rows == (5, 7)


class TestDiff:
    def test_schema_statistics_and_rows(self, memory_store: ArtifactStore) -> None:
        """diff reports added/removed/changed columns, stat changes and keyed row changes."""
        ds = Datasets(memory_store)
        a = frame(5)
        b = a.drop(columns=["s"]).assign(new=1.0)
        b.loc[0, "x"] = 99.0
        b = b[b["id"] != 1]
        extra = pd.DataFrame(
            {"id": [10], "x": [0.5], "k": pd.array([None], dtype="Int64"), "new": [1.0]}
        )
        b = pd.concat([b, extra], ignore_index=True)
        ds.commit("t", a)
        ds.commit("t", b)
        d = ds.diff("t/1", "t@latest", key="id")
        assert d.added_columns == ["new"]
        assert d.removed_columns == ["s"]
        assert d.stats["x"]["max"] == [1.0, 99.0]
        assert (d.rows_added, d.rows_removed, d.rows_changed) == (1, 1, 1)
        assert not d.empty
        table = d.to_frame()
        assert {"added", "removed", "stat"} <= set(table["change"])

    def test_identical_versions_have_an_empty_diff(self, memory_store: ArtifactStore) -> None:
        """Two versions with equal content differ in nothing."""
        ds = Datasets(memory_store)
        v1 = ds.commit("t", frame())
        v2 = ds.commit("t", frame(), allow_empty=True)
        assert ds.diff(v1, v2, key="id").empty

    def test_key_must_exist_and_be_unique(self, memory_store: ArtifactStore) -> None:
        """A missing or duplicated key is a SchemaError."""
        ds = Datasets(memory_store)
        ds.commit("t", pd.DataFrame({"id": [1, 1], "v": [1, 2]}))
        ds.commit("t", pd.DataFrame({"id": [1, 2], "v": [1, 2]}))
        with pytest.raises(SchemaError, match="not unique"):
            ds.diff("t/1", "t/2", key="id")
        with pytest.raises(SchemaError, match="no key"):
            ds.diff("t/1", "t/2", key="zzz")


class TestConcurrency:
    @pytest.mark.slow
    @pytest.mark.parametrize("backend", ["local", pytest.param("s3", marks=pytest.mark.s3)])
    def test_concurrent_commits_get_distinct_gap_free_numbers(
        self, backend: str, tmp_path: Path, request: pytest.FixtureRequest, run_workers: Any
    ) -> None:
        """Three processes committing versions at once get 1..n, each number exactly once."""
        url = str(tmp_path / "store") if backend == "local" else request.getfixturevalue("s3_url")
        each = 3 if backend == "local" else 2  # S3 round trips are slow: fewer commits
        results = run_workers([["commit", url, "shared", str(each)]] * 3)
        numbers = sorted(n for r in results for n in r["numbers"])
        assert numbers == list(range(1, 3 * each + 1))
        ds = Datasets(ArtifactStore(url, cache=False))
        assert [v.number for v in ds.versions("shared")] == list(range(1, 3 * each + 1))


class TestGcAndLineage:
    def test_gc_keeps_every_version(self, any_store: ArtifactStore) -> None:
        """Every version's data is reachable from its ref; gc sweeps none of it."""
        ds = Datasets(any_store)
        v1 = ds.commit("t", frame(3))
        ds.commit("t", frame(4))
        any_store.put_bytes(b"garbage")
        report = any_store.gc(dry_run=False, grace=timedelta(0))
        assert len(report.removed) == 1
        pd.testing.assert_frame_equal(ds.load("t", 1), frame(3))
        assert any_store.exists(v1.data)

    def test_runs_record_what_they_commit_and_load(
        self, memory_store: ArtifactStore, active_run: Any
    ) -> None:
        """Inside a run, commit records 'produced' and load records 'used' edges."""
        ds = Datasets(memory_store)
        v = ds.commit("t", frame())
        assert v.run_id == active_run.run_id
        ds.load("t")
        relations = sorted(e.relation for e in edges_of_run(memory_store, active_run.run_id))
        assert relations == ["produced", "used"]
