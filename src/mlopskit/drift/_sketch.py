"""Empirical distributions of finite floats, exact or bucketed, and their exact merge.

A :class:`Dist` is a sorted array of values with optional counts. At ``precision=52``
it is exact: every distinct float is its own value. At a lower precision ``m`` every
value stands for a *bucket*: the floats whose IEEE-754 bit pattern (in a total-order
transform) agrees on the sign, the exponent and the top ``m`` mantissa bits. A bucket
spans a relative width of at most ``2**-m`` of its values and is represented by its
largest float, so "how many values are <= this representative" is exact.

Buckets at precision ``m - 1`` are unions of buckets at precision ``m``, so a sketch is
merged by moving both sides to the coarser precision and adding counts. A profile picks
the finest precision whose number of occupied buckets fits ``max_buckets``; because the
number of occupied buckets only grows with precision, merging partition sketches and
then coarsening until the budget fits yields exactly the sketch of the concatenation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "EXACT",
    "Dist",
    "bucket_keys",
    "choose_precision",
    "exact_dist",
    "from_ordered",
    "merge_dists",
    "ordered",
    "sketch",
]

EXACT = 52  # mantissa bits of a float64: precision 52 keeps every value
_LOW63 = np.int64(0x7FFFFFFFFFFFFFFF)


def ordered(values: NDArray[np.float64]) -> NDArray[np.int64]:
    """Map floats to int64 so that the integer order is the float order (-0.0 is 0.0)."""
    bits = (np.asarray(values, dtype=np.float64) + 0.0).view(np.int64)
    out: NDArray[np.int64] = bits ^ ((bits >> 63) & _LOW63)
    return out


def from_ordered(keys: NDArray[np.int64]) -> NDArray[np.float64]:
    """The inverse of :func:`ordered`."""
    keys = np.asarray(keys, dtype=np.int64)
    out: NDArray[np.float64] = (keys ^ ((keys >> 63) & _LOW63)).view(np.float64)
    return out


def bucket_keys(values: NDArray[np.float64], precision: int) -> NDArray[np.int64]:
    """The bucket of each value at ``precision`` (monotone in the value)."""
    return ordered(values) >> (EXACT - precision)


def _representatives(keys: NDArray[np.int64], precision: int) -> NDArray[np.float64]:
    """The largest float of each bucket (never -0.0, so it compares below 0.0)."""
    shift = EXACT - precision
    if shift == 0:
        return from_ordered(keys)
    top = ((keys + 1) << shift) - 1
    top = np.where(top == -1, np.int64(-2), top)  # -0.0 would compare equal to 0.0
    return from_ordered(top)


def _lowest(keys: NDArray[np.int64], precision: int) -> NDArray[np.float64]:
    """The smallest float of each bucket."""
    low = keys << (EXACT - precision)
    return from_ordered(np.where(low == -1, np.int64(-2), low))


def _occupied(sorted_keys: NDArray[np.int64], shift: int) -> int:
    if sorted_keys.size == 0:
        return 0
    k = sorted_keys >> shift if shift else sorted_keys
    return 1 + int(np.count_nonzero(k[1:] != k[:-1]))


def choose_precision(sorted_keys: NDArray[np.int64], start: int, max_buckets: int) -> int:
    """The largest precision <= ``start`` whose occupied buckets fit ``max_buckets``.

    ``sorted_keys`` are ascending keys at precision ``start``. Precision 0 (one bucket
    per binary order of magnitude) is the floor, even if it does not fit.
    """
    if _occupied(sorted_keys, 0) <= max_buckets:
        return start
    lo, hi = 0, start - 1  # invariant: the answer is in [lo, hi]
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _occupied(sorted_keys, start - mid) <= max_buckets:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _run_lengths(
    sorted_keys: NDArray[np.int64], counts: NDArray[np.int64] | None
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Distinct keys and the summed counts of each run."""
    n = sorted_keys.size
    if n == 0:
        return sorted_keys, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    if counts is None:
        summed = np.diff(np.append(starts, n)).astype(np.int64)
    else:
        summed = np.add.reduceat(counts, starts).astype(np.int64)
    return sorted_keys[starts], summed


@dataclass(frozen=True, eq=False)
class Dist:
    """A sorted empirical distribution: values ascending, counts or ``None`` (all ones)."""

    values: NDArray[np.float64]
    counts: NDArray[np.int64] | None = None
    precision: int = EXACT

    @property
    def exact(self) -> bool:
        """True when every value is itself rather than a bucket."""
        return self.precision == EXACT

    @cached_property
    def n(self) -> int:
        """The number of observations."""
        return int(self.values.size if self.counts is None else self.counts.sum())

    @cached_property
    def _cum(self) -> NDArray[np.int64]:
        assert self.counts is not None
        return np.concatenate(([0], np.cumsum(self.counts))).astype(np.int64)

    def count_le(self, edges: ArrayLike) -> NDArray[np.int64]:
        """How many observations are ``<=`` each edge (exact for bucket representatives)."""
        idx = np.searchsorted(self.values, np.asarray(edges, dtype=np.float64), side="right")
        return idx.astype(np.int64) if self.counts is None else self._cum[idx]

    def count_lt(self, edges: ArrayLike) -> NDArray[np.int64]:
        """How many observations are ``<`` each edge."""
        idx = np.searchsorted(self.values, np.asarray(edges, dtype=np.float64), side="left")
        return idx.astype(np.int64) if self.counts is None else self._cum[idx]

    def order_stat(self, ranks: NDArray[np.intp]) -> NDArray[np.float64]:
        """The value of the observation at each 0-based rank."""
        if self.counts is None:
            return self.values[ranks]
        return self.values[np.searchsorted(self._cum, ranks, side="right") - 1]

    def quantiles(self, qs: ArrayLike) -> NDArray[np.float64]:
        """numpy's ``linear`` quantiles when exact (bitwise); bucket representatives otherwise.

        A bucketed distribution answers with the representative of the bucket holding the
        ``floor((n - 1) q)``-th observation.
        """
        q = np.asarray(qs, dtype=np.float64)
        n = self.n
        virtual = (n - 1) * q
        prev = np.floor(virtual)
        above = virtual >= n - 1
        lo = np.where(above, n - 1, prev).astype(np.intp)
        if not self.exact:
            return self.order_stat(lo)
        hi = np.where(above, n - 1, prev + 1).astype(np.intp)
        gamma = virtual - prev
        a, b = self.order_stat(lo), self.order_stat(hi)
        diff = b - a
        out = a + diff * gamma
        np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5)
        return out

    def compact(self) -> Dist:
        """The same distribution with distinct values and counts."""
        if self.counts is not None:
            return self
        keys, counts = _run_lengths(ordered(self.values), None)
        return Dist(from_ordered(keys), counts, self.precision)

    def coarsen(self, precision: int) -> Dist:
        """The distribution at a coarser (or equal) precision."""
        if precision >= self.precision:
            return self
        keys = bucket_keys(self.values, precision)
        keys, counts = _run_lengths(keys, self.counts)
        return Dist(_representatives(keys, precision), counts, precision)

    @cached_property
    def distinct(self) -> int:
        """The number of distinct values (buckets when bucketed)."""
        if self.counts is not None:
            return int(self.values.size)
        v = self.values  # sorted, -0.0 folded: equal floats are adjacent
        return 0 if v.size == 0 else 1 + int(np.count_nonzero(v[1:] != v[:-1]))

    def mean_std(self) -> tuple[float, float]:
        """Mean and population standard deviation (ddof=0) over the compact form.

        A bucketed distribution uses each bucket's midpoint, which halves the bias of
        using its top.
        """
        c = self.compact()
        assert c.counts is not None
        if c.values.size == 0:
            return float("nan"), float("nan")
        x = c.values
        if not c.exact:
            x = c.values / 2 + _lowest(bucket_keys(c.values, c.precision), c.precision) / 2
        w = c.counts.astype(np.float64)
        mean = float(np.dot(w, x) / c.n)
        var = float(np.dot(w, np.square(x - mean)) / c.n)
        return mean, float(np.sqrt(var))

    @cached_property
    def max_mass(self) -> float:
        """The largest share of observations in one value or bucket."""
        c = self.compact()
        assert c.counts is not None
        return float(c.counts.max() / c.n) if c.n else 0.0

    @cached_property
    def mean_spread(self) -> float:
        """Mean distance from an observation to its bucket representative (0 when exact)."""
        if self.exact:
            return 0.0
        assert self.counts is not None
        keys = bucket_keys(self.values, self.precision)
        width = self.values - _lowest(keys, self.precision)
        return float(np.dot(self.counts.astype(np.float64), width) / self.n)


def exact_dist(finite: NDArray[np.float64]) -> Dist:
    """The exact distribution of finite values (sorted copy, -0.0 folded into 0.0)."""
    s = np.sort(finite)
    s += 0.0
    return Dist(s)


def sketch(dist: Dist, max_buckets: int) -> Dist:
    """The compact sketch of ``dist`` at the finest precision that fits ``max_buckets``."""
    keys = bucket_keys(dist.values, dist.precision)
    precision = choose_precision(keys, dist.precision, max_buckets)
    keys = keys >> (dist.precision - precision)
    keys, counts = _run_lengths(keys, dist.counts)
    return Dist(_representatives(keys, precision), counts, precision)


def merge_dists(parts: list[Dist], max_buckets: int) -> Dist:
    """Exactly the sketch of the concatenated data, from the sketches of its parts."""
    parts = [p for p in parts if p.values.size]
    if not parts:
        return Dist(np.zeros(0), np.zeros(0, dtype=np.int64), EXACT)
    start = min(p.precision for p in parts)
    keys = np.concatenate([bucket_keys(p.values, start) for p in parts])
    counts = np.concatenate(
        [p.counts if p.counts is not None else np.ones(p.values.size, np.int64) for p in parts]
    )
    order = np.argsort(keys, kind="stable")
    keys, counts = _run_lengths(keys[order], counts[order])
    precision = choose_precision(keys, start, max_buckets)
    if precision < start:
        keys, counts = _run_lengths(keys >> (start - precision), counts)
    return Dist(_representatives(keys, precision), counts, precision)
