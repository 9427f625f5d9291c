"""The engine room under the facade: packs, the read cache, the stat cache, retries, fsync."""

from __future__ import annotations

import errno
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mlopskit._retry import RetryPolicy
from mlopskit.errors import StorageError
from mlopskit.store import ArtifactStore, _odb
from mlopskit.store._statcache import StatCache, stat_key
from mlopskit.testing import corrupt_object, make_tree


def _age(path: Path, seconds: float = 60) -> None:
    old = time.time_ns() - int(seconds * 1e9)
    os.utime(path, ns=(old, old))


def _indexes(root: Path) -> list[Path]:
    return sorted((root / "packs").glob("*.idx"))


class TestDamagedPackIndex:
    def test_one_damaged_index_does_not_stop_writes_or_other_reads(self, tmp_path: Path) -> None:
        """With one pack index damaged, writes still work, other packs and loose objects
        are still served, and verify() names the damaged index."""
        root = tmp_path / "store"
        store = ArtifactStore(root)
        first = store.put_dir(make_tree(tmp_path / "one", {"a": b"alpha"}))
        second = store.put_dir(make_tree(tmp_path / "two", {"b": b"beta"}))
        loose = store.put_bytes(b"loose")
        damaged = next(p for p in _indexes(root) if first.hex in _entries_of(root, p))
        damaged.write_bytes(b"MKIDX01\ngarbage")
        fresh = ArtifactStore(root)
        assert fresh.put_bytes(b"new") is not None
        third = fresh.put_dir(make_tree(tmp_path / "three", {"c": b"gamma"}))
        assert (fresh.checkout(second, tmp_path / "out2") / "b").read_bytes() == b"beta"
        assert (fresh.checkout(third, tmp_path / "out3") / "c").read_bytes() == b"gamma"
        assert fresh.get_bytes(loose) == b"loose"
        report = fresh.verify()
        assert [c.path for c in report.corrupt] == [str(damaged).replace(os.sep, "/")]
        assert "damaged" in report.corrupt[0].reason

    def test_an_index_stored_under_another_packs_name_is_damage(self, tmp_path: Path) -> None:
        """A sound index copied under another pack's name is reported, not served."""
        root = tmp_path / "store"
        store = ArtifactStore(root)
        store.put_dir(make_tree(tmp_path / "one", {"a": b"alpha"}))
        real = _indexes(root)[0]
        planted = real.with_name(f"{'f' * 64}.idx")
        planted.write_bytes(real.read_bytes())
        report = ArtifactStore(root).verify()
        assert [c.path for c in report.corrupt] == [str(planted).replace(os.sep, "/")]
        assert "not of" in report.corrupt[0].reason

    def test_damaged_cached_index_is_evicted(self, tmp_path: Path) -> None:
        """A damaged copy of a pack index in the local cache is replaced from the store."""
        url = f"memory://cached-idx-{uuid.uuid4().hex}"
        cache = tmp_path / "cache"
        tree = ArtifactStore(url, cache=cache).put_dir(make_tree(tmp_path / "s", {"a": b"A"}))
        entry = ArtifactStore(url, cache=cache).read_tree(tree)[0]  # caches the index
        cached = list((cache / "packidx").glob("*.idx"))
        assert len(cached) == 1
        cached[0].write_bytes(b"not an index")
        for obj in (cache / "objects").rglob("*"):
            if obj.is_file():
                obj.unlink()  # force reads to go through the pack index
        assert ArtifactStore(url, cache=cache).get_bytes(entry.digest) == b"A"
        assert cached[0].read_bytes().startswith(b"MKIDX01\n")

    def test_remote_verify_of_a_ref_checks_the_store_not_the_cache(self, tmp_path: Path) -> None:
        """verify(ref) of a cached remote object reads the store's bytes: damage there is
        reported even though the local cached copy is intact."""
        store = ArtifactStore(f"memory://verify-{uuid.uuid4().hex}", cache=tmp_path / "cache")
        ref = store.put_bytes(b"precious")
        assert store.get_bytes(ref) == b"precious"  # now in the local cache
        corrupt_object(store, ref.digest)
        report = store.verify(ref)
        assert [c.digest for c in report.corrupt] == [ref.digest]


def _entries_of(root: Path, index: Path) -> str:
    """The hex digests listed by a pack index (for picking one in a test)."""
    from mlopskit.store._pack import parse_index

    return " ".join(h for h, _, _ in parse_index(index.read_bytes(), str(index)))


class TestRepackUnderAReader:
    def test_reader_with_a_loaded_pack_list_survives_another_process_repack(
        self, tmp_path: Path
    ) -> None:
        """After another instance's gc repacks, an instance that had loaded the pack list
        still reads a live object (no raw FileNotFoundError)."""
        root = tmp_path / "store"
        writer = ArtifactStore(root)
        writer.put_dir(make_tree(tmp_path / "both", {"x": b"live", "y": b"dead"}))
        keep = writer.put_dir(make_tree(tmp_path / "only", {"x": b"live"}))
        writer.refs.set("kept", keep)
        reader = ArtifactStore(root)
        live = reader.read_tree(keep)[0]
        assert reader.stat(live.digest).location == "pack"  # the pack list is loaded
        packs_before = set(_indexes(root))
        report = ArtifactStore(root).gc(dry_run=False, grace=timedelta(0))
        assert report.packs_rewritten == 1
        assert set(_indexes(root)) != packs_before
        assert reader.get_bytes(live.digest) == b"live"
        assert reader.exists(live.digest)
        assert (reader.checkout(keep, tmp_path / "out") / "x").read_bytes() == b"live"


class TestUnfinishedPack:
    def test_gc_removes_a_pack_whose_index_was_never_written(self, tmp_path: Path) -> None:
        """A pack left without its index by a killed writer is removed by gc after the
        grace period (and kept within it)."""
        root = tmp_path / "store"
        store = ArtifactStore(root)
        store.put_bytes(b"x")
        (root / "packs").mkdir()
        orphan = root / "packs" / f"{'e' * 64}.pack"
        orphan.write_bytes(b"half a pack")
        assert store.gc(dry_run=False, grace=timedelta(hours=1)).temp_removed == 0
        assert orphan.exists()
        _age(orphan, 7200)
        report = store.gc(dry_run=False, grace=timedelta(hours=1))
        assert report.temp_removed == 1
        assert not orphan.exists()
        assert store.verify().ok


class TestStatCache:
    def test_a_poisoned_stat_cache_in_a_shared_root_is_not_trusted(self, tmp_path: Path) -> None:
        """A stat-cache row planted in the store root by another writer cannot make
        put_file return another file's digest."""
        root = tmp_path / "store"
        store = ArtifactStore(root)
        other = store.put_bytes(b"someone else's content")
        src = tmp_path / "mine.bin"
        src.write_bytes(b"my content")
        _age(src)
        planted = StatCache(str(root / "statcache.sqlite"))
        planted.store(str(src), stat_key(os.stat(src)), other.digest)
        planted.close()
        ref = ArtifactStore(root).put_file(src)
        assert ArtifactStore(root).get_bytes(ref) == b"my content"

    def test_the_stat_cache_lives_outside_the_store_root(self, tmp_path: Path) -> None:
        """put_file and put_dir write no stat cache into the (possibly shared) store."""
        root = tmp_path / "store"
        store = ArtifactStore(root)
        src = make_tree(tmp_path / "src", {"a": b"1"})
        store.put_dir(src)
        store.put_file(src / "a")
        assert not list(root.glob("statcache*"))
        assert list((tmp_path / "user-cache").glob("statcache.sqlite"))

    def test_a_damaged_stat_cache_is_replaced_not_fatal(self, tmp_path: Path) -> None:
        """A stat-cache file damaged on disk (it is written without fsync) costs one
        re-hash: put_file and put_dir still work, and the fresh cache serves the next put."""
        src = make_tree(tmp_path / "src", {"a": b"1", "b": b"2"})
        _age(src / "a")
        _age(src / "b")
        cache = tmp_path / "user-cache" / "statcache.sqlite"
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(b"this is not a sqlite database" * 200)
        store = ArtifactStore(tmp_path / "store")
        ref = store.put_file(src / "a")
        tree = store.put_dir(src)
        assert store.get_bytes(ref) == b"1"
        assert ArtifactStore(tmp_path / "store").put_dir(src) == tree
        fresh = StatCache(str(cache))
        assert fresh.lookup(str(src / "a"), stat_key(os.stat(src / "a"))) == ref.digest
        fresh.close()


class _FlakyFile:
    def __init__(self, inner: Any, fail: bool) -> None:
        self._inner = inner
        self._fail = fail
        self.written = 0

    def write(self, data: bytes) -> int:
        if self._fail and self.written > 0:
            raise ConnectionResetError("injected network fault mid-upload")
        self.written += len(data)
        return int(self._inner.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _FlakyOpenFS:
    """Delegates to a filesystem; the first ``failures`` write-opens fail mid-write."""

    def __init__(self, fs: Any, failures: int) -> None:
        self._fs = fs
        self.failures = failures
        self.opens = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fs, name)

    def open(self, path: str, mode: str = "rb", **kw: Any) -> Any:
        f = self._fs.open(path, mode, **kw)
        if "w" not in mode:
            return f
        self.opens += 1
        return _FlakyFile(f, fail=self.opens <= self.failures)


class TestRemoteUpload:
    def _store(self, monkeypatch: pytest.MonkeyPatch, failures: int) -> tuple[Any, Any]:
        monkeypatch.setattr(_odb, "_REMOTE_INLINE", 1024)
        store = ArtifactStore(
            f"memory://upload-{uuid.uuid4().hex}",
            chunk_size=64 * 1024,
            retry=RetryPolicy(attempts=3, delay=0),
        )
        flaky = _FlakyOpenFS(store.fs, failures)
        store._loc.fs = flaky  # fault injection below the storage boundary
        return store, flaky

    def test_a_transient_fault_mid_upload_is_retried_not_reported_as_a_change(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """One transient error during a large remote put_file is retried; the file is
        stored (no "changed while it was being stored")."""
        store, flaky = self._store(monkeypatch, failures=1)
        src = tmp_path / "big.bin"
        data = os.urandom(300_000)
        src.write_bytes(data)
        ref = store.put_file(src)
        assert flaky.opens == 2
        assert store.get_bytes(ref) == data

    def test_a_failed_upload_leaves_no_object_under_its_digest(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """When every attempt fails mid-upload, no (torn) object is visible under the
        digest, and the error says how often it was tried."""
        store, flaky = self._store(monkeypatch, failures=99)
        src = tmp_path / "big.bin"
        src.write_bytes(os.urandom(300_000))
        with pytest.raises(StorageError, match=r"after 3 attempt"):
            store.put_file(src)
        assert flaky.opens == 3  # one retry loop, not nested ones
        from mlopskit.hashing import digest_bytes

        assert not store.exists(digest_bytes(src.read_bytes()))
        assert [p for p in store.fs.find(store.root) if "/objects/" in p] == []


class TestDurability:
    def test_objects_packs_and_indexes_are_fsynced_before_they_are_published(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Every file renamed into objects/ or packs/ was fsynced first, and its
        directory after, and the parent of a directory made for it (so a power loss
        never leaves a name without its bytes)."""
        events: list[tuple[str, str]] = []
        real_fsync, real_replace = os.fsync, os.replace

        def fsync(fd: int) -> None:
            events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
            real_fsync(fd)

        def replace(src: Any, dst: Any) -> None:
            events.append(("replace", f"{os.fspath(src)} -> {os.fspath(dst)}"))
            real_replace(src, dst)

        if not os.path.exists("/proc/self/fd"):
            pytest.skip("needs /proc to name file descriptors")
        root = tmp_path / "store"
        store = ArtifactStore(root, chunk_size=64 * 1024)
        big = tmp_path / "big.bin"
        big.write_bytes(os.urandom(400_000))
        src = make_tree(tmp_path / "src", {"a": b"1", "b": b"2"})
        monkeypatch.setattr(_odb, "_STREAM_PUT", 100_000)  # put() of 300 kB: the one-pass path
        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "replace", replace)
        store.put_bytes(b"small")
        store.put_bytes(os.urandom(300_000))
        store.put_file(big)
        store.put_dir(src)
        monkeypatch.undo()
        published = [(i, e[1].split(" -> ")) for i, e in enumerate(events) if e[0] == "replace"]
        targets = [dst for _, (_, dst) in published]
        assert sum("/objects/" in t for t in targets) == 3
        assert sum(t.endswith(".pack") for t in targets) == 1
        assert sum(t.endswith(".idx") for t in targets) == 1
        for i, (tmp, dst) in published:
            assert ("fsync", tmp) in events[:i], f"{dst} published before its bytes were synced"
            assert ("fsync", os.path.dirname(dst)) in events[i + 1 :], f"{dst}'s dir not synced"
            if "/objects/" in dst:  # objects/sha256/<xx>/ was new: its parent too
                grand = os.path.dirname(os.path.dirname(dst))
                assert ("fsync", grand) in events[i + 1 :], f"new dir of {dst} not synced"


@pytest.fixture(params=[True, False], ids=["writer-thread", "busy-machine"])
def spare(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Both ways of a large local write: overlapped with a writer thread, or not."""
    monkeypatch.setattr(_odb, "spare_core", lambda: request.param)
    return bool(request.param)


class TestOnePassPut:
    """put() of a large object writes it while hashing it (a writer thread)."""

    def test_a_large_put_round_trips_and_a_second_put_writes_nothing(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spare: bool
    ) -> None:
        """A large array put in several pieces reads back equal; putting it again returns
        the same ref, leaves the stored object untouched and no temporary file behind."""
        np = pytest.importorskip("numpy")
        monkeypatch.setattr(_odb, "_STREAM_PUT", 100_000)
        root = tmp_path / "store"
        store = ArtifactStore(root, chunk_size=64 * 1024)
        weights = np.random.default_rng(1).random((500, 100))  # 400 kB: 7 pieces
        ref = store.put(weights)
        path = root / "objects" / "sha256" / ref.digest[7:9] / ref.digest[9:]
        before = path.stat()
        again = store.put(weights.copy())
        assert again == ref
        assert ref.size == path.stat().st_size == len(store.get_bytes(ref))
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
        assert np.array_equal(store.get(ref), weights)
        assert list((root / "tmp").iterdir()) == []
        assert store.verify().ok

    def test_a_write_that_fails_midway_publishes_nothing(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spare: bool
    ) -> None:
        """An I/O error in the writer thread raises StorageError from put_bytes, with no
        object and no temporary file left, and the store still works after it."""
        monkeypatch.setattr(_odb, "_STREAM_PUT", 100_000)
        root = tmp_path / "store"
        store = ArtifactStore(root, chunk_size=64 * 1024)
        real_write, calls = os.write, [0]

        def write(fd: int, data: Any) -> int:
            calls[0] += 1
            if calls[0] == 3:
                raise OSError(errno.EIO, "Input/output error")
            return real_write(fd, data)

        data = os.urandom(400_000)
        monkeypatch.setattr(os, "write", write)
        with pytest.raises(StorageError, match="could not write"):
            store.put_bytes(data)
        monkeypatch.setattr(os, "write", real_write)
        assert list((root / "tmp").iterdir()) == []
        assert not (root / "objects").exists() or not any(
            p.is_file() for p in (root / "objects").rglob("*")
        )
        assert store.get_bytes(store.put_bytes(data)) == data


class TestSpareCore:
    @pytest.mark.parametrize(
        ("cores", "load", "expected"),
        [(2, 0.3, True), (2, 1.0, True), (2, 1.6, False), (2, 7.5, False), (1, 0.0, False)],
    )
    def test_a_writer_thread_is_used_only_when_a_core_is_idle(
        self, monkeypatch: pytest.MonkeyPatch, cores: int, load: float, expected: bool
    ) -> None:
        """Large local copies add a writer thread only if the load leaves a core free
        (on a busy machine the thread's hand-offs make the copy slower)."""
        from mlopskit.store import _io

        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
        monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
        assert _io.spare_core() is expected
