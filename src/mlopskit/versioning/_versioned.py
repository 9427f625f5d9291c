"""``@versioned``: content-addressed memoization with lineage.

A call's key is the function's qualified name, its code hash (:mod:`._code`), the
``version=`` string and the content digest of every bound argument (:mod:`._hash`).
The output is stored with a codec, described by a call record that links it (so
``gc`` keeps it), and published by creating the ref
``versioned/<function>/<algorithm>-<key>`` — a create-only write, so of two processes
computing the same key at once exactly one entry wins and the other simply returns
its own result. A crash before the ref is created leaves no entry at all.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import os
import threading
import time
import types
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from pydantic import BaseModel, ConfigDict

from mlopskit import _config, _context
from mlopskit._edges import Endpoint, LineageEdge, record_edge, record_use, ref_segment
from mlopskit._log import get_logger
from mlopskit._provenance import node_of, recall, remember
from mlopskit._records import read_record_as
from mlopskit.errors import ConfigError, InvalidNameError, NotFoundError, RefConflictError
from mlopskit.store import ArtifactRef, ArtifactStore, current_store, store_for
from mlopskit.versioning._code import Fingerprint, fingerprint
from mlopskit.versioning._hash import ALGORITHMS, digest_value, new_value_hasher

if TYPE_CHECKING:
    from mlopskit.store import RefRecord

__all__ = ["NotVersionedFunction", "VersionedCall", "VersionedFunction", "find_call", "versioned"]

P = ParamSpec("P")
R = TypeVar("R")
log = get_logger("mlopskit.versioning")

StoreLike = ArtifactStore | str | os.PathLike[str] | None
_MISS: Any = object()
_KEY_FORMAT = "mlopskit.versioned/1"


class VersionedCall(BaseModel):
    """The stored record of one ``@versioned`` call.

    Attributes:
        function: the function's qualified name (``module.qualname``).
        key: the cache key (hex) under ``algorithm``.
        code_hash: the function's code hash when the output was computed.
        version: the ``version=`` given to the decorator, if any.
        inputs: argument name → content digest (or the stored object it came from).
        output: the stored output.
        run_id: the run active during the call, if any.
        duration_s: how long the function ran.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    function: str
    key: str
    algorithm: str = "sha256"
    code_hash: str
    version: str | None = None
    inputs: dict[str, str]
    output: ArtifactRef
    returns_ref: bool = False
    run_id: str | None = None
    created_at: datetime
    duration_s: float = 0.0

    @property
    def uri(self) -> str:
        """``versioned:<module.qualname>/<key>``: what ``mk.lineage`` accepts."""
        return f"versioned:{self.function}/{self.key}"


def _enabled() -> bool:
    return _config.flag("versioned", default=True) is not False


def _resolve(store: StoreLike) -> ArtifactStore:
    if store is None:
        return current_store()
    if isinstance(store, ArtifactStore):
        return store
    return store_for(store)


_calls: OrderedDict[str, VersionedCall] = OrderedDict()
_calls_lock = threading.Lock()


def _read_call(store: ArtifactStore, ref: ArtifactRef, refname: str) -> VersionedCall:
    """A call record, memoised by digest (records are immutable); IntegrityError naming
    ``refname`` if it is damaged."""
    with _calls_lock:
        call = _calls.get(ref.digest)
        if call is not None:
            _calls.move_to_end(ref.digest)
            return call
    call = read_record_as(store, VersionedCall, ref, refname)
    with _calls_lock:
        _calls[ref.digest] = call
        if len(_calls) > 4096:
            _calls.popitem(last=False)
    return call


def find_call(store: ArtifactStore, uri: str) -> VersionedCall | None:
    """The stored call a ``versioned:<module.qualname>/<key>`` URI names, or None."""
    function, _, key = uri.removeprefix("versioned:").rpartition("/")
    if not function or not key.isalnum():
        return None
    seg = _segment(function)
    for algorithm in ALGORITHMS:
        name = f"versioned/{seg}/{algorithm}-{key}"
        try:
            rec = store.refs.record(name)
        except InvalidNameError:
            return None
        if rec is not None and rec.target is not None:
            return _read_call(store, rec.target, name)
    return None


def _function_id(fn: Callable[..., Any]) -> tuple[str, str]:
    qualname = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
    return qualname, _segment(qualname)


def _segment(qualname: str) -> str:
    seg = ref_segment(qualname.replace("<", "").replace(">", ""))
    if len(seg) > 150:
        seg = seg[:140] + "." + digest_value(qualname)[7:19]
    return seg


class _Key:
    __slots__ = ("args", "hex", "name")

    def __init__(self, hex_: str, name: str, args: dict[str, tuple[Any, str]]) -> None:
        self.hex = hex_
        self.name = name
        self.args = args


class VersionedFunction(Generic[P, R]):
    """A function whose results are stored by content and reused (``@versioned``).

    Calling it returns the stored output when the same code was called with the
    same argument content before (a hit), else calls the function, stores the
    output and records a lineage edge (a miss). Set ``MLOPSKIT_VERSIONED=off`` to
    call straight through (read at each call).
    """

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        store: StoreLike = None,
        ignore: Iterable[str] = (),
        version: str | None = None,
        hash: str = "sha256",
    ) -> None:
        if hash not in ALGORITHMS:
            raise ConfigError(
                f"@versioned(hash={hash!r}): expected one of {list(ALGORITHMS)}", found=hash
            )
        if hash != "sha256":
            new_value_hasher(hash)  # fail now, naming the extra, rather than at a call
        self.__wrapped__ = fn
        functools.update_wrapper(self, fn)
        self._store = store
        self.ignore = frozenset(ignore)
        self.version = None if version is None else str(version)
        self.hash = hash
        self._signature = inspect.signature(fn)
        unknown = self.ignore - set(self._signature.parameters)
        if unknown:
            raise ConfigError(
                f"@versioned(ignore=...) names no parameter of {fn.__qualname__}: "
                f"{sorted(unknown)}; its parameters are {list(self._signature.parameters)}",
                found=sorted(unknown),
            )
        self.qualname, self.function_id = _function_id(fn)
        self._is_async = inspect.iscoroutinefunction(fn)
        self._fp: Fingerprint | None = None
        self._fp_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<versioned {self.qualname}>"

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return types.MethodType(self, instance)

    @property
    def disabled(self) -> NotVersionedFunction[P, R]:
        """The twin that just calls the function (what ``MLOPSKIT_VERSIONED=off`` uses)."""
        return NotVersionedFunction(self.__wrapped__)

    @property
    def code_hash(self) -> str:
        """The current code hash of the function and its same-project dependencies."""
        return self._fingerprint().digest

    def _fingerprint(self) -> Fingerprint:
        fp = self._fp
        if fp is not None and fp.valid():
            return fp
        with self._fp_lock:
            if self._fp is None or not self._fp.valid():
                self._fp = fingerprint(self.__wrapped__)
            return self._fp

    # -- keys -------------------------------------------------------------------------

    def _key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Key:
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        digests: dict[str, tuple[Any, str]] = {}
        for name, value in bound.arguments.items():
            if name in self.ignore:
                continue
            digests[name] = (
                value,
                digest_value(value, algorithm=self.hash, name=f"argument {name}"),
            )
        h = new_value_hasher(self.hash)
        h.update(
            repr(
                (
                    _KEY_FORMAT,
                    self.qualname,
                    self._fingerprint().digest,
                    self.version,
                    sorted((n, d) for n, (_, d) in digests.items()),
                )
            ).encode()
        )
        hex_ = h.hexdigest()
        return _Key(hex_, f"versioned/{self.function_id}/{self.hash}-{hex_}", digests)

    # -- calling ----------------------------------------------------------------------

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if not _enabled():
            return self.__wrapped__(*args, **kwargs)
        if self._is_async:
            return self._acall(args, kwargs)  # type: ignore[return-value]
        key = self._key(args, kwargs)
        store = _resolve(self._store)
        value, stale = self._load(store, key)
        if value is not _MISS:
            return value  # type: ignore[no-any-return]
        start = time.perf_counter()
        result = self.__wrapped__(*args, **kwargs)
        self._save(store, key, result, time.perf_counter() - start, stale)
        return result

    async def _acall(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        key = self._key(args, kwargs)
        store = _resolve(self._store)
        value, stale = await asyncio.to_thread(self._load, store, key)
        if value is not _MISS:
            return value
        start = time.perf_counter()
        result = await self.__wrapped__(*args, **kwargs)  # type: ignore[misc]
        await asyncio.to_thread(self._save, store, key, result, time.perf_counter() - start, stale)
        return result

    def _load(self, store: ArtifactStore, key: _Key) -> tuple[Any, ArtifactRef | None]:
        """``(value, None)`` on a hit; ``(_MISS, stale entry or None)`` on a miss."""
        rec = store.refs.record(key.name)
        if rec is None or rec.target is None:
            return _MISS, None
        call = _read_call(store, rec.target, key.name)
        try:
            value = call.output if call.returns_ref else store.get(call.output)
        except NotFoundError:
            log.warning("versioned_output_missing", function=self.qualname, key=key.hex)
            return _MISS, rec.target
        run = _context.active_run()
        if run is not None or any(recall(v) is not None for v, _ in key.args.values()):
            self._edge(store, key, call.output, getattr(run, "run_id", None))
        if not call.returns_ref:
            remember(value, self._node(key, call.output))
        return value, None

    def _save(
        self,
        store: ArtifactStore,
        key: _Key,
        result: Any,
        duration: float,
        stale: ArtifactRef | None,
    ) -> None:
        returns_ref = isinstance(result, ArtifactRef)
        out = result if returns_ref else store.put(result)
        run = _context.active_run()
        run_id = getattr(run, "run_id", None)
        call = VersionedCall(
            function=self.qualname,
            key=key.hex,
            algorithm=self.hash,
            code_hash=self._fingerprint().digest,
            version=self.version,
            inputs={n: self._endpoint(n, v, d).digest or d for n, (v, d) in key.args.items()},
            output=out,
            returns_ref=returns_ref,
            run_id=run_id,
            created_at=datetime.now(timezone.utc),
            duration_s=duration,
        )
        rec = store.put_record(call.model_dump(mode="json"), links=[out])
        try:
            store.refs.set(
                key.name,
                rec,
                expected=stale,
                message=f"{self.qualname} computed",
                meta={"output": out.digest},
            )
        except RefConflictError:
            # Another writer stored this key first: its entry stands, ours is dropped.
            log.debug("versioned_race_lost", function=self.qualname, key=key.hex)
        self._edge(store, key, out, run_id)
        if not returns_ref:
            remember(result, self._node(key, out))

    def _label(self, key: _Key) -> str:
        return f"{self.__wrapped__.__name__}[{key.hex[:8]}]"

    @staticmethod
    def _endpoint(name: str, value: Any, digest: str) -> Endpoint:
        node = node_of(value)
        if node is not None:
            return node
        if isinstance(value, ArtifactRef):
            return Endpoint(digest=value.digest, kind="artifact", label=name)
        return Endpoint(digest=digest, kind="value", label=name)

    def _edge(self, store: ArtifactStore, key: _Key, out: ArtifactRef, run_id: str | None) -> None:
        edge = LineageEdge(
            relation="derived",
            inputs={n: self._endpoint(n, v, d) for n, (v, d) in key.args.items()},
            output=self._node(key, out),
            function=self.qualname,
            code_hash=self._fingerprint().digest,
            run_id=run_id,
        )
        record_edge(store, edge)
        if run_id is not None:  # the run consumed the step's output
            record_use(store, run_id, {self.__wrapped__.__name__: self._node(key, out)})

    def _node(self, key: _Key, out: ArtifactRef) -> Endpoint:
        """The lineage node of one call: the function, its argument key and the versions
        the arguments came from — never the output bytes. The same step applied to two
        dataset versions with identical content is two nodes; a re-run on the same
        versions is the same node."""
        came_from = sorted(
            f"{n}={e.id}"
            for n, (v, d) in key.args.items()
            if (e := self._endpoint(n, v, d)).kind not in ("value", "artifact")
        )
        ident = f"versioned:{self.qualname}/{key.hex}"
        if came_from:
            ident += "/" + hashlib.sha256("\n".join(came_from).encode()).hexdigest()[:16]
        return Endpoint(digest=out.digest, kind="versioned", label=self._label(key), id=ident)

    # -- management -------------------------------------------------------------------

    def lookup(self, *args: P.args, **kwargs: P.kwargs) -> ArtifactRef | None:
        """The stored output for these arguments, or None; never calls the function."""
        key = self._key(args, kwargs)
        rec: RefRecord | None = _resolve(self._store).refs.record(key.name)
        if rec is None or rec.target is None:
            return None
        return _read_call(_resolve(self._store), rec.target, key.name).output

    def versions(self) -> list[VersionedCall]:
        """Every stored call of this function (any code version), oldest first."""
        store = _resolve(self._store)
        calls = [
            _read_call(store, store.refs.get(name), name)
            for name in store.refs.list(f"versioned/{self.function_id}")
        ]
        return sorted(calls, key=lambda c: c.created_at)

    def clear(self) -> int:
        """Forget every stored call of this function; returns how many were dropped.

        The entries' history stays in the store's audit log (and keeps the outputs
        from ``gc``'s sweep, as any ref history does).
        """
        store = _resolve(self._store)
        names = store.refs.list(f"versioned/{self.function_id}")
        for name in names:
            try:
                store.refs.delete(name, message=f"{self.qualname} cleared")
            except NotFoundError:
                continue  # cleared concurrently
        return len(names)


class NotVersionedFunction(Generic[P, R]):
    """The disabled twin of :class:`VersionedFunction`: calls through, stores nothing."""

    def __init__(self, fn: Callable[P, R]) -> None:
        self.__wrapped__ = fn
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<not versioned {getattr(self.__wrapped__, '__qualname__', '?')}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.__wrapped__(*args, **kwargs)

    def lookup(self, *args: P.args, **kwargs: P.kwargs) -> ArtifactRef | None:
        """Always None: nothing is stored."""
        return None

    def versions(self) -> list[VersionedCall]:
        """Always empty."""
        return []

    def clear(self) -> int:
        """Nothing to clear: 0."""
        return 0


@overload
def versioned(fn: Callable[P, R], /) -> VersionedFunction[P, R]: ...


@overload
def versioned(
    *,
    store: StoreLike = None,
    ignore: Iterable[str] = (),
    version: str | None = None,
    hash: str = "sha256",
) -> Callable[[Callable[P, R]], VersionedFunction[P, R]]: ...


def versioned(
    fn: Callable[P, R] | None = None,
    /,
    *,
    store: StoreLike = None,
    ignore: Iterable[str] = (),
    version: str | None = None,
    hash: str = "sha256",
) -> VersionedFunction[P, R] | Callable[[Callable[P, R]], VersionedFunction[P, R]]:
    """Store a function's results by content and reuse them; record lineage.

    Use bare (``@versioned``) or with arguments. Works on sync and async functions.

    Args:
        fn: the function (when used bare).
        store: where to keep outputs: an :class:`~mlopskit.store.ArtifactStore`, a
            URL, or None for the current workspace's store (read at each call).
        ignore: parameter names left out of the key (a logger, a verbosity flag).
        version: bump it to force new keys by hand (``version="2"``).
        hash: ``"sha256"`` (default) or ``"blake3"`` (faster; ``pymlopskit[fast]``).

    Returns:
        A :class:`VersionedFunction` with ``.lookup()``, ``.versions()``,
        ``.clear()`` and ``.disabled``.

    Raises:
        UnhashableArgumentError: at call time, naming an argument whose content
            cannot be hashed stably.

    Example:
        >>> import mlopskit as mk
        >>> @mk.versioned(store="memory://doc-versioned")
        ... def square(x: int) -> int:
        ...     return x * x
        >>> square(4), square(4)
        (16, 16)
        >>> len(square.versions())
        1
    """

    def wrap(f: Callable[P, R]) -> VersionedFunction[P, R]:
        return VersionedFunction(f, store=store, ignore=ignore, version=version, hash=hash)

    return wrap if fn is None else wrap(fn)
