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

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

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

__all__ = ["DeploymentLoop", "LoopCheck", "RollbackPolicy"]

log = get_logger("mlopskit.deploy.loop")


class RollbackPolicy(BaseModel):
    """When :meth:`DeploymentLoop.check` rolls the alias back (opt-in).

    Attributes:
        on_drift: roll back when the drift report's dataset verdict is drift.
        max_error_rate: roll back when the share of failed requests reaches this
            (None: errors are reported, never acted on).
        min_rows: judge nothing on fewer logged rows than this.
    """

    model_config = ConfigDict(frozen=True)

    on_drift: bool = True
    max_error_rate: float | None = None
    min_rows: int = 100


@dataclass(frozen=True)
class LoopCheck:
    """What one check saw and did.

    Attributes:
        version: the version the alias pointed to when the check started.
        rows: logged rows of that version read by this check.
        requests: logged requests among them; errors: how many failed.
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

    def check(self) -> LoopCheck:
        """Judge the rows logged since the last check; roll back when the policy says so.

        Raises:
            NotFoundError: the alias does not exist.
        """
        mv = self.registry.get(f"{self.name}@{self.alias}")
        segments = self._new_segments()
        rows = self.rows(mv, segments)
        requests = int(rows["request_id"].nunique()) if len(rows) else 0
        errors = int(rows.loc[rows["error"].notna(), "request_id"].nunique()) if len(rows) else 0
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
        report = reports[-1] if reports else None
        result = LoopCheck(
            version=mv,
            rows=len(rows),
            requests=requests,
            errors=errors,
            report=report,
            reports=reports,
        )
        reason = self._reason(result)
        if reason:
            back = self.registry.rollback(
                self.name, self.alias, message=f"mlopskit.deploy loop: {reason}"
            )
            log.warning(
                "loop_rollback", name=self.name, alias=self.alias, to=back.number, reason=reason
            )
            result = LoopCheck(
                version=mv,
                rows=len(rows),
                requests=requests,
                errors=errors,
                report=report,
                rolled_back_to=back,
                reason=reason,
                reports=reports,
            )
        self.seen.update(segments)
        self.checks.append(result)
        return result

    def _reason(self, result: LoopCheck) -> str:
        policy = self.policy
        if policy is None or result.rows < policy.min_rows:
            return ""
        if policy.max_error_rate is not None and result.error_rate >= policy.max_error_rate:
            return (
                f"error rate {result.error_rate:.1%} of {result.requests} requests to "
                f"{result.version.uri} reached {policy.max_error_rate:.1%}"
            )
        if policy.on_drift and result.report is not None and result.report.drifted:
            cols = result.report.drifted_columns
            return (
                f"input drift on {result.version.uri}: {len(cols)} of "
                f"{result.report.n_columns} columns drifted ({', '.join(cols[:5])}) "
                f"over {result.report.current_rows} rows"
            )
        return ""


def _inputs(rows: pd.DataFrame) -> pd.DataFrame:
    """The ``input.<column>`` columns of log rows, named ``<column>``."""
    cols = [c for c in rows.columns if str(c).startswith("input.")]
    out: pd.DataFrame = (
        rows[cols].rename(columns=lambda c: str(c)[len("input.") :]).reset_index(drop=True)
    )
    return out
