"""Router: champion/challenger, canary and A/B splits, shadow traffic, promote and rollback.

Routing is **weighted rendezvous hashing**: for a request key, every variant ``v`` with
weight ``w_v > 0`` gets the score ``-ln(u_v) / w_v``, where ``u_v`` in (0, 1) is the
splitmix64 finaliser of ``blake2b(key, key=salt) ^ blake2b(v, key=salt)``; the lowest
score answers. Hence:

- *sticky*: the same key goes to the same variant in every process and on every
  machine (``hashlib``, never the per-process-salted ``hash()``);
- *exact split*: a key lands on ``v`` with probability ``w_v / sum(w)``;
- *monotone ramps*: raising one variant's weight (:meth:`Router.ramp` scales the others
  down together) only moves keys *to* that variant, never between the others or back;
- a request without a key is routed at random with the same weights.

Shadow variants receive a copy of every routed request on a background thread, after
the primary answered; their result is handed to :attr:`Router.on_shadow` (the server
logs it) and never reaches the caller. A shadow that raises or sleeps is contained: a
bounded queue drops shadow work rather than delay or fail the primary.

:meth:`Router.promote` moves a registry alias (``mk.registry.set_alias``) to the
version a variant serves and sends all traffic to it; :meth:`Router.rollback` undoes the
last change of the split — and, for a promotion, moves the alias back with
``mk.registry.rollback`` (a compare-and-swap) — restoring the recorded split exactly.
Without ``deployment=``, the split is this router's state (kept per process). With
``deployment="churn"``, the split is durable and shared: every change is a record in the
store named by the compare-and-swap ref ``deployments/<deployment>/split`` (the same
create-only refs the registry's aliases use), and every router made with that name — in
other worker processes, on other machines, after a restart — reads it (on creation, then
at most every ``sync_interval`` seconds while routing, or on :meth:`Router.sync`). The
ref's history is the audit log of the split; a canary ramp (:class:`mlopskit.deploy.Ramp`)
keeps its progress in the same record.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from mlopskit._log import get_logger
from mlopskit.errors import (
    IntegrityError,
    InvalidInputError,
    InvalidNameError,
    NotFoundError,
    RefConflictError,
)

if TYPE_CHECKING:
    from mlopskit.deploy._predictor import Predictor
    from mlopskit.registry import ModelVersion
    from mlopskit.store import ArtifactStore, RefRecord

__all__ = ["Routed", "Router", "ShadowResult"]

log = get_logger("mlopskit.deploy.router")

_TWO64 = float(2**64)
_MASK = 2**64 - 1
_DEPLOYMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._@+=,-]{0,127}$")
_SPLIT_SCHEMA = 1


@dataclass(frozen=True)
class Routed:
    """A routed prediction: which variant answered, with what, in how long."""

    variant: str
    outputs: Any
    predictor: Any
    seconds: float


@dataclass(frozen=True)
class ShadowResult:
    """What a shadow variant answered for a mirrored request (or the error it raised)."""

    variant: str
    inputs: Any
    outputs: Any
    error: str | None
    seconds: float
    request_id: str
    predictor: Any


@dataclass(frozen=True)
class _Change:
    """One entry of the split history: the state before a change."""

    kind: str  # "split" or "promote"
    weights: dict[str, float]
    predictors: dict[str, Any]
    alias: tuple[str, str] | None = None  # (model name, alias) moved by a promotion


def _key_bytes(key: object) -> bytes:
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        return key.encode("utf-8")
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        return repr(key).encode("ascii")
    raise InvalidInputError(
        f"a routing key must be str, bytes or a number, found {type(key).__name__}",
        expected="str | bytes | int | float",
        found=type(key).__name__,
    )


def _check_weights(weights: Mapping[str, float], names: Iterable[str]) -> dict[str, float]:
    known = list(names)
    out: dict[str, float] = {}
    for name, weight in weights.items():
        if name not in known:
            raise InvalidInputError(
                f"weight given for unknown variant {name!r}",
                expected=known,
                found=name,
                name=name,
            )
        w = float(weight)
        if not math.isfinite(w) or w < 0:
            raise InvalidInputError(
                f"the weight of {name!r} must be a finite number >= 0, found {weight!r}",
                expected=">= 0",
                found=weight,
                name=name,
            )
        out[name] = w
    full = {name: out.get(name, 0.0) for name in known}
    if sum(full.values()) <= 0:
        raise InvalidInputError(
            "at least one variant needs a weight above 0", expected="sum(weights) > 0", found=full
        )
    return full


class Router:
    """Send each request to one of several model variants.

    Args:
        variants: variant name → a :class:`~mlopskit.deploy.Predictor`, a
            :class:`~mlopskit.deploy.ModelPackage` or a registry URI
            (``"churn@champion"``). URIs and packages load on first use (or
            :meth:`load`). The first variant is the *champion* :meth:`promote` moves.
        weights: variant name → relative weight (missing names get 0); default: the
            same weight for every variant.
        shadow: variant name → source for variants that get a mirrored copy of the
            traffic and whose answers are never returned.
        salt: mixed into the hash; routers with different salts split independently.
        store: the store registry URIs are read from and promotions write to
            (default: the current workspace's).
        seed: seed of the generator used for requests without a key.
        shadow_queue: how many mirrored requests may wait; more are dropped.
        deployment: a name that makes the split durable and shared: it is kept in the
            store (ref ``deployments/<deployment>/split``), so worker processes and
            restarts route with the same split. A split already recorded under this
            name wins over ``weights``.
        sync_interval: with ``deployment``, how often (seconds) routing re-reads the
            recorded split (one small read; 0: on every request).
    """

    def __init__(
        self,
        variants: Mapping[str, Any],
        weights: Mapping[str, float] | None = None,
        *,
        shadow: Mapping[str, Any] | None = None,
        salt: str = "mlopskit",
        store: ArtifactStore | None = None,
        seed: int | None = None,
        shadow_queue: int = 64,
        deployment: str | None = None,
        sync_interval: float = 1.0,
    ) -> None:
        if not variants:
            raise InvalidInputError("a Router needs at least one variant", found={})
        shadow = dict(shadow or {})
        clash = sorted(set(shadow) & set(variants))
        if clash:
            raise InvalidInputError(
                f"variants {clash} are both routed and shadow; give each name one role",
                found=clash,
            )
        for name in [*variants, *shadow]:
            if not isinstance(name, str) or not name:
                raise InvalidInputError(
                    f"variant names must be non-empty strings, found {name!r}", found=name
                )
        self._sources: dict[str, Any] = {**variants, **shadow}
        self._names: list[str] = list(variants)
        self._shadow_names: list[str] = list(shadow)
        self._predictors: dict[str, Any] = {
            n: s for n, s in self._sources.items() if _is_predictor(s)
        }
        self.salt = salt
        self.store = store
        self._salt = hashlib.blake2b(salt.encode("utf-8"), digest_size=32).digest()
        self._lock = threading.RLock()
        self._load_lock = threading.Lock()
        self._random = random.Random(seed)
        self._history: list[_Change] = []
        self._set_split(
            _check_weights(
                weights if weights is not None else dict.fromkeys(variants, 1.0), variants
            )
        )
        self.deployment = _check_deployment(deployment)
        self.sync_interval = float(sync_interval)
        self._ref = f"deployments/{deployment}/split" if deployment is not None else None
        self._record: RefRecord | None = None  # the split record last read or written
        self._extra: dict[str, Any] = {"versions": {}, "ramp": None}
        self._next_sync = 0.0
        self._sync_lock = threading.Lock()
        if self._ref is not None:
            self._open_durable()
        self._shadow_slots = threading.BoundedSemaphore(max(1, shadow_queue))
        self._executor: ThreadPoolExecutor | None = None
        self.shadow_dropped = 0
        self.on_shadow: Callable[[ShadowResult], None] | None = None

    # -- the split --------------------------------------------------------------------

    def _set_split(self, weights: dict[str, float]) -> None:
        variants = []
        for name in self._names:
            w = weights[name]
            if w > 0:
                # The variant's own 64-bit seed: its name hashed with the salt.
                seed = hashlib.blake2b(name.encode("utf-8"), digest_size=8, key=self._salt)
                variants.append((name, 1.0 / w, int.from_bytes(seed.digest(), "big")))
        total = sum(weights.values())
        cumulative, acc = [], 0.0
        for name, inverse, _ in variants:
            acc += 1.0 / inverse / total
            cumulative.append((acc, name))
        # One tuple swapped atomically: route() reads it without the lock.
        self._state = (dict(weights), tuple(variants), tuple(cumulative))

    # -- the durable split ------------------------------------------------------------

    def _store(self) -> ArtifactStore:
        if self.store is None:
            from mlopskit.store import current_store

            self.store = current_store()
        return self.store

    def _open_durable(self) -> None:
        """Adopt the recorded split, or record this router's as the first one."""
        if self.sync():
            return
        try:
            self._commit(self.weights, message="router: first split", op="create", create=True)
        except RefConflictError:  # another process recorded it first: use theirs
            self.sync()

    def _payload(self, weights: Mapping[str, float], extra: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "schema": _SPLIT_SCHEMA,
            "deployment": self.deployment,
            "salt": self.salt,
            "weights": dict(weights),
            "versions": dict(extra.get("versions") or {}),
            "ramp": extra.get("ramp"),
            "time": time.time(),
        }

    def _commit(
        self,
        weights: dict[str, float],
        *,
        message: str,
        op: str,
        create: bool = False,
        **extra: Any,
    ) -> None:
        """Apply ``weights`` (and ``versions`` / ``ramp`` when given) here and, for a
        durable router, record them first with a compare-and-swap on the record last read.

        Raises:
            RefConflictError: another process changed the split since this router read
                it (nothing changed here; :meth:`sync` and decide again).
        """
        new_extra = {**self._extra, **extra}
        if self._ref is not None:
            store = self._store()
            obj = store.put_record(self._payload(weights, new_extra))
            expected: Any = None if create else self._record
            rec = store.refs.set(
                self._ref, obj, expected=expected, message=message, meta={"op": op}
            )
            self._record = rec
            self._next_sync = time.monotonic() + self.sync_interval
        self._extra = new_extra
        self._set_split(weights)

    def sync(self) -> bool:
        """Read the recorded split (durable routers); returns whether it changed here.

        A variant whose recorded version differs from the one loaded here (another
        process promoted it) is reloaded from the registry.

        Raises:
            IntegrityError: the recorded split is damaged (names the record).
            InvalidInputError: the record is of a router with other variants.
        """
        if self._ref is None:
            return False
        store = self._store()
        with self._lock:
            rec = store.refs.record(self._ref)
            self._next_sync = time.monotonic() + self.sync_interval
            if rec is None or rec.target is None:
                return False
            if self._record is not None and rec.seq == self._record.seq:
                return False
            payload = _read_split(store, rec, self._ref, self._names)
            self._record = rec
            self._extra = {"versions": payload["versions"], "ramp": payload["ramp"]}
            self._set_split(payload["weights"])
        stale = {
            v: n
            for v, n in payload["versions"].items()
            if v in self._predictors
            and str(getattr(self._predictors[v], "version", None)) != str(n)
        }
        if stale:
            self.refresh()
        log.info("router_synced", deployment=self.deployment, seq=rec.seq, weights=self.weights)
        return True

    def _maybe_sync(self) -> None:
        """Re-read the recorded split when ``sync_interval`` passed (one thread at a time;
        a store that cannot be read leaves the split as it was)."""
        if not self._sync_lock.acquire(blocking=False):
            return
        try:
            self.sync()
        except Exception as exc:  # routing goes on with the split it has
            self._next_sync = time.monotonic() + self.sync_interval
            log.warning("router_sync_failed", deployment=self.deployment, error=repr(exc))
        finally:
            self._sync_lock.release()

    @property
    def ramp_state(self) -> dict[str, Any] | None:
        """The progress of a canary ramp recorded with the split (None: no ramp)."""
        ramp = self._extra.get("ramp")
        return dict(ramp) if isinstance(ramp, dict) else None

    @property
    def split_record(self) -> RefRecord | None:
        """The store record of the durable split last read or written (None if not durable)."""
        return self._record

    def split_history(self) -> list[dict[str, Any]]:
        """Every recorded change of the durable split, oldest first: time, user, message,
        weights and ramp progress (empty for a per-process router)."""
        if self._ref is None:
            return []
        store = self._store()
        out = []
        for rec in store.refs.history(self._ref):
            if rec.target is None:
                continue
            payload = _read_split(store, rec, self._ref, self._names)
            out.append(
                {
                    "seq": rec.seq,
                    "time": rec.time,
                    "user": rec.user,
                    "message": rec.message,
                    "op": rec.meta.get("op"),
                    "weights": payload["weights"],
                    "ramp": payload["ramp"],
                }
            )
        return out

    @property
    def variants(self) -> list[str]:
        """The routed variants' names, champion first."""
        return list(self._names)

    @property
    def shadows(self) -> list[str]:
        """The shadow variants' names."""
        return list(self._shadow_names)

    @property
    def split(self) -> dict[str, float]:
        """Variant → share of traffic (weights normalised to sum to 1)."""
        weights = self._state[0]
        total = sum(weights.values())
        return {n: w / total for n, w in weights.items()}

    @property
    def weights(self) -> dict[str, float]:
        """Variant → weight as set."""
        return dict(self._state[0])

    def set_weights(self, weights: Mapping[str, float], *, message: str = "") -> None:
        """Replace the split (missing variants get 0); :meth:`rollback` undoes it.

        Raises:
            RefConflictError: (durable router) another process changed the split since
                this one read it; nothing changed.
        """
        new = _check_weights(weights, self._names)
        with self._lock:
            before = _Change("split", self.weights, dict(self._predictors))
            self._commit(new, message=message or "router: set weights", op="split")
            self._history.append(before)
        log.info("router_split", weights=new)

    def shares_for(self, variant: str, share: float) -> dict[str, float]:
        """The weights that give ``variant`` ``share`` of the traffic, the others keeping
        their proportions (what :meth:`ramp` sets)."""
        self._check_variant(variant)
        share = float(share)
        if not 0.0 <= share <= 1.0:
            raise InvalidInputError(
                f"a share is between 0 and 1, found {share!r}", expected="0..1", found=share
            )
        split = self.split
        rest = 1.0 - split[variant]
        others = [n for n in self._names if n != variant]
        if share < 1.0 and not others:
            raise InvalidInputError(
                f"{variant!r} is the only variant: it cannot give traffic away", found=split
            )
        new = {variant: share}
        for name in others:
            # The others keep their proportions; if they had nothing, they share equally.
            part = split[name] / rest if rest > 0 else 1.0 / len(others)
            new[name] = part * (1.0 - share)
        return new

    def ramp(self, variant: str, share: float) -> None:
        """Give ``variant`` ``share`` (0..1) of the traffic, scaling the others together.

        Monotone: raising a variant's share only moves keys to it.
        """
        self.set_weights(
            self.shares_for(variant, share), message=f"router: ramp {variant} to {share:g}"
        )

    # -- routing ----------------------------------------------------------------------

    def route(self, key: object = None) -> tuple[str, Predictor]:
        """The variant a request with ``key`` goes to (random by weight when None)."""
        if self._ref is not None and time.monotonic() >= self._next_sync:
            self._maybe_sync()
        _, variants, cumulative = self._state
        if len(variants) == 1:
            if key is not None:
                _key_bytes(key)  # a bad key is refused whatever the split
            name = variants[0][0]
        elif key is None:
            u = self._random.random()
            name = cumulative[-1][1]
            for edge, candidate in cumulative:
                if u < edge:
                    name = candidate
                    break
        else:
            h = int.from_bytes(
                hashlib.blake2b(_key_bytes(key), digest_size=8, key=self._salt).digest(), "big"
            )
            best = math.inf
            name = variants[0][0]
            for candidate, inverse, seed in variants:
                # splitmix64's finaliser of key-hash ^ variant-seed: one uniform u per
                # (key, variant), independent across variants.
                z = ((h ^ seed) + 0x9E3779B97F4A7C15) & _MASK
                z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
                z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
                z ^= z >> 31
                score = -math.log((z + 0.5) / _TWO64) * inverse
                if score < best:
                    best, name = score, candidate
        return name, self.predictor(name)

    def predict(self, data: Any, *, key: object = None, request_id: str = "") -> Routed:
        """Route, predict with the chosen variant, and mirror the request to the shadows."""
        name, predictor = self.route(key)
        t0 = time.perf_counter()
        outputs = predictor.predict(data)
        routed = Routed(name, outputs, predictor, time.perf_counter() - t0)
        self.mirror(data, request_id=request_id)
        return routed

    # -- variants ---------------------------------------------------------------------

    def _check_variant(self, name: str) -> None:
        if name not in self._names:
            raise NotFoundError(
                f"the router has no variant {name!r}; variants: {self._names}",
                name=name,
                expected=self._names,
                found=name,
            )

    def predictor(self, name: str) -> Predictor:
        """The loaded predictor of variant ``name`` (loads it on first use)."""
        p = self._predictors.get(name)
        if p is not None:
            return cast("Predictor", p)
        if name not in self._sources:
            self._check_variant(name)
        with self._load_lock:
            p = self._predictors.get(name)
            if p is None:
                from mlopskit.deploy._predictor import Predictor

                p = Predictor(self._sources[name], store=self.store)
                self._predictors[name] = p
        return cast("Predictor", p)

    def load(self) -> Router:
        """Load every variant (routed and shadow) now; returns the router."""
        for name in self._sources:
            self.predictor(name)
        return self

    def refresh(self) -> dict[str, str]:
        """Follow the registry: reload every variant given as ``name@alias`` whose alias
        now points to another version (e.g. after a rollback by the deployment loop).

        Returns:
            Variant → the version it serves now, for the variants that changed.
        """
        from mlopskit.deploy._predictor import Predictor

        registry = self._registry()
        changed: dict[str, str] = {}
        for name, source in self._sources.items():
            if not (isinstance(source, str) and "@" in source):
                continue
            try:
                number = str(registry.get(source).number)
            except NotFoundError:  # the alias was withdrawn (e.g. a failed ramp): keep it
                continue
            current = self._predictors.get(name)
            if current is not None and str(getattr(current, "version", None)) == number:
                continue
            predictor = Predictor(source, store=self.store)
            with self._lock:
                self._predictors[name] = predictor
            changed[name] = str(predictor.version)
        if changed:
            log.info("router_refresh", changed=changed)
        return changed

    @property
    def ready(self) -> bool:
        """True when every variant is loaded and ready."""
        return all(
            n in self._predictors and getattr(self._predictors[n], "ready", True)
            for n in self._sources
        )

    # -- shadow -----------------------------------------------------------------------

    def mirror(self, data: Any, *, request_id: str = "") -> None:
        """Send ``data`` to every shadow variant in the background (never raises)."""
        if not self._shadow_names:
            return
        for name in self._shadow_names:
            if not self._shadow_slots.acquire(blocking=False):
                self.shadow_dropped += 1
                continue
            try:
                if self._executor is None:
                    with self._lock:
                        if self._executor is None:
                            self._executor = ThreadPoolExecutor(
                                max_workers=1, thread_name_prefix="mlopskit-shadow"
                            )
                self._executor.submit(self._run_shadow, name, data, request_id)
            except RuntimeError:  # shut down
                self._shadow_slots.release()
                self.shadow_dropped += 1

    def _run_shadow(self, name: str, data: Any, request_id: str) -> None:
        t0 = time.perf_counter()
        outputs: Any = None
        error: str | None = None
        predictor: Any = None
        try:
            predictor = self.predictor(name)
            outputs = predictor.predict(data)
        except Exception as exc:  # contained: a shadow never fails the primary
            error = f"{type(exc).__name__}: {exc}"
            log.warning("shadow_failed", variant=name, error=error)
        finally:
            self._shadow_slots.release()
        callback = self.on_shadow
        if callback is not None:
            try:
                callback(
                    ShadowResult(
                        name, data, outputs, error, time.perf_counter() - t0, request_id, predictor
                    )
                )
            except Exception as exc:
                log.warning("shadow_callback_failed", variant=name, error=repr(exc))

    def close(self, *, wait: bool = True) -> None:
        """Stop the shadow thread, finishing mirrored requests already queued if ``wait``."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=not wait)

    # -- promote / rollback -------------------------------------------------------------

    def _registry(self) -> Any:
        from mlopskit.registry import Registry

        return Registry(self.store) if self.store is not None else Registry()

    def _alias_of(self, variant: str) -> tuple[str, str]:
        source = self._sources[variant]
        if isinstance(source, str) and "@" in source:
            from mlopskit.registry import parse_model_uri

            name, selector = parse_model_uri(source)
            if isinstance(selector, str) and selector != "latest":
                return name, selector
        raise InvalidInputError(
            f"variant {variant!r} was not given as a registry alias URI ('name@alias'), "
            f"so there is no alias to move; found {source!r}",
            expected="'name@alias'",
            found=repr(source),
            name=variant,
        )

    def promote(
        self,
        variant: str,
        *,
        champion: str | None = None,
        message: str = "",
        require: Iterable[Callable[[Any], Any]] = (),
    ) -> ModelVersion:
        """Move the champion's alias to the version ``variant`` serves; send it all traffic.

        The alias moves with ``mk.registry.promote`` (a compare-and-swap that runs the
        ``require`` gates first and records them in the alias history).

        Args:
            variant: the variant to promote (a registry version: ``"churn@challenger"``,
                ``"churn/3"``, or a Predictor with a ``version``).
            champion: the variant whose source is the alias to move (default: the
                first variant).
            message: why, for the registry history.
            require: gates for ``mk.registry.promote`` (e.g. ``mk.checks.Gate(...)``).

        Returns:
            The model version the alias now points to.

        Raises:
            PromotionRefusedError: a gate failed; nothing moved.
        """
        return self._promote(variant, champion=champion, message=message, require=require)

    def _promote(
        self,
        variant: str,
        *,
        champion: str | None = None,
        message: str = "",
        require: Iterable[Callable[[Any], Any]] = (),
        **extra: Any,
    ) -> ModelVersion:
        champion = champion or self._names[0]
        self._check_variant(variant)
        self._check_variant(champion)
        if variant == champion:
            raise InvalidInputError(f"{variant!r} is already the champion", found=variant)
        name, alias = self._alias_of(champion)
        predictor = self.predictor(variant)
        version = getattr(predictor, "version", None)
        if version is None or not str(version).isdigit():
            raise InvalidInputError(
                f"variant {variant!r} serves no registry version (version={version!r}); "
                "only a registered model version can take an alias",
                found=version,
                name=variant,
            )
        with self._lock:
            before = _Change("promote", self.weights, dict(self._predictors), (name, alias))
            mv = self._registry().promote(
                name,
                int(version),
                to=alias,
                require=require,
                message=message or f"router: promote {variant}",
            )
            versions = {**(self._extra.get("versions") or {}), champion: str(mv.number)}
            self._predictors[champion] = predictor
            try:
                self._commit(
                    {n: (1.0 if n == champion else 0.0) for n in self._names},
                    message=f"router: promote {variant} to {name}@{alias}",
                    op="promote",
                    versions=versions,
                    **extra,
                )
            except Exception:
                self._predictors = dict(before.predictors)
                raise
            self._history.append(before)
        log.info("router_promote", variant=variant, model=name, alias=alias, version=mv.number)
        return mv  # type: ignore[no-any-return]

    def rollback(self, *, message: str = "") -> dict[str, float]:
        """Undo the last change of the split (a promotion also moves its alias back).

        The alias moves with ``mk.registry.rollback`` (a compare-and-swap): if it moved
        since, :class:`~mlopskit.errors.RefConflictError` is raised and nothing changes.

        Returns:
            The split restored.

        Raises:
            InvalidInputError: nothing to roll back.
        """
        with self._lock:
            if not self._history:
                raise InvalidInputError("the router has no earlier split to roll back to")
            change = self._history[-1]
            versions = dict(self._extra.get("versions") or {})
            if change.alias is not None:
                name, alias = change.alias
                back = self._registry().rollback(name, alias, message=message or "router: rollback")
                for variant, source in self._sources.items():
                    if source == f"{name}@{alias}":
                        versions[variant] = str(back.number)
            self._history.pop()
            self._predictors = dict(change.predictors)
            self._commit(
                dict(change.weights),
                message=message or "router: rollback",
                op="rollback",
                versions=versions,
            )
        log.info("router_rollback", weights=change.weights)
        return self.split

    def __repr__(self) -> str:
        split = ", ".join(f"{n}={s:.3g}" for n, s in self.split.items())
        shadow = f", shadow={self._shadow_names}" if self._shadow_names else ""
        return f"Router({split}{shadow})"


def _is_predictor(source: Any) -> bool:
    """A loaded predictor: anything with ``predict`` that is not a URI or a package."""
    if isinstance(source, str) or hasattr(source, "load_model"):
        return False
    return callable(getattr(source, "predict", None))


def _check_deployment(name: str | None) -> str | None:
    if name is not None and (not isinstance(name, str) or not _DEPLOYMENT.match(name)):
        raise InvalidNameError(
            f"a deployment name is 1-128 letters, digits and '._@+=,-' (not starting with "
            f"a dot), found {name!r}",
            expected="e.g. 'churn' or 'churn-eu'",
            found=name,
        )
    return name


def _read_split(store: ArtifactStore, rec: RefRecord, ref: str, names: list[str]) -> dict[str, Any]:
    """The split recorded in ``rec``, checked: damaged → IntegrityError naming the record."""
    where = f"{ref} (record {rec.seq})"
    assert rec.target is not None
    try:
        payload = store.read_record(rec.target)
    except IntegrityError:
        raise
    except (FileNotFoundError, NotFoundError) as exc:
        raise IntegrityError(
            f"the split record {where} names {rec.target.digest}, which is missing: {exc}",
            digest=rec.target.digest,
            path=ref,
        ) from None
    weights = payload.get("weights")
    versions = payload.get("versions") or {}
    ramp = payload.get("ramp")
    ok = (
        payload.get("schema") == _SPLIT_SCHEMA
        and isinstance(weights, dict)
        and all(isinstance(k, str) for k in weights)
        and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
            for v in weights.values()
        )
        and sum(weights.values()) > 0
        and isinstance(versions, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in versions.items())
        and (ramp is None or isinstance(ramp, dict))
    )
    if not ok:
        raise IntegrityError(
            f"the split record {where} is damaged: expected schema {_SPLIT_SCHEMA} with "
            "weights >= 0 by variant; restore it or record a new split (set_weights)",
            digest=rec.target.digest,
            path=ref,
            found=repr(payload)[:200],
        )
    assert isinstance(weights, dict)
    if sorted(weights) != sorted(names):
        raise InvalidInputError(
            f"deployment {ref.split('/')[1]!r} records a split over variants "
            f"{sorted(weights)}, but this router has {sorted(names)}: use another "
            "deployment name for a router with other variants",
            expected=sorted(names),
            found=sorted(weights),
        )
    return {
        "weights": {n: float(weights[n]) for n in names},
        "versions": dict(versions),
        "ramp": ramp,
    }
