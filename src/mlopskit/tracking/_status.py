"""Status policy: the status a stored run really has, and the status an exception ends one with.

A run's stored status says RUNNING until a writer ends it; a process that dies without
ending its run leaves it RUNNING on disk. :func:`effective_status` reads such a run as
KILLED once none of its writers is alive. :func:`status_for` maps the exception that
left a ``with`` block to the status the run ends with, and :func:`error_tags` records it.
"""

from __future__ import annotations

import os
import time
import traceback

from mlopskit import _config
from mlopskit.tracking._model import RunRecord

__all__ = ["effective_status", "error_tags", "heartbeat_timeout", "pid_alive", "status_for"]


def heartbeat_timeout() -> float:
    """Seconds after which a writer's heartbeat is stale (``MLOPSKIT_HEARTBEAT_TIMEOUT``)."""
    return float(_config.setting("heartbeat_timeout", default=60.0, parse=float))


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists on this host (it may not be the writer)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # pragma: no cover - platforms without signal 0
        return True
    return True


def effective_status(
    record: RunRecord, *, now: float | None = None, timeout: float | None = None
) -> str:
    """The stored status, except that a RUNNING run whose writers are all gone is KILLED.

    A writer is gone when its heartbeat is older than ``timeout`` seconds
    (``MLOPSKIT_HEARTBEAT_TIMEOUT``, 60 by default); a writer on this host also when
    its process no longer exists. A live process with the writer's PID is not enough:
    PIDs are reused (a container restarted under the same hostname), so the heartbeat
    must be fresh as well.
    """
    if record.stored_status != "RUNNING":
        return record.stored_status
    now = time.time() if now is None else now
    timeout = heartbeat_timeout() if timeout is None else timeout
    from mlopskit.tracking._env import whoami

    host = whoami()[1]
    for writer in record.writers:
        if not writer.active:
            continue
        if now - writer.heartbeat.timestamp() >= timeout:
            continue
        if writer.host != host or pid_alive(writer.pid):
            return "RUNNING"
    return "KILLED"


def status_for(exc: BaseException) -> str:
    """The status a run ends with when ``exc`` leaves its block."""
    if isinstance(exc, KeyboardInterrupt):
        return "KILLED"
    if isinstance(exc, SystemExit) and exc.code in (0, None):
        return "FINISHED"
    return "FAILED"


def error_tags(exc: BaseException) -> dict[str, str]:
    """Tags recording ``exc``: its type, message and (the end of its) traceback."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {
        "mlopskit.error.type": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "mlopskit.error.message": str(exc)[:8000],
        "mlopskit.error.traceback": text[-16000:],
    }
