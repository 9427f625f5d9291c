"""The model registry: register, load, aliases, tags, history, rollback, races, gc, lineage."""

from __future__ import annotations

import itertools
import sys
import uuid
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlopskit.errors import (
    InvalidInputError,
    InvalidNameError,
    NotFoundError,
    RefConflictError,
    UntrustedObjectError,
)
from mlopskit.registry import (
    ModelVersion,
    PackageVersionWarning,
    Registry,
    parse_model_uri,
)
from mlopskit.store import ArtifactStore
from mlopskit.versioning import Datasets, edges_from, edges_into

conftest = sys.modules[next(m for m in sys.modules if m.endswith("registry.conftest"))]
Doubler = conftest.Doubler


def registered(store: ArtifactStore, n: int = 3, name: str = "clf") -> Registry:
    reg = Registry(store)
    for i in range(n):
        reg.register(name, Doubler(float(i + 1)), metrics={"acc": 0.5 + i / 10})
    return reg


class TestRegister:
    def test_versions_are_numbered_and_load_back(self, any_store: ArtifactStore) -> None:
        """Each registration gets the next number; load returns an equal model, verified."""
        reg = Registry(any_store)
        X = pd.DataFrame({"a": pd.array([1, None], dtype="Int64")})
        v1 = reg.register("clf", Doubler(2), input_example=X, metrics={"acc": 0.9}, tags={"t": "x"})
        v2 = reg.register("clf", Doubler(3))
        assert (v1.number, v2.number) == (1, 2)
        assert v1.signature is not None
        assert v1.signature.inputs.columns is not None
        assert v1.signature.inputs.columns[0].nullable
        assert v1.metrics == {"acc": 0.9}
        assert v1.python_version.count(".") == 2
        assert reg.load("clf/1").factor == 2
        assert reg.load("clf").factor == 3
        assert reg.load("clf@latest").factor == 3
        assert [v.number for v in reg.versions("clf")] == [1, 2]
        assert reg.names() == ["clf"]

    def test_files_and_directories(self, memory_store: ArtifactStore, tmp_path: Path) -> None:
        """A saved model file or directory is stored and loads as a verified local path."""
        reg = Registry(memory_store)
        f = tmp_path / "model.bin"
        f.write_bytes(b"weights")
        d = tmp_path / "savedmodel"
        d.mkdir()
        (d / "config.json").write_text("{}")
        assert reg.register("onnx", f).kind == "file"
        assert reg.register("tf", d).kind == "directory"
        assert reg.load("onnx", dest=tmp_path / "out.bin").read_bytes() == b"weights"
        assert (reg.load("tf", dest=tmp_path / "tf") / "config.json").read_text() == "{}"

    def test_run_and_lineage_are_recorded(
        self, memory_store: ArtifactStore, active_run: Any
    ) -> None:
        """The active run and the datasets a model came from are recorded as lineage."""
        ds = Datasets(memory_store)
        data = ds.commit("train", pd.DataFrame({"x": [1.0, 2.0]}))
        mv = Registry(memory_store).register("clf", Doubler(), inputs=[data])
        assert mv.run_id == active_run.run_id
        assert [e.label for e in mv.inputs] == ["train/1"]
        (edge,) = edges_into(memory_store, mv.digest)
        assert edge.relation == "registered"
        assert edges_from(memory_store, data.digest)[-1] == edge

    def test_names_uris_and_missing_things(self, memory_store: ArtifactStore) -> None:
        """Bad names are rejected; unknown models, versions and aliases are NotFoundError."""
        reg = registered(memory_store, 1)
        with pytest.raises(InvalidNameError):
            reg.register("a@b", Doubler())
        with pytest.raises(NotFoundError):
            reg.get("nope")
        with pytest.raises(NotFoundError, match="no version 7"):
            reg.get("clf/7")
        with pytest.raises(NotFoundError, match="no alias 'gold'"):
            reg.get("clf@gold")
        assert parse_model_uri("models:/clf@champion") == ("clf", "champion")
        assert parse_model_uri("clf/3") == ("clf", 3)
        assert parse_model_uri("clf") == ("clf", "latest")
        with pytest.raises(InvalidNameError):
            parse_model_uri("clf/x")


class TestTrustAndDrift:
    def test_pickles_from_elsewhere_need_trusted(self, tmp_path: Path) -> None:
        """A pickled model this store did not write loads only with trusted=True."""
        store = ArtifactStore(tmp_path / "s")
        reg = Registry(store)
        reg.register("clf", Doubler())
        for path in (tmp_path / "s" / "trust").rglob("*"):
            if path.is_file():
                path.unlink()  # as if the object had been copied in from another store
        with pytest.raises(UntrustedObjectError):
            reg.load("clf/1")
        assert reg.load("clf/1", trusted=True).factor == 2
        with pytest.raises(UntrustedObjectError):
            reg.load("clf/1", trusted=False)

    def test_package_drift_warns_with_a_diff(self, memory_store: ArtifactStore) -> None:
        """Recorded versions that differ from the runtime's give a PackageVersionWarning."""
        reg = Registry(memory_store)
        reg.register("clf", Doubler(), requirements={"numpy": "0.0.1", "no-such-dist-zz": "1.0"})
        with pytest.warns(PackageVersionWarning, match="numpy 0.0.1") as record:
            model = reg.load("clf/1")
        assert model.factor == 2
        diff = record[0].message.diff  # type: ignore[union-attr]
        assert diff["numpy"] == ("0.0.1", np.__version__)
        assert diff["no-such-dist-zz"] == ("1.0", None)

    def test_requirements_come_from_the_modules_the_model_refers_to(
        self, memory_store: ArtifactStore
    ) -> None:
        """A model pickled with references to numpy records numpy's installed version."""
        mv = Registry(memory_store).register("rng", np.random.default_rng(0))
        assert mv.requirements["numpy"] == np.__version__

    def test_matching_packages_load_silently(self, memory_store: ArtifactStore) -> None:
        """No warning when the runtime matches what was recorded."""
        Registry(memory_store).register("clf", np.arange(3))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            np.testing.assert_array_equal(Registry(memory_store).load("clf"), np.arange(3))


class TestAliases:
    def test_set_move_delete_and_resolve(self, any_store: ArtifactStore) -> None:
        """Aliases resolve in URIs, move, and can be deleted; 'latest' is reserved."""
        reg = registered(any_store)
        reg.set_alias("clf", "champion", 1)
        assert reg.get("clf@champion").number == 1
        reg.set_alias("clf", "champion", "clf/3")
        reg.set_alias("clf", "challenger", 2)
        assert reg.aliases("clf") == {"champion": 3, "challenger": 2}
        assert reg.load("clf@champion").factor == 3
        reg.delete_alias("clf", "challenger")
        assert reg.aliases("clf") == {"champion": 3}
        with pytest.raises(InvalidNameError):
            reg.set_alias("clf", "latest", 1)
        with pytest.raises(NotFoundError):
            reg.set_alias("clf", "x", 9)

    def test_rollback_restores_previous_targets_in_order(self, any_store: ArtifactStore) -> None:
        """Rollbacks undo moves one at a time; with nothing earlier it is an error."""
        reg = registered(any_store)
        for v in (1, 2, 3):
            reg.set_alias("clf", "champion", v)
        assert reg.rollback("clf", "champion").number == 2
        assert reg.rollback("clf", "champion").number == 1
        with pytest.raises(InvalidInputError, match="no earlier target"):
            reg.rollback("clf", "champion")
        assert reg.get("clf@champion").number == 1

    def test_history_is_the_audit_log(self, memory_store: ArtifactStore) -> None:
        """history() lists registrations and moves with who, when, why and from → to."""
        reg = registered(memory_store, 2)
        reg.set_alias("clf", "champion", 1, message="first pick")
        reg.set_alias("clf", "champion", 2)
        reg.rollback("clf", "champion", message="bad metrics")
        events = reg.history("clf")
        assert [e.action for e in events] == [
            "register",
            "register",
            "set_alias",
            "set_alias",
            "rollback",
        ]
        last = events[-1]
        assert (last.from_version, last.to_version, last.message) == (2, 1, "bad metrics")
        assert events[2].message == "first pick"
        assert all(e.user for e in events)
        assert [e.action for e in reg.history("clf", "champion")] == [
            "set_alias",
            "set_alias",
            "rollback",
        ]

    def test_rollback_is_a_compare_and_swap(
        self, memory_store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """If the alias moves between reading and rolling back, nothing is overwritten."""
        reg = registered(memory_store)
        reg.set_alias("clf", "champion", 1)
        reg.set_alias("clf", "champion", 2)
        real = reg._stack

        def racing(refname: str) -> Any:
            stack = real(refname)
            reg.set_alias("clf", "champion", 3)  # someone else moves it meanwhile
            return stack

        monkeypatch.setattr(reg, "_stack", racing)
        with pytest.raises(RefConflictError):
            reg.rollback("clf", "champion")
        assert reg.get("clf@champion").number == 3

    def test_rollback_refuses_a_move_away_and_back_since_it_read(
        self, memory_store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A move away and back to the same version meanwhile is a conflict, not ignored."""
        reg = registered(memory_store)
        reg.set_alias("clf", "champion", 1)
        reg.set_alias("clf", "champion", 2)
        real = reg._stack

        def racing(refname: str) -> Any:
            stack = real(refname)
            reg.set_alias("clf", "champion", 3)  # another process moves it away ...
            reg.set_alias("clf", "champion", 2)  # ... and back: same target, newer record
            return stack

        monkeypatch.setattr(reg, "_stack", racing)
        with pytest.raises(RefConflictError):
            reg.rollback("clf", "champion")
        assert reg.get("clf@champion").number == 2
        assert [e.to_version for e in reg.history("clf", "champion")] == [1, 2, 3, 2]


class TestTags:
    def test_model_and_version_tags(self, memory_store: ArtifactStore) -> None:
        """Tags on versions merge with those given at registration; model tags are separate."""
        reg = Registry(memory_store)
        reg.register("clf", Doubler(), tags={"team": "a"})
        reg.set_tag("clf", "validated", "yes", version=1)
        assert reg.get("clf/1").tags == {"team": "a", "validated": "yes"}
        reg.delete_tag("clf", "team", version=1)
        assert reg.get("clf/1").tags == {"validated": "yes"}
        reg.set_tag("clf", "owner", "ml")
        assert reg.tags("clf") == {"owner": "ml"}
        with pytest.raises(NotFoundError):
            reg.set_tag("nope", "a", "b")


class TestModuleFunctions:
    def test_the_facade_uses_the_current_workspace(self, workspace: Path) -> None:
        """mk.registry.* act on the workspace in effect at call time."""
        from mlopskit import registry

        mv = registry.register("m", Doubler(4))
        assert isinstance(mv, ModelVersion)
        registry.register("m", Doubler(5))
        registry.set_alias("m", "champion", 1)
        registry.set_alias("m", "champion", 2)
        assert registry.rollback("m", "champion").number == 1
        assert registry.load("m@champion").factor == 4
        assert registry.get("m/2").number == 2
        assert registry.aliases("m") == {"champion": 1}
        assert registry.names() == ["m"]
        assert [v.number for v in registry.versions("m")] == [1, 2]
        assert len(registry.history("m")) == 5
        registry.set_tag("m", "k", "v")
        assert registry.tags("m") == {"k": "v"}
        registry.delete_tag("m", "k")
        registry.delete_alias("m", "champion")
        assert registry.aliases("m") == {}


class TestConcurrency:
    @pytest.mark.slow
    @pytest.mark.parametrize("backend", ["local", pytest.param("s3", marks=pytest.mark.s3)])
    def test_concurrent_registrations_and_alias_moves(
        self, backend: str, tmp_path: Path, request: pytest.FixtureRequest, run_workers: Any
    ) -> None:
        """Racing processes get distinct gap-free version numbers, and no alias move is lost or torn."""
        url = str(tmp_path / "store") if backend == "local" else request.getfixturevalue("s3_url")
        results = run_workers([["register", url, "clf", "2"]] * 3)
        assert sorted(n for r in results for n in r["numbers"]) == [1, 2, 3, 4, 5, 6]
        moves = ["1,2,3", "4,5,6", "3,1,2"]
        run_workers([["alias", url, "clf", "champion", m] for m in moves])
        reg = Registry(ArtifactStore(url, cache=False))
        history = reg.store.refs.history("models/clf/aliases/champion")
        assert len(history) == 9
        for before, after in itertools.pairwise(history):
            assert before.target is not None
            assert after.previous == before.target.digest  # a chain: nothing torn or lost
        assert sorted(int(r.meta["version"]) for r in history) == sorted(
            int(v) for m in moves for v in m.split(",")
        )


class TestGc:
    def test_gc_keeps_every_model_version(self, any_store: ArtifactStore) -> None:
        """Models, input examples and alias targets are reachable; gc removes none."""
        reg = Registry(any_store)
        reg.register("clf", Doubler(), input_example=pd.DataFrame({"a": [1]}))
        reg.register("clf", Doubler(3))
        reg.set_alias("clf", "champion", 1)
        any_store.gc(dry_run=False, grace=timedelta(0))
        assert reg.load("clf/1").factor == 2
        assert reg.load("clf/2").factor == 3
        mv = reg.get("clf/1")
        assert mv.input_example is not None
        assert any_store.exists(mv.input_example)


@st.composite
def alias_ops(draw: st.DrawFn) -> list[tuple[str, int]]:
    return draw(
        st.lists(
            st.one_of(st.tuples(st.just("set"), st.integers(1, 4)), st.just(("rollback", 0))),
            min_size=1,
            max_size=14,
        )
    )


class TestRollbackProperty:
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(alias_ops())
    def test_moves_and_rollbacks_restore_recorded_targets(self, ops: list[tuple[str, int]]) -> None:
        """After any sequence of moves and rollbacks the alias is where an undo stack says."""
        reg = registered(ArtifactStore(f"memory://prop-{uuid.uuid4().hex}"), 4)
        stack: list[int] = []
        for op, version in ops:
            if op == "set":
                reg.set_alias("clf", "champion", version)
                stack.append(version)
            elif len(stack) >= 2:
                stack.pop()
                assert reg.rollback("clf", "champion").number == stack[-1]
            else:
                with pytest.raises((InvalidInputError, NotFoundError)):
                    reg.rollback("clf", "champion")
            if stack:
                assert reg.get("clf@champion").number == stack[-1]
