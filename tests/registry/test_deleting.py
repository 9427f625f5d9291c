"""Deleting and restoring model versions and dataset versions, on every store backend."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from mlopskit.errors import InvalidInputError, NotFoundError
from mlopskit.registry import Registry
from mlopskit.versioning import Datasets


@pytest.fixture
def registry(any_store: Any) -> Registry:
    """A registry with model 'clf' in three versions, @champion on version 1."""
    reg = Registry(any_store)
    for factor in (1, 2, 3):
        reg.register("clf", {"factor": factor})
    reg.set_alias("clf", "champion", 1)
    return reg


class TestModelVersions:
    def test_deleted_version_leaves_latest_and_says_who_deleted_it(
        self, registry: Registry
    ) -> None:
        """A deleted version is skipped by latest and versions(); get and load of it raise
        NotFoundError naming who deleted it, when and why; restore undoes it."""
        rec = registry.delete_version("clf", 3, reason="leaks the label")
        assert rec is not None and rec.message == "leaks the label"
        assert registry.get("clf").number == 2
        assert [v.number for v in registry.versions("clf")] == [1, 2]
        for read in (registry.get, registry.load):
            with pytest.raises(NotFoundError, match=r"version 3 was deleted on .* by ") as info:
                read("clf/3")
            assert "leaks the label" in str(info.value) and "restore_version" in str(info.value)
        assert registry.deleted_versions("clf")[3].user == rec.user
        assert registry.delete_version("clf/3") is None, "deleting twice writes nothing"
        assert registry.restore_version("clf/3", reason="false alarm") is not None
        assert registry.restore_version("clf", 3) is None
        assert registry.load("clf") == {"factor": 3}
        history = registry.store.refs.history("models/clf/deleted/3")
        assert [(r.target is None, r.message) for r in history] == [
            (False, "leaks the label"),
            (True, "false alarm"),
        ]

    def test_a_version_an_alias_points_at_is_refused(self, registry: Registry) -> None:
        """Deleting the version @champion points to fails naming the alias, changes nothing."""
        with pytest.raises(InvalidInputError, match="clf@champion"):
            registry.delete_version("clf", 1)
        assert registry.get("clf/1").number == 1
        assert registry.deleted_versions("clf") == {}
        registry.set_alias("clf", "champion", 2)
        registry.delete_version("clf", 1)
        with pytest.raises(NotFoundError, match="was deleted"):
            registry.set_alias("clf", "challenger", 1)

    def test_bad_input_is_refused(self, registry: Registry) -> None:
        """Unknown versions are NotFoundError; a non-number version InvalidInputError."""
        with pytest.raises(NotFoundError, match="no version 9"):
            registry.delete_version("clf", 9)
        with pytest.raises(NotFoundError):
            registry.restore_version("clf", 9)
        with pytest.raises(InvalidInputError, match="version number"):
            registry.delete_version("clf", "champion")

    def test_all_versions_deleted_is_a_clear_error(self, registry: Registry) -> None:
        """With every version deleted, latest says so instead of returning one."""
        registry.delete_alias("clf", "champion")
        for n in (1, 2, 3):
            registry.delete_version("clf", n)
        with pytest.raises(NotFoundError, match="every version of model 'clf' is deleted"):
            registry.get("clf")
        assert list(registry.versions("clf")) == []


class TestDatasetVersions:
    def test_delete_and_restore(self, any_store: Any) -> None:
        """A deleted dataset version leaves latest and versions(), loading it names who and
        why, committing its content again makes a new version, and restore brings it back."""
        ds = Datasets(any_store)
        ds.commit("iris", pd.DataFrame({"x": [1, 2]}))
        ds.commit("iris", pd.DataFrame({"x": [1, 2, 3]}))
        rec = ds.delete("iris/2", reason="personal data")
        assert rec is not None
        assert ds.get("iris").number == 1
        assert [v.number for v in ds.versions("iris")] == [1]
        with pytest.raises(NotFoundError, match="personal data"):
            ds.load("iris", 2)
        assert ds.delete("iris", 2) is None
        again = ds.commit("iris", pd.DataFrame({"x": [1, 2, 3]}))
        assert again.number == 3, "the deleted version's content is committed anew"
        ds.restore("iris", 2, reason="cleaned")
        assert [v.number for v in ds.versions("iris")] == [1, 2, 3]
        assert len(ds.load("iris/2")) == 3
        assert ds.deleted("iris") == {}

    def test_unknown_and_bad_versions(self, any_store: Any) -> None:
        """Deleting an unknown version is NotFoundError; 'latest' is not a number."""
        ds = Datasets(any_store)
        ds.commit("iris", pd.DataFrame({"x": [1]}))
        with pytest.raises(NotFoundError):
            ds.delete("iris", 5)
        with pytest.raises(InvalidInputError):
            ds.delete("iris", "latest")
