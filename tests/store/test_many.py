"""put_many / get_many / exists_many: several objects at once, small ones packed."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlopskit.errors import IntegrityError, InvalidInputError, NotFoundError
from mlopskit.store import ArtifactStore
from mlopskit.testing import corrupt_object


def test_put_many_stores_what_put_bytes_would(any_store: Any) -> None:
    """put_many returns, in order, the digests put_bytes gives, and the bytes read back,
    small objects packed, a large one loose, a duplicate once."""
    store: ArtifactStore = any_store
    small = [f"object {i}\n".encode() * 10 for i in range(20)]
    big = b"B" * (store.pack_threshold + 1)
    datas = [*small, big, small[0]]
    digests = store.put_many(datas)
    assert digests == [_digest(d) for d in datas]
    assert store.get_many(digests) == dict(zip(digests, datas))
    assert store.stat(digests[0]).location == "pack"
    assert store.stat(digests[20]).location == "loose"
    assert store.exists_many([*digests, "sha256:" + "0" * 64]) == [True] * 22 + [False]
    assert store.verify().ok


def test_put_many_refuses_non_bytes_and_writes_nothing(local_store: ArtifactStore) -> None:
    """A value that is not bytes is an InvalidInputError naming its type; nothing is stored."""
    with pytest.raises(InvalidInputError, match="str"):
        local_store.put_many([b"fine", "not bytes"])  # type: ignore[list-item]
    assert local_store.exists_many([_digest(b"fine")]) == [False]


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_put_many_skips_objects_in_a_fresh_pack(local_store: ArtifactStore) -> None:
    """Putting the same objects again (another handle, as a new process) writes no pack."""
    datas = [f"x{i}".encode() for i in range(10)]
    local_store.put_many(datas)
    packs = Path(local_store.root, "packs")
    before = sorted(packs.iterdir())
    ArtifactStore(local_store.root).put_many(datas)
    assert sorted(packs.iterdir()) == before


def test_get_many_names_a_damaged_object(local_store: ArtifactStore) -> None:
    """A damaged loose object read through get_many is an IntegrityError naming it; a
    missing one is NotFoundError."""
    good = local_store.put_bytes(b"good" * 100)
    bad = local_store.put_bytes(b"bad" * 100)
    corrupt_object(local_store, bad)
    with pytest.raises(IntegrityError, match=bad.digest):
        local_store.get_many([good, bad])
    with pytest.raises(NotFoundError):
        local_store.get_many([good, "sha256:" + "1" * 64])


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=600), max_size=12))
def test_put_many_round_trip(datas: list[bytes]) -> None:
    """Any list of byte strings: put_many then get_many gives them back by digest, and
    every digest is what hashing the bytes gives."""
    store = ArtifactStore(f"memory://many-{uuid.uuid4().hex}", pack_threshold=300)
    digests = store.put_many(datas)
    assert digests == [_digest(d) for d in datas]
    assert store.get_many(digests) == dict(zip(digests, datas))
    assert all(store.exists_many(digests))
