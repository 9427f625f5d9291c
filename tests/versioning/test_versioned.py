"""@versioned: hits, misses, management methods, races, crashes, gc and lineage edges."""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlopskit.errors import ConfigError, UnhashableArgumentError
from mlopskit.store import ArtifactRef, ArtifactStore
from mlopskit.versioning import (
    Datasets,
    NotVersionedFunction,
    VersionedFunction,
    edges_from,
    edges_into,
    edges_of_run,
    versioned,
)


def counted(store: ArtifactStore, **options: Any) -> tuple[VersionedFunction[..., Any], list[Any]]:
    """A versioned function that records each real call."""
    calls: list[Any] = []

    def add(a: Any, b: int = 10) -> Any:
        calls.append((a, b))
        return {"sum": float(np.sum(a)) + b}

    return versioned(store=store, **options)(add), calls


class TestHitsAndMisses:
    def test_second_call_with_equal_content_is_a_hit(self, any_store: ArtifactStore) -> None:
        """The function runs once; the equal-content call loads the stored output."""
        f, calls = counted(any_store)
        arr = np.arange(5)
        assert f(arr) == {"sum": 20.0}
        assert f(arr.copy()) == {"sum": 20.0}
        assert len(calls) == 1

    def test_changed_argument_is_a_miss(self, any_store: ArtifactStore) -> None:
        """A different argument value calls the function again."""
        f, calls = counted(any_store)
        f(1)
        f(2)
        f(1, b=11)
        assert len(calls) == 3

    def test_defaults_and_keyword_order_do_not_change_the_key(
        self, memory_store: ArtifactStore
    ) -> None:
        """f(1), f(1, 10), f(b=10, a=1) are the same call."""
        f, calls = counted(memory_store)
        f(1)
        f(1, 10)
        f(b=10, a=1)
        assert len(calls) == 1

    def test_lookup_versions_and_clear(self, any_store: ArtifactStore) -> None:
        """lookup() never calls; versions() lists entries; clear() forgets them."""
        f, calls = counted(any_store)
        assert f.lookup(3) is None
        f(3)
        f(4)
        ref = f.lookup(3)
        assert isinstance(ref, ArtifactRef)
        assert any_store.get(ref) == {"sum": 13.0}
        versions = f.versions()
        assert [v.inputs.keys() == {"a", "b"} for v in versions] == [True, True]
        assert versions[0].output == ref
        assert f.clear() == 2
        assert f.lookup(3) is None
        f(3)
        assert len(calls) == 3

    def test_outputs_of_every_codec_round_trip(self, memory_store: ArtifactStore) -> None:
        """Arrays, frames, models and arbitrary objects come back equal on a hit."""

        @dataclass
        class Box:
            v: int

        outputs = {
            "arr": np.arange(6).reshape(2, 3),
            "df": pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}),
            "obj": Box(3),
        }

        @versioned(store=memory_store)
        def make(kind: str) -> Any:
            return outputs[kind]

        for kind, value in outputs.items():
            make(kind)
            again = make(kind)
            if isinstance(value, pd.DataFrame):
                pd.testing.assert_frame_equal(again, value)
            elif isinstance(value, np.ndarray):
                np.testing.assert_array_equal(again, value)
            else:
                assert again == value

    def test_a_returned_store_ref_is_returned_as_is(self, memory_store: ArtifactStore) -> None:
        """A function returning an ArtifactRef gets the ref back on a hit, not its content."""

        @versioned(store=memory_store)
        def put(text: str) -> ArtifactRef:
            return memory_store.put_bytes(text.encode())

        ref = put("hello")
        assert put("hello") == ref

    def test_methods_can_ignore_self(self, memory_store: ArtifactStore) -> None:
        """On a method, ignore=['self'] keys on the other arguments only."""
        calls = []

        class Model:
            @versioned(store=memory_store, ignore=["self"])
            def predict(self, x: int) -> int:
                calls.append(x)
                return x * 2

        assert Model().predict(2) == Model().predict(2) == 4
        assert calls == [2]


class TestOptions:
    def test_ignored_arguments_are_not_in_the_key(self, memory_store: ArtifactStore) -> None:
        """An ignored argument may differ (or be unhashable) and still hit."""
        calls = []

        @versioned(store=memory_store, ignore=["log"])
        def f(x: int, log: Any = None) -> int:
            calls.append(x)
            return x

        f(1, log=object())
        f(1, log=threading.Lock())
        assert calls == [1]

    def test_version_forces_a_new_key(self, memory_store: ArtifactStore) -> None:
        """version='2' gives keys distinct from version='1'."""

        def g(x: int) -> int:
            return x

        v1 = versioned(store=memory_store, version="1")(g)
        v2 = versioned(store=memory_store, version="2")(g)
        v1(1)
        assert v2.lookup(1) is None
        assert v1.lookup(1) is not None

    def test_blake3_keys(self, memory_store: ArtifactStore) -> None:
        """hash='blake3' works and keys differ from sha256 keys."""
        pytest.importorskip("blake3")
        f, calls = counted(memory_store, hash="blake3")
        f(np.arange(3))
        f(np.arange(3))
        assert len(calls) == 1
        assert f.versions()[0].algorithm == "blake3"

    def test_bad_options_fail_at_decoration(self) -> None:
        """An unknown parameter in ignore= or an unknown hash is a ConfigError at once."""
        with pytest.raises(ConfigError, match="nope"):
            versioned(ignore=["nope"])(lambda x: x)
        with pytest.raises(ConfigError, match="md5"):
            versioned(hash="md5")(lambda x: x)

    def test_bare_decorator_uses_the_current_workspace(self, workspace: Any) -> None:
        """@versioned without arguments stores in the workspace in effect at call time."""
        calls = []

        @versioned
        def f(x: int) -> int:
            calls.append(x)
            return x + 1

        assert f(1) == f(1) == 2
        assert calls == [1]
        assert workspace.exists()

    def test_unhashable_argument_is_an_error_naming_it(self, memory_store: ArtifactStore) -> None:
        """An argument that cannot be hashed raises before the function runs."""
        f, calls = counted(memory_store)
        with pytest.raises(UnhashableArgumentError, match="argument a"):
            f(threading.Lock())
        assert calls == []


class TestDisabled:
    def test_env_off_calls_through_and_stores_nothing(
        self, memory_store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """MLOPSKIT_VERSIONED=off, read at call time, makes every call run the function."""
        f, calls = counted(memory_store)
        monkeypatch.setenv("MLOPSKIT_VERSIONED", "off")
        f(1)
        f(1)
        assert len(calls) == 2
        assert f.versions() == []
        monkeypatch.setenv("MLOPSKIT_VERSIONED", "on")
        f(1)
        f(1)
        assert len(calls) == 3

    def test_disabled_twin(self, memory_store: ArtifactStore) -> None:
        """.disabled is a NotVersionedFunction with the same management API."""
        f, calls = counted(memory_store)
        twin = f.disabled
        assert isinstance(twin, NotVersionedFunction)
        twin(1)
        twin(1)
        assert len(calls) == 2
        assert twin.lookup(1) is None
        assert twin.versions() == []
        assert twin.clear() == 0


class TestAsync:
    def test_async_functions_are_versioned(self, memory_store: ArtifactStore) -> None:
        """An async function is awaited once; the second await is a hit."""
        calls = []

        @versioned(store=memory_store)
        async def fetch(x: int) -> int:
            calls.append(x)
            await asyncio.sleep(0)
            return x * 3

        async def main() -> list[int]:
            return [await fetch(2), await fetch(2)]

        assert asyncio.run(main()) == [6, 6]
        assert calls == [2]


class TestConcurrency:
    def test_threads_computing_one_key_leave_one_entry(self, local_store: ArtifactStore) -> None:
        """Eight threads racing on one key all succeed and one entry is stored."""
        barrier = threading.Barrier(8)

        @versioned(store=local_store)
        def slow(x: int) -> int:
            return x + 1

        results: list[int] = []
        errors: list[BaseException] = []

        def work() -> None:
            barrier.wait()
            try:
                results.append(slow(41))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert results == [42] * 8
        assert len(slow.versions()) == 1

    @pytest.mark.slow
    @pytest.mark.parametrize("backend", ["local", pytest.param("s3", marks=pytest.mark.s3)])
    def test_processes_computing_one_key_leave_one_entry(
        self, backend: str, tmp_path: Any, request: pytest.FixtureRequest, run_workers: Any
    ) -> None:
        """Three processes computing the same key at once: no error, one stored entry."""
        url = str(tmp_path / "store") if backend == "local" else request.getfixturevalue("s3_url")
        results = run_workers([["versioned", url]] * 3)
        assert [r["value"] for r in results] == [49] * 3
        store = ArtifactStore(url, cache=False)
        assert len(store.refs.list("versioned")) == 1

    def test_a_crash_while_storing_leaves_no_entry(
        self, local_store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """If the process dies before publishing, there is no half entry; the next call stores."""
        f, calls = counted(local_store)
        real = local_store.refs.set

        def crash(*args: Any, **kwargs: Any) -> Any:
            if str(args[0]).startswith("versioned/"):
                raise KeyboardInterrupt("killed")
            return real(*args, **kwargs)

        monkeypatch.setattr(local_store.refs, "set", crash)
        with pytest.raises(KeyboardInterrupt):
            f(5)
        monkeypatch.setattr(local_store.refs, "set", real)
        assert f.lookup(5) is None
        assert f.versions() == []
        f(5)
        f(5)
        assert len(calls) == 2


class TestGc:
    def test_gc_keeps_every_stored_output(self, any_store: ArtifactStore) -> None:
        """Outputs are reachable from their entries' refs, so gc never sweeps them."""
        f, _ = counted(any_store)
        f(np.arange(100))
        ref = f.lookup(np.arange(100))
        assert ref is not None
        any_store.gc(dry_run=False, grace=timedelta(0))
        assert any_store.exists(ref)
        assert f(np.arange(100)) == {"sum": 4960.0}


class TestLineage:
    def test_a_miss_records_inputs_to_output(self, memory_store: ArtifactStore) -> None:
        """The edge names each argument's digest, the output, function and code hash."""
        f, _ = counted(memory_store)
        f(2)
        out = f.lookup(2)
        assert out is not None
        (edge,) = edges_into(memory_store, out.digest)
        assert edge.relation == "derived"
        assert set(edge.inputs) == {"a", "b"}
        assert edge.function is not None
        assert edge.function.endswith("add")
        assert edge.code_hash == f.code_hash
        assert edges_from(memory_store, edge.inputs["a"].digest) == [edge]

    def test_the_active_run_is_recorded(self, memory_store: ArtifactStore, active_run: Any) -> None:
        """A call inside a run records the run id (read from the shared context)."""
        f, _ = counted(memory_store)
        f(3)
        assert f.versions()[0].run_id == active_run.run_id
        edges = edges_of_run(memory_store, active_run.run_id)
        assert sorted(e.relation for e in edges) == ["derived", "used"]  # the run used the output
        assert {e.run_id for e in edges} == {active_run.run_id}
        (used,) = [e for e in edges if e.relation == "used"]
        assert used.output is not None
        assert used.output.id == f"run:{active_run.run_id}"

    def test_inputs_name_the_dataset_or_step_they_came_from(
        self, memory_store: ArtifactStore
    ) -> None:
        """A loaded dataset and a previous step's output appear as such in the edges."""
        ds = Datasets(memory_store)
        version = ds.commit("raw", pd.DataFrame({"x": [1.0, 2.0, 3.0]}))

        @versioned(store=memory_store)
        def double(df: pd.DataFrame) -> pd.DataFrame:
            return df * 2

        @versioned(store=memory_store)
        def total(df: pd.DataFrame) -> float:
            return float(df["x"].sum())

        assert total(double(ds.load("raw"))) == 12.0
        first = edges_from(memory_store, version.digest)
        assert [e.inputs["df"].kind for e in first] == ["dataset"]
        assert first[0].inputs["df"].label == "raw/1"
        assert first[0].output is not None
        (second,) = edges_from(memory_store, first[0].output.digest)
        assert second.inputs["df"].kind == "versioned"


def test_unique_function_ids_for_local_functions(memory_store: ArtifactStore) -> None:
    """Two local functions with the same name in different scopes get distinct entries."""

    def make(n: int) -> VersionedFunction[..., int]:
        def f(x: int) -> int:
            return x + n

        return versioned(store=memory_store, version=str(uuid.uuid4()))(f)

    a, b = make(1), make(2)
    assert a(1) == 2
    assert b(1) == 3
