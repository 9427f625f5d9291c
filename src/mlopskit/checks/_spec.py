"""Check specs: the gates of a pipeline written down in the repository (YAML or TOML).

A spec names the candidate model, lists checks (each ``{kind: {options}}``), and may
ask to promote the candidate with those checks as the gates::

    candidate: churn/2            # the version the model checks judge
    checks:
      - data: {current: holdout/2, reference: holdout/1, max_row_change: 0.5}
      - model: {data: holdout/2, target: y, metrics: {accuracy: 0.01}}
      - latency: {data: holdout/2, target: y, p95_ms: 50}
      - signature: {}
    promote: {to: champion}       # optional: move churn@champion if every check passes

Options are exactly the keyword arguments of the check functions; an unknown key is
an error naming it, before anything runs.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlopskit._optional import import_optional
from mlopskit.checks._gate import CHECKS, Gate
from mlopskit.checks._result import CheckResult
from mlopskit.errors import InvalidInputError

if TYPE_CHECKING:
    from mlopskit.registry import ModelVersion

__all__ = ["Spec", "SpecRun", "load_spec", "parse_spec", "run_spec"]


@dataclass(frozen=True)
class Spec:
    """A parsed spec: the candidate, the gates, and where to promote (if anywhere)."""

    candidate: str | None
    gates: list[Gate]
    promote_to: str | None = None
    workspace: str | None = None
    source: str = ""


@dataclass
class SpecRun:
    """What running a spec did: every check's result, and the promotion if asked."""

    spec: Spec
    results: list[CheckResult] = field(default_factory=list)
    promoted: ModelVersion | None = None
    refused: bool = False

    @property
    def passed(self) -> bool:
        """True when every check passed (and the promotion, if asked, happened)."""
        return all(r.passed for r in self.results) and not self.refused


def _parse_text(text: str, path: str) -> Any:
    if path.endswith(".toml"):
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            tomllib = import_optional("tomli", "checks", purpose="TOML check specs")
        try:
            return tomllib.loads(text)
        except ValueError as exc:
            raise InvalidInputError(f"{path}: not valid TOML: {exc}", path=path) from None
    yaml = import_optional("yaml", "checks", purpose="YAML check specs")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInputError(
            f"{path}: not valid YAML: {' '.join(str(exc).split())}", path=path
        ) from None


def _bad(path: str, message: str, **fields: Any) -> InvalidInputError:
    return InvalidInputError(f"{path}: {message}", path=path, **fields)


def load_spec(path: str | os.PathLike[str]) -> Spec:
    """Parse and validate the spec at ``path`` (``.yaml``/``.yml`` or ``.toml``).

    Raises:
        InvalidInputError: unreadable file, bad syntax, unknown keys, checks or options.
    """
    path = os.fspath(path)
    if not path.endswith((".yaml", ".yml", ".toml")):
        raise _bad(path, "a check spec is a .yaml, .yml or .toml file", found=path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, f"cannot be read: {exc}") from None
    return _spec_of(_parse_text(text, path), path)


def parse_spec(text: str) -> Spec:
    """Parse a spec given as YAML text (one line of flow YAML works:
    ``{candidate: churn/2, checks: [{signature: {}}]}``); relative workspaces are
    taken from the current directory."""
    return _spec_of(_parse_text(text, "<inline spec>"), os.path.join(os.getcwd(), "<inline>"))


def _spec_of(raw: Any, path: str) -> Spec:
    if not isinstance(raw, dict):
        raise _bad(path, "expected a mapping with 'checks'", found=type(raw).__name__)
    unknown = sorted(set(raw) - {"candidate", "checks", "promote", "workspace"})
    if unknown:
        raise _bad(
            path,
            f"unknown key(s) {unknown}; keys: candidate, checks, promote, workspace",
            key=unknown[0],
        )
    candidate = raw.get("candidate")
    if candidate is not None and not isinstance(candidate, str):
        raise _bad(path, f"candidate must be a model URI string, found {candidate!r}")
    entries = raw.get("checks")
    if not isinstance(entries, list) or not entries:
        raise _bad(path, "'checks' must be a non-empty list of {kind: {options}}", key="checks")
    gates = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise _bad(
                path,
                f"checks[{i}] must be one mapping {{kind: {{options}}}} with kind in "
                f"{sorted(CHECKS)}, found {entry!r}",
                key=f"checks[{i}]",
            )
        ((kind, options),) = entry.items()
        options = {} if options is None else options
        if not isinstance(options, dict):
            raise _bad(path, f"checks[{i}].{kind}: options must be a mapping, found {options!r}")
        if kind != "data" and candidate is None:
            raise _bad(path, f"checks[{i}] is a {kind} check: name the model with 'candidate:'")
        try:
            gates.append(Gate(kind, **{str(k): v for k, v in options.items()}))
        except InvalidInputError as exc:
            raise _bad(path, f"checks[{i}]: {exc}", key=exc.key) from None
    promote = raw.get("promote")
    to = None
    if promote is not None:
        if not isinstance(promote, dict) or set(promote) - {"to"}:
            raise _bad(path, f"promote must be {{to: <alias>}}, found {promote!r}", key="promote")
        if candidate is None:
            raise _bad(path, "promote needs 'candidate:' (the version to promote)")
        to = str(promote.get("to", "champion"))
    workspace = raw.get("workspace")
    if workspace is not None:
        if not isinstance(workspace, str):
            raise _bad(path, f"workspace must be a string, found {workspace!r}")
        if "://" not in workspace and not os.path.isabs(workspace):
            workspace = os.path.join(os.path.dirname(os.path.abspath(path)), workspace)
    return Spec(candidate=candidate, gates=gates, promote_to=to, workspace=workspace, source=path)


def run_spec(spec: Spec) -> SpecRun:
    """Run every check of ``spec`` in the current workspace; promote if the spec asks.

    With ``promote``, the checks run as the gates of :func:`mlopskit.registry.promote`
    (each once), so their runs are recorded in the alias history with the move.
    """
    from mlopskit.registry import PromotionRefusedError
    from mlopskit.workspace import current_workspace

    out = SpecRun(spec=spec)
    if spec.promote_to is None:
        out.results = [gate(spec.candidate) for gate in spec.gates]
        return out
    registry = current_workspace().registry
    assert spec.candidate is not None
    mv = registry.get(spec.candidate)
    seen: list[CheckResult] = []

    def keep(gate: Gate) -> Any:
        def run(candidate: Any) -> CheckResult:
            result = gate(candidate)
            seen.append(result)
            return result

        run.name = gate.name  # type: ignore[attr-defined]
        return run

    try:
        out.promoted = registry.promote(
            mv.name, mv.number, to=spec.promote_to, require=[keep(g) for g in spec.gates]
        )
    except PromotionRefusedError:
        out.refused = True
    out.results = seen
    return out
