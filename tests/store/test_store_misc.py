"""URLs, extras, the stat cache, the remote read cache, progress and codec fallbacks."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from mlopskit import serialize
from mlopskit.errors import (
    IntegrityError,
    MissingExtraError,
    UnsupportedOperationError,
    UnsupportedURLError,
    UntrustedObjectError,
)
from mlopskit.store import ArtifactStore, _odb
from mlopskit.store._cache import ReadCache
from mlopskit.testing import corrupt_object, make_tree


def _age(path: Path, seconds: float = 60) -> None:
    """Make files look older than the stat cache's racy window."""
    old = time.time_ns() - int(seconds * 1e9)
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, ns=(old, old))


class TestUrls:
    def test_plain_path_and_file_url_are_the_same_store(self, tmp_path: Path) -> None:
        """A path and its file:// URL open the same objects."""
        ref = ArtifactStore(tmp_path).put_bytes(b"x")
        assert ArtifactStore(f"file://{tmp_path}").get_bytes(ref) == b"x"

    def test_unknown_scheme(self) -> None:
        """An unknown URL scheme is an UnsupportedURLError naming it."""
        with pytest.raises(UnsupportedURLError, match="nosuchfs"):
            ArtifactStore("nosuchfs://bucket/x")

    def test_missing_extra_names_it(self) -> None:
        """A known scheme whose package is missing says which extra to install."""
        pytest.importorskip("fsspec")
        try:
            import gcsfs  # noqa: F401
        except ImportError:
            with pytest.raises(MissingExtraError, match=r"mlopskit\[gcs\]"):
                ArtifactStore("gs://bucket/x")
        else:  # pragma: no cover
            pytest.skip("gcsfs is installed")

    def test_refs_refuse_filesystems_without_create_only(self) -> None:
        """Where create-only writes are not real, refs refuse instead of racing."""
        store = ArtifactStore(f"memory://nocreate-{uuid.uuid4().hex}")
        ref = store.put_bytes(b"x")
        store._loc.protocol = "ftp"  # as if the backend could not do conditional writes
        with pytest.raises(UnsupportedOperationError, match="create-only"):
            store.refs.set("r", ref)
        store._loc.protocol = "memory"
        assert store.refs.record("r") is None


class TestStatCache:
    def test_reput_dir_rehashes_only_changed_files(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """After one file changes, re-putting a directory reads only that file."""
        files = {f"d{i % 4}/f{i:03d}": os.urandom(100) for i in range(200)}
        src = make_tree(tmp_path / "src", files)
        _age(src)
        store = ArtifactStore(tmp_path / "store")
        first = store.put_dir(src)
        opened: list[str] = []
        real_open = open

        def counting_open(file: object, *args: object, **kw: object) -> object:
            if isinstance(file, str) and file.startswith(str(src)):
                opened.append(file)
            return real_open(file, *args, **kw)  # type: ignore[call-overload]

        monkeypatch.setattr("builtins.open", counting_open)
        assert store.put_dir(src) == first
        assert opened == []
        (src / "d1" / "f001").write_bytes(b"new content")
        _age(src / "d1" / "f001")
        second = store.put_dir(src)
        assert opened == [str(src / "d1" / "f001")]
        assert second != first

    def test_unchanged_file_is_not_rehashed(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """put_file of an unchanged file returns without reading it."""
        src = tmp_path / "f.bin"
        src.write_bytes(os.urandom(1000))
        _age(src)
        store = ArtifactStore(tmp_path / "store")
        ref = store.put_file(src)
        monkeypatch.setattr(
            _odb.LocalObjectDB,
            "write_file",
            lambda *a, **k: pytest.fail("re-hashed an unchanged file"),
        )
        assert store.put_file(src) == ref

    def test_recently_modified_files_are_not_trusted(self, tmp_path: Path) -> None:
        """A file changed within the racy window is re-hashed (no stale digest)."""
        src = tmp_path / "f.bin"
        src.write_bytes(b"one")
        store = ArtifactStore(tmp_path / "store")
        store.put_file(src)
        src.write_bytes(b"two")  # same size, possibly the same mtime tick
        assert store.get_bytes(store.put_file(src)) == b"two"


@pytest.mark.s3
class TestRemoteReadCache:
    def test_reads_go_through_a_verified_local_cache(self, s3_url: str, tmp_path: Path) -> None:
        """A remote read fills the cache; a damaged cache copy is replaced, not served."""
        store = ArtifactStore(s3_url, cache=tmp_path / "cache")
        ref = store.put_bytes(b"remote bytes")
        assert store.get_bytes(ref) == b"remote bytes"
        cached = ReadCache(str(tmp_path / "cache")).path(ref.digest)
        assert Path(cached).read_bytes() == b"remote bytes"
        Path(cached).write_bytes(b"garbage")
        assert store.get_bytes(ref) == b"remote bytes"
        assert Path(cached).read_bytes() == b"remote bytes"

    def test_corrupt_remote_object_is_not_cached(self, s3_url: str, tmp_path: Path) -> None:
        """A corrupt remote object raises IntegrityError and never lands in the cache."""
        store = ArtifactStore(s3_url, cache=tmp_path / "cache")
        ref = store.put_bytes(b"will be damaged")
        corrupt_object(store, ref.digest)
        with pytest.raises(IntegrityError):
            store.get_bytes(ref)
        assert ReadCache(str(tmp_path / "cache")).get(ref.digest) is None

    def test_verify_of_a_ref_reads_the_bucket_not_the_cache(
        self, s3_url: str, tmp_path: Path
    ) -> None:
        """verify(ref) on S3 reports an object damaged in the bucket even when an intact
        copy sits in the local read cache."""
        store = ArtifactStore(s3_url, cache=tmp_path / "cache")
        ref = store.put_bytes(b"cached and then damaged remotely")
        assert store.get_bytes(ref) == b"cached and then damaged remotely"
        corrupt_object(store, ref.digest)
        assert [c.digest for c in store.verify(ref).corrupt] == [ref.digest]

    def test_large_file_streams_to_s3(self, s3_url: str, tmp_path: Path) -> None:
        """A file larger than the inline limit is uploaded in parts and reads back."""
        monkey = pytest.MonkeyPatch()
        monkey.setattr(_odb, "_REMOTE_INLINE", 1024)
        try:
            store = ArtifactStore(s3_url, cache=tmp_path / "cache", chunk_size=256 * 1024)
            data = os.urandom(6 * 1024 * 1024)
            src = tmp_path / "big.bin"
            src.write_bytes(data)
            ref = store.put_file(src)
            fresh = ArtifactStore(s3_url, cache=tmp_path / "cache2")
            assert fresh.get_file(ref, tmp_path / "back.bin").read_bytes() == data
        finally:
            monkey.undo()


class TestProgress:
    def test_progress_bar_on_request(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """progress=True draws a bar on stderr; the default off a TTY draws nothing."""
        src = make_tree(tmp_path / "src", {f"f{i}": b"x" for i in range(20)})
        ArtifactStore(tmp_path / "a").put_dir(src)
        assert capsys.readouterr().err == ""
        ArtifactStore(tmp_path / "b").put_dir(src, progress=True)
        assert "put src" in capsys.readouterr().err


class TestCodecs:
    def test_pandas_without_pyarrow_falls_back_to_a_trusted_pickle(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without pyarrow a DataFrame is stored as a pandas pickle, loaded when trusted."""
        import pandas as pd

        monkeypatch.setattr("mlopskit.serialize._codecs.is_available", lambda m: False)
        frame = pd.DataFrame({"a": [1, 2]})
        store = ArtifactStore(tmp_path)
        ref = store.put(frame)
        assert ref.media_type == "application/vnd.mlopskit.pandas+pickle"
        pd.testing.assert_frame_equal(store.get(ref), frame)
        with pytest.raises(UntrustedObjectError):
            store.get(ref, trusted=False)

    def test_series_and_unparquetable_frames(self, tmp_path: Path) -> None:
        """A Series comes back a Series; a frame Parquet cannot hold is pickled."""
        import pandas as pd

        store = ArtifactStore(tmp_path)
        series = pd.Series([1.0, 2.0], name="s")
        pd.testing.assert_series_equal(store.get(store.put(series)), series)
        odd = pd.DataFrame({"mixed": [1, "a", 2.5]})
        ref = store.put(odd)
        assert serialize.is_pickle_media_type(ref.media_type)
        pd.testing.assert_frame_equal(store.get(ref), odd)

    def test_npy_never_pickles(self) -> None:
        """Object arrays are not written as npy (which would need allow_pickle)."""
        import numpy as np

        assert serialize.encode(np.array([1, "a"], dtype=object)).is_pickle
        assert serialize.encode(np.arange(3)).media_type == "application/x-npy"

    def test_equal_frames_get_equal_digests(self, tmp_path: Path) -> None:
        """Storing an equal DataFrame twice deduplicates (deterministic Parquet)."""
        import pandas as pd

        store = ArtifactStore(tmp_path)
        a = store.put(pd.DataFrame({"x": range(100)}))
        b = store.put(pd.DataFrame({"x": list(range(100))}))
        assert a.digest == b.digest


class TestLightweightPath:
    def test_local_put_and_get_load_neither_pydantic_nor_fsspec(self, tmp_path: Path) -> None:
        """Putting and reading objects and directories locally stays on os and hashlib."""
        import json
        import subprocess
        import sys

        make_tree(tmp_path / "src", {"a": b"1", "d/b": b"2"})
        code = (
            "import sys, json; from mlopskit import ArtifactStore\n"
            f"s = ArtifactStore({str(tmp_path / 'store')!r})\n"
            "r = s.put_bytes(b'x'); assert s.get_bytes(r) == b'x'\n"
            f"t = s.put_dir({str(tmp_path / 'src')!r}); s.put_dir({str(tmp_path / 'src')!r})\n"
            "print(json.dumps([m for m in ('pydantic', 'fsspec', 'structlog') "
            "if m in sys.modules]))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert json.loads(out.stdout) == []

    def test_a_put_file_process_imports_no_workspace_context(self, tmp_path: Path) -> None:
        """A process that opens a store by path and puts a file does not load what only
        the current workspace needs (getpass, socket: whoami and the workspace context)."""
        import json
        import subprocess
        import sys

        (tmp_path / "f.bin").write_bytes(b"x" * 1000)
        code = (
            "import sys, json; from mlopskit import ArtifactStore\n"
            f"ArtifactStore({str(tmp_path / 'store')!r}).put_file({str(tmp_path / 'f.bin')!r})\n"
            "print(json.dumps([m for m in ('getpass', 'socket', 'mlopskit._context') "
            "if m in sys.modules]))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert json.loads(out.stdout) == []


def test_a_relative_workspace_follows_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same relative workspace name after os.chdir is another directory's workspace
    (a notebook that changes directory must not keep writing into the old one)."""
    import mlopskit as mk

    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    with mk.Workspace("ws"):
        mk.registry.register("m", {"w": 1})
        with mk.start_run("e"):
            mk.log_metric("x", 1.0)
    monkeypatch.chdir(second)
    with mk.Workspace("ws"):
        mk.registry.register("m", {"w": 2})
        with mk.start_run("e"):
            mk.log_metric("x", 2.0)
        assert mk.registry.load("m/1") == {"w": 2}
        assert len(mk.search_runs("e")) == 1
    assert (first / "ws").is_dir() and (second / "ws").is_dir()
