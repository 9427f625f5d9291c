"""Dataset records read back from a shared store are untrusted: names used as paths are
checked where they are read, damaged records are IntegrityErrors naming the record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlopskit.errors import IntegrityError, InvalidNameError, NotFoundError
from mlopskit.store import ArtifactStore
from mlopskit.versioning import Datasets

ESCAPES = [
    "../../escaped.txt",
    "../escaped.txt",
    "/tmp/absolute-escape.txt",
    "..",
    ".",
    "a/b.txt",
    "a\\b.txt",
    "nul\x00.txt",
    "x" * 256,
    7,
]


def plant(
    store: ArtifactStore, name: str, number: int, source_name: str = "source", **changes: Any
) -> str:
    """Write a dataset record as someone with write access to the store could."""
    source = Datasets(store).get(source_name)
    payload = source.model_dump(mode="json")
    payload.update(name=name, number=number, **changes)
    ref = store.put_record(payload, links=[source.data])
    refname = f"datasets/{name}/v/{number}"
    store.refs.set(refname, ref, expected=None)
    return refname


@pytest.fixture
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ArtifactStore:
    """A local store holding one committed file, with the read cache under tmp_path."""
    monkeypatch.setenv("MLOPSKIT_CACHE_DIR", str(tmp_path / "cache"))
    store = ArtifactStore(tmp_path / "store")
    f = tmp_path / "source.csv"
    f.write_text("a,b\n1,2\n")
    Datasets(store).commit("source", f)
    return store


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


class TestPlantedFileNames:
    @pytest.mark.parametrize("filename", ESCAPES)
    def test_a_planted_file_name_writes_nothing(
        self, shared: ArtifactStore, tmp_path: Path, filename: Any
    ) -> None:
        """A record naming a file outside the target (../, absolute, separators, too
        long) raises IntegrityError naming the record, and no file is written, neither
        into the cache nor into dest nor outside them."""
        refname = plant(shared, "planted", 1, metadata={"filename": filename})
        dest = tmp_path / "dest" / "inner"
        dest.mkdir(parents=True)
        before = files_under(tmp_path)
        ds = Datasets(shared)
        with pytest.raises(IntegrityError) as info:
            ds.load("planted", dest=dest)
        assert info.value.path == refname
        assert refname in str(info.value)
        with pytest.raises(IntegrityError):
            ds.load("planted")  # into the cache
        assert files_under(tmp_path) - before <= {"cache", "cache/datasets"}
        assert not Path("/tmp/absolute-escape.txt").exists()

    def test_a_planted_directory_name_writes_nothing(
        self, shared: ArtifactStore, tmp_path: Path
    ) -> None:
        """The same holds for a directory version's name."""
        d = tmp_path / "tree"
        d.mkdir()
        (d / "f.txt").write_text("x")
        Datasets(shared).commit("tree", d)
        refname = plant(shared, "planted-dir", 1, "tree", metadata={"dirname": "../../outside"})
        before = files_under(tmp_path)
        with pytest.raises(IntegrityError, match="planted-dir"):
            Datasets(shared).load("planted-dir")
        assert refname.startswith("datasets/planted-dir")
        assert files_under(tmp_path) - before <= {"cache", "cache/datasets"}
        assert not (tmp_path / "outside").exists()

    def test_a_record_filed_under_another_name_is_refused(self, shared: ArtifactStore) -> None:
        """A record whose name or number disagrees with its ref is an IntegrityError."""
        source = Datasets(shared).get("source")
        ref = shared.put_record(
            {**source.model_dump(mode="json"), "name": "../../x"}, links=[source.data]
        )
        shared.refs.set("datasets/other/v/1", ref, expected=None)
        with pytest.raises(IntegrityError, match="datasets/other/v/1"):
            Datasets(shared).load("other")


class TestCommitChecksNames:
    @pytest.mark.parametrize("filename", ["../../x", "/abs/x", "a/b", ".."])
    def test_commit_refuses_a_file_name_that_escapes(
        self, shared: ArtifactStore, tmp_path: Path, filename: str
    ) -> None:
        """commit(..., metadata={"filename": "../../x"}) raises InvalidNameError before
        anything is stored, so a later load cannot escape dest."""
        f = tmp_path / "data.bin"
        f.write_bytes(b"payload")
        ds = Datasets(shared)
        with pytest.raises(InvalidNameError):
            ds.commit("escape", f, metadata={"filename": filename})
        with pytest.raises(NotFoundError):
            ds.get("escape")

    def test_a_plain_file_name_in_metadata_is_used(
        self, shared: ArtifactStore, tmp_path: Path
    ) -> None:
        """A plain file name given in metadata names the loaded file."""
        f = tmp_path / "data.bin"
        f.write_bytes(b"payload")
        ds = Datasets(shared)
        ds.commit("renamed", f, metadata={"filename": "weights.bin"})
        (tmp_path / "out").mkdir()
        out = ds.load("renamed", dest=tmp_path / "out")
        assert out == tmp_path / "out" / "weights.bin"
        cached = ds.load("renamed")
        assert cached.name == "weights.bin"
        assert cached.read_bytes() == b"payload"


class TestDamagedRecords:
    def test_a_record_that_does_not_parse_names_itself(self, shared: ArtifactStore) -> None:
        """A dataset ref pointing at a record of the wrong shape is an IntegrityError
        naming the ref, not a pydantic ValidationError."""
        ref = shared.put_record({"name": "broken", "number": "one"})
        shared.refs.set("datasets/broken/v/1", ref, expected=None)
        ds = Datasets(shared)
        for call in (ds.get, ds.versions, ds.load):
            with pytest.raises(IntegrityError) as info:
                call("broken")
            assert info.value.path == "datasets/broken/v/1"

    def test_a_ref_to_an_object_that_is_not_a_record(self, shared: ArtifactStore) -> None:
        """A dataset ref pointing at plain bytes is an IntegrityError naming the ref."""
        ref = shared.put_bytes(b"\xff\xfe not json")
        shared.refs.set("datasets/bytes/v/1", ref, expected=None)
        with pytest.raises(IntegrityError, match="datasets/bytes/v/1"):
            Datasets(shared).get("bytes")


class TestLongNames:
    def test_a_name_over_255_bytes_is_an_invalid_name(self, memory_store: ArtifactStore) -> None:
        """Dataset names longer than a file name may be are refused up front."""
        ds = Datasets(memory_store)
        with pytest.raises(InvalidNameError, match="255"):
            ds.commit("a" * 256, np.arange(3))
        with pytest.raises(InvalidNameError):
            ds.get("a" * 300)
        assert ds.commit("a" * 255, np.arange(3)).number == 1


class TestDamagedVersionedCalls:
    def test_a_damaged_call_record_names_itself(self, shared: ArtifactStore) -> None:
        """A @versioned entry whose record is damaged raises IntegrityError naming the
        ref, on a call, on lookup and on versions(), never a pydantic ValidationError."""
        from mlopskit.versioning import versioned

        @versioned(store=shared)
        def double(x: int) -> int:
            return 2 * x

        assert double(4) == 8
        (name,) = shared.refs.list("versioned")
        shared.refs.set(name, shared.put_record({"function": 3}))
        for call in (lambda: double(4), lambda: double.lookup(4), double.versions):
            with pytest.raises(IntegrityError) as info:
                call()
            assert info.value.path == name
