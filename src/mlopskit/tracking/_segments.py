"""The segment format of the object-store backend: parse, check, merge.

A segment is JSON lines: a header ``{"format": "mlopskit.tracking.segment/1", "writer",
"seq", "time"}`` then events (docs/tracking.md specifies each kind). Everything read
from a segment is untrusted: :func:`parse_segment` checks every event's fields and
types and raises :class:`~mlopskit.errors.IntegrityError` naming the file, so a
reader can skip that one segment and go on; :func:`merge_events` folds the checked
events of one run into a :class:`~mlopskit.tracking.RunRecord`.
"""

from __future__ import annotations

import json
import math
import re
from array import array
from collections.abc import Collection, Iterable
from typing import Any

from mlopskit.errors import IntegrityError
from mlopskit.store import ArtifactRef
from mlopskit.tracking._model import (
    PAUSED_TAG,
    PREVIOUS_NAME_TAG,
    STATUSES,
    RunInput,
    RunRecord,
    WriterInfo,
    stored_record,
    to_datetime,
)
from mlopskit.tracking._validate import (
    MAX_TIME,
    MIN_TIME,
    check_experiment,
    check_run_id,
    is_run_id,
)

__all__ = [
    "RUN_FORMAT",
    "SEGMENT_FORMAT",
    "check_identity",
    "encode_values",
    "merge_events",
    "parse_segment",
    "parse_segment_name",
    "segment_name",
]

SEGMENT_FORMAT = "mlopskit.tracking.segment/1"
RUN_FORMAT = "mlopskit.tracking.run/1"

_WRITER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,99}$")


#: A file name under ``experiments/<experiment>/segments/``: the writer's clock when it
#: wrote the file (nanoseconds, fixed width, so names sort by time), the writer, its
#: sequence number, the run and the kind (``jsonl`` a segment, ``json`` a lifecycle
#: event, ``purged`` the mark that the run was purged).
_SEGMENT_NAME = re.compile(
    r"^(\d{20})-([A-Za-z0-9][A-Za-z0-9-]{0,99})-(\d{8})\.(.+)\.(jsonl|json|purged)$"
)


def segment_name(time_ns: int, writer: str, seq: int, run_id: str, kind: str) -> str:
    """``<time_ns:020d>-<writer>-<seq:08d>.<run_id>.<kind>``: a name that sorts by time."""
    return f"{max(time_ns, 0):020d}-{writer}-{seq:08d}.{run_id}.{kind}"


def parse_segment_name(name: str) -> tuple[int, str, int, str, str] | None:
    """(time_ns, writer, seq, run_id, kind) of a name :func:`segment_name` made, else None."""
    match = _SEGMENT_NAME.match(name)
    if match is None or not is_run_id(match.group(4)):
        return None
    t, writer, seq, run_id, kind = match.groups()
    return int(t), writer, int(seq), run_id, kind


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(what)


def _is_number(value: object) -> bool:
    """A finite JSON number (an int beyond float range is not: never an OverflowError)."""
    if value.__class__ is float:
        return math.isfinite(value)
    return value.__class__ is int and -(2**1023) < value < 2**1023


#: Non-finite metric values in a segment: JSON has no NaN or infinity, so they are these
#: strings (every JSON reader can parse the segment; a value of any other type is damage).
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_NAME = {0.0: "NaN", 1.0: "Infinity", -1.0: "-Infinity"}


def encode_values(values: Iterable[float]) -> list[float | str]:
    """Metric values as a segment's ``values`` list: NaN and ±infinity as strings."""
    floats: list[Any] = values.tolist() if isinstance(values, array) else list(values)
    if all(map(math.isfinite, floats)):
        return floats
    return [
        v if math.isfinite(v) else _NAME[math.copysign(1.0, v) if v == v else 0.0] for v in floats
    ]


def _decode_values(values: list[Any]) -> bool:
    """Turn a segment's non-finite value strings into floats, in place; False if a value
    is neither a number nor one of those strings."""
    if all(map(_is_number, values)):  # the common case: every value finite
        return True
    for i, v in enumerate(values):
        if v.__class__ is float:
            if not math.isfinite(v):  # a bare NaN/Infinity token: not what mlopskit writes
                return False
        elif v.__class__ is int:
            if not _is_number(v):
                return False
        elif isinstance(v, str) and v in NON_FINITE:
            values[i] = NON_FINITE[v]
        else:
            return False
    return True


def _is_time(value: object) -> bool:
    return _is_number(value) and MIN_TIME <= value <= MAX_TIME  # type: ignore[operator]


def _is_str_map(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _opt_str(value: object) -> bool:
    return value is None or isinstance(value, str)


def check_identity(ident: object) -> None:
    _need(isinstance(ident, dict), "the run identity is not an object")
    assert isinstance(ident, dict)
    check_run_id(ident.get("run_id"))
    check_experiment(ident.get("experiment"))
    _need(isinstance(ident.get("name"), str), "the run name is not a string")
    _need(_is_time(ident.get("start_time")), "start_time is not a finite number")
    parent = ident.get("parent_id")
    if parent is not None:
        check_run_id(parent)
    _need(_opt_str(ident.get("user")) and _opt_str(ident.get("host")), "user/host not strings")


def _check_event(event: object) -> None:
    _need(isinstance(event, dict), "an event is not an object")
    assert isinstance(event, dict)
    kind = event.get("e")
    _need(isinstance(kind, str), f"an event has no kind ('e': {kind!r})")
    if kind != "metrics":
        _need(_is_time(event.get("time")), f"{kind!r} event: time is not a finite number")
    if kind == "metrics":
        _need(isinstance(event.get("key"), str), "metrics event: key is not a string")
        steps, values, times = event.get("steps"), event.get("values"), event.get("times")
        _need(
            isinstance(steps, list) and isinstance(values, list) and isinstance(times, list),
            "metrics event: steps, values and times must be lists",
        )
        assert isinstance(steps, list) and isinstance(values, list) and isinstance(times, list)
        _need(len(steps) == len(values) == len(times), "metrics event: columns differ in length")
        _need(
            all(type(s) is int and -(2**63) <= s < 2**63 for s in steps),
            "metrics event: a step is not a 64-bit integer",
        )
        _need(_decode_values(values), "metrics event: a value is not a number")
        _need(all(map(_is_time, times)), "metrics event: a time is not a finite number")
    elif kind == "create":
        check_identity(event.get("run"))
    elif kind in ("attach", "detach"):
        writer = event.get("writer")
        _need(isinstance(writer, str) and bool(_WRITER.match(writer)), f"bad writer {writer!r}")
        if kind == "attach":
            pid = event.get("pid", 0)
            _need(type(pid) is int and 0 <= pid < 2**32, f"attach event: bad pid {pid!r}")
            _need(_opt_str(event.get("host")), "attach event: host is not a string")
    elif kind in ("params", "tags"):
        _need(_is_str_map(event.get("values")), f"{kind} event: values are not strings")
    elif kind == "status":
        _need(event.get("status") in STATUSES, f"invalid status {event.get('status')!r}")
        end = event.get("end_time")
        _need(end is None or _is_time(end), "status event: end_time is not a finite number")
    elif kind == "artifact":
        _need(isinstance(event.get("name"), str), "artifact event: name is not a string")
        ArtifactRef.model_validate(event.get("ref"))
    elif kind == "rename":
        _need(isinstance(event.get("name"), str), "rename event: name is not a string")
        _need(_opt_str(event.get("previous")), "rename event: previous is not a string")
    elif kind == "input":
        _need(isinstance(event.get("digest"), str), "input event: digest is not a string")
        _need(_opt_str(event.get("name")) and _opt_str(event.get("context")), "input event")
    # events of kinds this version does not know are kept and ignored by the merge


def parse_segment(path: str, blob: bytes) -> list[dict[str, Any]]:
    """The events of one segment file, each checked; IntegrityError naming ``path``."""
    try:
        lines = blob.decode("utf-8").splitlines()
        header = json.loads(lines[0]) if lines else None
        _need(isinstance(header, dict), "the header line is missing or not an object")
        assert isinstance(header, dict)
        if header.get("format") != SEGMENT_FORMAT:
            raise ValueError(f"unknown segment format {header.get('format')!r}")
        events = [json.loads(line) for line in lines[1:] if line]
        for event in events:
            _check_event(event)
    except (ValueError, TypeError, RecursionError) as exc:  # UnicodeDecodeError, JSON, checks
        raise IntegrityError(
            f"tracking segment {path} is damaged: {exc}", path=path, found=type(exc).__name__
        ) from exc
    result: list[dict[str, Any]] = events
    return result


def merge_events(
    events: list[dict[str, Any]],
    metrics: dict[str, tuple[int, float, float]],
    keys: Collection[str] | None,
) -> RunRecord | None:
    rec: RunRecord | None = None
    writers: dict[str, WriterInfo] = {}
    for event in events:
        kind = event["e"]
        if kind == "create":
            ident = event["run"]
            rec = stored_record(
                run_id=ident["run_id"],
                experiment=ident["experiment"],
                name=ident["name"],
                status="RUNNING",
                start_time=ident["start_time"],
                end_time=None,
                parent_id=ident.get("parent_id"),
                user=ident.get("user") or "",
                host=ident.get("host") or "",
                params={},
                tags={},
            )
        elif rec is None:
            continue
        elif kind == "params":
            for k, v in event["values"].items():
                rec.params.setdefault(k, v)
        elif kind == "tags":
            rec.tags.update(event["values"])
        elif kind == "status":
            rec.status = event["status"]
            rec.end_time = to_datetime(event.get("end_time"))
        elif kind == "attach":
            rec.status = "RUNNING"
            rec.end_time = None
            writers[event["writer"]] = WriterInfo(
                writer_id=event["writer"],
                host=event.get("host") or "",
                pid=int(event.get("pid", 0)),
                heartbeat=event["time"],
            )
        elif kind == "detach":
            w = writers.get(event["writer"])
            if w is not None:
                writers[event["writer"]] = w.model_copy(update={"active": False})
        elif kind == "rename":
            if event.get("previous") is not None:
                rec.tags[PREVIOUS_NAME_TAG] = event["previous"]
            rec.name = event["name"]
        elif kind == "artifact":
            rec.artifacts[event["name"]] = ArtifactRef.model_validate(event["ref"])
        elif kind == "input":
            item = RunInput(
                digest=event["digest"], name=event.get("name"), context=event.get("context")
            )
            rec.inputs = [i for i in rec.inputs if i.digest != item.digest] + [item]
    if rec is None:
        return None
    rec.metrics = {k: v[1] for k, v in metrics.items()}
    rec.writers = list(writers.values())
    rec.stored_status = rec.status
    if keys is not None:
        wanted = set(keys)
        rec.params = {k: v for k, v in rec.params.items() if f"params.{k}" in wanted}
        rec.metrics = {k: v for k, v in rec.metrics.items() if f"metrics.{k}" in wanted}
        rec.tags = {k: v for k, v in rec.tags.items() if f"tags.{k}" in wanted or k == PAUSED_TAG}
    return rec
