"""The store conformance suite: every store backend passes these tests.

Subclass :class:`StoreConformance` and provide a ``store`` fixture that returns a fresh,
empty :class:`~mlopskit.store.ArtifactStore`.
"""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mlopskit.errors import (
    IntegrityError,
    InvalidDigestError,
    InvalidInputError,
    InvalidNameError,
    NotFoundError,
    RefConflictError,
    UntrustedObjectError,
)
from mlopskit.serialize import canonical_json
from mlopskit.store import ArtifactRef, ArtifactStore

__all__ = ["StoreConformance", "corrupt_object", "make_tree"]


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    """Create ``files`` (relative path → content) under ``root``."""
    for rel, data in files.items():
        path = root.joinpath(*rel.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    root.mkdir(parents=True, exist_ok=True)
    return root


def corrupt_object(store: ArtifactStore, digest: str, data: bytes = b"tampered") -> str:
    """Overwrite the stored bytes of a loose or packed object; returns the path touched.

    Uses only the store's public surface (``stat`` says where the object lives, ``fs``
    is the filesystem under it).
    """
    info = store.stat(digest)
    fs = store.fs
    if info.location == "loose":
        fs.pipe_file(info.path, data)
        return info.path
    assert info.offset is not None
    blob = bytearray(fs.cat_file(info.path))
    blob[info.offset] ^= 0xFF
    fs.pipe_file(info.path, bytes(blob))
    return info.path


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _files(store: ArtifactStore) -> set[str]:
    """Every file under the store's root, relative to it, but writes in progress (tmp/)."""
    fs = store.fs
    fs.invalidate_cache(store.root)
    try:
        found = fs.find(store.root)
    except FileNotFoundError:
        return set()
    root = store.root.strip("/")
    rels = {p.strip("/")[len(root) :].lstrip("/") for p in found}
    return {rel for rel in rels if not rel.startswith("tmp/")}


class StoreConformance:
    """Behaviour every store backend must have (local, memory, S3, ...)."""

    @pytest.fixture
    def store(self) -> ArtifactStore:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    # -- bytes -----------------------------------------------------------------------

    def test_put_bytes_round_trip_and_digest(self, store: ArtifactStore) -> None:
        """Bytes come back unchanged and are named by hashlib's sha256."""
        data = os.urandom(1000)
        ref = store.put_bytes(data)
        assert ref.digest == _sha(data)
        assert ref.size == 1000
        assert store.get_bytes(ref) == data
        assert store.get_bytes(ref.digest) == data
        assert store.exists(ref)

    def test_putting_existing_bytes_writes_nothing(self, store: ArtifactStore) -> None:
        """A second put of the same content adds no file."""
        store.put_bytes(b"same")
        before = _files(store)
        again = store.put_bytes(b"same")
        assert again.digest == _sha(b"same")
        assert _files(store) == before

    def test_empty_bytes(self, store: ArtifactStore) -> None:
        """The empty object is stored and read back."""
        ref = store.put_bytes(b"")
        assert ref.size == 0
        assert store.get_bytes(ref) == b""

    def test_open_streams_the_object(self, store: ArtifactStore) -> None:
        """open() gives a readable stream of the object's bytes."""
        data = os.urandom(300_000)
        ref = store.put_bytes(data)
        with store.open(ref) as f:
            assert f.read() == data

    # -- files and directories -----------------------------------------------------------

    def test_put_file_and_get_file(self, store: ArtifactStore, tmp_path: Path) -> None:
        """A file larger than the copy buffer round-trips through put_file/get_file."""
        store.chunk_size = 64 * 1024
        src = tmp_path / "big.bin"
        data = os.urandom(1_000_000)
        src.write_bytes(data)
        ref = store.put_file(src)
        assert ref.digest == _sha(data)
        assert ref.size == len(data)
        out = store.get_file(ref, tmp_path / "out" / "copy.bin")
        assert out.read_bytes() == data

    def test_put_dir_and_checkout(self, store: ArtifactStore, tmp_path: Path) -> None:
        """A nested directory, with an empty subdirectory and modes, checks out identically."""
        files = {"a.txt": b"A", "sub/b.txt": b"B" * 5000, "sub/deeper/c.bin": os.urandom(300_000)}
        src = make_tree(tmp_path / "src", files)
        (src / "empty").mkdir()
        os.chmod(src / "a.txt", 0o755)
        ref = store.put_dir(src)
        assert ref.kind == "tree"
        assert ref.size == sum(len(v) for v in files.values())
        out = store.checkout(ref, tmp_path / "out")
        for rel, data in files.items():
            assert out.joinpath(*rel.split("/")).read_bytes() == data
        assert (out / "empty").is_dir()
        assert os.stat(out / "a.txt").st_mode & 0o777 == 0o755
        paths = {rel for rel, _ in store.walk(ref)}
        assert paths == {"a.txt", "empty", "sub", "sub/b.txt", "sub/deeper", "sub/deeper/c.bin"}

    def test_large_flat_directory_is_sharded(self, store: ArtifactStore, tmp_path: Path) -> None:
        """A directory of 1,500 files round-trips, and one changed file rewrites small objects."""
        files = {f"f{i:05d}": str(i).encode() for i in range(1500)}
        src = make_tree(tmp_path / "flat", files)
        ref = store.put_dir(src)
        assert len(store.read_tree(ref)) == 1500
        top = store.get_bytes(ref)
        assert len(top) < 5000  # lists shards, not 1,500 entries
        (src / "f00042").write_bytes(b"changed")
        ref2 = store.put_dir(src)
        assert ref2.digest != ref.digest
        out = store.checkout(ref2, tmp_path / "out")
        assert (out / "f00042").read_bytes() == b"changed"
        assert (out / "f01499").read_bytes() == b"1499"

    def test_checkout_refuses_a_non_empty_destination(
        self, store: ArtifactStore, tmp_path: Path
    ) -> None:
        """checkout into a non-empty directory needs overwrite=True."""
        ref = store.put_dir(make_tree(tmp_path / "src", {"a": b"1"}))
        dest = make_tree(tmp_path / "dest", {"other": b"x"})
        with pytest.raises(InvalidInputError, match="not empty"):
            store.checkout(ref, dest)
        store.checkout(ref, dest, overwrite=True)
        assert (dest / "a").read_bytes() == b"1"
        assert (dest / "other").exists()

    def test_put_missing_file_or_dir_is_not_found(
        self, store: ArtifactStore, tmp_path: Path
    ) -> None:
        """Putting a path that does not exist is a NotFoundError and writes nothing."""
        before = _files(store)
        with pytest.raises(NotFoundError, match="no such file"):
            store.put_file(tmp_path / "missing.bin")
        with pytest.raises(NotFoundError, match="no such directory"):
            store.put_dir(tmp_path / "missing")
        assert _files(store) == before

    def test_malicious_manifest_names_are_refused(
        self, store: ArtifactStore, tmp_path: Path
    ) -> None:
        """A manifest naming '..' or an absolute path is refused before anything is written."""
        blob = store.put_bytes(b"evil")
        for bad in ("..", "/etc/passwd", "a/../../b"):
            manifest = canonical_json(
                {
                    "entries": [
                        {"digest": blob.digest, "kind": "blob", "mode": 420, "name": bad, "size": 4}
                    ],
                    "format": "mlopskit.tree/1",
                }
            )
            tree = ArtifactRef(digest=store.put_bytes(manifest).digest, size=4, kind="tree")
            dest = tmp_path / "victim" / "inner"
            with pytest.raises(InvalidNameError):
                store.checkout(tree, dest)
            assert not (tmp_path / "victim").exists() or not any(
                (tmp_path / "victim").rglob("*evil*")
            )
            assert not (tmp_path / "passwd").exists()

    # -- objects -----------------------------------------------------------------------

    def test_objects_round_trip_with_codecs(self, store: ArtifactStore) -> None:
        """Arrays, frames, JSON values and arbitrary objects come back equal."""
        import numpy as np
        import pandas as pd

        arr = np.arange(12, dtype="float32").reshape(3, 4)
        frame = pd.DataFrame({"x": [1.5, 2.5], "y": ["a", "b"]}, index=[10, 20])
        value = {"b": [1, 2.5, None, True], "a": "ü"}
        assert np.array_equal(store.get(store.put(arr)), arr)
        pd.testing.assert_frame_equal(store.get(store.put(frame)), frame)
        assert store.get(store.put(value)) == value
        assert store.put(value).media_type == "application/json"
        assert store.get(store.put({1, 2, 3})) == {1, 2, 3}  # cloudpickle, written here

    def test_get_by_bare_digest_sniffs_the_codec(self, store: ArtifactStore) -> None:
        """get() of a bare digest decodes npy and JSON by their first bytes."""
        import numpy as np

        arr = np.arange(5)
        assert np.array_equal(store.get(store.put(arr).digest), arr)
        assert store.get(store.put([1, 2]).digest) == [1, 2]

    def test_untrusted_pickles_are_refused(self, store: ArtifactStore) -> None:
        """trusted=False never unpickles; a pickle this store did not write needs trusted=True."""
        import cloudpickle

        ref = store.put({"not", "json"})
        with pytest.raises(UntrustedObjectError):
            store.get(ref, trusted=False)
        foreign = store.put_bytes(cloudpickle.dumps({"x"}))
        with pytest.raises(UntrustedObjectError):
            store.get(foreign.digest)
        assert store.get(foreign.digest, trusted=True) == {"x"}

    def test_records_keep_links(self, store: ArtifactStore) -> None:
        """A record round-trips and its links survive gc."""
        blob = store.put_bytes(b"payload")
        rec = store.put_record({"name": "r"}, links=[blob])
        assert store.read_record(rec) == {"name": "r"}
        store.refs.set("records/r", rec)
        store.gc(dry_run=False, grace=timedelta(0))
        assert store.get_bytes(blob) == b"payload"

    # -- bad input ---------------------------------------------------------------------

    def test_malformed_digests_are_invalid(self, store: ArtifactStore) -> None:
        """A digest of the wrong form is an InvalidDigestError, never a lookup."""
        for bad in ("sha256:xyz", "md5:" + "0" * 32, "0" * 64, "sha256:" + "A" * 64, ""):
            with pytest.raises(InvalidDigestError):
                store.get_bytes(bad)

    def test_unknown_object_is_not_found(self, store: ArtifactStore) -> None:
        """Reading a well-formed but absent digest raises NotFoundError naming it."""
        digest = _sha(b"never stored")
        with pytest.raises(NotFoundError, match=digest):
            store.get_bytes(digest)
        assert not store.exists(digest)

    def test_put_bytes_rejects_non_bytes(self, store: ArtifactStore) -> None:
        """put_bytes of a str is an InvalidInputError."""
        with pytest.raises(InvalidInputError):
            store.put_bytes("text")  # type: ignore[arg-type]

    # -- integrity ---------------------------------------------------------------------

    def test_corrupt_loose_object_is_detected(self, store: ArtifactStore) -> None:
        """A tampered object raises IntegrityError on read and shows in verify()."""
        ref = store.put_bytes(b"original content")
        path = corrupt_object(store, ref.digest)
        with pytest.raises(IntegrityError, match=ref.digest) as info:
            store.get_bytes(ref)
        assert path in str(info.value) or "corrupt" in str(info.value)
        report = store.verify()
        assert not report.ok
        assert [c.digest for c in report.corrupt] == [ref.digest]

    def test_corrupt_packed_object_is_detected(self, store: ArtifactStore, tmp_path: Path) -> None:
        """A tampered packed file is caught on checkout and by verify()."""
        ref = store.put_dir(make_tree(tmp_path / "src", {"a": b"alpha", "b": b"beta"}))
        entry = store.read_tree(ref)[0]
        corrupt_object(store, entry.digest)
        fresh = ArtifactStore(store.url, cache=False)
        with pytest.raises(IntegrityError):
            fresh.get_bytes(entry.digest)
        assert not fresh.verify().ok

    def test_verify_clean_store(self, store: ArtifactStore, tmp_path: Path) -> None:
        """verify() of an intact store checks every object and reports none corrupt."""
        store.put_bytes(b"x")
        ref = store.put_dir(make_tree(tmp_path / "src", {"a": b"1", "b/c": b"2"}))
        report = store.verify()
        assert report.ok
        assert report.checked >= 5
        assert store.verify(ref).ok

    # -- refs --------------------------------------------------------------------------

    def test_ref_set_get_history_list(self, store: ArtifactStore) -> None:
        """Refs move, keep an ordered audit history, and list by prefix."""
        a, b = store.put_bytes(b"a"), store.put_bytes(b"b")
        store.refs.set("models/m/champion", a, message="first")
        store.refs.set("models/m/champion", b, expected=a, message="promote")
        store.refs.set("models/other", a)
        assert store.refs.get("models/m/champion") == b
        hist = store.refs.history("models/m/champion")
        assert [(h.seq, h.target, h.previous, h.message) for h in hist] == [
            (1, a, None, "first"),
            (2, b, a.digest, "promote"),
        ]
        assert store.refs.list("models") == ["models/m/champion", "models/other"]
        assert store.refs.list("models/m") == ["models/m/champion"]

    def test_stale_compare_and_swap_raises_and_writes_nothing(self, store: ArtifactStore) -> None:
        """A set with a stale expected target raises RefConflictError and leaves history."""
        a, b, c = (store.put_bytes(x) for x in (b"a", b"b", b"c"))
        store.refs.set("r", a)
        store.refs.set("r", b)
        with pytest.raises(RefConflictError) as info:
            store.refs.set("r", c, expected=a)
        assert info.value.found == b.digest
        assert len(store.refs.history("r")) == 2
        with pytest.raises(RefConflictError):
            store.refs.set("r", c, expected=None)  # "must not exist yet"
        assert store.refs.get("r") == b

    def test_ref_delete_keeps_history(self, store: ArtifactStore) -> None:
        """Deleting a ref hides it from get and list but keeps its history."""
        a = store.put_bytes(b"a")
        store.refs.set("gone", a)
        store.refs.delete("gone")
        with pytest.raises(NotFoundError, match="deleted"):
            store.refs.get("gone")
        assert "gone" not in store.refs.list()
        assert [h.target for h in store.refs.history("gone")] == [a, None]
        store.refs.set("gone", a, expected=None)  # may be re-created
        assert store.refs.get("gone") == a

    def test_ref_to_missing_object_is_refused(self, store: ArtifactStore) -> None:
        """A ref may only point at an object already stored (objects before refs)."""
        ghost = ArtifactRef(digest=_sha(b"ghost"), size=5)
        with pytest.raises(NotFoundError):
            store.refs.set("r", ghost)
        assert store.refs.record("r") is None

    def test_invalid_ref_names(self, store: ArtifactStore) -> None:
        """Names with '..', empty segments or a leading '/' are InvalidNameError."""
        a = store.put_bytes(b"a")
        for bad in ("", "../x", "a//b", "/abs", "a/./b", "a/~log", "sp ace"):
            with pytest.raises(InvalidNameError):
                store.refs.set(bad, a)

    # -- gc ----------------------------------------------------------------------------

    def test_gc_sweeps_only_unreachable(self, store: ArtifactStore, tmp_path: Path) -> None:
        """gc removes what no ref (or its history) reaches, and nothing else."""
        kept_tree = store.put_dir(make_tree(tmp_path / "kept", {"a": b"keep-a", "s/b": b"keep-b"}))
        old = store.put_bytes(b"old target")
        store.refs.set("data", old)
        store.refs.set("data", kept_tree)  # history still reaches `old`
        garbage = store.put_bytes(b"garbage")
        dropped_tree = store.put_dir(make_tree(tmp_path / "dropped", {"z": b"zzz"}))
        dry = store.gc(dry_run=True, grace=timedelta(0))
        assert garbage.digest in dry.removed
        assert store.exists(garbage)  # dry run removes nothing
        report = store.gc(dry_run=False, grace=timedelta(0))
        assert garbage.digest in report.removed
        assert dropped_tree.digest in report.removed
        assert not store.exists(garbage)
        assert store.get_bytes(old) == b"old target"
        out = store.checkout(kept_tree, tmp_path / "out")
        assert (out / "s" / "b").read_bytes() == b"keep-b"
        assert store.verify().ok

    def test_gc_grace_protects_recent_objects(self, store: ArtifactStore) -> None:
        """Objects written within the grace period survive gc even if unreferenced."""
        young = store.put_bytes(b"young")
        report = store.gc(dry_run=False, grace=timedelta(hours=1))
        assert young.digest not in report.removed
        assert report.kept_young >= 1
        assert store.exists(young)

    def test_gc_keep_argument(self, store: ArtifactStore) -> None:
        """Objects named in keep= survive gc."""
        ref = store.put_bytes(b"pinned")
        store.gc(keep=[ref], dry_run=False, grace=timedelta(0))
        assert store.exists(ref)

    # -- damaged contents and other writers ----------------------------------------------

    def test_duplicate_manifest_names_are_refused(
        self, store: ArtifactStore, tmp_path: Path
    ) -> None:
        """A manifest naming an entry twice is an IntegrityError; checkout writes nothing."""
        blob = store.put_bytes(b"x")
        row = {"digest": blob.digest, "kind": "blob", "mode": 420, "name": "f", "size": 1}
        manifest = canonical_json({"entries": [row, row], "format": "mlopskit.tree/1"})
        tree = ArtifactRef(digest=store.put_bytes(manifest).digest, size=2, kind="tree")
        with pytest.raises(IntegrityError, match="twice"):
            store.checkout(tree, tmp_path / "out")
        assert not (tmp_path / "out" / "f").exists()

    def test_a_damaged_pack_index_does_not_stop_the_store(
        self, store: ArtifactStore, tmp_path: Path
    ) -> None:
        """With one pack index damaged, another instance still writes and reads, and
        verify() names the damaged index."""
        tree = store.put_dir(make_tree(tmp_path / "src", {"a": b"packed"}))
        pack = store.stat(store.read_tree(tree)[0].digest).path
        index = pack[: -len(".pack")] + ".idx"
        store.fs.pipe_file(index, b"MKIDX01\ndamaged")
        other = type(store)(store.url, cache=False)
        ref = other.put_bytes(b"still writable")
        assert other.get_bytes(ref) == b"still writable"
        again = other.put_dir(make_tree(tmp_path / "src2", {"b": b"packed too"}))
        assert (other.checkout(again, tmp_path / "out") / "b").read_bytes() == b"packed too"
        assert [c.path.rstrip("/").rsplit("/", 1)[-1] for c in other.verify().corrupt] == [
            index.rsplit("/", 1)[-1]
        ]

    def test_reads_survive_a_repack_by_another_instance(
        self, store: ArtifactStore, tmp_path: Path
    ) -> None:
        """An instance that loaded the pack list still reads a live packed object after
        another instance's gc rewrote that pack."""
        store.put_dir(make_tree(tmp_path / "both", {"x": b"live", "y": b"dead"}))
        keep = store.put_dir(make_tree(tmp_path / "only", {"x": b"live"}))
        store.refs.set("kept", keep)
        reader = type(store)(store.url, cache=False)
        live = reader.read_tree(keep)[0]
        assert reader.stat(live.digest).location == "pack"
        report = type(store)(store.url, cache=False).gc(dry_run=False, grace=timedelta(0))
        assert report.packs_rewritten == 1
        assert reader.get_bytes(live.digest) == b"live"
        assert (reader.checkout(keep, tmp_path / "out") / "x").read_bytes() == b"live"

    def test_stat(self, store: ArtifactStore, tmp_path: Path) -> None:
        """stat() tells loose from packed objects and their size."""
        loose = store.put_bytes(b"loose")
        info = store.stat(loose)
        assert info.location == "loose"
        assert info.size == 5
        tree = store.put_dir(make_tree(tmp_path / "d", {"f": b"packed"}))
        entry = store.read_tree(tree)[0]
        assert store.stat(entry.digest).location == "pack"

    def helper_roundtrip(self, store: ArtifactStore, value: Any) -> Any:
        """Put then get ``value`` (for property tests in subclasses)."""
        return store.get(store.put(value))
