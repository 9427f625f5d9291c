"""The verb table (docs/verbs.md): datasets and the registry mean the same thing by
versions(), get, load, '/' and '@', and timestamps are datetimes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from mlopskit.errors import InvalidNameError, NotFoundError
from mlopskit.registry import ModelVersion, Registry, parse_model_uri
from mlopskit.store import ArtifactStore
from mlopskit.versioning import Datasets, DatasetVersion, VersionList, parse_dataset_uri


@pytest.fixture
def both(memory_store: ArtifactStore) -> tuple[Datasets, Registry]:
    """Two versions of a dataset and of a model, both named 'x', in one store."""
    ds, reg = Datasets(memory_store), Registry(memory_store)
    ds.commit("x", np.arange(3))
    ds.commit("x", np.arange(4))
    reg.register("x", {"w": 1})
    reg.register("x", {"w": 2})
    return ds, reg


class TestVersions:
    def test_versions_is_a_list_of_records_everywhere(
        self, both: tuple[Datasets, Registry]
    ) -> None:
        """versions() returns the version records, oldest first, for datasets and models."""
        ds, reg = both
        dvs, mvs = ds.versions("x"), reg.versions("x")
        assert isinstance(dvs, VersionList) and isinstance(mvs, VersionList)
        assert all(isinstance(v, DatasetVersion) for v in dvs)
        assert all(isinstance(v, ModelVersion) for v in mvs)
        assert [v.uri for v in dvs] == [v.uri for v in mvs] == ["x/1", "x/2"]

    def test_to_frame_gives_one_row_per_version(self, both: tuple[Datasets, Registry]) -> None:
        """to_frame() is the table view, with datetime created_at columns."""
        ds, reg = both
        for versions in (ds.versions("x"), reg.versions("x")):
            frame = versions.to_frame()
            assert frame["number"].tolist() == [1, 2]
            assert frame["created_at"].map(lambda t: isinstance(t, datetime)).all()

    def test_the_old_dataframe_use_warns(self, both: tuple[Datasets, Registry]) -> None:
        """Reading versions() as a DataFrame still works, with a DeprecationWarning."""
        ds, _ = both
        with pytest.warns(DeprecationWarning, match="to_frame"):
            assert ds.versions("x")["number"].tolist() == [1, 2]
        with pytest.warns(DeprecationWarning, match="to_frame"):
            assert "number" in ds.versions("x").columns

    def test_timestamps_are_datetimes(self, both: tuple[Datasets, Registry]) -> None:
        """Every public timestamp is a timezone-aware datetime."""
        ds, reg = both
        reg.set_alias("x", "champion", 1)
        stamps = [ds.get("x").created_at, reg.get("x").created_at]
        stamps += [e.time for e in reg.history("x")]
        assert all(isinstance(t, datetime) and t.tzinfo is not None for t in stamps)


class TestUris:
    def test_slash_is_a_version_number_in_both(self, both: tuple[Datasets, Registry]) -> None:
        """'x/1' names version 1 of the dataset and of the model; get takes it in both."""
        ds, reg = both
        assert ds.get("x/1").number == reg.get("x/1").number == 1
        assert parse_dataset_uri("x/1") == parse_model_uri("x/1") == ("x", 1)
        assert ds.load("x/1").tolist() == [0, 1, 2]
        assert reg.load("x/1") == {"w": 1}

    def test_at_is_an_alias_in_both(self, both: tuple[Datasets, Registry]) -> None:
        """'x@latest' is the highest version in both; other aliases exist for models only."""
        ds, reg = both
        assert ds.get("x@latest").number == reg.get("x@latest").number == 2
        reg.set_alias("x", "champion", 1)
        assert reg.get("x@champion").number == 1
        with pytest.raises(InvalidNameError, match="alias"):
            ds.get("x@champion")

    def test_a_dataset_number_after_at_is_deprecated(self, both: tuple[Datasets, Registry]) -> None:
        """'x@1' for a dataset still means version 1, with a DeprecationWarning."""
        ds, _ = both
        with pytest.warns(DeprecationWarning, match="x/1"):
            assert ds.get("x@1").number == 1
        with pytest.warns(DeprecationWarning, match="x/1"):
            assert ds.diff("x@1", "x/2").rows == (3, 4)

    @pytest.mark.parametrize("uri", ["x/", "x/one", "/1", "a/b/c", "x@", "x@1@2"])
    def test_malformed_uris_are_invalid_names(
        self, both: tuple[Datasets, Registry], uri: str
    ) -> None:
        """A URI that is neither 'name', 'name/<n>', 'name/<digest>' nor 'name@alias'
        is an InvalidNameError in both, never a lookup of something else."""
        ds, reg = both
        for get in (ds.get, reg.get):
            with pytest.raises((InvalidNameError, NotFoundError)):
                get(uri)

    def test_get_is_the_record_load_is_the_payload(
        self, both: tuple[Datasets, Registry], tmp_path: Path
    ) -> None:
        """get returns the version record; load returns the data or the model."""
        ds, reg = both
        assert isinstance(ds.get("x"), DatasetVersion)
        assert isinstance(reg.get("x"), ModelVersion)
        assert isinstance(ds.load("x"), np.ndarray)
        assert reg.load("x") == {"w": 2}
