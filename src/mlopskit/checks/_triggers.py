"""Retraining triggers: evidence that something should run, written where a scheduler polls.

A monitor (``mk.drift.Monitor``, ``mk.deploy.DeploymentLoop``) that sees drift or a
performance drop fires a :class:`Trigger`: a record in the store, and optionally a
call of a user function. A scheduler (Airflow sensor, Prefect flow, cron job, CI) polls
:func:`list_triggers` (or ``mlopskit triggers ls --pending``), starts its retraining
job and acknowledges the trigger with :func:`ack_trigger`.

Layout (refs of the store)::

    triggers/<id>    → the trigger's current record (pending, then acknowledged)

``<id>`` is ``<UTC time>-<8 hex>``, so ids sort by firing time. Acknowledging moves the
ref with a compare-and-swap: of two schedulers acknowledging the same trigger, one
wins and the other gets :class:`~mlopskit.errors.RefConflictError` — a trigger starts
one job. The ref's history keeps both states (who fired it, who acknowledged it).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlopskit._log import get_logger
from mlopskit.errors import IntegrityError, InvalidInputError, InvalidNameError, NotFoundError
from mlopskit.store import current_store

if TYPE_CHECKING:
    from mlopskit.deploy import DeploymentLoop, LoopCheck
    from mlopskit.drift import DriftReport
    from mlopskit.store import ArtifactStore

__all__ = [
    "Trigger",
    "ack_trigger",
    "fire_trigger",
    "get_trigger",
    "list_triggers",
    "on_drift",
    "watch_loop",
]

log = get_logger("mlopskit.checks.triggers")

_ID = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{8}$")
_PREFIX = "triggers"


class Trigger(BaseModel):
    """One trigger: why something should run, and whether a scheduler took it.

    Attributes:
        id: sortable id (``<UTC time>-<8 hex>``).
        kind: what fired it (``drift``, ``performance``, or any word a user picks).
        subject: what it is about (``"churn@champion"``, a dataset URI, …).
        reason: one readable sentence.
        evidence: JSON-able numbers and lists backing the reason.
        status: ``pending`` until acknowledged, then ``acknowledged``.
        created_at / acked_at: when it fired / was acknowledged (UTC).
        acked_by / note: who acknowledged it, and what they started (a DAG run id, …).
    """

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    id: str
    kind: str
    subject: str
    reason: str = ""
    evidence: dict[str, Any] = Field(default_factory=dict)
    status: Literal["pending", "acknowledged"] = "pending"
    created_at: datetime
    acked_at: datetime | None = None
    acked_by: str = ""
    note: str = ""

    @property
    def pending(self) -> bool:
        """True until a scheduler acknowledges it."""
        return self.status == "pending"


def _store(store: ArtifactStore | None) -> ArtifactStore:
    return store if store is not None else current_store()


def _check_id(trigger_id: str) -> str:
    if not isinstance(trigger_id, str) or not _ID.match(trigger_id):
        raise InvalidNameError(
            f"not a trigger id: {trigger_id!r}; ids look like 20260101T120000000000Z-0a1b2c3d "
            "(see `mlopskit triggers ls`)",
            expected="<UTC time>-<8 hex>",
            found=trigger_id,
        )
    return trigger_id


def _word(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 500:
        raise InvalidInputError(
            f"trigger {what} must be a non-empty string (at most 500 characters), found {value!r}",
            key=what,
            found=value,
        )
    return value


def _read(store: ArtifactStore, refname: str) -> tuple[Trigger, Any]:
    rec = store.refs.record(refname)
    if rec is None or rec.target is None:
        raise NotFoundError(f"no trigger {refname.split('/', 1)[1]!r} in {store.url}")
    try:
        trig = Trigger.model_validate(store.read_record(rec.target))
    except ValidationError as exc:
        raise IntegrityError(
            f"trigger record {refname!r} ({rec.target.digest}) is damaged: "
            f"{str(exc).splitlines()[0]}. Delete the ref or restore it from a backup.",
            path=refname,
            digest=rec.target.digest,
        ) from None
    if trig.id != refname.split("/", 1)[1]:
        raise IntegrityError(
            f"trigger record {refname!r} names another trigger ({trig.id!r}): damaged or "
            "tampered; delete the ref or restore it from a backup",
            path=refname,
            digest=rec.target.digest,
        )
    return trig, rec


def get_trigger(trigger_id: str, *, store: ArtifactStore | None = None) -> Trigger:
    """The trigger ``trigger_id`` (NotFoundError if there is none)."""
    return _read(_store(store), f"{_PREFIX}/{_check_id(trigger_id)}")[0]


def list_triggers(
    *,
    pending: bool | None = None,
    kind: str | None = None,
    subject: str | None = None,
    store: ArtifactStore | None = None,
) -> list[Trigger]:
    """Triggers, oldest first; ``pending=True`` keeps the unacknowledged ones only."""
    st = _store(store)
    out = []
    for name in st.refs.list(_PREFIX):
        if name.count("/") != 1 or not _ID.match(name.split("/", 1)[1]):
            raise IntegrityError(
                f"ref {name!r} is in the triggers namespace but is not a trigger id: "
                "delete the ref (it was not written by mlopskit)",
                path=name,
            )
        trig, _ = _read(st, name)
        if pending is not None and trig.pending != pending:
            continue
        if (kind is not None and trig.kind != kind) or (
            subject is not None and trig.subject != subject
        ):
            continue
        out.append(trig)
    return sorted(out, key=lambda t: t.id)


def fire_trigger(
    kind: str,
    subject: str,
    *,
    reason: str = "",
    evidence: Mapping[str, Any] | None = None,
    dedupe: bool = True,
    call: Callable[[Trigger], object] | None = None,
    store: ArtifactStore | None = None,
) -> Trigger:
    """Write a pending trigger (and call ``call`` with it, if given).

    With ``dedupe`` (the default), a pending trigger of the same ``kind`` and
    ``subject`` is returned instead of writing another, so a monitor that keeps seeing
    drift does not queue a retraining per window.
    """
    _word(kind, "kind")
    _word(subject, "subject")
    st = _store(store)
    if dedupe:
        existing = list_triggers(pending=True, kind=kind, subject=subject, store=st)
        if existing:
            return existing[0]
    now = datetime.now(timezone.utc)
    trig = Trigger(
        id=f"{now:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(4)}",
        kind=kind,
        subject=subject,
        reason=reason,
        evidence=dict(evidence or {}),
        created_at=now,
    )
    ref = st.put_record(trig.model_dump(mode="json"))
    st.refs.set(f"{_PREFIX}/{trig.id}", ref, expected=None, message=f"{kind}: {reason}"[:500])
    log.info("trigger_fired", id=trig.id, kind=kind, subject=subject)
    if call is not None:
        call(trig)
    return trig


def ack_trigger(
    trigger_id: str, *, by: str = "", note: str = "", store: ArtifactStore | None = None
) -> Trigger:
    """Acknowledge a pending trigger (a compare-and-swap: one scheduler takes it).

    Raises:
        NotFoundError: no such trigger.
        InvalidInputError: it was acknowledged already.
        RefConflictError: another scheduler acknowledged it at the same moment.
    """
    st = _store(store)
    refname = f"{_PREFIX}/{_check_id(trigger_id)}"
    trig, rec = _read(st, refname)
    if not trig.pending:
        raise InvalidInputError(
            f"trigger {trigger_id} was acknowledged already by {trig.acked_by or 'someone'} "
            f"at {trig.acked_at}",
            expected="pending",
            found=trig.status,
        )
    done = trig.model_copy(
        update={
            "status": "acknowledged",
            "acked_at": datetime.now(timezone.utc),
            "acked_by": by,
            "note": note,
        }
    )
    ref = st.put_record(done.model_dump(mode="json"))
    st.refs.set(refname, ref, expected=rec, message=f"ack {trigger_id}: {note}"[:500])
    log.info("trigger_acked", id=trigger_id, by=by)
    return done


def on_drift(
    subject: str,
    *,
    call: Callable[[Trigger], object] | None = None,
    kind: str = "drift",
    store: ArtifactStore | None = None,
) -> Callable[[DriftReport], Trigger]:
    """A callback for ``mk.drift.Monitor(on_drift=...)``: each drifted report fires a trigger.

    Example:
        >>> from mlopskit.checks import on_drift  # doctest: +SKIP
        >>> monitor = mk.drift.Monitor(profile, window=500, on_drift=on_drift("churn@champion"))
    """
    _word(subject, "subject")

    def fire(report: DriftReport) -> Trigger:
        return fire_trigger(
            kind,
            subject,
            reason=f"{report.n_drifted} of {report.n_columns} columns drifted: "
            f"{report.drifted_columns[:10]}",
            evidence={
                "share_drifted": report.share_drifted,
                "drifted_columns": report.drifted_columns,
                "window": list(report.window) if report.window else None,
                "current_rows": report.current_rows,
            },
            call=call,
            store=store,
        )

    return fire


def watch_loop(
    loop: DeploymentLoop,
    *,
    max_error_rate: float | None = None,
    min_requests: int = 1,
    call: Callable[[Trigger], object] | None = None,
) -> tuple[LoopCheck, list[Trigger]]:
    """Run ``loop.check()`` once and fire the triggers its evidence calls for.

    Fires ``drift`` when the check's drift verdict is drift, and ``performance`` when
    the error rate reaches ``max_error_rate`` over at least ``min_requests`` requests.
    Returns the check and the triggers (new or already pending).
    """
    if max_error_rate is not None and not 0 <= max_error_rate <= 1:
        raise InvalidInputError(
            f"max_error_rate must be in [0, 1], found {max_error_rate!r}", key="max_error_rate"
        )
    result = loop.check()
    subject = f"{loop.name}@{loop.alias}"
    fired: list[Trigger] = []
    if result.drifted and result.report is not None:
        fired.append(on_drift(subject, call=call, store=loop.store)(result.report))
    if (
        max_error_rate is not None
        and result.requests >= min_requests
        and result.error_rate >= max_error_rate
    ):
        fired.append(
            fire_trigger(
                "performance",
                subject,
                reason=f"error rate {result.error_rate:.3g} over {result.requests} requests "
                f"(limit {max_error_rate:.3g}) on {result.version.uri}",
                evidence={
                    "error_rate": result.error_rate,
                    "requests": result.requests,
                    "errors": result.errors,
                    "version": result.version.uri,
                },
                call=call,
                store=loop.store,
            )
        )
    return result, fired
