"""Unknown dataset names: NotFoundError naming the closest dataset, never an empty answer."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from mlopskit.errors import NotFoundError
from mlopskit.versioning import Datasets


@pytest.fixture
def ds(memory_store: Any) -> Datasets:
    """Datasets 'breast-cancer' (two versions) and 'iris'."""
    datasets = Datasets(memory_store)
    datasets.commit("breast-cancer", pd.DataFrame({"x": [1, 2]}))
    datasets.commit("breast-cancer", pd.DataFrame({"x": [1, 2, 3]}))
    datasets.commit("iris", pd.DataFrame({"y": [1.0]}))
    return datasets


@pytest.mark.parametrize(
    "call",
    [
        lambda d: d.get("breast-cancr"),
        lambda d: d.get("breast-cancr/1"),
        lambda d: d.load("breast-cancr"),
        lambda d: d.versions("breast-cancr"),
        lambda d: d.diff("breast-cancr/1", "breast-cancer/2"),
    ],
)
def test_unknown_dataset_names_the_closest(ds: Datasets, call: Any) -> None:
    """Every lookup of a dataset that does not exist says so and names the closest one."""
    with pytest.raises(
        NotFoundError, match=r"no dataset named 'breast-cancr' .*; did you mean 'breast-cancer'"
    ) as info:
        call(ds)
    assert info.value.name == "breast-cancr"


def test_no_close_name_lists_the_datasets(ds: Datasets) -> None:
    """A name close to none lists the datasets there are."""
    with pytest.raises(NotFoundError, match="; datasets: 'breast-cancer', 'iris'"):
        ds.get("zzz")


def test_an_empty_store_says_there_are_none(memory_store: Any) -> None:
    """With nothing committed, the message says there are no datasets."""
    with pytest.raises(NotFoundError, match="; there are no datasets"):
        Datasets(memory_store).load("iris")


def test_unknown_version_is_still_a_version_error(ds: Datasets) -> None:
    """A missing version of an existing dataset names the versions, not other datasets."""
    with pytest.raises(NotFoundError, match="dataset 'breast-cancer' has no version 7"):
        ds.get("breast-cancer", 7)
