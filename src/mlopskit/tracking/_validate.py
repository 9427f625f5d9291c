"""The validation every call runs before it writes, and every reader runs on stored text.

Names (metric, param and tag keys; experiments; run ids), metric points (value, step,
time) and stored text are checked here, once, so both backends accept and refuse
exactly the same inputs.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, TypeGuard

from mlopskit.errors import InvalidInputError, InvalidNameError
from mlopskit.tracking._model import STATUSES, Status

__all__ = [
    "KNOWN_KEYS",
    "MAX_PARAM_LEN",
    "MAX_STEP",
    "MAX_TIME",
    "MIN_STEP",
    "MIN_TIME",
    "check_experiment",
    "check_key",
    "check_param_conflicts",
    "check_run_id",
    "check_status",
    "check_text",
    "is_experiment",
    "is_run_id",
    "metric_step",
    "metric_time",
    "metric_value",
    "param_value",
    "tag_value",
]

_KEY = re.compile(r"^[A-Za-z0-9_\-. /:]{1,250}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._@+=,-]{0,199}$")
MAX_PARAM_LEN = 6000
#: Keys that passed :func:`check_key` (a cache for the hot path of ``log_metric``).
KNOWN_KEYS: set[str] = set()


def check_key(key: object, what: str = "metric") -> str:
    """A metric, param or tag name: letters, digits, ``_-. /:``, at most 250 characters."""
    if key.__class__ is str and key in KNOWN_KEYS:
        return key
    if not isinstance(key, str) or not _KEY.match(key) or key.startswith("/") or ".." in key:
        raise InvalidNameError(
            f"invalid {what} name {key!r}: use 1-250 letters, digits and '_-. /:' "
            "(no leading '/', no '..')",
            found=key,
        )
    if len(KNOWN_KEYS) < 100_000:
        KNOWN_KEYS.add(key)
    return key


_KNOWN_EXPERIMENTS: set[str] = set()


def is_experiment(name: object) -> TypeGuard[str]:
    """Whether ``name`` is a valid experiment name (the fast test readers run per row)."""
    if name.__class__ is str and name in _KNOWN_EXPERIMENTS:
        return True
    if not isinstance(name, str) or not _SEGMENT.match(name):
        return False
    if len(_KNOWN_EXPERIMENTS) < 10_000:
        _KNOWN_EXPERIMENTS.add(name)
    return True


def is_run_id(run_id: object) -> TypeGuard[str]:
    """Whether ``run_id`` is a valid run id (the fast test readers run per row)."""
    return isinstance(run_id, str) and len(run_id) <= 64 and _SEGMENT.match(run_id) is not None


def check_experiment(name: object) -> str:
    """An experiment name is one path segment: letters, digits and ``._@+=,-``."""
    if not is_experiment(name):
        raise InvalidNameError(
            f"invalid experiment name {name!r}: it must start with a letter, digit or '_' "
            "and contain only letters, digits and '._@+=,-' (at most 200 characters)",
            found=name,
        )
    return name


def check_run_id(run_id: object) -> str:
    """A run id is one path segment (a 32-hex uuid by default)."""
    if not is_run_id(run_id):
        raise InvalidNameError(
            f"invalid run id {run_id!r}: use at most 64 letters, digits and '._@+=,-'",
            found=run_id,
        )
    return run_id


def check_status(status: object) -> Status:
    """One of RUNNING, FINISHED, FAILED, KILLED (case-insensitive)."""
    value = status.upper() if isinstance(status, str) else status
    if value not in STATUSES:
        raise InvalidInputError(
            f"invalid run status {status!r}: expected one of {', '.join(STATUSES)}",
            found=status,
        )
    return value  # type: ignore[return-value]


def metric_value(key: str, value: object) -> float:
    """``value`` as a float, or InvalidInputError naming the metric.

    NaN and ±infinity are values like any other (MLflow stores them too): a loss that
    diverged is recorded as it was, not refused.
    """
    cls = value.__class__
    if cls is float:
        out: float = value  # type: ignore[assignment]
    elif cls is int and -(2**1023) < value < 2**1023:  # type: ignore[operator]
        out = float(value)  # type: ignore[arg-type]
    elif cls is bool or isinstance(value, (str, bytes, complex)) or value is None:
        raise InvalidInputError(
            f"metric {key!r} must be a real number, found {cls.__name__} {value!r}",
            key=key,
            found=value,
        )
    else:
        try:
            out = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            raise InvalidInputError(
                f"metric {key!r} must be a real number, found {cls.__name__} {value!r:.80}",
                key=key,
                found=value,
            ) from None
    return out


#: Steps are signed 64-bit integers (what SQLite and every reader of the segments hold).
MIN_STEP, MAX_STEP = -(2**63), 2**63 - 1
#: Timestamps (epoch seconds) that a ``datetime`` can represent: years 1 to 9999.
MIN_TIME, MAX_TIME = -62135596800.0, 253402300799.0


def metric_step(key: str, step: Any) -> int:
    """``step`` as a 64-bit integer, or InvalidInputError naming the metric."""
    if step.__class__ is int and MIN_STEP <= step <= MAX_STEP:
        return int(step)
    if isinstance(step, bool):
        raise InvalidInputError(
            f"step of metric {key!r} must be an integer, found bool", key=key, found=step
        )
    try:
        out = int(step)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInputError(
            f"step of metric {key!r} must be an integer, found {type(step).__name__} {step!r:.80}",
            key=key,
            found=step,
        ) from None
    if out != step:
        raise InvalidInputError(
            f"step of metric {key!r} must be an integer, found {step!r}", key=key, found=step
        )
    if not MIN_STEP <= out <= MAX_STEP:
        raise InvalidInputError(
            f"step of metric {key!r} must be a 64-bit integer (-2**63 to 2**63-1), found {out}",
            key=key,
            found=step,
        )
    return out


def metric_time(key: str, timestamp: Any) -> float:
    """A point's time as epoch seconds: a finite number or an aware ``datetime``."""
    if timestamp.__class__ is float and MIN_TIME <= timestamp <= MAX_TIME:
        return float(timestamp)
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            raise InvalidInputError(
                f"timestamp of metric {key!r} is a naive datetime; give it a timezone "
                "(e.g. datetime.now(timezone.utc))",
                key=key,
                found=timestamp,
            )
        return timestamp.timestamp()
    if isinstance(timestamp, (bool, str, bytes, complex)) or timestamp is None:
        out = math.nan
    else:
        try:
            out = float(timestamp)
        except (TypeError, ValueError, OverflowError):
            out = math.nan
    if not MIN_TIME <= out <= MAX_TIME:  # also refuses nan
        raise InvalidInputError(
            f"timestamp of metric {key!r} must be epoch seconds between years 1 and 9999 "
            f"(or an aware datetime), found {timestamp!r:.80}",
            key=key,
            found=timestamp,
        )
    return out


def check_text(what: str, value: str) -> str:
    """A stored string: valid Unicode (no lone surrogates) and no NUL character."""
    if "\x00" in value:
        raise InvalidInputError(f"{what} contains a NUL character", found=value[:80])
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{what} is not valid Unicode text ({exc.reason} at {exc.start})", found=value[:80]
        ) from None
    return value


def param_value(key: str, value: object) -> str:
    """Parameters are stored as strings; non-plain values become a short repr."""
    if isinstance(value, str):
        out = value
    elif value is None or isinstance(value, (bool, int, float)):
        out = str(value)
    else:
        from mlopskit.tracking._env import describe

        out = describe(value)
    if len(out) > MAX_PARAM_LEN:
        raise InvalidInputError(
            f"param {key!r} is {len(out)} characters long; the limit is {MAX_PARAM_LEN} "
            "(log long values as an artifact with log_text or log_dict)",
            key=key,
        )
    return check_text(f"param {key!r}", out)


def tag_value(key: str, value: object) -> str:
    """Tags are strings; numbers and booleans are converted."""
    if isinstance(value, str):
        return check_text(f"tag {key!r}", value)
    if value is None or isinstance(value, (bool, int, float)):
        return str(value)
    raise InvalidInputError(
        f"tag {key!r} must be a string (or a number), found {type(value).__name__}", key=key
    )


def check_param_conflicts(run_id: str, stored: dict[str, str], new: dict[str, str]) -> None:
    """Raise InvalidInputError if ``new`` changes the value of a stored param."""
    for key, value in new.items():
        old = stored.get(key)
        if old is not None and old != value:
            raise InvalidInputError(
                f"param {key!r} of run {run_id} is already {old!r}; params are immutable, "
                f"so it cannot become {value!r} (log it under another name, or use a tag)",
                key=key,
                expected=old,
                found=value,
            )
