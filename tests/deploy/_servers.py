"""Model servers in subprocesses on 127.0.0.1:0, stopped by pid.

As a module: :func:`start_server` runs ``python _servers.py '<spec json>'`` and returns a
:class:`ServerProcess` once the server answers ``/v2/health/ready``. As a script: reads
the spec, builds the target in the spec's workspace and calls the blocking
``mlopskit.deploy.serve`` (so SIGTERM takes the real shutdown path).

Spec keys: ``workspace`` (path), ``target`` (``{"uri": "m@champion"}``, or ``{"router":
{"variants": {...}, "weights": {...}, "shadow": {...}}}``), optional ``logger``
(``{"name": ..., "sample": ..., "max_rows": ...}``), ``slow`` (seconds every
prediction sleeps: keeps requests in flight for the shutdown tests), ``workers``.
Router specs may add ``deployment`` and ``sync_interval`` (a durable split) and
``faults`` (``{"canary": "error"}``: that variant's model raises on every prediction;
``{"canary": 0.05}``: it sleeps that many seconds first); ``pid_outputs`` makes every
variant answer its worker process's pid (the workers tests).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
if str(HERE.parent) not in sys.path:  # loaded by path from other test folders, or as a script
    sys.path.insert(0, str(HERE.parent))

from _proc import Proc, start  # noqa: E402

ServerProcess = Proc  # the deploy tests' name for it


def start_server(
    spec: dict[str, Any], log: Path, *, timeout: float = 60.0, wait_ready: bool = True
) -> Proc:
    """Start a server subprocess for ``spec``; return once it listens and (``wait_ready``)
    answers ``/v2/health/ready`` with 200."""
    ready = "/v2/health/ready" if wait_ready else None
    return start([sys.executable, str(HERE), json.dumps(spec)], log, ready=ready, timeout=timeout)


class _Slow:
    """Wraps a predictor so every prediction takes at least ``seconds``."""

    def __init__(self, inner: Any, seconds: float) -> None:
        self._inner = inner
        self._seconds = seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def predict(self, data: Any, **kwargs: Any) -> Any:
        time.sleep(self._seconds)
        return self._inner.predict(data, **kwargs)

    def predict_prepared(self, frame: Any, **kwargs: Any) -> Any:
        time.sleep(self._seconds)
        return self._inner.predict_prepared(frame, **kwargs)


class _Faulty:
    """Wraps a predictor whose model raises on every prediction (a broken canary)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def predict(self, data: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the canary's model is broken")

    predict_prepared = predict


class _Pid:
    """Wraps a predictor so every row is answered with the worker process's pid."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def predict(self, data: Any, **kwargs: Any) -> Any:
        return [os.getpid()] * len(data)

    predict_prepared = predict


def _wrap(name: str, predictor: Any, spec: dict[str, Any]) -> Any:
    fault = spec.get("faults", {}).get(name)
    if fault == "error":
        predictor = _Faulty(predictor)
    elif fault is not None:
        predictor = _Slow(predictor, float(fault))
    if spec.get("pid_outputs"):
        predictor = _Pid(predictor)
    return predictor


class _SlowLoad:
    """A Router whose variants take ``seconds`` longer to load (readiness tests)."""

    @staticmethod
    def make(router_cls: Any, seconds: float) -> Any:
        class SlowRouter(router_cls):  # type: ignore[misc, valid-type]
            def load(self) -> Any:
                time.sleep(seconds)
                return super().load()

        return SlowRouter


def _main(spec: dict[str, Any]) -> None:
    import mlopskit as mk
    from mlopskit.deploy import PredictionLogger, Predictor, Router, serve

    workspace = mk.set_workspace(spec["workspace"])
    target: Any
    slow = float(spec.get("slow", 0))

    def load(uri: str) -> Any:
        p = Predictor(uri)
        return _Slow(p, slow) if slow else p

    if "uri" in spec["target"]:
        target = load(spec["target"]["uri"])
    else:
        r = spec["target"]["router"]
        cls = _SlowLoad.make(Router, spec["slow_load"]) if "slow_load" in spec else Router
        # With slow_load, variants stay URIs: the server loads them in the background.
        # (and with "lazy": the server follows alias moves recorded in a durable split).
        make = (lambda uri: uri) if "slow_load" in spec or r.get("lazy") else load
        target = cls(
            {k: _wrap(k, make(v), r) for k, v in r["variants"].items()},
            r.get("weights"),
            shadow={k: load(v) for k, v in r.get("shadow", {}).items()},
            salt=r.get("salt", "mlopskit"),
            deployment=r.get("deployment"),
            sync_interval=float(r.get("sync_interval", 1.0)),
        )
    logger = None
    if spec.get("logger") is not None:
        logger = PredictionLogger(workspace.store, **spec["logger"])
    serve(
        target,
        port=0,
        logger=logger,
        on_start=lambda url: print("URL", url, flush=True),
        log_level="warning",
        workers=int(spec.get("workers", 1)),
    )


if __name__ == "__main__":
    _main(json.loads(sys.argv[1]))
