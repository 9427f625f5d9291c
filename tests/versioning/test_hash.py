"""Stable argument hashing: equal content, equal key; any change, a different key."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import enum
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pydantic import BaseModel

from mlopskit.errors import UnhashableArgumentError
from mlopskit.store import ArtifactRef
from mlopskit.versioning import digest_value
from mlopskit.versioning._hash import TREE_MIN

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies -------------------------------------------------------------------------------

plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
dtypes = st.sampled_from(["int8", "int64", "uint16", "float32", "float64", "bool"])
arrays = dtypes.flatmap(
    lambda d: hnp.arrays(
        d,
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
        elements={"allow_nan": False} if d.startswith("float") else None,
    )
)
names = st.text(alphabet="abcdefgh", min_size=1, max_size=4)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 6))
    cols = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    data: dict[str, Any] = {}
    for c in cols:
        kind = draw(st.sampled_from(["int", "float", "str", "Int64", "cat"]))
        if kind == "int":
            data[c] = draw(st.lists(st.integers(-100, 100), min_size=n, max_size=n))
        elif kind == "float":
            data[c] = draw(st.lists(st.floats(-1e6, 1e6), min_size=n, max_size=n))
        elif kind == "str":
            data[c] = draw(st.lists(st.text(max_size=5), min_size=n, max_size=n))
        elif kind == "Int64":
            vals = draw(st.lists(st.none() | st.integers(-9, 9), min_size=n, max_size=n))
            data[c] = pd.array(vals, dtype="Int64")
        else:
            data[c] = pd.Categorical(draw(st.lists(st.sampled_from("xyz"), min_size=n, max_size=n)))
    return pd.DataFrame(data)


def key(value: Any) -> str:
    return digest_value(value)


# -- properties -------------------------------------------------------------------------------


class TestProperties:
    @SETTINGS
    @given(plain)
    def test_equal_plain_values_hash_equal(self, value: Any) -> None:
        """A deep copy of a plain value hashes like the original."""
        assert key(copy.deepcopy(value)) == key(value)

    @SETTINGS
    @given(st.dictionaries(st.text(max_size=6), plain, min_size=2, max_size=6))
    def test_dict_order_is_irrelevant(self, d: dict[str, Any]) -> None:
        """A dict with the same items in another order hashes the same."""
        assert key(dict(reversed(list(d.items())))) == key(d)

    @SETTINGS
    @given(arrays)
    def test_equal_arrays_hash_equal_whatever_the_layout(self, arr: np.ndarray) -> None:
        """A copy, a Fortran-ordered copy and a strided view with equal content hash equal."""
        assert key(arr.copy()) == key(arr)
        assert key(np.asfortranarray(arr)) == key(arr)
        wide = np.repeat(arr, 2, axis=-1)[..., ::2]  # non-contiguous, same values
        assert key(wide) == key(arr)

    @SETTINGS
    @given(arrays, st.data())
    def test_any_changed_element_changes_the_key(
        self, arr: np.ndarray, data: st.DataObject
    ) -> None:
        """Changing one element of an array changes its key."""
        assume(arr.size > 0)
        flat = arr.copy().reshape(-1)
        i = data.draw(st.integers(0, flat.size - 1))
        if arr.dtype == bool:
            flat[i] = not flat[i]
        else:
            flat[i] = flat[i] - 1 if flat[i] > 0 else flat[i] + 1
        assume(flat[i] != arr.reshape(-1)[i])
        assert key(flat.reshape(arr.shape)) != key(arr)

    @SETTINGS
    @given(arrays)
    def test_dtype_and_shape_are_part_of_the_key(self, arr: np.ndarray) -> None:
        """The same values with another dtype or shape hash differently."""
        other = "complex128"  # holds every generated value exactly
        assert key(arr.astype(other)) != key(arr)
        assert key(arr.reshape(-1, 1)) != key(arr) or (arr.ndim == 2 and arr.shape[1] == 1)
        assert key(arr.reshape(1, *arr.shape)) != key(arr)

    @SETTINGS
    @given(frames())
    def test_equal_frames_hash_equal(self, df: pd.DataFrame) -> None:
        """Copies, slices and re-built frames that compare equal hash equal (joblib#1611)."""
        assert key(df.copy()) == key(df)
        assert key(df.iloc[: len(df)]) == key(df)
        assert key(df[df.columns.tolist()]) == key(df)
        rebuilt = pd.DataFrame({c: df[c].copy() for c in df.columns})
        assert key(rebuilt) == key(df)

    @SETTINGS
    @given(frames(), st.data())
    def test_frame_changes_change_the_key(self, df: pd.DataFrame, data: st.DataObject) -> None:
        """A changed value, dtype, index or column name gives a different key."""
        base = key(df)
        col = data.draw(st.sampled_from(list(df.columns)))
        renamed = df.rename(columns={col: col + "_"})
        assert key(renamed) != base
        assert key(df.set_axis(df.index + 1)) != base
        other = "object" if df[col].dtype != object else "string"  # pandas < 3: str is object
        assert key(df.astype({col: other})) != base
        changed = df.copy()
        s = changed[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            changed[col] = s.cat.add_categories(["new"])
            changed.loc[0, col] = "new"
        elif s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            changed.loc[0, col] = str(s.iloc[0]) + "!"
        else:
            changed.loc[0, col] = (0 if pd.isna(s.iloc[0]) else s.iloc[0]) + 1
        assert key(changed) != base


# -- examples ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Point:
    x: int
    y: float


class Config(BaseModel):
    lr: float
    layers: list[int]


class Color(enum.Enum):
    RED = 1
    BLUE = 2


class TestValues:
    def test_types_are_part_of_the_key(self) -> None:
        """1, 1.0, True, '1' and b'1' all hash differently."""
        keys = {key(v) for v in (1, 1.0, True, "1", b"1", [1], (1,), {1})}
        assert len(keys) == 8

    def test_nan_is_stable_and_negative_zero_differs(self) -> None:
        """Every NaN hashes alike; -0.0 is not 0.0 bit for bit."""
        assert key(float("nan")) == key(float("-nan"))
        assert key(-0.0) != key(0.0)

    def test_ordered_dict_is_order_sensitive(self) -> None:
        """OrderedDict equality depends on order, and so does its key."""
        a = OrderedDict([("a", 1), ("b", 2)])
        b = OrderedDict([("b", 2), ("a", 1)])
        assert key(a) != key(b)
        assert key({"a": 1, "b": 2}) == key({"b": 2, "a": 1})

    def test_sets_are_order_insensitive(self) -> None:
        """Sets and frozensets hash by their members."""
        assert key({3, 1, 2}) == key({1, 2, 3})
        assert key(frozenset({"a"})) == key(frozenset({"a"}))

    def test_pydantic_and_dataclasses_hash_by_class_and_fields(self) -> None:
        """Models and dataclasses hash by class and field values."""
        assert key(Config(lr=0.1, layers=[1])) == key(Config(lr=0.1, layers=[1]))
        assert key(Config(lr=0.1, layers=[1])) != key(Config(lr=0.2, layers=[1]))
        assert key(Point(1, 2.0)) == key(Point(1, 2.0))
        assert key(Point(1, 2.0)) != key(Point(1, 3.0))

    def test_store_refs_hash_by_digest(self) -> None:
        """An ArtifactRef is its digest: size and media type do not matter."""
        d = "sha256:" + "a" * 64
        assert key(ArtifactRef(digest=d, size=1)) == key(
            ArtifactRef(digest=d, size=2, kind="object")
        )

    def test_misc_values(self) -> None:
        """Dates, enums, numpy scalars and pandas scalars hash stably."""
        for v in (dt.date(2020, 1, 2), Color.RED, np.float32(1.5), pd.Timestamp("2020"), pd.NaT):
            assert key(v) == key(copy.deepcopy(v))
        assert key(np.float32(1.5)) != key(np.float64(1.5))
        assert key(Color.RED) != key(Color.BLUE)

    def test_series_name_and_index_count(self) -> None:
        """A Series' name and index are part of its key."""
        s = pd.Series([1, 2], name="a")
        assert key(s) == key(s.copy())
        assert key(s.rename("b")) != key(s)
        assert key(s.set_axis([5, 6])) != key(s)

    def test_nullable_and_string_columns_ignore_storage_details(self) -> None:
        """Data under a null mask does not count; string storage does not either."""
        a = pd.array([1, None, 3], dtype="Int64")
        b = pd.array([1, 2, 3], dtype="Int64")
        b[1] = None
        assert key(pd.Series(a)) == key(pd.Series(b))
        py = pd.Series(["x", None, "zz"], dtype="string[python]")
        arrow = pd.Series(["x", None, "zz"], dtype="string[pyarrow]")
        assert key(py) == key(arrow)
        assert key(pd.Series(["x", None])) != key(pd.Series(["x", ""]))

    def test_range_index_hashes_like_its_values(self) -> None:
        """A RangeIndex and the equal materialized index hash the same."""
        df = pd.DataFrame({"a": [1, 2, 3]})
        assert key(df) == key(df.set_axis(pd.Index([0, 1, 2])))

    def test_big_arrays_hash_as_a_tree_and_stay_stable(self) -> None:
        """Arrays above the tree threshold give the same key each time and on copies."""
        arr = np.arange(TREE_MIN // 8 + 1000, dtype=np.float64)
        assert key(arr) == key(arr.copy())
        arr2 = arr.copy()
        arr2[-1] += 1
        assert key(arr2) != key(arr)

    def test_blake3_is_a_different_algorithm(self) -> None:
        """hash='blake3' gives blake3-prefixed digests, stable too."""
        pytest.importorskip("blake3")
        arr = np.arange(10)
        assert digest_value(arr, algorithm="blake3").startswith("blake3:")
        assert digest_value(arr, algorithm="blake3") == digest_value(arr.copy(), algorithm="blake3")

    def test_paths_hash_by_content(self, tmp_path: Path) -> None:
        """A path's key changes when the file it names changes."""
        f = tmp_path / "a.txt"
        f.write_text("one")
        k1 = key(f)
        f.write_text("two")
        assert key(f) != k1
        d = tmp_path / "d"
        d.mkdir()
        (d / "x").write_text("1")
        k2 = key(d)
        (d / "y").write_text("2")
        assert key(d) != k2


class TestUnhashable:
    def test_an_unhashable_argument_is_named(self) -> None:
        """An object with no stable hash is an error naming where it is."""
        with pytest.raises(UnhashableArgumentError, match=r"cfg\['opt'\]\[1\]") as info:
            digest_value({"opt": [1, object()]}, name="cfg")
        assert isinstance(info.value, TypeError)
        assert "ignore=" in str(info.value)

    def test_a_cycle_is_an_error(self) -> None:
        """A list containing itself cannot be hashed and says so."""
        cyc: list[Any] = [1]
        cyc.append(cyc)
        with pytest.raises(UnhashableArgumentError, match="cycle"):
            digest_value(cyc)

    def test_unknown_algorithm_is_rejected(self) -> None:
        """Only sha256 and blake3 are accepted."""
        with pytest.raises(ValueError, match="md5"):
            digest_value(1, algorithm="md5")
