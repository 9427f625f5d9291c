"""Invariants of the store, checked on generated inputs (hypothesis)."""

from __future__ import annotations

import hashlib
import random
import tempfile
import uuid
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlopskit.hashing import digest_bytes, digester_for, new_digester
from mlopskit.serialize import canonical_json
from mlopskit.store import ArtifactStore, TreeEntry
from mlopskit.store._tree import encode_tree
from mlopskit.testing import make_tree

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/\\\x00", exclude_categories=("Cs",)),
    min_size=1,
    max_size=12,
).filter(lambda n: n not in (".", ".."))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
# relative paths: 1-3 segments of ascii names (portable file names)
segment = st.text(alphabet="abcdefghij_-.0123", min_size=1, max_size=6).filter(
    lambda n: n not in (".", "..")
)
trees = st.dictionaries(
    st.lists(segment, min_size=1, max_size=3).map("/".join),
    st.binary(max_size=2000),
    max_size=12,
).filter(
    lambda files: not any(a != b and b.startswith(a + "/") for a in files for b in files)
)  # a file is not a dir


def _memory_store() -> ArtifactStore:
    return ArtifactStore(f"memory://prop-{uuid.uuid4().hex}")


class TestDigests:
    @given(st.binary(max_size=5000))
    @SETTINGS
    def test_digest_equals_hashlib(self, data: bytes) -> None:
        """Object names are hashlib's sha256 of the bytes, prefixed."""
        store = _memory_store()
        assert store.put_bytes(data).digest == "sha256:" + hashlib.sha256(data).hexdigest()
        assert digest_bytes(data) == "sha256:" + hashlib.sha256(data).hexdigest()

    @given(st.lists(st.binary(max_size=700), max_size=8))
    @SETTINGS
    def test_digester_is_incremental_hashlib(self, chunks: list[bytes]) -> None:
        """The store's one hasher factory gives hashlib's sha256 of the concatenation,
        however the bytes are chunked, and digester_for reproduces a digest's algorithm."""
        h = new_digester()
        for chunk in chunks:
            h.update(memoryview(chunk))
        whole = b"".join(chunks)
        assert h.digest() == "sha256:" + hashlib.sha256(whole).hexdigest()
        assert h.raw() == hashlib.sha256(whole).digest()
        again = digester_for(h.digest())
        again.update(whole)
        assert again.digest() == h.digest()

    @given(st.binary(max_size=5000))
    @SETTINGS
    def test_bytes_round_trip(self, data: bytes) -> None:
        """Whatever bytes go in come out."""
        store = _memory_store()
        assert store.get_bytes(store.put_bytes(data)) == data


class TestObjects:
    @given(json_values)
    @SETTINGS
    def test_json_values_round_trip(self, value: object) -> None:
        """JSON-able values come back equal, and equal values get equal digests."""
        store = _memory_store()
        ref = store.put(value)
        assert store.get(ref) == value
        assert store.put(value).digest == ref.digest


class TestDirectories:
    @given(trees)
    @SETTINGS
    def test_directory_round_trip(self, files: dict[str, bytes]) -> None:
        """put_dir then checkout reproduces every file byte for byte."""
        with tempfile.TemporaryDirectory() as tmp:
            root = make_tree(Path(tmp) / "src", files)
            store = ArtifactStore(Path(tmp) / "store")
            ref = store.put_dir(root)
            out = store.checkout(ref, Path(tmp) / "out")
            got = {
                p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()
            }
            assert got == files
            assert ref.size == sum(len(v) for v in files.values())

    @given(
        st.lists(
            st.tuples(names, st.binary(max_size=64)),
            min_size=1,
            max_size=600,
            unique_by=lambda t: t[0],
        ),
        st.randoms(),
    )
    @SETTINGS
    def test_manifest_independent_of_listing_order(
        self, items: list[tuple[str, bytes]], rnd: random.Random
    ) -> None:
        """The manifest (and its shards) do not depend on the order files were listed."""
        entries = [
            TreeEntry(name=n, digest=digest_bytes(d), size=len(d), kind="blob") for n, d in items
        ]
        shuffled = entries[:]
        rnd.shuffle(shuffled)
        assert encode_tree(entries) == encode_tree(shuffled)

    @given(
        st.lists(
            st.tuples(names, st.binary(max_size=64), st.integers(0, 0o777)),
            min_size=1,
            max_size=40,
            unique_by=lambda t: t[0],
        )
    )
    @SETTINGS
    def test_manifest_bytes_are_canonical_json(self, items: list[tuple[str, bytes, int]]) -> None:
        """The fast manifest writer produces exactly the canonical JSON of the manifest."""
        entries = [
            TreeEntry(name=n, digest=digest_bytes(d), size=len(d), kind="blob", mode=m)
            for n, d, m in items
        ]
        rows = [
            {"digest": e.digest, "kind": e.kind, "mode": e.mode, "name": e.name, "size": e.size}
            for e in sorted(entries, key=lambda e: e.name)
        ]
        top, shards = encode_tree(entries)
        assert shards == []
        assert top == canonical_json({"entries": rows, "format": "mlopskit.tree/1"})
