"""Ramp: raise a canary's share in steps, each gated on its live traffic; promote or roll back.

A :class:`Ramp` drives one variant of a :class:`~mlopskit.deploy.Router` through shares
``steps`` (``[0.05, 0.25, 0.5, 1.0]``). Each :meth:`Ramp.step` is one evaluation:

1. read the canary's rows of the prediction log written since its current step began;
2. judge them with the :class:`DeploymentLoop` machinery (``DeploymentLoop.evaluate``:
   requests, error rate, latency p99, drift of the inputs against the reference profile
   stored with the canary's model version) against a :class:`RampGate` — a
   :class:`RollbackPolicy` with a ``min_requests`` floor;
3. act: too few requests → wait; a rule crossed → the canary's weight goes to 0, the
   reason is written to the registry (the canary alias moves back to the champion's
   version with the reason as its history message, and the canary's version is tagged
   ``mlopskit.ramp``); the gate holds for
   ``interval`` seconds → the next share; the gate holds at 100% → the champion alias is
   moved with ``mk.registry.promote``, each step's evidence recorded as a gate in the
   alias history.

The progress (which step, since when, the evidence of each passed step, the outcome)
is kept in the router's durable split record, so every worker process routes with the
ramp's current share, and a restarted ramp — or a second one in another process —
continues where it was (a compare-and-swap makes two ramps act once per step).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from mlopskit._log import get_logger
from mlopskit.deploy._logger import PredictionLogger, read_log
from mlopskit.deploy._loop import DeploymentLoop, LoopCheck, RollbackPolicy
from mlopskit.errors import InvalidInputError, NotFoundError, RefConflictError

if TYPE_CHECKING:
    import pandas as pd

    from mlopskit.deploy._router import Router
    from mlopskit.registry import ModelVersion

__all__ = ["Ramp", "RampGate", "RampStep"]

log = get_logger("mlopskit.deploy.ramp")

Action = Literal["start", "wait", "advance", "promote", "rollback", "done"]


class RampGate(RollbackPolicy):
    """What a canary's traffic must show at each step of a :class:`Ramp`.

    Attributes:
        max_error_rate: the share of failed requests that rolls the canary back.
        max_p99_ms: the latency p99 (ms) above which it rolls back (None: not judged).
        max_drift_share: the share of drifted input columns above which it rolls back
            (None: not judged). Needs a reference profile stored with the canary's
            version (``ModelPackage.from_registry(uri, reference=training_data)``).
        min_requests: judge a step only once the canary answered this many requests in it.
        on_drift: also roll back on the drift report's dataset verdict (default off:
            ``max_drift_share`` is the ramp's drift rule).
        min_rows: fewest logged rows a drift comparison is made on.
    """

    on_drift: bool = False
    max_error_rate: float | None = Field(default=0.01, ge=0.0, le=1.0)
    min_rows: int = Field(default=1, ge=0)
    min_requests: int = Field(default=100, ge=1)


@dataclass(frozen=True)
class RampStep:
    """What one :meth:`Ramp.step` did and why.

    Attributes:
        action: ``start`` (the first share was set), ``wait`` (too few requests, or the
            step's interval has not passed), ``advance`` (the next share was set),
            ``promote`` (the alias moved), ``rollback`` (the canary's weight went to 0),
            ``done`` (the ramp had finished already).
        share: the canary's share of traffic after the step.
        step: the index of that share in the ramp's steps.
        reason: one readable sentence.
        check: the evidence judged (None when nothing was judged).
        promoted: the model version the alias moved to (``promote`` only).
    """

    action: Action
    share: float
    step: int
    reason: str
    check: LoopCheck | None = None
    promoted: ModelVersion | None = None

    @property
    def finished(self) -> bool:
        """Whether the ramp is over (promoted or rolled back)."""
        return self.action in ("promote", "rollback", "done")


class Ramp:
    """Ramp ``variant`` of ``router`` through ``steps``, gated on its live traffic.

    Args:
        router: the router serving the champion and the canary; give it
            ``deployment=`` so the split (and this ramp's progress) is shared by every
            worker process and survives restarts.
        variant: the canary (default: the router's second variant). It must serve a
            registered model version.
        steps: increasing shares in (0, 1], the last one 1.0.
        gate: the :class:`RampGate` each step must pass (default: ``RampGate()``).
        interval: seconds each step must hold before the next one (0: as soon as the
            gate has ``min_requests`` requests that pass).
        log: the :class:`PredictionLogger` (or its name) the server logs to.
        champion: the variant whose alias the canary is promoted into (default: the
            router's first variant, given as ``"name@alias"``).
        poll: seconds :meth:`run` sleeps between evaluations (default:
            ``min(interval, 5)``, at least 0.05).
        **compare_options: passed to ``mk.drift.compare`` (``method``, ``thresholds``, …).

    Raises:
        InvalidInputError: bad steps, an unknown variant, a canary without a registry
            version, or a drift rule without a reference profile.
    """

    def __init__(
        self,
        router: Router,
        variant: str | None = None,
        *,
        steps: Sequence[float] = (0.05, 0.25, 0.5, 1.0),
        gate: RampGate | None = None,
        interval: float = 300.0,
        log: PredictionLogger | str,
        champion: str | None = None,
        poll: float | None = None,
        **compare_options: Any,
    ) -> None:
        names = router.variants
        if variant is None:
            if len(names) < 2:
                raise InvalidInputError(
                    "a ramp needs a router with a champion and a canary variant", found=names
                )
            variant = names[1]
        champion = champion or names[0]
        for which in (variant, champion):
            if which not in names:
                raise NotFoundError(
                    f"the router has no variant {which!r}; variants: {names}",
                    name=which,
                    expected=names,
                    found=which,
                )
        if variant == champion:
            raise InvalidInputError(f"{variant!r} is the champion; ramp another variant")
        self.steps = _check_steps(steps)
        if not (isinstance(interval, (int, float)) and interval >= 0):
            raise InvalidInputError(
                f"interval is seconds >= 0, found {interval!r}", expected=">= 0", found=interval
            )
        self.router = router
        self.variant = variant
        self.champion = champion
        self.gate = gate if gate is not None else RampGate()
        self.interval = float(interval)
        self.poll = max(0.05, float(poll if poll is not None else min(self.interval, 5.0)))
        self.store = router._store()
        self.log_name = log.name if isinstance(log, PredictionLogger) else str(log)
        self.version = self._canary_version()
        self._loop = DeploymentLoop(
            self.version.name,
            log=self.log_name,
            policy=self.gate,
            store=self.store,
            **compare_options,
        )
        if self.gate.max_drift_share is not None and self._loop._reference(self.version) is None:
            raise InvalidInputError(
                f"the gate judges drift (max_drift_share) but {self.version.uri} has no "
                "reference profile: store one with ModelPackage.from_registry(uri, "
                "reference=training_data), register it with inputs=[dataset_version], or "
                "leave max_drift_share out",
                name=self.version.uri,
            )
        self._cache: dict[str, pd.DataFrame] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.history: list[RampStep] = []

    def __repr__(self) -> str:
        return f"Ramp({self.variant!r}, steps={self.steps}, {self.gate!r})"

    def _canary_version(self) -> ModelVersion:
        from mlopskit.registry import Registry

        predictor = self.router.predictor(self.variant)
        name, number = getattr(predictor, "name", None), getattr(predictor, "version", None)
        if not name or number is None or not str(number).isdigit():
            raise InvalidInputError(
                f"variant {self.variant!r} serves no registered model version "
                f"(version={number!r}); a ramp promotes a registry version",
                name=self.variant,
                found=number,
            )
        return Registry(self.store).get(f"{name}/{number}")

    # -- the log ----------------------------------------------------------------------

    def rows(self, since: float) -> pd.DataFrame:
        """The canary's logged rows with ``time >= since`` (segments read once, cached)."""
        import pandas as pd

        names = sorted(self.store.refs.list(f"predictions/{self.log_name}"))
        for name in names:
            if name in self._cache or _segment_time(name) < since - 1.0:
                continue  # a segment written before the step began holds none of its rows
            self._cache[name] = read_log(
                self.store, self.log_name, segments=[name], variant=self.variant
            )
        frames = [self._cache[n] for n in names if n in self._cache and len(self._cache[n])]
        if not frames:
            return read_log(self.store, self.log_name, segments=[])
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        mine: pd.DataFrame = frame[frame["time"] >= since].reset_index(drop=True)
        return mine

    # -- one evaluation -------------------------------------------------------------------

    @property
    def state(self) -> dict[str, Any] | None:
        """This ramp's recorded progress (None before it starts)."""
        ramp = self.router.ramp_state
        return ramp if ramp is not None and ramp.get("variant") == self.variant else None

    def step(self) -> RampStep:
        """Evaluate once and act (start, wait, advance, promote or roll back).

        Raises:
            RefConflictError: another process changed the split meanwhile (nothing was
                done; the next step reads the new state).
        """
        with self._lock:
            result = self._step()
        self.history.append(result)
        log.info(
            "ramp_step",
            variant=self.variant,
            action=result.action,
            share=result.share,
            reason=result.reason,
        )
        return result

    def _step(self) -> RampStep:
        router = self.router
        router.sync()
        state = self.state
        if state is None:
            return self._start()
        idx = int(state.get("step", 0))
        if not 0 <= idx < len(self.steps):
            idx = len(self.steps) - 1
        if state.get("status") != "ramping":
            return RampStep(
                "done",
                router.split[self.variant],
                idx,
                f"the ramp of {self.variant!r} is over ({state.get('status')}): "
                f"{state.get('reason', '')}",
            )
        share = self.steps[idx]
        since = float(state.get("since", 0.0))
        rows = self.rows(since)
        check = self._loop.evaluate(rows, self.version)
        need = self.gate.min_requests
        if check.requests < need:
            return RampStep(
                "wait",
                share,
                idx,
                f"{check.requests} of {need} requests to {self.variant!r} at {share:.0%}",
                check,
            )
        failures = self.gate.failures(check)
        if failures:
            return self._rollback(state, idx, "; ".join(failures), check)
        held = time.time() - since
        if held < self.interval:
            return RampStep(
                "wait",
                share,
                idx,
                f"the gate holds at {share:.0%}; {held:.0f} of {self.interval:.0f} s",
                check,
            )
        passed = [*state.get("passed", []), _evidence(share, check)]
        if idx + 1 < len(self.steps):
            nxt = self.steps[idx + 1]
            router._commit(
                router.shares_for(self.variant, nxt),
                message=f"ramp: {self.variant} to {nxt:g} ({_summary(check)})",
                op="ramp",
                ramp={**state, "step": idx + 1, "since": time.time(), "passed": passed},
            )
            return RampStep(
                "advance",
                nxt,
                idx + 1,
                f"the gate held at {share:.0%} ({_summary(check)}); {self.variant!r} now "
                f"gets {nxt:.0%}",
                check,
            )
        return self._promote(state, idx, passed, check)

    def _start(self) -> RampStep:
        first = self.steps[0]
        self.router._commit(
            self.router.shares_for(self.variant, first),
            message=f"ramp: start {self.variant} at {first:g}",
            op="ramp",
            ramp={
                "variant": self.variant,
                "version": str(self.version.number),
                "steps": list(self.steps),
                "step": 0,
                "status": "ramping",
                "since": time.time(),
                "passed": [],
                "reason": "",
            },
        )
        return RampStep("start", first, 0, f"{self.variant!r} gets {first:.0%} of the traffic")

    def _rollback(self, state: dict[str, Any], idx: int, reason: str, check: LoopCheck) -> RampStep:
        router = self.router
        router._commit(
            router.shares_for(self.variant, 0.0),
            message=f"ramp: roll back {self.variant}: {reason}",
            op="ramp-rollback",
            ramp={**state, "status": "rolled_back", "reason": reason, "ended": time.time()},
        )
        self._record_failure(reason)
        log.warning("ramp_rollback", variant=self.variant, reason=reason)
        return RampStep(
            "rollback",
            0.0,
            idx,
            f"rolled back {self.variant!r} at {self.steps[idx]:.0%}: {reason}",
            check,
        )

    def _record_failure(self, reason: str) -> None:
        """The reason in the registry: a ``mlopskit.ramp`` tag on the canary's version and,
        when the canary is served as ``name@alias``, that alias moved back to the
        champion's version with the reason as its history message (so a restarted server
        still loads the canary variant, now a copy of the champion at weight 0)."""
        from mlopskit.registry import Registry, parse_model_uri

        registry = Registry(self.store)
        message = f"mlopskit.deploy ramp: rolled back: {reason}"
        registry.set_tag(
            self.version.name,
            "mlopskit.ramp",
            f"rolled back: {reason}"[:500],
            version=self.version.number,
        )
        source = self.router._sources.get(self.variant)
        if not (isinstance(source, str) and "@" in source):
            return
        name, alias = parse_model_uri(source)
        if not isinstance(alias, str) or alias == "latest":
            return
        champion = getattr(self.router.predictor(self.champion), "version", None)
        champion_name = getattr(self.router.predictor(self.champion), "name", None)
        try:
            if champion_name == name and champion is not None and str(champion).isdigit():
                registry.set_alias(name, alias, int(champion), message=message)
            else:
                registry.delete_alias(name, alias, message=message)
        except NotFoundError:  # withdrawn already (another process)
            pass

    def _promote(
        self, state: dict[str, Any], idx: int, passed: list[dict[str, Any]], check: LoopCheck
    ) -> RampStep:
        gates = [_PassedStep(p) for p in passed]
        reason = f"{self.variant!r} held every step up to 100% ({_summary(check)})"
        mv = self.router._promote(
            self.variant,
            champion=self.champion,
            message=f"mlopskit.deploy ramp: {reason}",
            require=gates,
            ramp={
                **state,
                "status": "promoted",
                "reason": reason,
                "passed": passed,
                "ended": time.time(),
            },
        )
        return RampStep("promote", 0.0, idx, f"promoted {mv.uri}: {reason}", check, mv)

    # -- running ------------------------------------------------------------------------

    def run(self, *, timeout: float | None = None) -> RampStep:
        """Step every ``poll`` seconds until the ramp promotes or rolls back; returns the
        last step (a ``wait`` if ``timeout`` seconds passed first or :meth:`stop` was called)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last: RampStep | None = None
        while True:
            try:
                last = self.step()
            except RefConflictError:  # another ramp acted first: read its result next time
                pass
            if last is not None and last.finished:
                return last
            if (deadline is not None and time.monotonic() >= deadline) or self._stop.is_set():
                break
            self._stop.wait(self.poll)
        if last is None:
            last = RampStep("wait", self.router.split[self.variant], 0, "stopped")
        return last

    def start(self) -> Ramp:
        """Run on a background thread (:meth:`stop` ends it); returns the ramp."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run_quietly, name=f"mlopskit-ramp-{self.variant}", daemon=True
        )
        self._thread.start()
        return self

    def _run_quietly(self) -> None:
        try:
            self.run()
        except Exception as exc:  # a background ramp reports, never kills the server
            log.error("ramp_failed", variant=self.variant, error=repr(exc))

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the background thread after its current step."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def reset(self, *, message: str = "") -> None:
        """Forget the recorded progress (weights stay) so the ramp can start again, e.g.
        after a new version took the canary alias."""
        self.router.sync()
        self.router._commit(
            self.router.weights,
            message=message or f"ramp: reset {self.variant}",
            op="ramp",
            ramp=None,
        )
        self.version = self._canary_version()


class _PassedStep:
    """A gate for ``mk.registry.promote`` that is one ramp step's recorded evidence."""

    def __init__(self, evidence: dict[str, Any]) -> None:
        self.evidence = evidence
        self.passed = True
        self.run_id: str | None = None
        self.name = (
            f"ramp {evidence['share']:.0%}: {evidence['requests']} requests, "
            f"errors {evidence['error_rate']:.1%}"
            + (f", p99 {evidence['p99_ms']:.1f} ms" if evidence.get("p99_ms") is not None else "")
            + (
                f", drift {evidence['drift_share']:.0%} of columns"
                if evidence.get("drift_share") is not None
                else ""
            )
        )

    def __call__(self, candidate: Any) -> _PassedStep:
        return self


def _evidence(share: float, check: LoopCheck) -> dict[str, Any]:
    return {
        "share": share,
        "requests": check.requests,
        "errors": check.errors,
        "error_rate": check.error_rate,
        "p99_ms": check.latency_p99_ms,
        "drift_share": check.drift_share,
    }


def _summary(check: LoopCheck) -> str:
    parts = [f"{check.requests} requests", f"errors {check.error_rate:.1%}"]
    if check.latency_p99_ms is not None:
        parts.append(f"p99 {check.latency_p99_ms:.1f} ms")
    if check.drift_share is not None:
        parts.append(f"drift {check.drift_share:.0%} of columns")
    return ", ".join(parts)


def _check_steps(steps: Sequence[float]) -> list[float]:
    try:
        out = [float(s) for s in steps]
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"steps are shares in (0, 1], found {steps!r}", expected="e.g. [0.05, 0.5, 1.0]"
        ) from None
    ok = (
        bool(out)
        and all(0.0 < s <= 1.0 for s in out)
        and all(a < b for a, b in itertools.pairwise(out))
        and out[-1] == 1.0
    )
    if not ok:
        raise InvalidInputError(
            f"steps must be increasing shares in (0, 1] ending at 1.0, found {list(steps)!r}",
            expected="e.g. [0.05, 0.25, 0.5, 1.0]",
            found=list(steps),
            key="steps",
        )
    return out


def _segment_time(ref_name: str) -> float:
    """When a log segment was written, from its name (``<UTC time>-<pid>-<random>``);
    +inf when the name does not say (the segment is then read)."""
    stamp = ref_name.rsplit("/", 1)[-1].split("-", 1)[0]
    try:
        when = datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return float("inf")
    return when.timestamp()
