"""Data checks: a table against its previous version or a stored drift profile.

Both sides are summarised by :func:`mlopskit.drift.profile` (a stored profile is used
as is), so every rule reads the same numbers whatever the reference was: schema
(column kinds and dtypes), null shares, ranges, category sets, row counts, and drift
through :func:`mlopskit.drift.compare`. Every rule is order-free: shuffling the rows
of either side never changes a verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from mlopskit.checks._inputs import Data, dataset_frame, reference_of
from mlopskit.checks._record import save
from mlopskit.checks._result import CheckResult, Finding, finite_metrics
from mlopskit.errors import InvalidInputError

__all__ = ["check_data"]

SchemaRule = Literal["exact", "additive", "ignore"]
_MAX_LISTED = 10


def _profile_of(data: Data) -> Any:
    from mlopskit.drift import profile

    if data.profile is not None:
        return data.profile
    return profile(data.frame)


def _null_share(col: Any) -> float:
    missing = col.nan if col.kind == "numeric" else col.missing
    return float(missing) / col.rows if col.rows else 0.0


def _per_column(value: float | Mapping[str, float] | None, column: str, what: str) -> float | None:
    if value is None or isinstance(value, (int, float)):
        return None if value is None else float(value)
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"{what}: expected a number or a mapping column → number, found {type(value).__name__}",
            key=what,
        )
    bound = value.get(column)
    return None if bound is None else float(bound)


def _check_fraction(value: Any, what: str) -> None:
    values = value.values() if isinstance(value, Mapping) else [value]
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not float(v) >= 0:
            raise InvalidInputError(f"{what} must be a number >= 0, found {v!r}", key=what, found=v)


def _schema_findings(ref: Any, cur: Any, rule: SchemaRule) -> list[Finding]:
    if rule == "ignore":
        return []
    rc, cc = ref.columns, cur.columns
    missing = sorted(set(rc) - set(cc))
    added = sorted(set(cc) - set(rc))
    changed = {
        name: (f"{rc[name].kind}:{rc[name].dtype}", f"{cc[name].kind}:{cc[name].dtype}")
        for name in sorted(set(rc) & set(cc))
        if (rc[name].kind, rc[name].dtype) != (cc[name].kind, cc[name].dtype)
    }
    bad_changes = {
        k: v
        for k, v in changed.items()
        if rule == "exact" or v[0].split(":")[0] != v[1].split(":")[0]
    }
    problems = []
    if missing:
        problems.append(f"missing columns {missing[:_MAX_LISTED]}")
    if added and rule == "exact":
        problems.append(f"new columns {added[:_MAX_LISTED]}")
    if bad_changes:
        shown = dict(list(bad_changes.items())[:_MAX_LISTED])
        problems.append(f"changed types {shown}")
    if problems:
        message = "; ".join(problems)
    else:
        extras = []
        if added:
            extras.append(f"new columns {added[:_MAX_LISTED]} (allowed)")
        if changed:
            extras.append(f"types changed within their kind {sorted(changed)} (allowed)")
        message = f"{len(rc)} columns as before" + (": " + "; ".join(extras) if extras else "")
    return [
        Finding(
            rule="schema",
            passed=not problems,
            message=message,
            expected={n: f"{c.kind}:{c.dtype}" for n, c in sorted(rc.items())},
            found={n: f"{c.kind}:{c.dtype}" for n, c in sorted(cc.items())},
        )
    ]


def _null_findings(
    ref: Any,
    cur: Any,
    common: list[str],
    max_null_share: float | Mapping[str, float] | None,
    max_null_increase: float | Mapping[str, float] | None,
    metrics: dict[str, float],
) -> list[Finding]:
    out = []
    for name in common:
        share, before = _null_share(cur.columns[name]), _null_share(ref.columns[name])
        metrics[f"null_share.{name}"] = share
        limit = _per_column(max_null_share, name, "max_null_share")
        increase = _per_column(max_null_increase, name, "max_null_increase")
        if limit is None and increase is None:
            continue
        ok = (limit is None or share <= limit) and (increase is None or share - before <= increase)
        bounds = []
        if limit is not None:
            bounds.append(f"<= {limit:.4g}")
        if increase is not None:
            bounds.append(f"at most {increase:.4g} above the reference's {before:.4g}")
        out.append(
            Finding(
                rule=f"nulls[{name}]",
                passed=ok,
                message=f"null share {share:.4g} (wanted {' and '.join(bounds)})",
                expected={"max_share": limit, "max_increase": increase, "reference": before},
                found=share,
            )
        )
    return out


def _range_findings(
    cur: Any, ranges: Mapping[str, Sequence[float | None]], metrics: dict[str, float]
) -> list[Finding]:
    out = []
    for name, bounds in sorted(ranges.items()):
        if name not in cur.columns:
            raise InvalidInputError(
                f"ranges: column {name!r} is not in the data; columns: "
                f"{sorted(cur.columns)[:_MAX_LISTED]}",
                key=name,
            )
        col = cur.columns[name]
        if col.kind != "numeric":
            raise InvalidInputError(
                f"ranges: column {name!r} is {col.dtype}, not numeric; use categories= for it",
                key=name,
                found=col.dtype,
            )
        if not isinstance(bounds, Sequence) or isinstance(bounds, str) or len(bounds) != 2:
            raise InvalidInputError(
                f"ranges[{name!r}] must be [low, high] (either may be null), found {bounds!r}",
                key=name,
                found=bounds,
            )
        lo, hi = bounds
        low = col.min if col.neginf == 0 else float("-inf")
        high = col.max if col.posinf == 0 else float("inf")
        if low is not None:
            metrics[f"min.{name}"] = low
            metrics[f"max.{name}"] = high
        ok = (lo is None or low is None or low >= lo) and (hi is None or high is None or high <= hi)
        out.append(
            Finding(
                rule=f"range[{name}]",
                passed=ok,
                message=f"values in [{low}, {high}] (allowed [{lo}, {hi}])",
                expected=[lo, hi],
                found=[low, high],
            )
        )
    return out


def _category_findings(
    ref: Any,
    cur: Any,
    categories: Literal["reference"] | Mapping[str, Sequence[Any]],
    common: list[str],
) -> list[Finding]:
    if categories == "reference":
        allowed = {
            name: set(ref.columns[name].values)
            for name in common
            if ref.columns[name].kind == "categorical" and cur.columns[name].kind == "categorical"
        }
    elif isinstance(categories, Mapping):
        allowed = {}
        for name, values in categories.items():
            if name not in cur.columns:
                raise InvalidInputError(f"categories: column {name!r} is not in the data", key=name)
            if isinstance(values, str) or not isinstance(values, Sequence):
                raise InvalidInputError(
                    f"categories[{name!r}] must be a list of allowed values, found {values!r}",
                    key=name,
                    found=values,
                )
            allowed[name] = set(values)
    else:
        raise InvalidInputError(
            f"categories must be 'reference', a mapping column → values or None, found "
            f"{categories!r}",
            key="categories",
            found=categories,
        )
    out = []
    for name, ok_values in sorted(allowed.items()):
        col = cur.columns[name]
        seen = set(col.values) if col.kind == "categorical" else set()
        unseen = sorted(map(str, seen - ok_values))
        out.append(
            Finding(
                rule=f"categories[{name}]",
                passed=not unseen,
                message=(
                    f"unseen categories {unseen[:_MAX_LISTED]}"
                    if unseen
                    else f"{len(seen)} categories, all known"
                ),
                expected=sorted(map(str, ok_values))[:100],
                found=unseen[:100],
            )
        )
    return out


def _row_findings(
    ref_rows: int, cur_rows: int, min_rows: int, max_row_change: float | None
) -> tuple[list[Finding], float]:
    change = abs(cur_rows - ref_rows) / ref_rows if ref_rows else (0.0 if not cur_rows else 1e300)
    out = [
        Finding(
            rule="min_rows",
            passed=cur_rows >= min_rows,
            message=f"{cur_rows} rows (wanted >= {min_rows})",
            expected=min_rows,
            found=cur_rows,
        )
    ]
    if max_row_change is not None:
        out.append(
            Finding(
                rule="row_change",
                passed=change <= max_row_change,
                message=f"{cur_rows} rows vs {ref_rows}: change {change:.4g} "
                f"(wanted <= {max_row_change:.4g})",
                expected=max_row_change,
                found=change,
            )
        )
    return out, change


def _drift_finding(
    reference: Data, ref: Any, current: Data, common: list[str], options: Mapping[str, Any]
) -> tuple[Finding, dict[str, Any], float | None]:
    from mlopskit.drift import compare

    if not common or ref.rows == 0 or current.frame is None or len(current.frame) == 0:
        return (
            Finding(
                rule="drift",
                passed=False,
                message="drift cannot be judged: no common column or an empty side",
                found=None,
            ),
            {},
            None,
        )
    opts = dict(options)
    opts.setdefault("columns", common)
    base = reference.frame if reference.frame is not None else ref
    report = compare(base, current.frame, **opts)
    drifted = report.drifted_columns
    return (
        Finding(
            rule="drift",
            passed=not report.drifted,
            message=(
                f"{report.n_drifted} of {report.n_columns} columns drifted"
                + (f": {drifted[:_MAX_LISTED]}" if drifted else "")
            ),
            expected="no dataset drift",
            found=drifted,
        ),
        report.to_dict(),
        report.share_drifted,
    )


def check_data(
    current: Any,
    reference: Any = None,
    *,
    schema: SchemaRule = "exact",
    max_null_share: float | Mapping[str, float] | None = None,
    max_null_increase: float | Mapping[str, float] | None = 0.05,
    ranges: Mapping[str, Sequence[float | None]] | None = None,
    categories: Literal["reference"] | Mapping[str, Sequence[Any]] | None = "reference",
    min_rows: int = 1,
    max_row_change: float | None = 0.5,
    drift: bool | Mapping[str, Any] = True,
    record: bool = True,
) -> CheckResult:
    """Check a table against its reference; every rule that fails is a finding.

    Args:
        current: the data to check: a DataFrame, a dataset URI (``"holdout/3"``) or a
            :class:`~mlopskit.versioning.DatasetVersion`.
        reference: what it should look like: a DataFrame, a dataset URI or version, a
            :class:`~mlopskit.drift.ReferenceProfile` (or the path of its JSON). None:
            the dataset version before ``current``.
        schema: ``"exact"`` (same columns, same kinds and dtypes), ``"additive"`` (new
            columns allowed; a dtype may change within its kind) or ``"ignore"``.
            A missing column always fails unless ``"ignore"``.
        max_null_share: the highest null share allowed, for all columns or per column.
        max_null_increase: how much a column's null share may rise above the
            reference's (None: no limit).
        ranges: ``{column: [low, high]}`` bounds for numeric columns (either may be None).
        categories: ``"reference"`` (no category unseen in the reference), a mapping
            ``{column: allowed values}``, or None.
        min_rows: the fewest rows ``current`` may have.
        max_row_change: the largest relative change of the row count (None: any).
        drift: run :func:`mlopskit.drift.compare` (True, or a mapping of its options
            such as ``{"method": "psi", "thresholds": 0.2}``); False skips it.
        record: record the result as a run in the current workspace.

    Returns:
        A :class:`CheckResult` (``check="data"``).

    Raises:
        InvalidInputError: an input or rule that cannot be used (nothing is recorded).
    """
    if schema not in ("exact", "additive", "ignore"):
        raise InvalidInputError(
            f"schema must be 'exact', 'additive' or 'ignore', found {schema!r}",
            key="schema",
            found=schema,
        )
    _check_fraction(max_null_share, "max_null_share")
    _check_fraction(max_null_increase, "max_null_increase")
    _check_fraction(max_row_change, "max_row_change")
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 0:
        raise InvalidInputError(f"min_rows must be an int >= 0, found {min_rows!r}", key="min_rows")
    if not isinstance(drift, (bool, Mapping)):
        raise InvalidInputError(
            f"drift must be True, False or a mapping of drift.compare options, found {drift!r}",
            key="drift",
        )
    cur_data = dataset_frame(current, "current")
    ref_data = reference_of(reference, cur_data)
    ref, cur = _profile_of(ref_data), _profile_of(cur_data)
    common = [c for c in ref.columns if c in cur.columns]
    for what, value in (
        ("max_null_share", max_null_share),
        ("max_null_increase", max_null_increase),
    ):
        unknown = sorted(set(value) - set(common)) if isinstance(value, Mapping) else []
        if unknown:
            raise InvalidInputError(
                f"{what}: column(s) {unknown[:_MAX_LISTED]} are not in both the data and the "
                f"reference; columns: {common[:_MAX_LISTED]}",
                key=what,
                found=unknown,
            )
    metrics: dict[str, float] = {"rows": float(cur.rows), "reference_rows": float(ref.rows)}
    findings = _schema_findings(ref, cur, schema)
    findings += _null_findings(ref, cur, common, max_null_share, max_null_increase, metrics)
    if ranges:
        findings += _range_findings(cur, ranges, metrics)
    if categories is not None:
        findings += _category_findings(ref, cur, categories, common)
    rows, change = _row_findings(ref.rows, cur.rows, min_rows, max_row_change)
    findings += rows
    metrics["row_change"] = change
    evidence: dict[str, Any] = {}
    if drift is not False:
        finding, report, share = _drift_finding(
            ref_data, ref, cur_data, common, {} if drift is True else drift
        )
        findings.append(finding)
        if report:
            evidence["drift"] = report
        if share is not None:
            metrics["drift.share_drifted"] = share
    result = CheckResult(
        check="data",
        subject=cur_data.label,
        passed=all(f.passed for f in findings),
        findings=findings,
        metrics=finite_metrics(metrics),
        params={
            "reference": ref_data.label,
            "schema": schema,
            "max_null_share": max_null_share,
            "max_null_increase": max_null_increase,
            "ranges": dict(ranges) if ranges else None,
            "categories": categories
            if isinstance(categories, str) or categories is None
            else {k: list(v) for k, v in categories.items()},
            "min_rows": min_rows,
            "max_row_change": max_row_change,
            "drift": drift if isinstance(drift, bool) else dict(drift),
        },
        evidence=evidence,
    )
    if not record:
        return result
    inputs = [e for e in (cur_data.endpoint, ref_data.endpoint) if e is not None]
    return save(result, inputs)
