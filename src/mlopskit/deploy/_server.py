"""serve(): one ASGI app for a model, a predictor or a router (extra ``serve``).

One Starlette app on uvicorn answers three contracts at once:

- Open Inference Protocol V2 (KServe, MLServer, Triton clients):
  ``GET /v2/health/live``, ``GET /v2/health/ready``, ``GET /v2``,
  ``GET /v2/models/{m}[/versions/{v}][/ready]``,
  ``POST /v2/models/{m}[/versions/{v}]/infer``; errors are ``{"error": "..."}``;
- MLflow's scoring server, which is also SageMaker's container contract:
  ``POST /invocations`` (JSON in MLflow's four shapes, or CSV), ``GET /ping``,
  ``GET /health``, ``GET /version``; errors are ``{"error_code", "message"}``;
- Prometheus: ``GET /metrics`` (see :mod:`mlopskit.deploy._metrics`).

``{m}`` is the served model's name (the request is routed) or a variant's name (that
variant answers); ``/versions/{v}`` picks the variant serving version ``v``. A request
carrying the ``X-Mlopskit-Key`` header is routed sticky by it. Every prediction answer
says which variant answered in ``X-Mlopskit-Variant`` (and, for V2, in
``parameters.variant``).

Liveness is not readiness: the app answers ``/v2/health/live`` at once, and loads the
model in the background; ``/v2/health/ready``, ``/ping`` and ``/health`` answer 503 until
it is loaded. Bad input is a 4xx with a JSON body, never a 500. On SIGTERM uvicorn stops
accepting connections, finishes the requests in flight, and the app then drains the
shadow queue and closes (flushes) the prediction logger before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import itertools
import json
import operator
import os
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlopskit._log import get_logger
from mlopskit._optional import import_optional
from mlopskit.deploy._metrics import ServerMetrics
from mlopskit.deploy._router import Router, ShadowResult
from mlopskit.errors import InvalidInputError, MlopskitError, NotFoundError, SchemaError

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["ServerHandle", "build_app", "serve"]

log = get_logger("mlopskit.deploy.server")

KEY_HEADER = "x-mlopskit-key"
VARIANT_HEADER = "x-mlopskit-variant"
REQUEST_ID_HEADER = "x-request-id"
_JSON = "application/json"
# Errors a model raises when it is handed input it cannot use: the caller's fault (4xx),
# as MLflow's scoring server treats them, never a 500 (MLflow #4897).
_INPUT_ERRORS = (ValueError, TypeError, KeyError, IndexError)
# A request is predicted on the event loop only while predictions take at most this much
# CPU time (on average) and at most _INLINE_WALL_SECONDS of wall-clock time: a slower
# model, or one that waits (on I/O, a lock), goes to a thread, so health checks never
# wait behind it. CPU time, because the wall-clock time of the same prediction grows
# several times over on a machine loaded by other work, and that would send every
# request to threads exactly when their wait for the interpreter lock costs most.
_INLINE_SECONDS = 0.002
_INLINE_WALL_SECONDS = 0.02
# Requests ready in one loop iteration with bodies up to this size are answered with one
# call of a row-by-row model (_Handler.predict_many): a one-row call costs ~100 µs of
# scikit-learn's validation, a few rows the same. Larger ones go one by one as before: their
# rows cost more than the call, and a round answered at once would hold them all.
_COALESCE_BYTES = 64 * 1024


def _dumps(payload: Any) -> bytes:
    """Compact JSON: orjson when installed (the ``serve`` extra has it), else the stdlib."""
    if _ORJSON:
        fast = _ORJSON[0]
        if fast is not None:
            return bytes(fast.dumps(payload, default=_default, option=_ORJSON_OPTIONS[0]))
    else:
        try:
            import orjson
        except ImportError:
            _ORJSON.append(None)
        else:
            _ORJSON.append(orjson)
            _ORJSON_OPTIONS.append(orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
        return _dumps(payload)
    return json.dumps(payload, separators=(",", ":"), default=_default).encode("utf-8")


_ORJSON: list[Any] = []  # [orjson module or None] once looked up
_ORJSON_OPTIONS: list[int] = []


def _default(value: Any) -> Any:
    """JSON for numpy scalars and arrays a model may put in a payload."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_IDS = itertools.count()
_ID_PREFIX: list[Any] = [0, ""]  # [pid, random prefix]: a forked worker draws its own


def _new_request_id() -> str:
    """A request id unique across processes: 20 random hex digits drawn once per process,
    then a counter (a ``uuid4`` per request costs a system call)."""
    pid = os.getpid()
    if _ID_PREFIX[0] != pid:
        _ID_PREFIX[:] = [pid, uuid.uuid4().hex[:20]]
    return f"{_ID_PREFIX[1]}{next(_IDS):012x}"


def _version() -> str:
    """mlopskit's version (read from the loaded package: the facade sits above deploy)."""
    return str(getattr(sys.modules.get("mlopskit"), "__version__", "unknown"))


def _as_router(target: Any) -> Router:
    if isinstance(target, Router):
        return target
    if isinstance(target, str) or hasattr(target, "load_model") or hasattr(target, "predict"):
        return Router({"default": target})
    raise InvalidInputError(
        "serve() takes a ModelPackage, a Predictor, a Router or a registry URI, "
        f"found {type(target).__name__}",
        expected="ModelPackage | Predictor | Router | str",
        found=type(target).__name__,
    )


class _Turns:
    """Requests ready at once take their turns least recently answered connection first.

    One event loop predicts the small requests itself, one after another, in the order it
    resumed their tasks: the order the kernel reports ready sockets, which for a socket
    still in epoll's ready list is where it was last seen, not when its data came. With
    HTTP/1.1 keep-alive a connection sends its next request only once its last is answered,
    so the connection answered last in a round sends after the loop has polled again and
    waits behind the whole next round: with 8 clients one request in eight waited about
    twice the mean (docs/performance.md, "Turns").
    Requests whose bodies completed in the same loop iteration are therefore released in
    the order their connections were last answered (never answered first, then arrival).
    With one request at a time nothing waits for a turn: ordering starts when two requests
    complete in one iteration and stops when a round holds one. One event loop at a time
    (as any ASGI app): served by a new loop, the turns start afresh.
    """

    __slots__ = (
        "answered",
        "batch",
        "count",
        "loop",
        "marked",
        "ordering",
        "predict_many",
        "switched",
    )

    _MAX_CONNECTIONS = 4096  # connections remembered; more and the memory starts again

    def __init__(self) -> None:
        self.answered: dict[Any, int] = {}  # connection -> number of its last answer
        self.count = 0
        self.batch: list[tuple[int, asyncio.Future[Any], tuple[Any, ...] | None]] | None = None
        # answers the round's small requests together (_Handler.predict_many); set by build_app
        self.predict_many: Callable[[list[tuple[Any, ...]]], list[Any]] | None = None
        self.marked = False  # a request went at once in this loop iteration
        self.ordering = False
        self.switched = False  # the batch being made follows a request that went at once
        self.loop: asyncio.AbstractEventLoop | None = None

    def take(
        self, connection: Any, call: tuple[Any, ...] | None = None
    ) -> asyncio.Future[Any] | None:
        """None: this request goes now; otherwise await the future, then go. With
        ``call`` (the request's :meth:`_Handler.predict` arguments: a small request the
        loop predicts itself) the future's result is the request's answer, or None: go
        and predict it."""
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # an app served by another loop: nothing carries over
            self.loop, self.batch = loop, None
            self.marked = self.ordering = self.switched = False
        if not self.ordering:
            if not self.marked:
                self.marked = True
                loop.call_soon(self._unmark)
                return None
            self.ordering = self.switched = True  # two in one iteration: order from here on
        batch = self.batch
        if batch is None:
            batch = self.batch = []
            loop.call_soon(self._release, batch)  # its own batch, whatever comes after
        turn: asyncio.Future[Any] = loop.create_future()
        batch.append((self.answered.get(connection, -1), turn, call))
        return turn

    def done(self, connection: Any) -> None:
        """``connection``'s request was answered."""
        self.count += 1
        answered = self.answered
        if len(answered) >= self._MAX_CONNECTIONS and connection not in answered:
            answered.clear()
        answered[connection] = self.count

    def _unmark(self) -> None:
        self.marked = False

    def _release(
        self, batch: list[tuple[int, asyncio.Future[Any], tuple[Any, ...] | None]]
    ) -> None:
        if self.batch is batch:
            self.batch = None
        if len(batch) <= 1 and not self.switched:  # a round of one: nothing to order
            self.ordering = False
        self.switched = False
        batch.sort(key=operator.itemgetter(0))  # stable: ties keep their arrival order
        calls = [(turn, call) for _, turn, call in batch if call is not None and not turn.done()]
        answers: list[Any] = []
        if len(calls) > 1 and self.predict_many is not None:
            try:
                answers = self.predict_many([call for _, call in calls])
            except Exception as exc:  # pragma: no cover - predict_many answers every call
                log.error("round_not_answered", error=repr(exc))
                answers = []
        answered = dict(zip([id(turn) for turn, _ in calls], answers))
        for _, turn, _call in batch:
            if turn.done():  # cancelled: the client went away
                continue
            answer = answered.get(id(turn))
            if isinstance(answer, BaseException):
                turn.set_exception(answer)
            else:
                turn.set_result(answer)


@dataclass
class _State:
    """What the app knows about its model(s); shared by every request."""

    router: Router
    metrics: ServerMetrics
    logger: Any
    name: str | None
    echo: int
    max_body: int
    context: contextvars.Context
    inline_bytes: int = 0
    freeze_gc: bool = False
    cost: float | None = None  # CPU seconds a prediction takes (moving average); None: unknown
    wall: float = 0.0  # wall-clock seconds a prediction takes (moving average)
    ready: bool = False
    error: str | None = None
    loaded: threading.Event = field(default_factory=threading.Event)
    turns: _Turns = field(default_factory=_Turns)

    @property
    def model_name(self) -> str:
        if self.name is None:
            self.name = str(getattr(self.router.predictor(self.router.variants[0]), "name", ""))
        return self.name

    def load(self) -> None:
        """Load every variant (in the serve() caller's context); record the outcome."""
        try:
            self.context.run(self.router.load)
            self.model_name  # noqa: B018 - resolves the served name once loaded
            if self.logger is not None and hasattr(self.logger, "prepare"):
                self.logger.prepare()  # its first segment, under traffic, imports nothing
            if self.freeze_gc:
                # The loaded model, pandas and the app are long-lived: moving them out of
                # the collector's generations makes each full collection (a pause every
                # request in flight waits for) scan only what requests allocate.
                gc.collect()
                gc.freeze()
            self.ready = True
            self.metrics.ready.set(1)
            log.info("model_ready", model=self.name)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("model_load_failed", error=self.error)
        finally:
            self.loaded.set()


@dataclass
class _Answer:
    status: int
    body: bytes
    variant: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class _Handler:
    """The prediction path, run on a worker thread: route, decode, predict, encode, log."""

    def __init__(self, state: _State) -> None:
        self.state = state
        self._codec: Any = None

    @property
    def codec(self) -> Any:
        if self._codec is None:
            from mlopskit.deploy import _codec

            self._codec = _codec
        return self._codec

    def pick(self, model: str, version: str | None, key: str | None) -> tuple[str, Any]:
        """The variant that answers a request for ``model`` (and ``version``)."""
        router = self.state.router
        if model == self.state.model_name:
            if version is None:
                return router.route(key)
            for name in router.variants:
                p = router.predictor(name)
                if str(getattr(p, "version", None)) == version:
                    return name, p
            raise NotFoundError(
                f"model {model!r} has no version {version!r} being served",
                name=model,
                version=version,
            )
        if model in router.variants:
            p = router.predictor(model)
            if version is not None and str(getattr(p, "version", None)) != version:
                raise NotFoundError(
                    f"variant {model!r} serves version {getattr(p, 'version', None)!r}, "
                    f"not {version!r}",
                    name=model,
                    version=version,
                )
            return model, p
        raise NotFoundError(
            f"no model named {model!r} here; this server answers for "
            f"{[self.state.model_name, *router.variants]}",
            name=model,
        )

    def predict(
        self,
        protocol: str,
        body: bytes,
        content_type: str,
        model: str | None,
        version: str | None,
        key: str | None,
        request_id: str | None,
    ) -> _Answer:
        """Answer one request: route, decode, predict, encode, log."""
        t0, c0 = time.perf_counter(), time.thread_time()
        variant, predictor, decoded = self._decode(
            protocol, body, content_type, model, version, key
        )
        if isinstance(decoded, Exception):
            return self._error(protocol, decoded, variant)
        return self._run(protocol, variant, predictor, decoded, request_id, t0, c0)

    def _run(
        self,
        protocol: str,
        variant: str,
        predictor: Any,
        decoded: Any,
        request_id: str | None,
        t0: float,
        c0: float,
    ) -> _Answer:
        """The model's call for one decoded request, then :meth:`_finish`."""
        try:
            run = getattr(predictor, "predict_prepared", None) or predictor.predict
            outputs = run(decoded.frame)  # the codec conformed it to the signature already
        except Exception as exc:
            return self._finish(protocol, variant, predictor, decoded, request_id, t0, exc)
        cpu = time.thread_time() - c0
        return self._finish(
            protocol, variant, predictor, decoded, request_id, t0, None, outputs, cpu
        )

    def predict_many(self, calls: list[tuple[Any, ...]]) -> list[_Answer | BaseException | None]:
        """Answer requests that are ready together (each ``calls`` item is
        :meth:`predict`'s arguments), in order: one call of the model for the requests
        a variant answers, when its model predicts row by row
        (``Predictor.predict_prepared_many``); otherwise, and when that call fails, each
        request alone, so an error stays its own request's. An item is the exception
        :meth:`predict` would have raised for that request, or None (some variant's model
        is not :attr:`~mlopskit.deploy.Predictor.batchable`): the request predicts
        itself, as before."""
        router = self.state.router
        if not all(getattr(router.predictor(v), "batchable", False) for v in router.variants):
            return [None] * len(calls)
        t0, c0 = time.perf_counter(), time.thread_time()
        answers: list[_Answer | BaseException | None] = [None] * len(calls)
        decoded: list[tuple[str, Any, Any]] = []
        groups: dict[tuple[str, int], list[int]] = {}
        for i, args in enumerate(calls):
            item = self._decode(*args[:6])
            decoded.append(item)
            if isinstance(item[2], Exception):
                answers[i] = self._error(args[0], item[2], item[0])
            else:
                groups.setdefault((item[0], id(item[1])), []).append(i)
        for members in groups.values():
            predictor = decoded[members[0]][1]
            many = getattr(predictor, "predict_prepared_many", None)
            outs = None
            if many is not None and len(members) > 1:
                try:
                    outs = many([decoded[i][2].frame for i in members])
                except Exception:  # each alone below: the error is its request's own
                    outs = None
            if outs is None:
                for i in members:
                    variant, _, frame = decoded[i]
                    t1, c1 = time.perf_counter(), time.thread_time()
                    try:
                        answers[i] = self._run(
                            calls[i][0], variant, predictor, frame, calls[i][6], t1, c1
                        )
                    except Exception as exc:
                        answers[i] = exc
                continue
            cpu = (time.thread_time() - c0) / len(calls)  # each request's share
            kept: list[int] = []  # positions in the group of the answers logged together
            rids: list[str] = []
            for k, (i, outputs) in enumerate(zip(members, outs.outputs)):
                variant, _, frame = decoded[i]
                try:
                    answer = self._finish(
                        calls[i][0],
                        variant,
                        predictor,
                        frame,
                        calls[i][6],
                        t0,
                        None,
                        outputs,
                        cpu,
                        log=False,  # a success is logged below with the others
                    )
                except Exception as exc:
                    answers[i] = exc
                    continue
                answers[i] = answer
                if answer.status == 200:  # (a failed encoding was logged as alone)
                    kept.append(k)
                    rids.append(answer.headers[REQUEST_ID_HEADER])
            if kept:
                self._log_arrays(
                    predictor,
                    decoded[members[0]][0],
                    outs.columns,
                    [outs.inputs[k] for k in kept],
                    [outs.outputs[k] for k in kept],
                    rids,
                    time.perf_counter() - t0,
                )
        return answers

    def _decode(
        self,
        protocol: str,
        body: bytes,
        content_type: str,
        model: str | None,
        version: str | None,
        key: str | None,
    ) -> tuple[str, Any, Any]:
        """``(variant, predictor, decoded)`` of one request; ``decoded`` is the exception
        when routing or decoding failed."""
        variant = ""
        predictor: Any = None
        try:
            if protocol == "v2":
                variant, predictor = self.pick(model or "", version, key)
                decoded = self.codec.decode_v2(
                    body, signature=getattr(predictor, "signature", None), echo=self.state.echo
                )
            else:
                variant, predictor = self.state.router.route(key)
                decoded = self.codec.decode_mlflow(
                    body,
                    content_type,
                    signature=getattr(predictor, "signature", None),
                    echo=self.state.echo,
                )
        except Exception as exc:
            return variant, predictor, exc
        return variant, predictor, decoded

    def _finish(
        self,
        protocol: str,
        variant: str,
        predictor: Any,
        decoded: Any,
        request_id: str | None,
        t0: float,
        failed: Exception | None,
        outputs: Any = None,
        cpu: float = 0.0,
        *,
        log: bool = True,
    ) -> _Answer:
        """The answer to a decoded request whose model call gave ``outputs`` (or raised
        ``failed``): encoded, logged, mirrored to the shadows."""
        frame = decoded.frame
        rid = decoded.id or request_id or _new_request_id()
        seconds = time.perf_counter() - t0
        try:
            if failed is not None:
                raise failed
            state = self.state
            cost = state.cost
            state.cost = cpu if cost is None else cost + 0.2 * (cpu - cost)
            state.wall = seconds if cost is None else state.wall + 0.2 * (seconds - state.wall)
            if protocol == "v2":
                payload = self.codec.encode_v2(
                    outputs,
                    model_name=getattr(predictor, "name", None) or self.state.model_name,
                    model_version=getattr(predictor, "version", None),
                    id=decoded.id,
                )
                if decoded.outputs:
                    wanted = set(decoded.outputs)
                    payload["outputs"] = [o for o in payload["outputs"] if o["name"] in wanted]
                payload.setdefault("parameters", {})
                payload["parameters"] = {**(payload["parameters"] or {}), "variant": variant}
            else:
                payload = self.codec.encode_mlflow(outputs)
            answer = _Answer(200, _dumps(payload), variant, {REQUEST_ID_HEADER: rid})
        except Exception as exc:
            answer = self._error(protocol, exc, variant)
            outputs = None
        if log or answer.status != 200:
            self._log(frame, outputs, predictor, variant, seconds, rid, answer)
        if answer.status == 200:
            self.state.router.mirror(frame, request_id=rid)
        return answer

    def _log(
        self,
        frame: Any,
        outputs: Any,
        predictor: Any,
        variant: str,
        seconds: float,
        rid: str,
        answer: _Answer,
    ) -> None:
        logger = self.state.logger
        if logger is None:
            return
        error = None if answer.status == 200 else answer.body.decode("utf-8", "replace")
        try:
            # The record's fields, not a PredictionRecord: this runs for every request.
            logger.log_request(
                frame,
                outputs,
                model=str(getattr(predictor, "digest", "")),
                variant=variant,
                latency_ms=seconds * 1e3,
                request_id=rid,
                error=error,
            )
        except Exception as exc:  # logging never fails a prediction that succeeded
            log.warning("prediction_log_failed", error=repr(exc))

    def _log_arrays(
        self,
        predictor: Any,
        variant: str,
        columns: tuple[str, ...],
        inputs: list[Any],
        outputs: list[Any],
        request_ids: list[str],
        seconds: float,
    ) -> None:
        """Log requests answered by one model call, from the arrays it was given."""
        logger = self.state.logger
        if logger is None:
            return
        try:
            logger.log_arrays(
                columns,
                inputs,
                outputs,
                request_ids=request_ids,
                model=str(getattr(predictor, "digest", "")),
                variant=variant,
                latency_ms=seconds * 1e3,
            )
        except Exception as exc:  # logging never fails a prediction that succeeded
            log.warning("prediction_log_failed", error=repr(exc))

    def log_shadow(self, result: ShadowResult) -> None:
        """Log a shadow variant's answer (the router calls it on its shadow thread)."""
        from mlopskit.deploy._logger import PredictionRecord

        self.state.logger.log(
            PredictionRecord(
                inputs=result.inputs,
                outputs=result.outputs,
                model=str(getattr(result.predictor, "digest", "")),
                variant=result.variant,
                latency_ms=result.seconds * 1e3,
                request_id=result.request_id,
                error=result.error,
            )
        )

    @staticmethod
    def _error(protocol: str, exc: BaseException, variant: str) -> _Answer:
        if isinstance(exc, NotFoundError):
            status, code = 404, "RESOURCE_DOES_NOT_EXIST"
        elif isinstance(exc, SchemaError):
            status, code = 400, "INVALID_PARAMETER_VALUE"
        elif isinstance(exc, InvalidInputError):
            status, code = 400, "BAD_REQUEST"
        elif isinstance(exc, MlopskitError):
            status, code = 500, "INTERNAL_ERROR"
        elif isinstance(exc, _INPUT_ERRORS):
            status, code = 400, "BAD_REQUEST"
            exc = InvalidInputError(
                f"the model rejected the input: {type(exc).__name__}: {exc}",
            )
        else:
            status, code = 500, "INTERNAL_ERROR"
            log.error("prediction_failed", error=repr(exc), variant=variant)
        message = str(exc) if status < 500 else f"internal error: {type(exc).__name__}: {exc}"
        return _Answer(status, _error_body(protocol, message, code, exc), variant)


def _error_body(protocol: str, message: str, code: str, exc: BaseException | None = None) -> bytes:
    if protocol == "v2":
        return _dumps({"error": message})
    body: dict[str, Any] = {"error_code": code, "message": message}
    if isinstance(exc, SchemaError):
        body["error_class"] = "SCHEMA_ENFORCEMENT_FAILED"
    return _dumps(body)


_DISCONNECTED = object()  # what _receive_body returns when the client went away


async def _receive_body(receive: Callable[[], Any], declared: int | None, limit: int) -> Any:
    """The request body in one loop over ASGI ``http.request`` messages: bytes, None as
    soon as it exceeds ``limit`` bytes (declared or sent), or ``_DISCONNECTED``."""
    if declared is not None and declared > limit:
        return None
    first: bytes | None = None
    chunks: list[bytes] | None = None
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            return _DISCONNECTED
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                return None
            if first is None:
                first = chunk
            else:
                if chunks is None:
                    chunks = [first]
                chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if chunks is not None:
        return b"".join(chunks)
    return b"" if first is None else bytes(first)


# Header values a response may echo (a request id the client chose): uvicorn refuses
# control characters, and HTTP headers are latin-1.
_UNSAFE_HEADER = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def _header_value(value: str) -> bytes:
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        raw = value.encode("ascii", "backslashreplace")
    return _UNSAFE_HEADER.sub(b"?", raw) if _UNSAFE_HEADER.search(raw) else raw


_JSON_HEADER = (b"content-type", b"application/json")


class _Predictions:
    """The prediction endpoint of one protocol (``v2`` or ``mlflow``) as a plain ASGI app.

    It reads the request's headers and body straight from the ASGI messages and answers
    with two messages and one precomputed header list: Starlette's request and response
    objects cost more than the rest of a 1-row prediction. The app built by
    :func:`build_app` calls it before Starlette's routing for the exact prediction paths;
    Starlette's routes (a prefixed mount, say) call the same object.
    """

    def __init__(
        self,
        protocol: str,
        state: _State,
        handler: _Handler,
        backlogged: Callable[[], bool] | None,
        to_thread: Callable[..., Any],
    ) -> None:
        self.protocol = protocol
        self.state = state
        self.handler = handler
        self.backlogged = backlogged
        self.to_thread = to_thread
        self._variant_headers: dict[str, tuple[bytes, bytes]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        params = scope.get("path_params") or {}
        await self.answer(scope, receive, send, params.get("model"), params.get("version"))

    async def answer(
        self, scope: Any, receive: Any, send: Any, model: str | None, version: str | None
    ) -> None:
        """Answer one prediction request for ``model`` (and ``version``; V2 only)."""
        t0 = time.perf_counter()
        state = self.state
        protocol = self.protocol
        metrics = state.metrics
        metrics.in_flight.inc()
        answer: _Answer | None = None
        taken = False
        connection: Any = None
        try:
            if not state.ready:
                why = state.error or "the model is still loading"
                answer = _Answer(
                    503, _error_body(protocol, f"not ready: {why}", "TEMPORARILY_UNAVAILABLE")
                )
            else:
                content_type = key = rid = None
                declared: int | None = None
                for name, value in scope["headers"]:  # the first of each, as Starlette's
                    if name == b"content-type":
                        if content_type is None:
                            content_type = value.decode("latin-1")
                    elif name == b"content-length":
                        if declared is None and value.isdigit():
                            declared = int(value)
                    elif name == b"x-mlopskit-key":
                        if key is None:
                            key = value.decode("latin-1")
                    elif name == b"x-request-id" and rid is None:
                        rid = value.decode("latin-1")
                body = await _receive_body(receive, declared, state.max_body)
                if body is _DISCONNECTED:
                    return  # nobody to answer; counted with status 500, as Starlette's path did
                if body is None:
                    answer = _Answer(
                        413,
                        _error_body(
                            protocol,
                            f"the request body is larger than the limit of {state.max_body} bytes",
                            "BAD_REQUEST",
                        ),
                    )
                else:
                    client = scope.get("client")  # ASGI allows a list: not hashable
                    connection = tuple(client) if client else None
                    args = (protocol, body, content_type or _JSON, model, version, key, rid)
                    cost = state.cost
                    backlogged = self.backlogged
                    # A small, fast request costs less than the hand-off to a thread, and
                    # the event loop and a worker thread would contend for the GIL for it.
                    # (Not while the logger's writer is behind: logging would wait for it.)
                    inline = (
                        len(body) <= state.inline_bytes
                        and cost is not None
                        and cost <= _INLINE_SECONDS
                        and state.wall <= _INLINE_WALL_SECONDS
                        and not (backlogged is not None and backlogged())
                    )
                    turn = state.turns.take(
                        connection, args if inline and len(body) <= _COALESCE_BYTES else None
                    )
                    taken = True
                    if turn is not None:
                        # the round's small requests may be answered together meanwhile
                        answer = await turn
                    if answer is None:
                        if inline:
                            answer = self.handler.predict(*args)
                        else:
                            answer = await self.to_thread(self.handler.predict, *args)
            headers = [_JSON_HEADER, (b"content-length", str(len(answer.body)).encode())]
            for name, text in answer.headers.items():
                headers.append((name.encode("latin-1"), _header_value(text)))
            if answer.variant:
                pair = self._variant_headers.get(answer.variant)
                if pair is None:
                    pair = (VARIANT_HEADER.encode(), _header_value(answer.variant))
                    self._variant_headers[answer.variant] = pair
                headers.append(pair)
            await send({"type": "http.response.start", "status": answer.status, "headers": headers})
            await send({"type": "http.response.body", "body": answer.body})
        finally:
            if taken:
                state.turns.done(connection)
            metrics.in_flight.dec()
            status = answer.status if answer is not None else 500
            variant = answer.variant if answer is not None else ""
            metrics.observe(state.name or "", variant, status, time.perf_counter() - t0)


def _prediction_path(path: str) -> tuple[str, str | None, str | None] | None:
    """``(protocol, model, version)`` of a prediction path, None for any other path
    (the same paths, and path parameters, as the app's Starlette routes)."""
    if path == "/invocations":
        return "mlflow", None, None
    if path.startswith("/v2/models/") and path.endswith("/infer"):
        parts = path[11:-6].split("/")
        if len(parts) == 1 and parts[0]:
            return "v2", parts[0], None
        if len(parts) == 3 and parts[1] == "versions" and parts[0] and parts[2]:
            return "v2", parts[0], parts[2]
    return None


def build_app(
    target: Any,
    *,
    logger: Any = None,
    name: str | None = None,
    echo: int = 0,
    max_body_bytes: int = 64 * 1024 * 1024,
    multiprocess: bool = False,
    inline_bytes: int = 1024 * 1024,
    freeze_gc: bool = False,
) -> Starlette:
    """The ASGI app :func:`serve` runs (mount it in another ASGI server if you like).

    Args:
        target: a ModelPackage, a Predictor, a Router or a registry URI.
        logger: a PredictionLogger every answered prediction is logged to.
        name: the model name served under ``/v2/models/{name}`` (default: the model's).
        echo: how many characters of a caller's input an error message may quote.
        max_body_bytes: larger request bodies are refused with 413.
        multiprocess: the app runs in one of several worker processes (metrics are
            kept in prometheus_client's multiprocess files).
        inline_bytes: requests whose body is at most this many bytes are predicted on
            the event loop itself while predictions take at most 2 ms on average; larger
            or slower ones on a worker thread, so a long prediction never holds up health
            checks (0: every request on a thread).
        freeze_gc: once the model is loaded, ``gc.freeze()`` what the process holds
            (what the blocking :func:`serve` does: the process is the server's).
    """
    import_optional("starlette", "serve", purpose="serve()")
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.responses import Response
    from starlette.routing import Route

    router = _as_router(target)
    metrics = ServerMetrics(multiprocess=multiprocess)
    state = _State(
        router=router,
        metrics=metrics,
        logger=logger,
        name=name,
        echo=echo,
        max_body=max_body_bytes,
        context=contextvars.copy_context(),
        inline_bytes=inline_bytes,
        freeze_gc=freeze_gc,
    )
    handler = _Handler(state)
    state.turns.predict_many = handler.predict_many
    backlogged = getattr(logger, "backlogged", None)
    if logger is not None and router.shadows and router.on_shadow is None:
        router.on_shadow = handler.log_shadow

    def json_response(payload: Any, status: int = 200) -> Response:
        return Response(_dumps(payload), status_code=status, media_type=_JSON)

    def not_ready(protocol: str) -> Response:
        why = state.error or "the model is still loading"
        code = 503
        return Response(
            _error_body(protocol, f"not ready: {why}", "TEMPORARILY_UNAVAILABLE"),
            status_code=code,
            media_type=_JSON,
        )

    # -- health -------------------------------------------------------------------------

    async def live(request: Request) -> Response:
        return json_response({"live": True})

    async def ready(request: Request) -> Response:
        if state.ready:
            return json_response({"ready": True})
        return json_response({"ready": False, "error": state.error}, 503)

    async def ping(request: Request) -> Response:
        if state.ready:
            return Response(b"\n", media_type="text/plain")
        return not_ready("mlflow")

    async def version(request: Request) -> Response:
        return Response(_version(), media_type="text/plain")

    async def server_metadata(request: Request) -> Response:
        return json_response({"name": "mlopskit", "version": _version(), "extensions": []})

    # -- models -------------------------------------------------------------------------

    def params(request: Request) -> tuple[str, str | None]:
        return request.path_params["model"], request.path_params.get("version")

    async def model_metadata(request: Request) -> Response:
        if not state.ready:
            return not_ready("v2")
        model, ver = params(request)
        try:
            _, predictor = handler.pick(model, ver, None)
        except NotFoundError as exc:
            return json_response({"error": str(exc)}, 404)
        meta = dict(predictor.metadata())
        if model != meta.get("name"):
            meta["name"] = model
        return json_response(meta)

    async def model_ready(request: Request) -> Response:
        model, ver = params(request)
        if not state.ready:
            return json_response({"name": model, "ready": False}, 503)
        try:
            handler.pick(model, ver, None)
        except NotFoundError as exc:
            return json_response({"error": str(exc)}, 404)
        return json_response({"name": model, "ready": True})

    # -- predictions --------------------------------------------------------------------

    infer = _Predictions("v2", state, handler, backlogged, run_in_threadpool)
    invocations = _Predictions("mlflow", state, handler, backlogged, run_in_threadpool)
    fast = {"v2": infer, "mlflow": invocations}

    async def scrape(request: Request) -> Response:
        body, content_type = metrics.render(request.headers.get("accept"))
        return Response(body, headers={"Content-Type": content_type})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        protocol = "mlflow" if request.url.path in ("/invocations", "/ping") else "v2"
        message = f"{exc.detail}: {request.method} {request.url.path}"
        return Response(
            _error_body(protocol, message, "ENDPOINT_NOT_FOUND"),
            status_code=exc.status_code,
            media_type=_JSON,
            headers=getattr(exc, "headers", None),
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if router.ready:
            state.load()
        else:
            threading.Thread(target=state.load, name="mlopskit-load", daemon=True).start()
        try:
            yield
        finally:
            # In-flight requests are done (uvicorn drained them): finish the mirrored
            # ones, then write every buffered prediction record (closing the logger).
            await run_in_threadpool(router.close)
            if logger is not None:
                await run_in_threadpool(logger.close)

    m = "/v2/models/{model}"
    mv = "/v2/models/{model}/versions/{version}"
    routes = [
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
        Route("/v2", server_metadata, methods=["GET"]),
        Route(m, model_metadata, methods=["GET"]),
        Route(mv, model_metadata, methods=["GET"]),
        Route(f"{m}/ready", model_ready, methods=["GET"]),
        Route(f"{mv}/ready", model_ready, methods=["GET"]),
        Route(f"{m}/infer", infer, methods=["POST"]),
        Route(f"{mv}/infer", infer, methods=["POST"]),
        Route("/invocations", invocations, methods=["POST"]),
        Route("/ping", ping, methods=["GET"]),
        Route("/health", ping, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/metrics", scrape, methods=["GET"]),
    ]

    class ServingApp(Starlette):
        """Starlette, with the two prediction paths answered before its routing."""

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
                hit = _prediction_path(scope["path"])
                if hit is not None:
                    scope["app"] = self
                    await fast[hit[0]].answer(scope, receive, send, hit[1], hit[2])
                    return
            await super().__call__(scope, receive, send)

    app = ServingApp(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error},
    )
    app.state.mlopskit = state
    return app


class ServerHandle:
    """A server running on a background thread: ``.url``, ``.stop()``, a context manager."""

    def __init__(self, server: Any, thread: threading.Thread, url: str, app: Any) -> None:
        self._server = server
        self._thread = thread
        self.url = url
        self.app = app

    @property
    def running(self) -> bool:
        """Whether the server thread is still serving."""
        return self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, finish in-flight requests, close the logger; wait ``timeout`` s."""
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():  # in-flight requests outlived the grace period
            self._server.force_exit = True
            self._thread.join(5)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"ServerHandle({self.url!r}, running={self.running})"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it, a response's header and body
    # writes meet the client's delayed ACK (Nagle) and every request waits ~40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InvalidInputError(
            f"cannot listen on {host}:{port}: {exc.strerror}; pick another port (0: any free one)",
            found=f"{host}:{port}",
        ) from exc
    sock.listen(2048)
    return sock


def _check_workers(workers: int, background: bool) -> None:
    if background or not hasattr(os, "fork"):
        raise InvalidInputError(
            "workers > 1 needs the blocking serve() on a POSIX system (it forks)",
            expected="workers=1 with background=True",
            found=workers,
        )
    if "prometheus_client" in sys.modules and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        raise InvalidInputError(
            "serve(workers > 1) sums /metrics over the workers with prometheus_client's "
            "multiprocess mode, which must be chosen before prometheus_client is imported: "
            "set PROMETHEUS_MULTIPROC_DIR to an empty directory at start-up, or import "
            "prometheus_client after serve() starts",
            found="prometheus_client already imported",
        )


# A worker holding more connections than another leaves a new connection to it for at
# most this long (in steps of _DEFER_STEP): a busy or stuck worker never blocks accepts.
_DEFER_MAX = 0.1
_DEFER_STEP = 0.0005


class _HeadWithBody:
    """A connection's transport that sends a response's head and body in one write.

    uvicorn writes the status line and headers at ``http.response.start`` and the body
    at ``http.response.body``: two ``send`` calls, two TCP segments, and the client may
    wake for each. Here a write is held until the end of the event loop's current step:
    the body written in the same step goes out with it in one ``writelines`` (one
    ``writev``), a write alone goes out when the step ends (``call_soon``), before the
    loop waits for I/O again. Everything else is the transport's own.
    """

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self._held = data
            self._loop.call_soon(self._flush)
        else:
            self._held = None
            self._transport.writelines((held, data))

    def writelines(self, items: Any) -> None:
        self.write(b"".join(items))

    def _flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def is_closing(self) -> bool:
        return bool(self._transport.is_closing())

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _http_protocol() -> Any:
    """uvicorn's own HTTP protocol (``http="auto"``: httptools when installed, else h11),
    each connection's transport wrapped in :class:`_HeadWithBody`; ``"auto"`` itself
    should a uvicorn release move the class."""
    try:
        from uvicorn.protocols.http.auto import AutoHTTPProtocol
    except ImportError:  # pragma: no cover - a uvicorn without the module
        return "auto"

    class OneWriteHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
        def connection_made(self, transport: Any) -> None:
            super().connection_made(_HeadWithBody(transport, asyncio.get_running_loop()))

    return OneWriteHTTPProtocol


def _balanced_server(
    uvicorn: Any,
    config: Any,
    sock: socket.socket,
    counts: Any,
    index: int,
    loaded: threading.Event | None = None,
) -> Any:
    """A uvicorn server for worker ``index`` that accepts on the shared ``sock`` itself,
    leaving a new connection to a worker that holds fewer (``counts``: open connections
    per worker, in memory shared by the workers).

    Without it the kernel wakes every worker for each new connection and the first to
    run takes it, often several at once: 8 keep-alive clients were split 6/2 or 5/3
    between two workers in most trials, and the slowest requests queued behind three
    times as many on the busier one. A worker accepts nothing before its app has
    loaded the model (``loaded``), so no client of a ready server is answered 503.
    """
    import asyncio

    class BalancedServer(uvicorn.Server):  # type: ignore[misc]
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=[])  # the app's lifespan; no listener of uvicorn's
            while loaded is not None and not loaded.is_set() and not self.should_exit:
                await asyncio.sleep(0.005)  # connections wait in the queue, or go to another
            loop = asyncio.get_running_loop()
            base = self.config.http_protocol_class

            class Counted(base):  # type: ignore[misc,valid-type]
                def connection_lost(self, exc: Exception | None) -> None:
                    counts[index] -= 1
                    super().connection_lost(exc)

            def create_protocol() -> Any:
                return Counted(
                    config=self.config,
                    server_state=self.server_state,
                    app_state=self.lifespan.state,
                    _loop=loop,
                )

            fd = sock.fileno()
            deferred_since: list[float] = []
            timer: list[Any] = []

            def resume() -> None:
                timer.clear()
                loop.add_reader(fd, on_readable)

            def pause(seconds: float) -> None:
                loop.remove_reader(fd)
                timer.append(loop.call_later(seconds, resume))

            def on_readable() -> None:
                if counts[index] > min(counts):  # another worker holds fewer connections
                    now = time.monotonic()
                    if not deferred_since:
                        deferred_since.append(now)
                    if now - deferred_since[0] < _DEFER_MAX:
                        pause(_DEFER_STEP)
                        return
                try:
                    conn, _ = sock.accept()
                except (BlockingIOError, InterruptedError):
                    return  # another worker took it
                except OSError as exc:  # out of file descriptors: wait, as asyncio does
                    log.warning("accept_failed", error=repr(exc))
                    pause(1.0)
                    return
                deferred_since.clear()
                counts[index] += 1
                conn.setblocking(False)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

                def opened(task: asyncio.Task[Any]) -> None:
                    if task.cancelled() or task.exception() is not None:
                        counts[index] -= 1
                        conn.close()

                task = loop.create_task(loop.connect_accepted_socket(create_protocol, conn))
                task.add_done_callback(opened)

            self._stop_accepting = lambda: (
                loop.remove_reader(fd),
                [t.cancel() for t in timer],
            )
            sock.setblocking(False)
            loop.add_reader(fd, on_readable)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            stop = getattr(self, "_stop_accepting", None)
            if stop is not None:
                stop()
            await super().shutdown(sockets=None)

    return BalancedServer(config)


def _serve_workers(
    uvicorn: Any,
    config: Any,
    sock: socket.socket,
    workers: int,
    make_app: Callable[[], Any],
    target: Any,
) -> None:
    """Fork ``workers`` processes serving ``sock``; forward SIGTERM/SIGINT; wait for them."""
    import multiprocessing
    import shutil
    import signal
    import tempfile

    own_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        own_dir = tempfile.mkdtemp(prefix="mlopskit-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_dir
    router = _as_router(target)
    contextvars.copy_context().run(router.load)  # once: the workers share it after fork
    gc.collect()
    gc.freeze()  # no collection touches the shared pages again: they stay shared
    # Open connections per worker, in memory the forked workers share (each writes its own).
    counts = multiprocessing.RawArray("l", workers)
    children: list[int] = []
    for index in range(workers):
        pid = os.fork()
        if pid == 0:  # a worker: its own app and metrics, the shared socket
            code = 1
            try:
                app = make_app()
                config.app = app
                config.loaded = False
                loaded = app.state.mlopskit.loaded
                _balanced_server(uvicorn, config, sock, counts, index, loaded).run()
                code = 0
            finally:
                os._exit(code)
        children.append(pid)

    def forward(signum: int, frame: Any) -> None:
        for child in children:
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    saved = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        from prometheus_client import multiprocess

        for child in children:
            try:
                os.waitpid(child, 0)
            except ChildProcessError:
                pass
            multiprocess.mark_process_dead(child)  # type: ignore[no-untyped-call]
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        sock.close()
        if own_dir is not None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
            shutil.rmtree(own_dir, ignore_errors=True)


def serve(
    target: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    background: bool = False,
    logger: Any = None,
    name: str | None = None,
    echo: int = 0,
    on_start: Callable[[str], None] | None = None,
    log_level: str | None = None,
    graceful_timeout: float = 30.0,
    ready_timeout: float = 120.0,
    max_body_bytes: int = 64 * 1024 * 1024,
    workers: int = 1,
    inline_bytes: int = 1024 * 1024,
) -> ServerHandle | None:
    """Serve a model over HTTP: OIP V2, MLflow/SageMaker ``/invocations``, ``/metrics``.

    Args:
        target: a ModelPackage, a Predictor, a Router, or a registry URI
            (``"churn@champion"``, read from the current workspace).
        host: the interface to bind; loopback unless you name another.
        port: the port; 0 picks a free one (see ``on_start`` / ``handle.url``).
        background: serve on a thread and return a :class:`ServerHandle` once the
            model is loaded; otherwise block like ``uvicorn.run`` until SIGTERM/SIGINT.
        logger: a :class:`~mlopskit.deploy.PredictionLogger` for every answered
            prediction (closed, so flushed, on shutdown).
        name: the model name under ``/v2/models/`` (default: the model's name).
        echo: how many characters of a caller's input an error message may quote.
        on_start: called with the server's URL once it accepts connections.
        log_level: uvicorn's log level (default ``info`` blocking, ``warning`` in background).
        graceful_timeout: seconds in-flight requests get to finish on shutdown.
        ready_timeout: with ``background=True``, how long to wait for the model to load.
        max_body_bytes: larger request bodies are answered 413.
        workers: serve from this many processes sharing the socket (POSIX, blocking
            only): the model is loaded once before they fork, each logs its own
            prediction segments, and ``/metrics`` sums them all. One process uses
            about one core (Python's GIL); give it as many workers as cores you can
            spare for serving (docs/deploy.md, "How many workers").
        inline_bytes: requests with a body of at most this many bytes (1 MiB: about
            2,500 rows of 20 numbers) are predicted on the event loop (no thread
            hand-off, no wait for the interpreter lock behind other threads) while the
            model's predictions take at most 2 ms of CPU (and 20 ms of wall-clock time)
            on average; larger or slower ones on a worker thread (the first request
            always), so health checks never wait behind a slow model. 0 sends every
            request to a thread.

    Raises:
        MissingExtraError: ``pymlopskit[serve]`` is not installed.
        InvalidInputError: the address cannot be bound, or (background) the model failed
            to load.
    """
    uvicorn = import_optional("uvicorn", "serve", purpose="serve()")
    if workers > 1:
        _check_workers(workers, background)
    app = (
        build_app(
            target,
            logger=logger,
            name=name,
            echo=echo,
            max_body_bytes=max_body_bytes,
            inline_bytes=inline_bytes,
            freeze_gc=not background,
        )
        if workers == 1
        else None
    )
    sock = _bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    url = f"http://{shown}:{bound_port}"
    config = uvicorn.Config(
        app,
        http=_http_protocol(),
        log_level=log_level or ("warning" if background else "info"),
        log_config=None if background else uvicorn.config.LOGGING_CONFIG,
        lifespan="on",
        timeout_graceful_shutdown=graceful_timeout,
        access_log=False,
    )
    log.info("serving", url=url, workers=workers)
    if workers > 1:
        if on_start is not None:
            on_start(url)  # the socket listens already: connections queue until served
        _serve_workers(
            uvicorn,
            config,
            sock,
            workers,
            lambda: build_app(
                target,
                logger=logger,
                name=name,
                echo=echo,
                max_body_bytes=max_body_bytes,
                multiprocess=True,
                inline_bytes=inline_bytes,
                freeze_gc=True,
            ),
            target,
        )
        return None
    assert app is not None
    server = uvicorn.Server(config)
    if not background:
        if on_start is not None:
            on_start(url)  # the socket listens already: connections queue until served
        server.run(sockets=[sock])
        return None
    ctx = contextvars.copy_context()
    thread = threading.Thread(
        target=ctx.run,
        args=(server.run,),
        kwargs={"sockets": [sock]},
        daemon=True,
        name=f"mlopskit-serve-{bound_port}",
    )
    thread.start()
    handle = ServerHandle(server, thread, url, app)
    state: _State = app.state.mlopskit
    deadline = time.monotonic() + ready_timeout
    while not (server.started and state.loaded.is_set()):
        if not thread.is_alive() or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    if not state.ready:
        handle.stop(5)
        raise InvalidInputError(
            f"the server at {url} did not become ready: "
            f"{state.error or 'timed out after ' + str(ready_timeout) + ' s'}",
            found=state.error,
        )
    if on_start is not None:
        on_start(url)
    return handle
