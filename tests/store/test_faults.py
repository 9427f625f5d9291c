"""Full disks and flaky networks: the store reports them and loses nothing it had."""

from __future__ import annotations

import errno
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from mlopskit.errors import StorageError
from mlopskit.store import ArtifactStore, _odb
from mlopskit.testing import make_tree


def _full_disk_after(limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make os.write fail with ENOSPC once ``limit`` bytes have been written."""
    real_write = os.write
    written = [0]

    def write(fd: int, data: Any) -> int:
        if written[0] + len(data) > limit:
            raise OSError(errno.ENOSPC, "No space left on device")
        written[0] += len(data)
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)


def _tmp_files(root: Path) -> list[Path]:
    return list((root / "tmp").glob("*")) if (root / "tmp").exists() else []


class TestFullDisk:
    @pytest.mark.parametrize("spare", [True, False], ids=["writer-thread", "busy-machine"])
    def test_put_file_on_a_full_disk(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spare: bool
    ) -> None:
        """A full disk mid put_file raises StorageError, leaves no object and no temp file,
        and what was stored before is intact (with the writer thread or without)."""
        monkeypatch.setattr(_odb, "spare_core", lambda: spare)
        root = tmp_path / "store"
        store = ArtifactStore(root, chunk_size=64 * 1024)
        before = store.put_bytes(b"stored before the disk filled up")
        src = tmp_path / "big.bin"
        src.write_bytes(os.urandom(2_000_000))
        _full_disk_after(500_000, monkeypatch)
        with pytest.raises(StorageError, match="could not store"):
            store.put_file(src)
        monkeypatch.undo()
        assert _tmp_files(root) == []
        assert store.get_bytes(before) == b"stored before the disk filled up"
        report = store.verify()
        assert report.ok
        assert report.checked == 1

    def test_put_bytes_and_put_dir_on_a_full_disk(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """put_bytes and put_dir on a full disk raise StorageError and leave no partial pack."""
        root = tmp_path / "store"
        store = ArtifactStore(root)
        src = make_tree(tmp_path / "src", {f"f{i}": os.urandom(1000) for i in range(50)})
        _full_disk_after(0, monkeypatch)
        with pytest.raises(StorageError):
            store.put_bytes(b"no room")
        with pytest.raises(StorageError):
            store.put_dir(src)
        monkeypatch.undo()
        assert _tmp_files(root) == []
        assert not (root / "packs").exists() or not any((root / "packs").glob("*.idx"))
        ref = store.put_dir(src)  # with room again, it works
        assert store.verify(ref).ok


class _FlakyFS:
    """Delegates to a filesystem; every ``every``-th write raises a transient error."""

    def __init__(self, fs: Any, every: int) -> None:
        self._fs = fs
        self.every = every
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fs, name)

    def pipe_file(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.every and self.calls % self.every == 0:
            raise ConnectionResetError("injected network fault")
        return self._fs.pipe_file(*args, **kwargs)


class TestFlakyNetwork:
    def _store(self, every: int) -> tuple[ArtifactStore, _FlakyFS]:
        store = ArtifactStore(f"memory://flaky-{uuid.uuid4().hex}")
        flaky = _FlakyFS(store._loc.fs, every)
        store._loc.fs = flaky
        return store, flaky

    def test_transient_faults_are_retried(self) -> None:
        """Every other write fails once; retries store everything, refs included."""
        store, flaky = self._store(every=2)
        refs = [store.put_bytes(f"object {i}".encode()) for i in range(20)]
        for i, ref in enumerate(refs):
            store.refs.set(f"r/{i}", ref)
        assert flaky.calls > 40  # the faults happened and were retried
        assert [store.get_bytes(store.refs.get(f"r/{i}")) for i in range(20)] == [
            f"object {i}".encode() for i in range(20)
        ]

    def test_a_dead_network_is_reported_and_writes_nothing(self) -> None:
        """When every write fails, the caller gets StorageError and no object appears."""
        store, flaky = self._store(every=1)
        with pytest.raises(StorageError, match=r"failed after 4 attempt"):
            store.put_bytes(b"lost?")
        assert flaky.calls == 4  # one retry loop at the storage boundary, never nested
        assert store._loc.fs.find(store._loc.root) == []


def test_the_memory_filesystem_race_is_retried_and_nothing_else_is() -> None:
    """fsspec's memory filesystem can raise "dictionary changed size during iteration" when
    threads list and write at once: that one RuntimeError is retried, others are not."""
    from mlopskit._retry import RetryPolicy, memory_fs_race, retry

    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("dictionary changed size during iteration")
        return "ok"

    fast = RetryPolicy(attempts=3, delay=0.0, max_delay=0.0)
    assert retry(flaky, what="list", policy=fast, transient=memory_fs_race) == "ok"
    assert len(calls) == 2
    with pytest.raises(RuntimeError, match="other"):
        retry(
            lambda: (_ for _ in ()).throw(RuntimeError("other")),
            what="x",
            policy=fast,
            transient=memory_fs_race,
        )
