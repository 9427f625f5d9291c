"""One sample of one column, from raw values or from a profile: what the methods consume."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mlopskit.drift._binning import count_le_raw
from mlopskit.drift._columns import Category, CategoryCounts, missing_counts, sort_categories
from mlopskit.drift._sketch import Dist, exact_dist

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["CatSide", "EmptySample", "NumSide", "Side", "align_categories", "numeric_as_categories"]


class EmptySample(Exception):
    """A sample turned out to have no usable value (found while counting it)."""


class NumSide:
    """A numeric sample: finite values (raw, or a sorted distribution) and missing counts.

    From raw data the missing values are counted on first need, so a binned statistic
    can count the bins and the missing values in one pass over the column.
    """

    def __init__(
        self,
        rows: int,
        nan: int = 0,
        posinf: int = 0,
        neginf: int = 0,
        *,
        dist: Dist | None = None,
        source: NDArray[np.float64] | None = None,
    ) -> None:
        self.rows = rows
        self._source = source  # every raw value, missing ones included
        self._split: tuple[int, int, int] | None = (
            None if source is not None else (nan, posinf, neginf)
        )
        self._raw: NDArray[np.float64] | None = None
        self._dist = dist

    @classmethod
    def from_values(cls, values: NDArray[np.float64]) -> NumSide:
        """From raw float64 values (NaN and infinities counted when first needed)."""
        return cls(int(values.shape[0]), source=values)

    def _counts(self) -> tuple[int, int, int]:
        if self._split is None:
            assert self._source is not None
            self._split = missing_counts(self._source)
        return self._split

    @property
    def nan(self) -> int:
        """NaN (and pd.NA) values."""
        return self._counts()[0]

    @property
    def posinf(self) -> int:
        """+inf values."""
        return self._counts()[1]

    @property
    def neginf(self) -> int:
        """-inf values."""
        return self._counts()[2]

    @property
    def missing(self) -> int:
        """NaN and infinities."""
        return sum(self._counts())

    @property
    def valid(self) -> int:
        """The number of finite values."""
        return self.rows - self.missing

    @property
    def counted(self) -> bool:
        """Whether the missing values are counted already."""
        return self._split is not None

    @property
    def raw(self) -> NDArray[np.float64] | None:
        """The finite raw values in input order (a copy only if some were missing)."""
        if self._raw is None and self._source is not None:
            src = self._source
            self._raw = src if self.missing == 0 else src[np.isfinite(src)]
        return self._raw

    def dist(self) -> Dist:
        """The sorted distribution of the finite values (sorted once, on first use)."""
        if self._dist is None:
            raw = self.raw
            assert raw is not None
            self._dist = exact_dist(raw)
        return self._dist

    @property
    def unsorted(self) -> bool:
        """True while only the raw values exist (nothing sorted yet)."""
        return self._dist is None

    @property
    def exact(self) -> bool:
        """False when the values are bucketed (from a profile)."""
        return self._dist is None or self._dist.exact

    def count_le(self, edges: ArrayLike) -> NDArray[np.int64]:
        """How many finite values are ``<=`` each (finite) edge.

        On raw values this is one chunked pass that also counts the missing values if they
        are not counted yet (NaN and +inf are never ``<=`` a finite edge; -inf always is).
        """
        if self._dist is not None or self._source is None:
            return self.dist().count_le(edges)
        if self._split is None:
            le, self._split = count_le_raw(self._source, edges, with_missing=True)
        else:
            le = count_le_raw(self._source, edges)
        return le - self.neginf

    def distinct_at_most(self, limit: int) -> bool:
        """Whether there are at most ``limit`` distinct finite values (False if bucketed)."""
        d = self.dist()
        return d.exact and d.distinct <= limit


@dataclass
class CatSide:
    """A categorical sample: counts per category and the missing count."""

    values: list[Category]
    counts: NDArray[np.int64]
    rows: int
    missing: int

    @classmethod
    def from_counts(cls, c: CategoryCounts) -> CatSide:
        """From counted raw values."""
        return cls(c.values, c.counts, c.rows, c.missing)

    @property
    def valid(self) -> int:
        """The number of non-missing values."""
        return self.rows - self.missing


Side = NumSide | CatSide


def align_categories(
    ref: CatSide, cur: CatSide
) -> tuple[list[Category], NDArray[np.int64], NDArray[np.int64]]:
    """The union of categories (canonical order) and both count vectors over it."""
    index: dict[Category, int] = {}
    union: list[Category] = []
    for v in (*ref.values, *cur.values):
        if v not in index:
            index[v] = len(union)
            union.append(v)
    r = np.zeros(len(union), dtype=np.int64)
    c = np.zeros(len(union), dtype=np.int64)
    for v, n in zip(ref.values, ref.counts):
        r[index[v]] += n
    for v, n in zip(cur.values, cur.counts):
        c[index[v]] += n
    ordered, perm = sort_categories(union, np.arange(len(union), dtype=np.int64))
    return ordered, r[perm], c[perm]


def numeric_as_categories(
    ref: NumSide, cur: NumSide
) -> tuple[list[Category], NDArray[np.int64], NDArray[np.int64]]:
    """Distinct finite values of both samples as categories, with counts."""
    a = ref.dist().compact()
    b = cur.dist().compact()
    union = np.union1d(a.values, b.values)
    r = a.count_le(union) - a.count_lt(union)
    c = b.count_le(union) - b.count_lt(union)
    return [float(v) for v in union], r, c
