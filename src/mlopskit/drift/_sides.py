"""One sample of one column, from raw values or from a profile: what the methods consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from mlopskit.drift._binning import count_le_raw
from mlopskit.drift._columns import Category, CategoryCounts, NumericColumn, sort_categories
from mlopskit.drift._sketch import Dist, exact_dist

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["CatSide", "NumSide", "Side", "align_categories"]


@dataclass
class NumSide:
    """A numeric sample: finite values (raw, or a sorted distribution) and missing counts."""

    rows: int
    nan: int
    posinf: int
    neginf: int
    raw: NDArray[np.float64] | None = None
    _dist: Dist | None = field(default=None, repr=False)

    @classmethod
    def from_column(cls, col: NumericColumn) -> NumSide:
        """From split raw values."""
        return cls(col.rows, col.nan, col.posinf, col.neginf, raw=col.values)

    @property
    def missing(self) -> int:
        """NaN and infinities."""
        return self.nan + self.posinf + self.neginf

    @property
    def valid(self) -> int:
        """The number of finite values."""
        return self.rows - self.missing

    def dist(self) -> Dist:
        """The sorted distribution of the finite values (sorted once, on first use)."""
        if self._dist is None:
            assert self.raw is not None
            self._dist = exact_dist(self.raw)
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
        """How many finite values are ``<=`` each edge."""
        if self._dist is None and self.raw is not None:
            return count_le_raw(self.raw, edges)
        return self.dist().count_le(edges)

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
