"""``compare``: per-column drift between a reference and a current dataset."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mlopskit._log import get_logger
from mlopskit._suggest import did_you_mean
from mlopskit.drift import _evidently as ev
from mlopskit.drift._binning import BinSpec
from mlopskit.drift._columns import (
    as_frame,
    category_counts,
    column_kind,
    dtype_label,
    numeric_array,
)
from mlopskit.drift._dask import is_dask_frame
from mlopskit.drift._methods import (
    DEFAULT_THRESHOLDS,
    DISCRETE_LIMIT,
    METHODS,
    TESTS,
    Options,
    Outcome,
    ks_block,
    verdict,
)
from mlopskit.drift._profile import DEFAULT_MAX_BUCKETS, ReferenceProfile, profile
from mlopskit.drift._report import ColumnDrift, DriftReport, Histogram, Rule
from mlopskit.drift._sides import (
    CatSide,
    EmptySample,
    NumSide,
    Side,
    align_categories,
    numeric_as_categories,
)
from mlopskit.errors import InvalidInputError, NotFoundError, SchemaError

if TYPE_CHECKING:
    import pandas as pd

    Source = ReferenceProfile | pd.DataFrame

__all__ = ["auto_method", "compare"]

_log = get_logger("mlopskit.drift")

NATIVE_ALIASES = {"jensenshannon": "jensen_shannon", "chisquare": "chi2"}
MISSING_THRESHOLD = 0.05
NUMERIC_ONLY = frozenset({"ks", "wasserstein"})
BINNED = frozenset({"psi", "jensen_shannon", "hellinger", "chi2"})
_BLOCK_ELEMENTS = 1 << 20  # pooled values per 2-d KS block: 8 MiB per float64 temporary
PSI_NOISE_LIMIT = 0.02


def auto_method(ref: Side, cur: Side, spec: BinSpec) -> str:
    """The native automatic choice for one column (documented in docs/drift.md).

    PSI is used when its expected value under no drift, ``(k - 1) * (1/n_ref + 1/n_cur)``
    for ``k`` bins, is at most 0.02 (a fifth of its 0.1 threshold); below that sample
    size a test is used instead: KS for continuous columns, chi-square for categorical
    columns and numeric columns with at most 20 distinct reference values.
    """
    if isinstance(ref, CatSide) and isinstance(cur, CatSide):
        k, test = len(align_categories(ref, cur)[0]), "chi2"
    elif (
        isinstance(ref, NumSide)
        and isinstance(cur, NumSide)
        and spec.strategy != "explicit"
        and ref.distinct_at_most(DISCRETE_LIMIT)
    ):
        k, test = len(numeric_as_categories(ref, cur)[0]), "chi2"
    else:
        k, test = spec.requested, "ks"
    noise = (k - 1) * (1.0 / ref.valid + 1.0 / cur.valid)
    return "psi" if noise <= PSI_NOISE_LIMIT else test


def _source(data: Any, what: str, max_buckets: int) -> Source:
    if isinstance(data, ReferenceProfile):
        return data
    if is_dask_frame(data):
        return profile(data, max_buckets=max_buckets)
    frame = as_frame(data, what=what)
    if len(frame) == 0:
        raise InvalidInputError(
            f"the {what} data has no rows; drift needs at least one row on each side"
        )
    return frame


def _rows(src: Source) -> int:
    return src.rows if isinstance(src, ReferenceProfile) else len(src)


def _column_names(src: Source) -> list[str]:
    return list(src.columns)


def _side(src: Source, name: str, what: str) -> tuple[Side, str]:
    if isinstance(src, ReferenceProfile):
        col = src.columns[name]
        return col.side(), col.dtype
    series = src[name]
    if column_kind(series, name=name) == "numeric":
        return NumSide.from_values(numeric_array(series)), dtype_label(series)
    return CatSide.from_counts(category_counts(series, name=name)), dtype_label(series)


def _method_name(requested: str, preset: str | None) -> str:
    if requested == "auto":
        return requested
    if preset == "evidently":
        name = ev.ALIASES.get(requested, requested)
        if name not in ev.EVIDENTLY_THRESHOLDS:
            raise InvalidInputError(
                f"unknown method {requested!r} for the Evidently preset; use 'auto' or one "
                f"of {sorted(ev.EVIDENTLY_THRESHOLDS)}",
                found=requested,
            )
        return name
    name = NATIVE_ALIASES.get(requested, requested)
    if name not in METHODS:
        raise InvalidInputError(
            f"unknown method {requested!r}; use 'auto' or one of {sorted(METHODS)}",
            found=requested,
        )
    return name


def _number(value: Any, name: str, *, low: float, high: float, low_open: bool = False) -> float:
    """``value`` as a finite float in ``[low, high]`` (``(low, high]`` if ``low_open``).

    A NaN or out-of-range parameter would make every comparison False: a silent
    "no drift". Refuse it instead.
    """
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
    numeric = isinstance(value, (int, float, np.integer, np.floating))
    number = float(value) if numeric else math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise InvalidInputError(
            f"{name} must be a finite number in {interval}; found {value!r}",
            expected=interval,
            found=value,
            key=name,
        )
    if number < low or number > high or (low_open and number == low):
        raise InvalidInputError(
            f"{name} must be in {interval}; found {value!r}",
            expected=interval,
            found=value,
            key=name,
        )
    return number


def _check_keys(
    method: str | Mapping[str, str],
    thresholds: float | Mapping[str, float] | None,
    known: Sequence[str],
) -> None:
    """A key of ``method={...}`` or ``thresholds={...}`` that names no column (nor, for
    thresholds, a method) is a NotFoundError naming the closest: never silently unused."""
    if isinstance(method, Mapping):
        for key in method:
            if key not in known:
                raise NotFoundError(
                    f"method={{...}} names column {key!r}, which the reference data does not "
                    f"have{did_you_mean(str(key), known, noun='columns')}",
                    name=str(key),
                )
    if isinstance(thresholds, Mapping):
        methods = {*METHODS, *NATIVE_ALIASES, *ev.ALIASES, *ev.EVIDENTLY_THRESHOLDS}
        for key in thresholds:
            if key not in known and key not in methods:
                raise NotFoundError(
                    f"thresholds={{...}} names {key!r}, neither a column of the reference data "
                    f"nor a method{did_you_mean(key, [*known, *sorted(methods)], noun='names')}",
                    name=key,
                )


def _check_thresholds(
    thresholds: float | Mapping[str, float] | None,
) -> float | Mapping[str, float] | None:
    """Every threshold given is a finite, non-negative number."""
    if thresholds is None:
        return None
    if not isinstance(thresholds, Mapping):
        return _number(thresholds, "thresholds", low=0.0, high=math.inf)
    for key, value in thresholds.items():
        if not isinstance(key, str):
            raise InvalidInputError(
                f"thresholds keys must be column or method names (str); found {key!r}",
                found=key,
                key="thresholds",
            )
        _number(value, f"thresholds[{key!r}]", low=0.0, high=math.inf)
    return thresholds


def _threshold(
    thresholds: float | Mapping[str, float] | None, column: str, method: str, preset: str | None
) -> float:
    defaults = ev.EVIDENTLY_THRESHOLDS if preset == "evidently" else DEFAULT_THRESHOLDS
    tests = {*TESTS, "chisquare", "z"}
    value: float | None = None
    if thresholds is None:
        return defaults[method]
    if not isinstance(thresholds, Mapping):
        value = float(thresholds)
    elif column in thresholds:
        value = float(thresholds[column])
    else:
        aliases = [k for k, v in {**NATIVE_ALIASES, **ev.ALIASES}.items() if v == method]
        for key in (method, *aliases):
            if key in thresholds:
                value = float(thresholds[key])
                break
    if value is None:
        return defaults[method]
    if method in tests and value > 1.0:
        raise InvalidInputError(
            f"thresholds: the threshold for column {column!r} ({method}, a p-value test) must be a "
            f"significance level in [0, 1]; found {value!r}",
            expected="[0, 1]",
            found=value,
            key="thresholds",
        )
    return value


def _empty_note(ref: Side, cur: Side) -> tuple[bool, str]:
    if ref.valid == 0 and cur.valid == 0:
        return False, "no usable value in either sample (all missing): nothing to compare"
    if cur.valid == 0:
        return True, (
            f"the current sample has no usable value ({cur.rows} rows, all missing) "
            "while the reference has some: drifted"
        )
    return True, (
        f"the reference has no usable value ({ref.rows} rows, all missing) while the "
        "current sample has some: drifted"
    )


def _adjust(
    p: np.ndarray[Any, np.dtype[np.float64]], rule: Rule
) -> np.ndarray[Any, np.dtype[np.float64]]:
    m = p.size
    if rule == "bonferroni":
        out_b: np.ndarray[Any, np.dtype[np.float64]] = np.minimum(p * m, 1.0)
        return out_b
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def _apply_rule(rows: list[ColumnDrift], rule: Rule, preset: str | None) -> list[ColumnDrift]:
    if rule == "share":
        return rows
    tested = [
        i
        for i, r in enumerate(rows)
        if r.p_value is not None and r.method in (TESTS | {"chisquare", "z"})
    ]
    if not tested:
        return rows
    adjusted = _adjust(np.array([rows[i].p_value for i in tested], dtype=np.float64), rule)
    out = list(rows)
    for i, p_adj in zip(tested, adjusted):
        r = rows[i]
        judge = ev.verdict if preset == "evidently" else verdict
        value = judge(r.method, r.statistic or 0.0, float(p_adj), r.threshold)
        out[i] = r.model_copy(
            update={
                "p_value_adjusted": float(p_adj),
                "value_drifted": value,
                "drifted": value or bool(r.missing_drifted),
            }
        )
    return out


@dataclass(frozen=True)
class _Settings:
    """The per-call choices every column shares."""

    method: str | Mapping[str, str]
    thresholds: float | Mapping[str, float] | None
    opts: Options
    missing_threshold: float | None
    preset: str | None

    def requested(self, name: str, ref: Side) -> str:
        """The method asked for a column (a global numeric-only one skips categories)."""
        if not isinstance(self.method, str):
            return self.method.get(name, "auto")
        numeric_only = _method_name(self.method, self.preset) in NUMERIC_ONLY
        return "auto" if numeric_only and isinstance(ref, CatSide) else self.method


@dataclass
class _Plan:
    """One column, its two samples and the method chosen for it."""

    name: str
    ref: Side
    cur: Side
    dtype: str
    method: str  # resolved; "none" when "auto" met a sample with no usable value
    ev_kind: ev.EvidentlyKind = "num"
    note: str | None = None

    @property
    def empty(self) -> bool:
        return self.ref.valid == 0 or self.cur.valid == 0

    def deferred(self, preset: str | None) -> bool:
        """Whether the current sample's missing values are best counted with its bins."""
        cur = self.cur
        return (
            preset is None
            and self.method in BINNED
            and isinstance(cur, NumSide)
            and not cur.counted
        )


def _plan(name: str, ref: Side, cur: Side, dtype: str, cfg: _Settings) -> _Plan:
    method = _method_name(cfg.requested(name, ref), cfg.preset)
    plan = _Plan(name, ref, cur, dtype, method)
    if cfg.preset == "evidently":
        plan.ev_kind, plan.note = ev.column_kind(dtype, cur)
    if method != "auto":
        return plan  # an empty sample is found when the column is computed
    if plan.empty:
        plan.method = "none"
    elif cfg.preset == "evidently":
        plan.method = ev.auto_method(plan.ev_kind, ref, cur)
    else:
        plan.method = auto_method(ref, cur, cfg.opts.spec)
    return plan


def _batch_key(plan: _Plan) -> tuple[int, int] | None:
    """Sample sizes of a KS column that can share a 2-d block with others, else None.

    Raw numeric columns without missing values qualify when at least two of them fit in
    ``_BLOCK_ELEMENTS`` values (a thousand rows: hundreds per block; a million: none).
    """
    ref, cur = plan.ref, plan.cur
    if (
        plan.method != "ks"
        or plan.empty
        or not isinstance(ref, NumSide)
        or not isinstance(cur, NumSide)
        or ref.raw is None
        or cur.raw is None
        or ref.missing
        or cur.missing
        or 2 * (ref.valid + cur.valid) > _BLOCK_ELEMENTS
    ):
        return None
    return ref.valid, cur.valid


def _ks_block(plans: list[_Plan], opts: Options) -> list[Outcome]:
    refs = [p.ref.raw for p in plans if isinstance(p.ref, NumSide) and p.ref.raw is not None]
    curs = [p.cur.raw for p in plans if isinstance(p.cur, NumSide) and p.cur.raw is not None]
    return ks_block(refs, curs, opts)


def _common(plan: _Plan, cfg: _Settings) -> tuple[dict[str, Any], bool | None]:
    """The row fields every column has, and the missing-share verdict."""
    ref, cur, method = plan.ref, plan.cur, plan.method
    miss_ref = (ref.rows - ref.valid) / ref.rows
    miss_cur = (cur.rows - cur.valid) / cur.rows
    limit = cfg.missing_threshold
    missing_drifted = None if limit is None else bool(abs(miss_cur - miss_ref) >= limit)
    threshold = (
        0.0 if method == "none" else _threshold(cfg.thresholds, plan.name, method, cfg.preset)
    )
    common: dict[str, Any] = {
        "column": plan.name,
        "kind": "numeric" if isinstance(ref, NumSide) else "categorical",
        "method": method,
        "threshold": threshold,
        "missing_share_reference": miss_ref,
        "missing_share_current": miss_cur,
        "missing_drifted": missing_drifted,
        "n_reference": ref.valid,
        "n_current": cur.valid,
    }
    return common, missing_drifted


def _empty_row(plan: _Plan, cfg: _Settings) -> ColumnDrift:
    common, missing_drifted = _common(plan, cfg)
    value, note = _empty_note(plan.ref, plan.cur)
    return ColumnDrift(
        **common,
        statistic=None,
        value_drifted=value,
        drifted=value or bool(missing_drifted),
        note=note,
    )


def _row(plan: _Plan, outcome: Outcome | None, cfg: _Settings) -> ColumnDrift:
    """The report row of one column (computing the statistic unless ``outcome`` is given).

    A binned statistic on raw current values counts the bins and the missing values in
    one pass, so the missing shares are read after the statistic.
    """
    ref, cur, method, preset = plan.ref, plan.cur, plan.method, cfg.preset
    if ref.valid == 0 or (not plan.deferred(preset) and cur.valid == 0):
        return _empty_row(plan, cfg)
    if preset == "evidently":
        integer = plan.dtype.startswith(("int", "uint"))
        out = outcome or ev.outcome(method, plan.ev_kind, ref, cur, integer)
    else:
        try:
            out = outcome or METHODS[method](ref, cur, cfg.opts)
        except EmptySample:
            return _empty_row(plan, cfg)
    common, missing_drifted = _common(plan, cfg)
    judge = ev.verdict if preset == "evidently" else verdict
    value = judge(method, out.statistic, out.p_value, common["threshold"])
    hist = None
    if out.plot is not None:
        hist = Histogram(
            labels=out.plot.labels, reference=out.plot.reference, current=out.plot.current
        )
    return ColumnDrift(
        **common,
        statistic=out.statistic,
        p_value=out.p_value,
        value_drifted=value,
        drifted=value or bool(missing_drifted),
        exact=out.exact,
        error_bound=out.error_bound,
        binning=out.binning,
        note=plan.note,
        histogram=hist,
    )


def _pair(ref_src: Source, cur_src: Source, name: str) -> tuple[Side, Side, str]:
    ref, _ = _side(ref_src, name, "reference")
    cur, dtype = _side(cur_src, name, "current")
    if type(ref) is not type(cur):
        kinds = ["numeric" if isinstance(s, NumSide) else "categorical" for s in (ref, cur)]
        raise SchemaError(
            f"column {name!r} is {kinds[0]} in the reference but {kinds[1]} in the "
            "current data; convert one side or leave the column out",
            column=name,
            expected=kinds[0],
            found=kinds[1],
        )
    return ref, cur, dtype


def _column_rows(
    ref_src: Source, cur_src: Source, names: list[str], cfg: _Settings
) -> list[ColumnDrift]:
    """One row per column, in order. A column's arrays are released once its row exists;
    small KS columns of equal sizes wait to be walked together as one 2-d block."""
    done: dict[str, ColumnDrift] = {}
    pending: dict[tuple[int, int], list[_Plan]] = {}

    def flush(key: tuple[int, int]) -> None:
        group = pending.pop(key)
        for plan, outcome in zip(group, _ks_block(group, cfg.opts)):
            done[plan.name] = _row(plan, outcome, cfg)

    for name in names:
        plan = _plan(name, *_pair(ref_src, cur_src, name), cfg)
        key = _batch_key(plan)
        if key is None:
            done[name] = _row(plan, None, cfg)
            continue
        pending.setdefault(key, []).append(plan)
        if len(pending[key]) * 2 * sum(key) >= _BLOCK_ELEMENTS:
            flush(key)
    for key in list(pending):
        flush(key)
    return [done[name] for name in names]


def compare(
    reference: Any,
    current: Any,
    *,
    columns: Sequence[str] | None = None,
    method: str | Mapping[str, str] = "auto",
    thresholds: float | Mapping[str, float] | None = None,
    bins: int | Sequence[float] = 10,
    binning: Literal["quantile", "uniform"] = "quantile",
    eps: float = 1e-4,
    rule: Rule = "share",
    drift_share: float = 0.5,
    missing_threshold: float | Literal["auto"] | None = "auto",
    preset: Literal["evidently"] | None = None,
) -> DriftReport:
    """Compare every column of ``current`` with ``reference`` and judge the drift.

    Args:
        reference: A DataFrame (or mapping of columns, or list of records), a
            :class:`ReferenceProfile`, or a Dask DataFrame.
        current: The same kinds of input (a profile works too, e.g. of a Dask frame).
        columns: The columns to compare (default: every reference column; each must be in
            ``current``). Extra current columns are ignored.
        method: ``"auto"``, one method for all columns, or ``{column: method}`` (unlisted
            columns use ``"auto"``). Methods: psi, ks, wasserstein, jensen_shannon,
            chi2, hellinger (and z with the Evidently preset). One numeric-only method
            (ks, wasserstein) for all columns leaves categorical columns on ``"auto"``.
        thresholds: One threshold for all columns, or a mapping by column name or by
            method name; defaults per method are in docs/drift.md.
        bins: Bins for numeric binned methods, or explicit edges.
        binning: ``"quantile"`` (default) or ``"uniform"``.
        eps: PSI's floor for empty bins, in ``(0, 1]``.
        rule: Dataset verdict: ``"share"`` (share of drifted columns ``>= drift_share``),
            ``"bonferroni"`` or ``"fdr_bh"`` (p-values adjusted across columns, drift when
            any column drifts).
        drift_share: The share of drifted columns that makes the dataset drift, in
            ``(0, 1]``.
        missing_threshold: A column also drifts when its missing share changes by at
            least this much (absolute). ``"auto"``: 0.05, or off with the Evidently preset;
            ``None``: report the shares only.
        preset: ``"evidently"`` reproduces Evidently 0.7.23's tests, binning, automatic
            choice and thresholds.

    Returns:
        A :class:`DriftReport`.

    Raises:
        InvalidInputError: a parameter is NaN, infinite or out of range (thresholds are
            finite and ``>= 0``, at most 1 for p-value tests; ``bins`` at most
            ``MAX_BINS``): never a silent "no drift".
    """
    if preset not in (None, "evidently"):
        raise InvalidInputError(f"preset must be None or 'evidently'; found {preset!r}")
    if rule not in ("share", "bonferroni", "fdr_bh"):
        raise InvalidInputError(f"rule must be share, bonferroni or fdr_bh; found {rule!r}")
    if missing_threshold == "auto":
        missing_threshold = None if preset == "evidently" else MISSING_THRESHOLD
    elif missing_threshold is not None:
        missing_threshold = _number(missing_threshold, "missing_threshold", low=0.0, high=1.0)
    thresholds = _check_thresholds(thresholds)
    drift_share = _number(drift_share, "drift_share", low=0.0, high=1.0, low_open=True)
    eps = _number(eps, "eps", low=0.0, high=1.0, low_open=True)
    opts = Options(spec=BinSpec.make(bins, binning), eps=eps)
    buckets = (
        reference.max_buckets if isinstance(reference, ReferenceProfile) else DEFAULT_MAX_BUCKETS
    )
    ref_src = _source(reference, "reference", buckets)
    cur_src = _source(current, "current", buckets)
    for what, src in (("reference", ref_src), ("current", cur_src)):
        if _rows(src) == 0:
            raise InvalidInputError(f"the {what} data has no rows; drift needs at least one")
    names = list(columns) if columns is not None else _column_names(ref_src)
    if not names:
        raise InvalidInputError("there are no columns to compare")
    for what, src in (("reference", ref_src), ("current", cur_src)):
        absent = [c for c in names if c not in _column_names(src)]
        if absent:
            raise SchemaError(
                f"columns {absent} are missing from the {what} data; pass columns=[...] to "
                "compare a subset",
                found=absent,
            )
    _check_keys(method, thresholds, _column_names(ref_src))
    cfg = _Settings(method, thresholds, opts, missing_threshold, preset)
    rows = _column_rows(ref_src, cur_src, names, cfg)
    rows = _apply_rule(rows, rule, preset)
    n_drifted = sum(r.drifted for r in rows)
    share = n_drifted / len(rows)
    drifted = share >= drift_share if rule == "share" else n_drifted > 0
    report = DriftReport(
        preset=preset,
        rule=rule,
        drift_share=drift_share,
        n_columns=len(rows),
        n_drifted=n_drifted,
        share_drifted=share,
        drifted=drifted,
        reference_rows=_rows(ref_src),
        current_rows=_rows(cur_src),
        columns=rows,
    )
    _log.debug("drift_compared", columns=len(rows), drifted=n_drifted, dataset_drift=drifted)
    return report
