"""Process-end hooks: runs still open at interpreter exit or on SIGTERM are ended.

Nothing is registered at import. The first run that goes live (or the first metric
buffer of a stored run) calls :func:`install_hooks`, which registers the ``atexit``
handler once per process and the SIGTERM handler once, from the main thread.

At exit, open runs end FINISHED (or FAILED with the uncaught error); on SIGTERM they
end KILLED, buffered metrics are written, and the signal is re-raised so the process
still dies of it. A SIGTERM handler installed before ours keeps working: ours flushes
and calls it.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any, Protocol

from mlopskit._log import get_logger
from mlopskit.tracking._buffer import worker
from mlopskit.tracking._status import status_for

__all__ = ["Endable", "end_open_runs", "install_hooks", "register", "unregister"]

log = get_logger("mlopskit.tracking")


class Endable(Protocol):
    """What the hooks need of a run."""

    run_id: str

    def end(self, status: str = "FINISHED", *, error: BaseException | None = None) -> None:
        """End the run."""
        ...


_open_runs: dict[int, Endable] = {}
_lock = threading.Lock()
_state: dict[str, Any] = {"atexit": False, "signal": False, "previous": None}


def register(run: Endable) -> None:
    """Watch ``run`` until :func:`unregister`; installs the hooks on first use."""
    with _lock:
        _open_runs[id(run)] = run
    install_hooks()


def unregister(run: Endable) -> None:
    """Stop watching ``run``."""
    with _lock:
        _open_runs.pop(id(run), None)


def end_open_runs(status: str, error: BaseException | None = None) -> None:
    """End every watched run, children (started later) before parents."""
    with _lock:
        runs = list(_open_runs.values())
    for run in reversed(runs):
        try:
            run.end(status, error=error)
        except Exception as exc:
            log.error("run_not_ended", run=run.run_id, error=str(exc))


def install_hooks() -> None:
    """Register the exit handler (once) and the SIGTERM handler (once, main thread only)."""
    if not _state["atexit"]:
        with _lock:
            if not _state["atexit"]:
                atexit.register(_at_exit)
                _state["atexit"] = True
    if _state["signal"] or threading.current_thread() is not threading.main_thread():
        return
    try:
        previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # pragma: no cover - not the main interpreter
        return
    _state.update(signal=True, previous=previous)


def _flush_all(event: str) -> None:
    try:
        worker.flush_all()
    except Exception as exc:
        log.error(event, error=str(exc))


def _at_exit() -> None:
    error = getattr(sys, "last_value", None)
    if error is None or (isinstance(error, SystemExit) and error.code in (0, None)):
        end_open_runs("FINISHED")
    else:
        end_open_runs(status_for(error), error)
    _flush_all("metrics_not_written_at_exit")


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    previous = _state["previous"]
    if callable(previous):
        _flush_all("metrics_not_written_on_sigterm")
        previous(signum, frame)
        return
    if previous == signal.SIG_IGN:
        _flush_all("metrics_not_written_on_sigterm")
        return
    end_open_runs("KILLED")
    _flush_all("metrics_not_written_on_sigterm")
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
