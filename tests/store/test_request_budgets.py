"""Request budgets of the store's users on S3 (registry, datasets, ``@versioned``), counted
by the S3 server itself (tests/_s3counting.py).

Reads of known objects are one GET each, never a HEAD first; the budgets are the figures in
docs/performance.md ("Team scale on object storage"). Operations that write are held to a
ceiling (the write path may get cheaper), reads to their exact count.
"""

from __future__ import annotations

import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlopskit.registry import Registry
from mlopskit.store import ArtifactStore
from mlopskit.versioning import Datasets, versioned

sys.path.insert(0, str(Path(__file__).parents[1]))
from _s3counting import RequestLog, counting_server

pytestmark = pytest.mark.s3


@pytest.fixture(scope="module")
def counted() -> Iterator[RequestLog]:
    """A counting S3 server for this module."""
    pytest.importorskip("s3fs")
    with counting_server() as server:
        yield server


@pytest.fixture
def store(counted: RequestLog, monkeypatch: pytest.MonkeyPatch) -> ArtifactStore:
    """A store (no local read cache) in a fresh bucket of the counting server."""
    import s3fs

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    options = _options(counted)
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(**options).mkdir(bucket)
    return ArtifactStore(f"s3://{bucket}/store", storage_options=options, cache=False)


def _options(server: RequestLog) -> dict[str, Any]:
    return {"client_kwargs": {"endpoint_url": server.endpoint}}


def _fresh(store: ArtifactStore, server: RequestLog) -> ArtifactStore:
    """Another handle on the same store, as a new process would open it (nothing cached)."""
    return ArtifactStore(store.url, storage_options=_options(server), cache=False)


def _within(counts: Counter[str], budget: dict[str, int]) -> None:
    over = {k: (counts[k], budget.get(k, 0)) for k in counts if counts[k] > budget.get(k, 0)}
    assert not over, f"over budget (found, budget): {over}; all requests: {dict(counts)}"


@dataclass
class Pickled:
    """An object only a pickle codec stores."""

    n: int


FRAME = pd.DataFrame({"a": range(100), "b": [str(i) for i in range(100)]})


def _add(x: int) -> int:
    return x + 1


class TestReads:
    def test_reading_a_known_object_is_one_get(
        self, counted: RequestLog, store: ArtifactStore
    ) -> None:
        """get_bytes of a stored object: exactly one GET (no HEAD, no listing)."""
        ref = store.put_bytes(b"x" * 1000)
        counted.reset()
        assert _fresh(store, counted).get_bytes(ref) == b"x" * 1000
        assert counted.counts() == Counter({"GET": 1})

    def test_loading_a_pickle_this_store_wrote(
        self, counted: RequestLog, store: ArtifactStore
    ) -> None:
        """get of a pickled object: the object and its trust marker, one GET each."""
        ref = store.put(Pickled(3))
        counted.reset()
        assert _fresh(store, counted).get(ref) == Pickled(3)
        assert counted.counts() == Counter({"GET": 2})

    def test_checking_out_a_tree_reads_each_file_once_without_head(
        self, counted: RequestLog, store: ArtifactStore, tmp_path: Path
    ) -> None:
        """Checkout of 12 packed files: 5 requests, the files in one GET of their pack."""
        src = tmp_path / "src"
        src.mkdir()
        for i in range(12):
            (src / f"f{i}.txt").write_text(f"file {i}\n" * 50)
        ref = store.put_dir(src)
        counted.reset()
        out = _fresh(store, counted).checkout(ref, tmp_path / "out")
        assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in src.iterdir())
        assert (out / "f3.txt").read_text() == (src / "f3.txt").read_text()
        # the manifest (packed too: its loose GET is a 404, then the pack list, the pack
        # index and its range), then one GET of the whole pack for the 12 files
        assert counted.counts() == Counter({"GET": 4, "LIST": 1})

    def test_loading_a_dataset_version(self, counted: RequestLog, store: ArtifactStore) -> None:
        """Dataset load: 1 LIST (versions) + ref + record + data by GET; by number, new process:
        the version's ref log listed and read instead."""
        Datasets(store).commit("t", FRAME)
        ds = Datasets(store)
        counted.reset()
        pd.testing.assert_frame_equal(ds.load("t"), FRAME)
        assert counted.counts() == Counter({"LIST": 1, "GET": 3})
        counted.reset()
        pd.testing.assert_frame_equal(Datasets(_fresh(store, counted)).load("t", 1), FRAME)
        assert counted.counts() == Counter({"LIST": 2, "GET": 4})  # + the version's ref log

    def test_a_versioned_hit(self, counted: RequestLog, store: ArtifactStore) -> None:
        """A @versioned hit reads its entry and output: 3 GETs, in a new process 1 LIST more."""
        f = versioned(store=store)(_add)
        assert f(41) == 42
        counted.reset()
        assert f(41) == 42
        assert counted.counts() == Counter({"GET": 3})
        counted.reset()
        assert versioned(store=_fresh(store, counted))(_add)(41) == 42
        assert counted.counts() == Counter({"LIST": 1, "GET": 3})

    def test_loading_a_model_by_alias(self, counted: RequestLog, store: ArtifactStore) -> None:
        """Loading name@alias: 2 LISTs (alias log, version tags) and GETs only, no HEAD."""
        reg = Registry(store)
        reg.register("clf", {"w": [1, 2, 3]})
        reg.set_alias("clf", "champion", 1)
        counted.reset()
        assert Registry(_fresh(store, counted)).load("clf@champion") == {"w": [1, 2, 3]}
        counts = counted.counts()
        assert counts["HEAD"] == 0
        _within(counts, {"LIST": 3, "GET": 4})


class TestWrites:
    def test_putting_a_new_object_is_one_head_and_one_put(
        self, counted: RequestLog, store: ArtifactStore
    ) -> None:
        """A new object costs one HEAD (is it stored loose?) and its PUT, and no LIST but
        the process's one listing of the packs (2 LISTs in a store without packs: s3fs
        lists the parent of an empty prefix); putting it again from a new process is that
        listing and the HEAD."""
        counted.reset()
        ref = store.put_bytes(b"new bytes" * 100)
        assert counted.counts() == Counter({"LIST": 2, "HEAD": 1, "PUT": 1})
        counted.reset()
        assert _fresh(store, counted).put_bytes(b"new bytes" * 100) == ref
        assert counted.counts() == Counter({"LIST": 2, "HEAD": 1})

    def test_putting_a_pickle_marks_it_with_one_conditional_put(
        self, counted: RequestLog, store: ArtifactStore
    ) -> None:
        """A pickled object's trust mark is one create-only PUT (no HEAD or LIST first:
        the LISTs are the packs' listing, as above),
        and marking it again from a new process is that PUT's refusal, not a second mark."""
        counted.reset()
        ref = store.put(Pickled(7))
        assert counted.counts() == Counter({"LIST": 2, "HEAD": 1, "PUT": 2})
        counted.reset()
        assert _fresh(store, counted).put(Pickled(7)) == ref
        assert counted.counts() == Counter({"LIST": 2, "HEAD": 1, "PUT": 1})
        assert _fresh(store, counted).get(ref) == Pickled(7)

    def test_register_a_model_version(self, counted: RequestLog, store: ArtifactStore) -> None:
        """Registering a version (object, version ref, lineage edges) stays within budget."""
        reg = Registry(store)
        reg.register("clf", {"w": [0]})
        counted.reset()
        reg.register("clf", {"w": [1]})
        _within(counted.counts(), {"PUT": 7, "HEAD": 4, "LIST": 11, "GET": 0})

    def test_move_an_alias(self, counted: RequestLog, store: ArtifactStore) -> None:
        """Moving an alias: one PUT (the alias log entry), reads by GET and LIST only (one
        LIST of the model's refs checks the version is not deleted)."""
        reg = Registry(store)
        reg.register("clf", {"w": [0]})
        reg.register("clf", {"w": [1]})
        reg.set_alias("clf", "champion", 1)
        counted.reset()
        reg.set_alias("clf", "champion", 2)
        counts = counted.counts()
        assert counts["PUT"] == 1 and counts["HEAD"] == 0
        _within(counts, {"PUT": 1, "GET": 4, "LIST": 3})

    def test_commit_a_dataset_version(self, counted: RequestLog, store: ArtifactStore) -> None:
        """Committing a second version: data object, record, version ref within budget."""
        ds = Datasets(store)
        ds.commit("t", FRAME)
        counted.reset()
        ds.commit("t", FRAME.head(50))
        counts = counted.counts()
        assert counts["PUT"] == 3
        _within(counts, {"PUT": 3, "HEAD": 2, "LIST": 3, "GET": 2})


def test_budget_ceilings_fail_when_exceeded() -> None:
    """_within reports an operation that costs more requests than its budget."""
    with pytest.raises(AssertionError, match="over budget"):
        _within(Counter({"GET": 2}), {"GET": 1})
    _within(Counter({"GET": 1}), {"GET": 1, "PUT": 2})
