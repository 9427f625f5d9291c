"""Router: sticky hashlib routing, exact splits, monotone ramps, rollback, contained shadows."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlopskit.deploy import Router
from mlopskit.errors import InvalidInputError, NotFoundError

WORKER = Path(__file__).with_name("_route_worker.py")


class Named:
    """The smallest predictor: it answers with its own name (and counts its calls)."""

    def __init__(self, name: str, version: str | None = None) -> None:
        self.name = name
        self.version = version
        self.calls = 0

    def predict(self, data: Any) -> str:
        self.calls += 1
        return self.name


def router(weights: dict[str, float], salt: str = "s", **kwargs: Any) -> Router:
    return Router({n: Named(n) for n in weights}, weights, salt=salt, **kwargs)


def assignments(r: Router, keys: list[Any]) -> list[str]:
    return [r.route(k)[0] for k in keys]


names = st.sampled_from(["champion", "canary", "b", "c", "ünï"])
weight_maps = st.dictionaries(names, st.floats(0.01, 100.0), min_size=1, max_size=4)
keys = st.lists(
    st.one_of(st.text(max_size=30), st.integers(-(2**70), 2**70), st.binary(max_size=20)),
    min_size=1,
    max_size=40,
)


# -- stickiness ---------------------------------------------------------------------------


class Worker:
    """A routing subprocess with its own PYTHONHASHSEED."""

    def __init__(self, seed: str) -> None:
        env = dict(os.environ, PYTHONHASHSEED=seed)
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def route(self, weights: dict[str, float], salt: str, ks: list[str]) -> list[str]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"variants": weights, "salt": salt, "keys": ks}) + "\n")
        self.proc.stdin.flush()
        return list(json.loads(self.proc.stdout.readline()))

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def workers() -> Iterator[tuple[Worker, Worker]]:
    """Two routing processes whose built-in hash() differs (PYTHONHASHSEED 1 and 2)."""
    pair = (Worker("1"), Worker("2"))
    try:
        yield pair
    finally:
        for w in pair:
            w.stop()


class TestSticky:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        weights=weight_maps,
        salt=st.text(max_size=10),
        ks=st.lists(st.text(max_size=30), min_size=1, max_size=40),
    )
    def test_same_key_same_variant_across_processes(
        self, workers: tuple[Worker, Worker], weights: dict[str, float], salt: str, ks: list[str]
    ) -> None:
        """A key goes to the same variant in processes with different hash seeds (and here)."""
        a, b = workers
        here = assignments(router(weights, salt), ks)
        assert a.route(weights, salt, ks) == here
        assert b.route(weights, salt, ks) == here

    @given(weights=weight_maps, ks=keys)
    def test_same_key_same_variant_every_time(
        self, weights: dict[str, float], ks: list[Any]
    ) -> None:
        """Routing the same keys twice, or with a fresh router, gives the same variants."""
        r = router(weights)
        first = assignments(r, ks)
        assert assignments(r, ks) == first
        assert assignments(router(weights), ks) == first

    def test_salt_decorrelates_routers(self) -> None:
        """Two routers with different salts split the same keys independently."""
        ks = [f"user-{i}" for i in range(2000)]
        a = assignments(router({"x": 1, "y": 1}, "one"), ks)
        b = assignments(router({"x": 1, "y": 1}, "two"), ks)
        agree = sum(x == y for x, y in zip(a, b)) / len(ks)
        assert 0.45 < agree < 0.55

    def test_zero_weight_never_answers(self) -> None:
        """A variant with weight 0 receives no keyed and no random traffic."""
        r = router({"champion": 1.0, "canary": 0.0}, seed=1)
        assert set(assignments(r, [f"k{i}" for i in range(500)])) == {"champion"}
        assert {r.route()[0] for _ in range(500)} == {"champion"}


# -- splits -------------------------------------------------------------------------------


def within_binomial(counts: Counter[str], n: int, split: dict[str, float]) -> None:
    for name, p in split.items():
        sd = math.sqrt(n * p * (1 - p))
        assert abs(counts[name] - n * p) <= 5 * sd + 1, (name, counts[name], n * p)


class TestSplit:
    @settings(max_examples=15, deadline=None)
    @given(weights=weight_maps, salt=st.text(max_size=8))
    def test_keyed_split_within_binomial_interval(
        self, weights: dict[str, float], salt: str
    ) -> None:
        """Distinct keys land on each variant in proportion to its weight (5-sigma band)."""
        r = router(weights, salt)
        n = 4000
        counts = Counter(assignments(r, [f"user-{i}" for i in range(n)]))
        within_binomial(counts, n, r.split)

    @settings(max_examples=15, deadline=None)
    @given(weights=weight_maps, seed=st.integers(0, 2**32))
    def test_random_split_within_binomial_interval(
        self, weights: dict[str, float], seed: int
    ) -> None:
        """Requests without a key are spread at random with the same weights."""
        r = router(weights, seed=seed)
        n = 4000
        counts = Counter(r.route()[0] for _ in range(n))
        within_binomial(counts, n, r.split)

    def test_split_is_normalised(self) -> None:
        """``split`` gives shares summing to 1; ``weights`` gives what was set."""
        r = router({"a": 3, "b": 1})
        assert r.split == {"a": 0.75, "b": 0.25}
        assert r.weights == {"a": 3.0, "b": 1.0}

    @pytest.mark.parametrize(
        "weights",
        [{"a": -1.0, "b": 1.0}, {"a": float("nan")}, {"a": 0.0, "b": 0.0}, {"zzz": 1.0}],
    )
    def test_bad_weights_refused(self, weights: dict[str, float]) -> None:
        """Negative, NaN, all-zero or unknown-variant weights raise InvalidInputError."""
        with pytest.raises(InvalidInputError):
            Router({"a": Named("a"), "b": Named("b")}, weights)

    def test_bad_key_refused(self) -> None:
        """A key that is not str, bytes or a number is refused, naming its type."""
        with pytest.raises(InvalidInputError, match="list"):
            router({"a": 1.0}).route(["x"])


# -- ramps and rollback ---------------------------------------------------------------------


class TestRamp:
    @settings(max_examples=40, deadline=None)
    @given(
        weights=weight_maps,
        target=names,
        shares=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5).map(sorted),
        ks=keys,
    )
    def test_raising_a_share_only_moves_keys_to_it(
        self, weights: dict[str, float], target: str, shares: list[float], ks: list[Any]
    ) -> None:
        """Each ramp step moves keys only onto the ramped variant, never elsewhere."""
        weights = {**weights, target: weights.get(target, 0.0)}
        if sum(w for n, w in weights.items() if n != target) == 0:
            weights[next(n for n in ["x", "y"] if n != target)] = 1.0
        r = Router({n: Named(n) for n in weights}, weights, salt="ramp")
        if r.split[target] > shares[0]:
            shares = [s for s in shares if s >= r.split[target]] or [r.split[target]]
        before = assignments(r, ks)
        for share in shares:
            r.ramp(target, share)
            after = assignments(r, ks)
            for old, new in zip(before, after):
                assert new in (old, target)
            before = after
        assert r.split[target] == pytest.approx(shares[-1])

    def test_full_ramp_sends_everything(self) -> None:
        """A share of 1 sends every key to the ramped variant; 0 sends none."""
        r = router({"champion": 0.9, "canary": 0.1})
        ks = [f"k{i}" for i in range(300)]
        r.ramp("canary", 1.0)
        assert set(assignments(r, ks)) == {"canary"}
        r.ramp("canary", 0.0)
        assert set(assignments(r, ks)) == {"champion"}

    @settings(max_examples=40, deadline=None)
    @given(
        weights=weight_maps,
        steps=st.lists(st.tuples(names, st.floats(0.0, 0.99)), min_size=1, max_size=6),
        ks=keys,
    )
    def test_rollback_restores_the_split_exactly(
        self, weights: dict[str, float], steps: list[tuple[str, float]], ks: list[Any]
    ) -> None:
        """Undoing every change restores the recorded split and every key's variant."""
        r = router(weights)
        split, before = r.weights, assignments(r, ks)
        done = 0
        for name, share in steps:
            try:
                r.ramp(name, share)
            except (InvalidInputError, NotFoundError):
                continue
            done += 1
        for _ in range(done):
            r.rollback()
        assert r.weights == split
        assert assignments(r, ks) == before
        with pytest.raises(InvalidInputError, match="no earlier split"):
            r.rollback()

    def test_ramp_of_unknown_variant(self) -> None:
        """Ramping a variant the router does not have raises NotFoundError naming them."""
        with pytest.raises(NotFoundError, match="champion"):
            router({"champion": 1.0}).ramp("nope", 0.5)


# -- shadow ---------------------------------------------------------------------------------


class Raises:
    name, version = "boom", None

    def predict(self, data: Any) -> Any:
        raise RuntimeError("shadow failed")


class Sleeps:
    name, version = "slow", None

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.done = threading.Event()

    def predict(self, data: Any) -> Any:
        time.sleep(self.seconds)
        self.done.set()
        return "late"


class TestShadow:
    def test_raising_shadow_is_contained(self) -> None:
        """A shadow that raises changes neither the answer nor raises to the caller; the
        error reaches on_shadow with the request id."""
        seen: list[Any] = []
        r = Router({"main": Named("main")}, shadow={"boom": Raises()})
        r.on_shadow = seen.append
        result = r.predict([1, 2], key="u1", request_id="r-1")
        r.close()
        assert (result.variant, result.outputs) == ("main", "main")
        assert len(seen) == 1
        assert seen[0].variant == "boom"
        assert seen[0].request_id == "r-1"
        assert "shadow failed" in seen[0].error

    def test_sleeping_shadow_does_not_delay_the_primary(self) -> None:
        """The primary answers while a slow shadow still runs; the shadow's answer is
        handed over afterwards, never returned."""
        slow = Sleeps(1.0)
        seen: list[Any] = []
        r = Router({"main": Named("main")}, shadow={"slow": slow})
        r.on_shadow = seen.append
        t0 = time.perf_counter()
        result = r.predict("x")
        elapsed = time.perf_counter() - t0
        assert result.outputs == "main"
        assert elapsed < 0.5
        assert not slow.done.is_set()
        r.close()
        assert [s.outputs for s in seen] == ["late"]

    def test_full_shadow_queue_drops_instead_of_blocking(self) -> None:
        """When the shadow falls behind, mirrored requests are dropped and counted."""
        slow = Sleeps(0.3)
        r = Router({"main": Named("main")}, shadow={"slow": slow}, shadow_queue=2)
        for _ in range(10):
            assert r.predict("x").outputs == "main"
        assert r.shadow_dropped >= 7
        r.close(wait=False)

    def test_shadow_and_routed_names_must_differ(self) -> None:
        """A name cannot be both routed and shadow."""
        with pytest.raises(InvalidInputError, match="both routed and shadow"):
            Router({"a": Named("a")}, shadow={"a": Named("a")})

    def test_shadow_never_routed(self) -> None:
        """Shadow variants never answer a request."""
        r = Router({"main": Named("main")}, shadow={"s": Named("s")})
        assert {r.route(f"k{i}")[0] for i in range(200)} == {"main"}
        r.close()


# -- promote / rollback through the registry --------------------------------------------------


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """A workspace with ``m`` v1 (champion) and v2 (challenger): numpy weight models."""
    import numpy as np
    import pandas as pd

    import mlopskit as mk

    root = tmp_path / "ws"
    example = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    with mk.Workspace(root):
        mk.registry.register("m", np.array([1.0, 0.0]), input_example=example)
        mk.registry.register("m", np.array([0.0, 1.0]), input_example=example)
        mk.registry.set_alias("m", "champion", 1)
        mk.registry.set_alias("m", "challenger", 2)
    return root


def registry_router(root: Path) -> Router:
    import mlopskit as mk

    return Router(
        {"champion": "m@champion", "challenger": "m@challenger"},
        {"champion": 0.9, "challenger": 0.1},
        store=mk.Workspace(root).store,
    )


class TestPromote:
    def test_promote_then_rollback_restores_alias_and_split(self, models: Path) -> None:
        """promote() moves the alias and sends all traffic to the champion slot;
        rollback() moves the alias back and restores the split and every key's variant."""
        import mlopskit as mk

        r = registry_router(models)
        ks = [f"user-{i}" for i in range(300)]
        before = assignments(r, ks)
        assert {r.predictor(v).version for v in before} == {"1", "2"}
        mv = r.promote("challenger", message="canary looked good")
        with mk.Workspace(models):
            assert mk.registry.get("m@champion").number == 2 == mv.number
            last = mk.registry.history("m", "champion")[-1]
        assert (last.action, last.from_version, last.to_version) == ("promote", 1, 2)
        assert last.message == "canary looked good"
        assert r.split == {"champion": 1.0, "challenger": 0.0}
        assert {r.route(k)[1].version for k in ks} == {"2"}
        assert r.rollback() == {"champion": 0.9, "challenger": 0.1}
        with mk.Workspace(models):
            assert mk.registry.get("m@champion").number == 1
            assert mk.registry.history("m", "champion")[-1].action == "rollback"
        assert assignments(r, ks) == before
        assert r.predictor("champion").version == "1"

    def test_refresh_follows_the_alias(self, models: Path) -> None:
        """After the alias moved elsewhere (e.g. the loop rolled it back), refresh() loads
        the version it points to now, and only for the variants that changed."""
        import mlopskit as mk

        r = registry_router(models).load()
        assert r.refresh() == {}
        with mk.Workspace(models):
            mk.registry.set_alias("m", "champion", 2, message="moved outside the router")
        assert r.refresh() == {"champion": "2"}
        assert r.predictor("champion").version == "2"
        assert r.refresh() == {}

    def test_promote_needs_a_registry_version_and_an_alias(self, models: Path) -> None:
        """Promoting a variant without a registry version, or into a champion not given as
        'name@alias', is refused with InvalidInputError and moves nothing."""
        import mlopskit as mk

        r = Router({"champion": "m@champion", "other": Named("other")}, store=None)
        with pytest.raises(InvalidInputError, match="no registry version"):
            r.promote("other")
        with pytest.raises(InvalidInputError, match="name@alias"):
            Router({"champion": Named("c", "1"), "other": Named("o", "2")}).promote("other")
        with mk.Workspace(models):
            assert mk.registry.get("m@champion").number == 1
            assert len(mk.registry.history("m", "champion")) == 1


class TestRace:
    @pytest.mark.slow
    def test_concurrent_promote_rollback_keeps_a_consistent_history(self, models: Path) -> None:
        """Three processes promoting and rolling back one alias at random: no move is lost
        (the history has exactly the moves that succeeded), the history is one unbroken
        chain, rollbacks return to versions the alias held, and the alias ends where the
        history says."""
        import mlopskit as mk

        procs = [
            subprocess.Popen(
                [sys.executable, str(WORKER), "race", str(models), "10", str(seed)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for seed in range(3)
        ]
        try:
            for p in procs:
                assert p.stdout is not None
                assert p.stdout.readline().strip() == "ready"
            for p in procs:
                assert p.stdin is not None
                p.stdin.write("go\n")
                p.stdin.flush()
            results = []
            for p in procs:
                assert p.stdout is not None
                results.append(json.loads(p.stdout.readline()))
                assert p.wait(timeout=120) == 0
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                for stream in (p.stdin, p.stdout):
                    if stream is not None:
                        stream.close()
        moves = sum(r["promote"] + r["rollback"] for r in results)
        assert moves > 0
        with mk.Workspace(models):
            events = mk.registry.history("m", "champion")
            final = mk.registry.get("m@champion").number
        # No move lost and none invented: one event per successful call (+ the first set).
        assert len(events) == 1 + moves
        assert sum(e.action == "rollback" for e in events) == sum(r["rollback"] for r in results)
        held: set[int] = set()
        for before, after in itertools.pairwise(events):
            assert after.from_version == before.to_version  # an unbroken chain
            assert before.to_version is not None
            held.add(before.to_version)
            if after.action == "rollback":  # back to a version the alias really held
                assert after.to_version in held
        assert final == events[-1].to_version
