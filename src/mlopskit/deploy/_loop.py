"""The loop: the prediction log → drift against the stored reference → an opt-in rollback.

:class:`DeploymentLoop` watches one alias (``churn@champion``): each :meth:`check`
reads the log segments written since the previous check (segments are immutable, so
none is read twice or skipped), keeps the rows of the packages of the version the
alias points to, feeds their inputs to a :class:`mlopskit.drift.Monitor` built on the
reference profile stored with that version's package (``ModelPackage.from_registry(uri,
reference=training_data)``), and computes the error rate of the requests. With a
:class:`RollbackPolicy`, crossing its drift or error threshold rolls the alias back
through the registry (``mk.registry.rollback``), the reason written as the history
message — so ``mk.registry.history(name, alias)`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from mlopskit._log import get_logger
from mlopskit.deploy._logger import PredictionLogger, read_log
from mlopskit.deploy._package import ModelPackage
from mlopskit.errors import InvalidInputError
from mlopskit.registry import Registry
from mlopskit.store import current_store

if TYPE_CHECKING:
    import pandas as pd

    from mlopskit.drift import DriftReport, ReferenceProfile
    from mlopskit.registry import ModelVersion
    from mlopskit.store import ArtifactStore

__all__ = ["DeploymentLoop", "LoopCheck", "RollbackPolicy", "traffic_stats"]

log = get_logger("mlopskit.deploy.loop")


class RollbackPolicy(BaseModel):
    """When :meth:`DeploymentLoop.check` rolls the alias back (opt-in).

    Attributes:
        on_drift: roll back when the drift report's dataset verdict is drift.
        max_error_rate: roll back when the share of failed requests reaches this
            (None: errors are reported, never acted on).
        max_p99_ms: roll back when the 99th percentile of the requests' prediction
            latency exceeds this many milliseconds (None: not judged).
        max_drift_share: roll back when more than this share of the input columns
            drifted (None: not judged; ``on_drift`` judges the dataset verdict).
        min_rows: judge nothing on fewer logged rows than this.
    """

    model_config = ConfigDict(frozen=True)

    on_drift: bool = True
    max_error_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    max_p99_ms: float | None = Field(default=None, gt=0.0)
    max_drift_share: float | None = Field(default=None, ge=0.0, le=1.0)
    min_rows: int = Field(default=100, ge=0)

    def failures(self, check: LoopCheck) -> list[str]:
        """Why ``check`` crosses this policy, one sentence per rule crossed (empty: it holds)."""
        out: list[str] = []
        rate = check.error_rate
        if self.max_error_rate is not None and check.errors and rate >= self.max_error_rate:
            out.append(
                f"error rate {rate:.1%} of {check.requests} requests to "
                f"{check.version.uri} reached {self.max_error_rate:.1%}"
            )
        p99 = check.latency_p99_ms
        if self.max_p99_ms is not None and p99 is not None and p99 > self.max_p99_ms:
            out.append(
                f"latency p99 {p99:.1f} ms over {check.requests} requests to "
                f"{check.version.uri} exceeds {self.max_p99_ms:g} ms"
            )
        report = check.report
        if self.max_drift_share is not None and report is not None:
            share = check.drift_share
            if share is not None and share > self.max_drift_share:
                cols = report.drifted_columns
                out.append(
                    f"input drift on {check.version.uri}: {len(cols)} of {report.n_columns} "
                    f"columns drifted ({', '.join(cols[:5])}), above the allowed share "
                    f"{self.max_drift_share:.0%}"
                )
        if self.on_drift and report is not None and report.drifted:
            cols = report.drifted_columns
            out.append(
                f"input drift on {check.version.uri}: {len(cols)} of "
                f"{report.n_columns} columns drifted ({', '.join(cols[:5])}) "
                f"over {report.current_rows} rows"
            )
        return out


@dataclass(frozen=True)
class LoopCheck:
    """What one check saw and did.

    Attributes:
        version: the version the alias pointed to when the check started.
        rows: logged rows of that version read by this check.
        requests: logged requests among them; errors: how many failed.
        latency_p99_ms: the 99th percentile of the requests' prediction latency.
        report: the latest drift report (None when too few rows or no reference).
        rolled_back_to: the version the alias was rolled back to, or None.
        reason: why it was rolled back ("" if it was not).
    """

    version: ModelVersion
    rows: int
    requests: int
    errors: int
    report: DriftReport | None = None
    rolled_back_to: ModelVersion | None = None
    reason: str = ""
    reports: list[DriftReport] = field(default_factory=list)
    latency_p99_ms: float | None = None

    @property
    def drift_share(self) -> float | None:
        """Drifted input columns / columns compared (None without a drift report)."""
        report = self.report
        if report is None or not report.n_columns:
            return None
        return len(report.drifted_columns) / report.n_columns

    @property
    def error_rate(self) -> float:
        """Failed requests / requests (0.0 when there were none)."""
        return self.errors / self.requests if self.requests else 0.0

    @property
    def drifted(self) -> bool:
        """Whether the latest report's dataset verdict is drift."""
        return bool(self.report is not None and self.report.drifted)


class DeploymentLoop:
    """Monitor the traffic of ``name@alias`` from its prediction log; roll back if told to.

    Args:
        name: the registered model. alias: the alias served (``champion``).
        log: the :class:`PredictionLogger` (or its name) the server logs to.
        policy: a :class:`RollbackPolicy` to act on; None only reports.
        reference: a drift reference to use instead of the one stored with the package.
        window: rows per drift window (default: every row read by a check in one window).
        store: the store (default: the current workspace's).
        **compare_options: passed to ``mk.drift.compare`` (``method``, ``thresholds``, …).

    Example: see docs/deploy.md ("The loop").
    """

    def __init__(
        self,
        name: str,
        alias: str = "champion",
        *,
        log: PredictionLogger | str,
        policy: RollbackPolicy | None = None,
        reference: ReferenceProfile | None = None,
        window: int | None = None,
        store: ArtifactStore | None = None,
        **compare_options: Any,
    ) -> None:
        self.store = (
            store
            if store is not None
            else (log.store if isinstance(log, PredictionLogger) else current_store())
        )
        self.name = name
        self.alias = alias
        self.log_name = log.name if isinstance(log, PredictionLogger) else str(log)
        self.policy = policy
        self.reference = reference
        self.window = window
        self.compare_options = compare_options
        self.registry = Registry(self.store)
        self.seen: set[str] = set()  # segments judged already (segments are immutable)
        self.checks: list[LoopCheck] = []

    def __repr__(self) -> str:
        return f"DeploymentLoop({self.name}@{self.alias}, log={self.log_name!r})"

    def _digests(self, mv: ModelVersion) -> set[str]:
        """The digests of every package made of ``mv`` (what its log rows carry)."""
        return {
            p.digest
            for p in ModelPackage.list(mv.name, store=self.store)
            if p.manifest.source is not None and p.manifest.source.number == mv.number
        }

    def _reference(self, mv: ModelVersion) -> ReferenceProfile | None:
        """The given reference, else the package's, else the profile of the training data.

        A version registered with ``inputs=[dataset_version]`` has its training data
        at hand: its input columns are profiled once and stored with the version's
        package, so later checks read the profile instead of the data.
        """
        if self.reference is not None:
            return self.reference
        stored = ModelPackage.from_registry(mv, store=self.store).reference()
        if stored is not None:
            return stored
        data = self._training_data(mv)
        if data is None:
            return None
        from mlopskit.drift import profile

        prof = profile(data)
        ModelPackage.from_registry(mv, store=self.store, reference=prof)
        log.info("loop_reference_from_dataset", model=mv.uri, rows=prof.rows)
        return prof

    def _training_data(self, mv: ModelVersion) -> pd.DataFrame | None:
        import pandas as pd

        from mlopskit.versioning import Datasets

        names = None
        if mv.signature is not None and mv.signature.inputs.columns:
            names = [str(c.name) for c in mv.signature.inputs.columns]
        for endpoint in mv.inputs:
            if endpoint.kind != "dataset" or "/" not in endpoint.label:
                continue
            name, _, number = endpoint.label.rpartition("/")
            if not number.isdigit():
                continue
            data = Datasets(self.store).load(name, int(number))
            if not isinstance(data, pd.DataFrame):
                continue
            cols = [c for c in (names or list(data.columns)) if c in data.columns]
            if cols:
                chosen: pd.DataFrame = data[cols]
                return chosen
        return None

    def rows(
        self, mv: ModelVersion | None = None, segments: list[str] | None = None
    ) -> pd.DataFrame:
        """The logged rows of ``mv`` (default: the alias's version) not yet checked."""
        mv = mv if mv is not None else self.registry.get(f"{self.name}@{self.alias}")
        segments = self._new_segments() if segments is None else segments
        frame = read_log(self.store, self.log_name, segments=segments)
        digests = self._digests(mv)
        mine: pd.DataFrame = frame[frame["model"].isin(digests)].reset_index(drop=True)
        return mine

    def _new_segments(self) -> list[str]:
        return sorted(set(self.store.refs.list(f"predictions/{self.log_name}")) - self.seen)

    def evaluate(self, rows: pd.DataFrame, mv: ModelVersion) -> LoopCheck:
        """What logged ``rows`` of ``mv`` say: requests, errors, latency p99, and drift of
        their inputs against ``mv``'s reference (nothing is acted on)."""
        requests, errors, p99 = traffic_stats(rows)
        reference = self._reference(mv)
        reports: list[DriftReport] = []
        ok = rows[rows["error"].isna()] if len(rows) else rows
        inputs = _inputs(ok)
        min_rows = self.policy.min_rows if self.policy is not None else 1
        if reference is not None and len(inputs) >= max(min_rows, 1):
            from mlopskit.drift import Monitor

            cols = [c for c in reference.columns if c in inputs.columns]
            if not cols:
                raise InvalidInputError(
                    f"the prediction log {self.log_name!r} has none of the reference's columns "
                    f"{list(reference.columns)[:10]}",
                    found=list(inputs.columns)[:10],
                )
            monitor = Monitor(
                reference, window=self.window or len(inputs), columns=cols, **self.compare_options
            )
            reports = monitor.update(inputs[cols])
            last = monitor.flush()
            if last is not None and not reports:
                reports.append(last)
        return LoopCheck(
            version=mv,
            rows=len(rows),
            requests=requests,
            errors=errors,
            report=reports[-1] if reports else None,
            reports=reports,
            latency_p99_ms=p99,
        )

    def check(self) -> LoopCheck:
        """Judge the rows logged since the last check; roll back when the policy says so.

        Raises:
            NotFoundError: the alias does not exist.
        """
        mv = self.registry.get(f"{self.name}@{self.alias}")
        segments = self._new_segments()
        result = self.evaluate(self.rows(mv, segments), mv)
        reason = self._reason(result)
        if reason:
            back = self.registry.rollback(
                self.name, self.alias, message=f"mlopskit.deploy loop: {reason}"
            )
            log.warning(
                "loop_rollback", name=self.name, alias=self.alias, to=back.number, reason=reason
            )
            result = replace(result, rolled_back_to=back, reason=reason)
        self.seen.update(segments)
        self.checks.append(result)
        return result

    def _reason(self, result: LoopCheck) -> str:
        policy = self.policy
        if policy is None or result.rows < policy.min_rows:
            return ""
        return "; ".join(policy.failures(result))


def traffic_stats(rows: pd.DataFrame) -> tuple[int, int, float | None]:
    """Requests, failed requests and the latency p99 (ms, None without requests) of log
    rows (one row per predicted row; a request counts once)."""
    if not len(rows):
        return 0, 0, None
    import numpy as np

    ids = rows["request_id"]
    requests = int(ids.nunique())
    errors = int(ids[rows["error"].notna()].nunique())
    latency = rows.groupby("request_id", sort=False)["latency_ms"].max().to_numpy(dtype=float)
    latency = latency[np.isfinite(latency)]
    p99 = float(np.percentile(latency, 99)) if len(latency) else None
    return requests, errors, p99


def _inputs(rows: pd.DataFrame) -> pd.DataFrame:
    """The ``input.<column>`` columns of log rows, named ``<column>``."""
    cols = [c for c in rows.columns if str(c).startswith("input.")]
    out: pd.DataFrame = (
        rows[cols].rename(columns=lambda c: str(c)[len("input.") :]).reset_index(drop=True)
    )
    return out
