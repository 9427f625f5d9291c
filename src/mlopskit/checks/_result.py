"""The typed result of a check: a verdict, one finding per rule, and the evidence.

Every check returns a :class:`CheckResult`. ``passed`` is True only when every finding
passed; a check that could not judge something raises (never a silent pass). The
result is recorded as a run (``run_id``) whose params are the check's settings, whose
metrics are the numeric evidence and whose artifact ``check.json`` is this result.
"""

from __future__ import annotations

import html
import math
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CheckResult", "Finding"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Finding(BaseModel):
    """One rule of a check: what was expected, what was found, and whether it held.

    Attributes:
        rule: the rule's name (``schema``, ``nulls[age]``, ``metric[accuracy]``, …).
        passed: whether the rule held.
        message: one readable sentence saying what was seen.
        expected: the bound or value wanted (JSON-able).
        found: the value seen (JSON-able).
    """

    model_config = ConfigDict(frozen=True)

    rule: str
    passed: bool
    message: str
    expected: Any = None
    found: Any = None


class CheckResult(BaseModel):
    """A check's verdict and evidence.

    Attributes:
        check: the kind of check (``data``, ``model``, ``latency``, ``signature``,
            ``environment``).
        subject: what was checked (a URI such as ``"churn/3"`` or ``"dataframe"``).
        passed: True when every finding passed.
        findings: one :class:`Finding` per rule evaluated.
        metrics: the numeric evidence (logged as the run's metrics).
        params: the settings the check ran with (logged as the run's params).
        evidence: further JSON-able evidence (a drift report, per-column tables, …).
        run_id: the run that recorded this result (None when not recorded).
        created_at: when the check finished (UTC).
    """

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    check: str
    subject: str
    passed: bool
    findings: list[Finding] = Field(default_factory=list)
    metrics: dict[str, float] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    evidence: dict[str, Any] = Field(default_factory=dict)
    run_id: str | None = None
    created_at: datetime = Field(default_factory=_now)

    @property
    def verdict(self) -> Literal["pass", "fail"]:
        """``"pass"`` or ``"fail"``."""
        return "pass" if self.passed else "fail"

    @property
    def failures(self) -> list[Finding]:
        """The findings that did not hold."""
        return [f for f in self.findings if not f.passed]

    def __bool__(self) -> bool:
        return self.passed

    def summary(self) -> str:
        """A few readable lines: the verdict, then one line per finding."""
        head = f"{self.check} check of {self.subject}: {self.verdict.upper()}"
        lines = [head] + [
            f"  [{'ok' if f.passed else 'FAIL'}] {f.rule}: {f.message}" for f in self.findings
        ]
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """A markdown section (for a GitHub Actions job summary); values are escaped."""
        icon = "✅" if self.passed else "❌"
        out = [
            f"### {icon} {html.escape(self.check)} check of `{_md(self.subject)}`: "
            f"**{self.verdict}**",
            "",
            "| rule | result | detail |",
            "| --- | --- | --- |",
        ]
        for f in self.findings:
            out.append(f"| {_md(f.rule)} | {'ok' if f.passed else '**FAIL**'} | {_md(f.message)} |")
        if self.run_id:
            out += ["", f"run: `{_md(self.run_id)}`"]
        return "\n".join(out) + "\n"


def _md(text: str) -> str:
    """``text`` safe inside a markdown table cell (HTML escaped, pipes and newlines out)."""
    return html.escape(str(text)).replace("|", "\\|").replace("\n", " ").replace("`", "'")


def finite_metrics(values: dict[str, Any]) -> dict[str, float]:
    """The entries of ``values`` that are finite numbers, as floats (for run metrics)."""
    out: dict[str, float] = {}
    for k, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if math.isfinite(float(v)):
            out[k] = float(v)
    return out
