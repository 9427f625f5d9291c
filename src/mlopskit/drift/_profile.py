"""Reference profiles: a compact, exactly mergeable summary of a reference dataset.

A numeric column keeps its row, NaN, +inf and -inf counts, its exact minimum and
maximum, and a sketch of its finite values (see ``_sketch``): every distinct value with
its count while there are at most ``max_buckets`` of them (the profile is then *exact*:
every statistic computed from it equals the one computed from the raw data, bit for
bit), otherwise counts of buckets of relative width ``2**-precision``. A categorical
column keeps the count of every category and of missing values.

Everything stored is a count or an exact float, so merging is exact, associative and
commutative, and the merge of partition profiles *is* the profile of the concatenation.
Bin edges, quantiles and moments are derived from the sketch on demand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from mlopskit.drift._binning import BinSpec, bin_counts, numeric_bins
from mlopskit.drift._columns import (
    as_frame,
    category_counts,
    column_kind,
    dtype_label,
    numeric_array,
    sort_categories,
)
from mlopskit.drift._sides import CatSide, NumSide
from mlopskit.drift._sketch import EXACT, Dist, merge_dists, sketch
from mlopskit.errors import InvalidInputError, SchemaError

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DEFAULT_MAX_BUCKETS",
    "CategoricalProfile",
    "NumericProfile",
    "ReferenceProfile",
    "merge_profiles",
    "profile",
    "profile_frame",
]

DEFAULT_MAX_BUCKETS = 4096
CategoryValue = bool | int | float | str


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")


class NumericProfile(_Model):
    """The profile of one numeric column.

    ``values`` are ascending and ``counts`` their multiplicities. At ``precision == 52``
    each value is an observed value; below, each stands for a bucket and is its largest
    float, so counts of values ``<=`` it are exact.
    """

    kind: Literal["numeric"] = "numeric"
    dtype: str
    rows: int = Field(ge=0)
    nan: int = Field(default=0, ge=0)
    posinf: int = Field(default=0, ge=0)
    neginf: int = Field(default=0, ge=0)
    min: float | None = None
    max: float | None = None
    precision: int = Field(default=EXACT, ge=0, le=EXACT)
    values: list[float] = Field(default_factory=list)
    counts: list[int] = Field(default_factory=list)

    _dist: Dist | None = PrivateAttr(default=None)  # a cache, left out of equality

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NumericProfile):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # lists inside: not hashable

    @model_validator(mode="after")
    def _consistent(self) -> NumericProfile:
        if len(self.values) != len(self.counts):
            raise ValueError("values and counts must have the same length")
        if any(c <= 0 for c in self.counts):
            raise ValueError("counts must be positive")
        if sum(self.counts) != self.valid:
            raise ValueError(f"counts sum to {sum(self.counts)} but rows - missing = {self.valid}")
        v = np.asarray(self.values, dtype=np.float64)
        if v.size and (not np.all(np.isfinite(v)) or np.any(np.diff(v) <= 0)):
            raise ValueError("values must be finite and strictly increasing")
        if (self.min is None) != (self.valid == 0) or (self.max is None) != (self.valid == 0):
            raise ValueError("min and max are set exactly when there are finite values")
        return self

    @property
    def missing(self) -> int:
        """NaN and infinite values."""
        return self.nan + self.posinf + self.neginf

    @property
    def valid(self) -> int:
        """The number of finite values."""
        return self.rows - self.missing

    @property
    def exact(self) -> bool:
        """True when every distinct value is kept (statistics equal the raw-data ones)."""
        return self.precision == EXACT

    def dist(self) -> Dist:
        """The sketch as a distribution (built once per profile object)."""
        if self._dist is None:
            self._dist = Dist(
                np.asarray(self.values, dtype=np.float64),
                np.asarray(self.counts, dtype=np.int64),
                self.precision,
            )
        return self._dist

    def side(self) -> NumSide:
        """This column as a sample for the statistics."""
        return NumSide(self.rows, self.nan, self.posinf, self.neginf, dist=self.dist())

    @property
    def mean(self) -> float | None:
        """Mean of the finite values (of bucket representatives when bucketed)."""
        return self.dist().mean_std()[0] if self.valid else None

    @property
    def std(self) -> float | None:
        """Population standard deviation of the finite values (ddof=0)."""
        return self.dist().mean_std()[1] if self.valid else None

    def quantiles(self, q: ArrayLike) -> NDArray[np.float64]:
        """numpy ``linear`` quantiles when exact; bucket representatives when bucketed."""
        if not self.valid:
            raise InvalidInputError("the column has no finite values to take quantiles of")
        return self.dist().quantiles(q)

    def histogram(
        self, bins: int | Sequence[float] = 10, binning: Literal["quantile", "uniform"] = "quantile"
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Bin edges (``-inf`` and ``+inf`` at the ends) and the exact count in each bin."""
        if not self.valid:
            raise InvalidInputError("the column has no finite values to bin")
        d = self.dist()
        nb = numeric_bins(BinSpec.make(bins, binning), d)
        edges = np.concatenate(([-np.inf], nb.inner, [np.inf]))
        return edges, bin_counts(d.count_le(nb.inner), d.n)


class CategoricalProfile(_Model):
    """The profile of one categorical column: counts per category (canonical order)."""

    kind: Literal["categorical"] = "categorical"
    dtype: str
    rows: int = Field(ge=0)
    missing: int = Field(default=0, ge=0)
    values: list[CategoryValue] = Field(default_factory=list)
    counts: list[int] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> CategoricalProfile:
        if len(self.values) != len(self.counts):
            raise ValueError("values and counts must have the same length")
        if any(c <= 0 for c in self.counts) or sum(self.counts) != self.rows - self.missing:
            raise ValueError("counts must be positive and sum to rows - missing")
        return self

    @property
    def valid(self) -> int:
        """The number of non-missing values."""
        return self.rows - self.missing

    def side(self) -> CatSide:
        """This column as a sample for the statistics."""
        return CatSide(
            list(self.values), np.asarray(self.counts, dtype=np.int64), self.rows, self.missing
        )


ColumnProfile = Annotated[NumericProfile | CategoricalProfile, Field(discriminator="kind")]


class ReferenceProfile(_Model):
    """A mergeable summary of a dataset that ``compare`` accepts in place of it.

    Round-trips through JSON (``to_json`` / ``from_json``) and through any store of
    pydantic models. ``merge`` combines profiles of disjoint parts of one dataset.
    """

    schema_version: Literal[1] = 1
    rows: int = Field(ge=0)
    max_buckets: int = Field(ge=32)
    columns: dict[str, ColumnProfile]

    @model_validator(mode="after")
    def _rows_agree(self) -> ReferenceProfile:
        bad = sorted(name for name, c in self.columns.items() if c.rows != self.rows)
        if bad:
            raise ValueError(f"columns {bad} do not have {self.rows} rows")
        if any(
            isinstance(c, NumericProfile) and len(c.values) > self.max_buckets and c.precision > 0
            for c in self.columns.values()
        ):
            raise ValueError("a numeric sketch holds more buckets than max_buckets")
        return self

    def __getitem__(self, name: str) -> NumericProfile | CategoricalProfile:
        return self.columns[name]

    @property
    def exact(self) -> bool:
        """True when every numeric column kept every distinct value."""
        return all(c.exact for c in self.columns.values() if isinstance(c, NumericProfile))

    def to_json(self, **kwargs: Any) -> str:
        """The profile as JSON (``Infinity`` for infinite floats)."""
        return self.model_dump_json(**kwargs)

    @classmethod
    def from_json(cls, data: str | bytes) -> ReferenceProfile:
        """A profile from :meth:`to_json` output (validated)."""
        return cls.model_validate_json(data)

    def merge(self, *others: ReferenceProfile) -> ReferenceProfile:
        """The profile of the union of the profiled datasets (exact, order-free)."""
        return merge_profiles([self, *others])

    def __add__(self, other: ReferenceProfile) -> ReferenceProfile:
        return merge_profiles([self, other])


def _numeric_profile(dtype: str, side: NumSide, max_buckets: int) -> NumericProfile:
    exact = side.dist()
    s = sketch(exact, max_buckets) if exact.values.size else exact.compact()
    return NumericProfile(
        dtype=dtype,
        rows=side.rows,
        nan=side.nan,
        posinf=side.posinf,
        neginf=side.neginf,
        min=float(exact.values[0]) if exact.values.size else None,
        max=float(exact.values[-1]) if exact.values.size else None,
        precision=s.precision,
        values=s.values.tolist(),
        counts=[] if s.counts is None else s.counts.tolist(),
    )


def profile_frame(
    frame: pd.DataFrame, columns: Sequence[str] | None, max_buckets: int
) -> ReferenceProfile:
    """Profile a pandas DataFrame (the engine of :func:`profile`)."""
    names = list(frame.columns) if columns is None else list(columns)
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise SchemaError(f"columns {missing} are not in the data", found=missing)
    cols: dict[str, NumericProfile | CategoricalProfile] = {}
    for name in names:
        series = frame[name]
        if column_kind(series, name=name) == "numeric":
            side = NumSide.from_values(numeric_array(series))
            cols[name] = _numeric_profile(dtype_label(series), side, max_buckets)
        else:
            cc = category_counts(series, name=name)
            cols[name] = CategoricalProfile(
                dtype=dtype_label(series),
                rows=cc.rows,
                missing=cc.missing,
                values=cc.values,
                counts=cc.counts.tolist(),
            )
    return ReferenceProfile(rows=len(frame), max_buckets=max_buckets, columns=cols)


def profile(
    data: Any, *, columns: Sequence[str] | None = None, max_buckets: int = DEFAULT_MAX_BUCKETS
) -> ReferenceProfile:
    """Summarise a reference dataset so it can be compared against without the raw data.

    Args:
        data: A pandas DataFrame, a mapping of columns, a list of records, or a Dask
            DataFrame (profiled partition by partition and merged; needs
            ``pymlopskit[dask]``).
        columns: The columns to profile (default: all).
        max_buckets: The most values a numeric sketch keeps. Columns with at most this
            many distinct finite values are kept exactly; others are bucketed at the finest
            precision that fits (4096 buckets keep a normal sample to ~0.8% relative width).

    Returns:
        The profile; ``profile.exact`` says whether every column was kept exactly.
    """
    if max_buckets < 32:
        raise InvalidInputError(f"max_buckets must be >= 32; found {max_buckets}")
    from mlopskit.drift._dask import is_dask_frame

    if is_dask_frame(data):
        from mlopskit.drift._dask import profile_dask

        return profile_dask(data, columns=columns, max_buckets=max_buckets)
    return profile_frame(as_frame(data, what="data"), columns, max_buckets)


def _merge_numeric(parts: list[NumericProfile], max_buckets: int) -> NumericProfile:
    dtypes = {p.dtype for p in parts}
    mins = [p.min for p in parts if p.min is not None]
    maxs = [p.max for p in parts if p.max is not None]
    d = merge_dists([p.dist() for p in parts], max_buckets)
    return NumericProfile(
        dtype=dtypes.pop() if len(dtypes) == 1 else "float64",
        rows=sum(p.rows for p in parts),
        nan=sum(p.nan for p in parts),
        posinf=sum(p.posinf for p in parts),
        neginf=sum(p.neginf for p in parts),
        min=min(mins) if mins else None,
        max=max(maxs) if maxs else None,
        precision=d.precision,
        values=d.values.tolist(),
        counts=[] if d.counts is None else d.counts.tolist(),
    )


def _merge_categorical(parts: list[CategoricalProfile]) -> CategoricalProfile:
    totals: dict[CategoryValue, int] = {}
    for p in parts:
        for v, c in zip(p.values, p.counts):
            totals[v] = totals.get(v, 0) + c
    values, counts = sort_categories(list(totals), np.asarray(list(totals.values()), np.int64))
    dtypes = {p.dtype for p in parts}
    return CategoricalProfile(
        dtype=dtypes.pop() if len(dtypes) == 1 else "object",
        rows=sum(p.rows for p in parts),
        missing=sum(p.missing for p in parts),
        values=values,
        counts=counts.tolist(),
    )


def merge_profiles(profiles: Iterable[ReferenceProfile]) -> ReferenceProfile:
    """Merge profiles of disjoint parts of one dataset into the profile of the whole.

    The result equals ``profile(pd.concat(parts))`` exactly. All profiles must have the
    same columns, column kinds and ``max_buckets``.
    """
    items = list(profiles)
    if not items:
        raise InvalidInputError("merge_profiles needs at least one profile")
    first = items[0]
    for other in items[1:]:
        if other.max_buckets != first.max_buckets:
            raise InvalidInputError(
                f"cannot merge profiles with max_buckets {first.max_buckets} and "
                f"{other.max_buckets}; profile all parts with the same max_buckets",
            )
        if list(other.columns) != list(first.columns):
            raise SchemaError(
                f"cannot merge profiles of different columns: {list(first.columns)} vs "
                f"{list(other.columns)}",
                expected=list(first.columns),
                found=list(other.columns),
            )
    cols: dict[str, NumericProfile | CategoricalProfile] = {}
    for name, col in first.columns.items():
        parts = [p.columns[name] for p in items]
        if any(p.kind != col.kind for p in parts):
            raise SchemaError(
                f"column {name!r} is numeric in one profile and categorical in another"
            )
        if isinstance(col, NumericProfile):
            cols[name] = _merge_numeric(parts, first.max_buckets)  # type: ignore[arg-type]
        else:
            cols[name] = _merge_categorical(parts)  # type: ignore[arg-type]
    return ReferenceProfile(
        rows=sum(p.rows for p in items), max_buckets=first.max_buckets, columns=cols
    )
