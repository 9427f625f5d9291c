"""push to S3: the requests it costs, counted by the S3 server itself (tests/_s3counting.py).

A new tree travels packed: its requests do not grow with its number of files.
"""

from __future__ import annotations

import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlopskit import _context
from mlopskit.store import ArtifactStore
from mlopskit.sync import sync

sys.path.insert(0, str(Path(__file__).parent))
from _s3counting import RequestLog, counting_server

pytestmark = pytest.mark.s3


@pytest.fixture(scope="module")
def counted() -> Iterator[RequestLog]:
    """A counting S3 server for this module."""
    pytest.importorskip("s3fs")
    with counting_server() as server:
        yield server


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLOPSKIT_HOME", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("MLOPSKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MLOPSKIT_PROGRESS", "off")
    monkeypatch.setattr(_context, "_process_workspace", [None])


def _remote(server: RequestLog) -> ArtifactStore:
    """A store in a fresh bucket of the counting server (no local read cache)."""
    import s3fs

    options: dict[str, Any] = {"client_kwargs": {"endpoint_url": server.endpoint}}
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(**options).mkdir(bucket)
    return ArtifactStore(f"s3://{bucket}/ws", storage_options=options, cache=False)


def _dataset(root: Path, dirs: int, files: int) -> ArtifactStore:
    """A local workspace with one dataset-like ref: a record linking a tree of
    ``dirs`` directories of ``files`` small files each."""
    data = root / "data"
    for d in range(dirs):
        (data / f"d{d:02d}").mkdir(parents=True)
        for i in range(files):
            (data / f"d{d:02d}" / f"f{i:04d}.txt").write_text(f"file {d}/{i}\n" * 20)
    store = ArtifactStore(root / "ws")
    tree = store.put_dir(data)
    store.refs.set("datasets/files", store.put_record({"name": "files"}, links=[tree]))
    return store


def _push_counts(server: RequestLog, local: ArtifactStore) -> Counter[str]:
    remote = _remote(server)
    server.reset()
    report = sync(local, remote, runs=False)
    counts = server.counts()
    assert report.objects_copied == report.objects_missing
    options = {"client_kwargs": {"endpoint_url": server.endpoint}}
    assert ArtifactStore(remote.url, storage_options=options, cache=False).verify().ok
    return counts


def test_a_new_tree_costs_the_same_requests_whatever_its_size(
    counted: RequestLog, tmp_path: Path
) -> None:
    """Pushing a dataset of 10 directories to an empty S3 remote costs the same 21
    requests with 20 files per directory as with 200: the files go in one pack, never
    one request (or one lookup) each."""
    small = _push_counts(counted, _dataset(tmp_path / "small", 10, 20))
    large = _push_counts(counted, _dataset(tmp_path / "large", 10, 200))
    assert small == large == EXPECTED, (small, large)


#: A cold push of one dataset ref. LIST: the ref's log (before planning and before the
#: compare-and-swap) and the packs, each 2 (s3fs lists the parent of an empty prefix);
#: HEAD: the record, the tree, 8 entries of its first level (a sample: mostly missing,
#: so the tree is new and goes whole), the record again when it is written; PUT: the
#: pack and its index, the record, the ref's log entry.
EXPECTED = Counter({"LIST": 6, "HEAD": 11, "PUT": 4})
