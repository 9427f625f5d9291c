"""Model checks: a challenger against the champion, a latency budget, the signature,
the environment.

Predictions come from :class:`mlopskit.deploy.Predictor` (the path a server takes), so a
model that would fail to serve fails its check. When the champion alias does not exist
yet (the first promotion) the comparison passes with a finding that says so, unless
``require_champion=True``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mlopskit.checks._inputs import Data, dataset_frame, model_version
from mlopskit.checks._metrics import canonical_order, metric, paired_bootstrap
from mlopskit.checks._record import save
from mlopskit.checks._result import CheckResult, Finding, finite_metrics
from mlopskit.errors import InvalidInputError, NotFoundError, SchemaError
from mlopskit.workspace import current_workspace

if TYPE_CHECKING:
    from mlopskit.registry import ModelVersion

__all__ = ["check_environment", "check_latency", "check_model", "check_signature"]


def _champion(challenger: ModelVersion, champion: Any) -> ModelVersion | None:
    """The champion version, or None when the default alias does not exist yet."""
    if champion is None:
        try:
            return current_workspace().registry.get(f"{challenger.name}@champion")
        except NotFoundError:
            return None
    return model_version(champion, "champion")


def _predictor(mv: ModelVersion, method: str = "predict") -> Any:
    from mlopskit.deploy import Predictor

    return Predictor(mv.uri, store=current_workspace().store, method=method)


def _predict(mv: ModelVersion, features: Any, method: str) -> Any:
    out = np.asarray(_predictor(mv, method).predict(features))
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.ndim != 1 or len(out) != len(features):
        raise InvalidInputError(
            f"model {mv.uri} returned predictions of shape {out.shape} for {len(features)} "
            "rows; a model check needs one prediction per row",
            found=list(out.shape),
        )
    return out


def _split(data: Data, target: str) -> tuple[Any, Any]:
    frame = data.frame
    assert frame is not None
    if not isinstance(target, str) or target not in frame.columns:
        raise SchemaError(
            f"target column {target!r} is not in {data.label}; columns: "
            f"{[str(c) for c in frame.columns][:20]}",
            column=str(target),
            expected=str(target),
            found=[str(c) for c in frame.columns][:20],
        )
    if len(frame) == 0:
        raise InvalidInputError(f"{data.label} has no rows: a model cannot be judged on it")
    return frame.drop(columns=[target]), frame[target].to_numpy()


def _tolerances(metrics: Sequence[str] | Mapping[str, float], tolerance: float) -> dict[str, float]:
    if isinstance(metrics, str):
        metrics = [metrics]
    items = dict(metrics) if isinstance(metrics, Mapping) else {str(m): tolerance for m in metrics}
    if not items:
        raise InvalidInputError("metrics is empty: name at least one metric to compare")
    for name, tol in items.items():
        metric(name)
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol >= 0:
            raise InvalidInputError(
                f"tolerance of {name!r} must be a number >= 0, found {tol!r}", key=name, found=tol
            )
    return {k: float(v) for k, v in items.items()}


def check_model(
    challenger: Any,
    champion: Any = None,
    *,
    data: Any,
    target: str,
    metrics: Sequence[str] | Mapping[str, float] = ("accuracy",),
    tolerance: float = 0.0,
    bootstrap: int | None = None,
    confidence: float = 0.95,
    seed: int = 0,
    method: str = "predict",
    require_champion: bool = False,
    record: bool = True,
) -> CheckResult:
    """Is the challenger at least as good as the champion on the same held-out data?

    For each metric: ``challenger >= champion - tolerance`` (``<=`` ``+ tolerance`` for
    errors such as ``mae``). With ``bootstrap=N`` the rule is applied to the lower end
    of a paired bootstrap confidence interval of the improvement instead of the point
    value, so a lucky split does not pass.

    Args:
        challenger: the candidate (``"churn/4"`` or a ModelVersion).
        champion: what it must match (default ``"<name>@champion"``).
        data: the held-out data: a dataset URI (``"holdout/2"``), version or DataFrame.
        target: the column holding the true values (the rest are the features).
        metrics: metric names (one ``tolerance`` for all) or ``{name: tolerance}``;
            built in: accuracy, f1 (macro), mae, mse, rmse, r2.
        tolerance: how much worse than the champion is still acceptable.
        bootstrap: resamples for the confidence interval (None: point values only).
        confidence: the interval's level, in (0, 1).
        seed: the bootstrap's random seed (the verdict is reproducible).
        method: the model method giving predictions.
        require_champion: fail, instead of passing, when there is no champion.
        record: record the result as a run in the current workspace.

    Raises:
        InvalidInputError: unknown metric, bad tolerance or bootstrap settings, no rows.
        SchemaError: the target column is missing.
        NotFoundError: the challenger (or an explicitly named champion) does not exist.
    """
    tols = _tolerances(metrics, tolerance)
    if bootstrap is not None and (
        isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 10
    ):
        raise InvalidInputError(
            f"bootstrap must be None or an int >= 10 (resamples), found {bootstrap!r}",
            key="bootstrap",
        )
    if not 0 < confidence < 1:
        raise InvalidInputError(f"confidence must be in (0, 1), found {confidence!r}")
    ch = model_version(challenger, "challenger")
    cp = _champion(ch, champion)
    held_out = dataset_frame(data, "data")
    features, y = _split(held_out, target)
    params: dict[str, Any] = {
        "challenger": ch.uri,
        "champion": cp.uri if cp is not None else None,
        "data": held_out.label,
        "target": target,
        "tolerances": tols,
        "bootstrap": bootstrap,
        "confidence": confidence,
        "seed": seed,
    }
    findings: list[Finding] = []
    values: dict[str, float] = {}
    p_ch = _predict(ch, features, method)
    if cp is None:
        findings.append(
            Finding(
                rule="champion",
                passed=not require_champion,
                message=f"{ch.name} has no champion yet: nothing to compare with"
                + (" (require_champion=True)" if require_champion else " (first promotion)"),
            )
        )
        yc, ac, _ = canonical_order(y, p_ch, p_ch)
        for name in tols:
            values[f"challenger.{name}"] = metric(name).fn(yc, ac)
    else:
        p_cp = _predict(cp, features, method)
        yc, ac, bc = canonical_order(y, p_ch, p_cp)
        for name, tol in tols.items():
            m = metric(name)
            a, b = m.fn(yc, ac), m.fn(yc, bc)
            values[f"challenger.{name}"], values[f"champion.{name}"] = a, b
            gain = (a - b) if m.higher_is_better else (b - a)
            values[f"improvement.{name}"] = gain
            sense = ">=" if m.higher_is_better else "<="
            bound = b - tol if m.higher_is_better else b + tol
            if bootstrap is None:
                ok = math.isfinite(gain) and gain >= -tol
                detail = f"{a:.4g} vs champion {b:.4g} (wanted {sense} {bound:.4g})"
                found: Any = a
            else:
                low, high = paired_bootstrap(
                    m, yc, ac, bc, resamples=bootstrap, confidence=confidence, seed=seed
                )
                values[f"improvement_low.{name}"], values[f"improvement_high.{name}"] = low, high
                ok = math.isfinite(low) and low >= -tol
                detail = (
                    f"{a:.4g} vs champion {b:.4g}; improvement {gain:+.4g}, "
                    f"{confidence:.0%} CI [{low:+.4g}, {high:+.4g}] (wanted low end >= {-tol:+.4g})"
                )
                found = [low, high]
            findings.append(
                Finding(
                    rule=f"metric[{name}]",
                    passed=ok,
                    message=detail,
                    expected={
                        "champion": b,
                        "tolerance": tol,
                        "higher_is_better": m.higher_is_better,
                    },
                    found=found,
                )
            )
    result = CheckResult(
        check="model",
        subject=ch.uri,
        passed=all(f.passed for f in findings),
        findings=findings,
        metrics=finite_metrics(values),
        params=params,
    )
    if not record:
        return result
    inputs = [ch.__mlopskit_node__]
    if cp is not None:
        inputs.append(cp.__mlopskit_node__)
    if held_out.endpoint is not None:
        inputs.append(held_out.endpoint)
    return save(result, inputs)


def _budget(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidInputError(f"{name} must be a number of milliseconds > 0, found {value!r}")
    return float(value)


def check_latency(
    model: Any,
    data: Any,
    *,
    p50_ms: float | None = None,
    p95_ms: float | None = None,
    p99_ms: float | None = None,
    target: str | None = None,
    batch_size: int = 1,
    requests: int = 200,
    warmup: int = 10,
    method: str = "predict",
    record: bool = True,
) -> CheckResult:
    """Does the model answer within its latency budget, measured with ``Predictor``?

    Times ``requests`` calls of ``Predictor.predict`` on batches of ``batch_size`` rows
    taken from ``data`` in turn (after ``warmup`` untimed calls) and compares the
    percentiles with the budgets given (at least one).

    Raises:
        InvalidInputError: no budget, a budget <= 0, or bad counts.
    """
    budgets = {
        "p50": _budget(p50_ms, "p50_ms"),
        "p95": _budget(p95_ms, "p95_ms"),
        "p99": _budget(p99_ms, "p99_ms"),
    }
    if all(v is None for v in budgets.values()):
        raise InvalidInputError(
            "a latency check needs a budget: pass p50_ms, p95_ms or p99_ms", key="p95_ms"
        )
    for name, value in (("batch_size", batch_size), ("requests", requests)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"{name} must be an int >= 1, found {value!r}", key=name)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise InvalidInputError(f"warmup must be an int >= 0, found {warmup!r}", key="warmup")
    mv = model_version(model, "model")
    sample = dataset_frame(data, "data")
    frame = sample.frame
    assert frame is not None
    if target is not None:
        frame, _ = _split(sample, target)
    if len(frame) == 0:
        raise InvalidInputError(f"{sample.label} has no rows to time predictions on")
    predictor = _predictor(mv, method)
    n = len(frame)
    batches = [
        frame.iloc[[(i * batch_size + j) % n for j in range(batch_size)]]
        for i in range(min(requests, max(1, n // batch_size)))
    ]
    for i in range(warmup):
        predictor.predict(batches[i % len(batches)])
    seconds = np.empty(requests)
    for i in range(requests):
        batch = batches[i % len(batches)]
        start = time.perf_counter()
        predictor.predict(batch)
        seconds[i] = time.perf_counter() - start
    ms = seconds * 1000.0
    measured = {q: float(np.percentile(ms, int(q[1:]))) for q in budgets}
    findings = [
        Finding(
            rule=f"latency[{q}]",
            passed=measured[q] <= budget,
            message=f"{q} {measured[q]:.3g} ms over {requests} calls of {batch_size} row(s) "
            f"(budget {budget:.3g} ms)",
            expected=budget,
            found=measured[q],
        )
        for q, budget in budgets.items()
        if budget is not None
    ]
    result = CheckResult(
        check="latency",
        subject=mv.uri,
        passed=all(f.passed for f in findings),
        findings=findings,
        metrics=finite_metrics({f"{q}_ms": v for q, v in measured.items()}),
        params={
            "data": sample.label,
            "budgets_ms": budgets,
            "batch_size": batch_size,
            "requests": requests,
            "warmup": warmup,
            "method": method,
        },
    )
    if not record:
        return result
    inputs = [mv.__mlopskit_node__] + ([sample.endpoint] if sample.endpoint is not None else [])
    return save(result, inputs)


def _columns_compatible(new: Any, old: Any) -> list[str]:
    """Why callers of ``old`` could not call ``new`` (empty: they can)."""
    problems: list[str] = []
    if (new.tensor is None) != (old.tensor is None):
        return ["one takes an array, the other columns"]
    if new.tensor is not None:
        if new.tensor != old.tensor:
            problems.append(f"array input changed: {old.tensor} → {new.tensor}")
        return problems
    have = {c.name: c for c in old.columns or []}
    for col in new.columns or []:
        before = have.get(col.name)
        if before is None:
            problems.append(f"new required column {col.name!r}")
        elif before.type != col.type:
            problems.append(f"column {col.name!r} changed type {before.type} → {col.type}")
        elif before.nullable and not col.nullable:
            problems.append(f"column {col.name!r} no longer accepts nulls")
    return problems


def check_signature(
    challenger: Any,
    champion: Any = None,
    *,
    outputs: str = "same",
    record: bool = True,
) -> CheckResult:
    """Can the champion's callers call the challenger unchanged?

    The inputs pass when they are equal, or compatible: every column the challenger
    needs was sent to the champion with the same type, and the champion's stored input
    example validates against the challenger's signature. ``outputs="same"`` also
    requires equal output schemas (when both are recorded); ``"ignore"`` does not.
    A missing signature on either side fails (compatibility cannot be shown).
    """
    if outputs not in ("same", "ignore"):
        raise InvalidInputError(
            f"outputs must be 'same' or 'ignore', found {outputs!r}", key="outputs"
        )
    ch = model_version(challenger, "challenger")
    cp = _champion(ch, champion)
    findings: list[Finding] = []
    if ch.signature is None:
        findings.append(
            Finding(
                rule="signature",
                passed=False,
                message=f"{ch.uri} has no signature; register it with signature= "
                "(mk.infer_signature) so compatibility can be checked",
            )
        )
    elif cp is None:
        findings.append(
            Finding(rule="signature", passed=True, message="no champion yet (first promotion)")
        )
    elif cp.signature is None:
        findings.append(
            Finding(
                rule="signature",
                passed=False,
                message=f"the champion {cp.uri} has no signature: compatibility cannot be shown",
            )
        )
    else:
        new, old = ch.signature, cp.signature
        if new.inputs == old.inputs:
            findings.append(Finding(rule="inputs", passed=True, message="inputs unchanged"))
        else:
            problems = _columns_compatible(new.inputs, old.inputs)
            if not problems and cp.input_example is not None:
                example = current_workspace().store.get(cp.input_example)
                try:
                    new.inputs.validate_data(example)
                except SchemaError as exc:
                    problems.append(f"the champion's input example does not fit: {exc}")
            findings.append(
                Finding(
                    rule="inputs",
                    passed=not problems,
                    message="; ".join(problems) or "inputs changed compatibly",
                    expected=old.inputs.model_dump(mode="json"),
                    found=new.inputs.model_dump(mode="json"),
                )
            )
        if outputs == "same" and new.outputs is not None and old.outputs is not None:
            same = new.outputs == old.outputs
            findings.append(
                Finding(
                    rule="outputs",
                    passed=same,
                    message="outputs unchanged" if same else "output schema changed",
                    expected=old.outputs.model_dump(mode="json"),
                    found=new.outputs.model_dump(mode="json"),
                )
            )
    result = CheckResult(
        check="signature",
        subject=ch.uri,
        passed=all(f.passed for f in findings),
        findings=findings,
        params={"champion": cp.uri if cp is not None else None, "outputs": outputs},
    )
    if not record:
        return result
    nodes = [ch.__mlopskit_node__] + ([cp.__mlopskit_node__] if cp is not None else [])
    return save(result, nodes)


def _environment_diff(mv: ModelVersion) -> dict[str, tuple[str | None, str | None]]:
    """Distribution → (recorded, installed) for each difference (``python``: major.minor).

    Read from the version record, without loading the model (which may not load in
    the very environment this check is about).
    """
    import platform

    from mlopskit.registry import installed_version

    diff: dict[str, tuple[str | None, str | None]] = {}
    for dist, recorded in mv.requirements.items():
        installed = installed_version(dist)
        if installed != recorded:
            diff[dist] = (recorded, installed)
    running = platform.python_version()
    if mv.python_version and mv.python_version.rsplit(".", 1)[0] != running.rsplit(".", 1)[0]:
        diff["python"] = (mv.python_version, running)
    return diff


def check_environment(
    model: Any,
    *,
    champion: Any = None,
    ignore: Sequence[str] = (),
    record: bool = True,
) -> CheckResult:
    """Does this interpreter have the versions the model was registered with?

    Fails on any difference between the model's recorded requirements (and Python
    ``major.minor``) and what is installed here, except the distributions in
    ``ignore``. The model is not loaded. The requirement changes from the champion to the model are evidence.
    """
    if isinstance(ignore, str):
        ignore = [ignore]
    mv = model_version(model, "model")
    diff = _environment_diff(mv)
    skipped = {k: v for k, v in diff.items() if k in set(ignore)}
    bad = {k: v for k, v in diff.items() if k not in set(ignore)}
    findings = [
        Finding(
            rule=f"env[{dist}]",
            passed=dist in skipped,
            message=f"recorded {rec or 'absent'}, installed {inst or 'absent'}"
            + (" (ignored)" if dist in skipped else ""),
            expected=rec,
            found=inst,
        )
        for dist, (rec, inst) in sorted(diff.items())
    ]
    if not diff:
        findings.append(
            Finding(
                rule="environment",
                passed=True,
                message=f"{len(mv.requirements)} recorded requirements match this interpreter",
            )
        )
    evidence: dict[str, Any] = {}
    cp = None
    try:
        cp = _champion(mv, champion)
    except NotFoundError:
        if champion is not None:
            raise
    if cp is not None:
        names = sorted(set(cp.requirements) | set(mv.requirements))
        evidence["requirements_vs_champion"] = {
            n: [cp.requirements.get(n), mv.requirements.get(n)]
            for n in names
            if cp.requirements.get(n) != mv.requirements.get(n)
        }
    result = CheckResult(
        check="environment",
        subject=mv.uri,
        passed=not bad,
        findings=findings,
        metrics={"differences": float(len(bad))},
        params={"ignore": sorted(ignore), "champion": cp.uri if cp is not None else None},
        evidence=evidence,
    )
    if not record:
        return result
    return save(result, [mv.__mlopskit_node__])
