"""Fuzzing the store's parsers: arbitrary and mutated bytes give IntegrityError (or an
InvalidInputError for an unsafe name), never a raw exception or a hang.

The budget is a hypothesis settings profile (``MLOPSKIT_FUZZ_EXAMPLES`` examples per
property, 100 by default) so the CI run stays short; raise it for a long local run.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlopskit.errors import IntegrityError, InvalidInputError, NotFoundError
from mlopskit.serialize import canonical_json
from mlopskit.store import ArtifactStore
from mlopskit.store._pack import build_index, parse_index
from mlopskit.store._refs import Refs
from mlopskit.store._tree import parse_manifest, sniff_json_format

settings.register_profile(
    "mlopskit-fuzz",
    max_examples=int(os.environ.get("MLOPSKIT_FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FUZZ = settings.get_profile("mlopskit-fuzz")

pytestmark = pytest.mark.fuzz

DIGEST = "sha256:" + "ab" * 32
VALID_MANIFEST = canonical_json(
    {
        "entries": [
            {"digest": DIGEST, "kind": "blob", "mode": 420, "name": "a.txt", "size": 3},
            {"digest": DIGEST, "kind": "tree", "mode": 493, "name": "sub", "size": 9},
        ],
        "format": "mlopskit.tree/1",
    }
)
VALID_SHARDED = canonical_json(
    {"format": "mlopskit.tree/1", "shards": [{"count": 2, "digest": DIGEST, "size": 4}]}
)
VALID_RECORD = canonical_json(
    {
        "name": "models/m",
        "seq": 1,
        "target": {"digest": DIGEST, "size": 3, "kind": "blob", "media_type": None},
        "previous": None,
        "time": datetime(2026, 1, 1, tzinfo=timezone.utc).isoformat(),
        "user": "u",
        "host": "h",
        "message": "",
        "meta": {},
        "schema_version": 1,
    }
)
VALID_INDEX = build_index([("ab" * 32, 0, 3), ("cd" * 32, 3, 5)])[1]


def mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """``seed`` with bytes flipped, inserted, deleted, or cut short."""

    def apply(edits: list[tuple[int, int, int]], cut: int | None) -> bytes:
        data = bytearray(seed)
        for op, pos, value in edits:
            if not data:
                break
            i = pos % len(data)
            if op == 0:
                data[i] ^= value or 1
            elif op == 1:
                data.insert(i, value)
            else:
                del data[i]
        return bytes(data[:cut] if cut is not None else data)

    edit = st.tuples(st.integers(0, 2), st.integers(0, 1 << 16), st.integers(0, 255))
    return st.builds(apply, st.lists(edit, max_size=6), st.none() | st.integers(0, len(seed)))


def json_like() -> st.SearchStrategy[bytes]:
    """Well-formed JSON of arbitrary shape (deeply nested too)."""
    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=20,
    )
    return values.map(lambda v: json.dumps(v).encode())


manifest_bytes = st.one_of(
    st.binary(max_size=512), mutated(VALID_MANIFEST), mutated(VALID_SHARDED), json_like()
)
record_bytes = st.one_of(st.binary(max_size=512), mutated(VALID_RECORD), json_like())
index_bytes = st.one_of(st.binary(max_size=512), mutated(VALID_INDEX))


class TestParsers:
    @FUZZ
    @given(manifest_bytes)
    def test_manifest_parser_raises_only_integrity_or_name_errors(self, data: bytes) -> None:
        """A damaged manifest or shard is an IntegrityError (an unsafe name an
        InvalidNameError); what parses has checked names and digests."""
        try:
            entries, shards = parse_manifest(data, DIGEST)
        except (IntegrityError, InvalidInputError):
            return
        assert len({e.name for e in entries}) == len(entries)
        assert all(s.startswith("sha256:") for s in shards)

    @FUZZ
    @given(record_bytes)
    def test_ref_record_parser_raises_only_integrity_errors(self, data: bytes) -> None:
        """A damaged ref record is an IntegrityError naming its path."""
        path = f"refs/models/m/~log/{1:020d}.json"
        try:
            rec = Refs._parse(data, path, "models/m", 1)
        except IntegrityError as exc:
            where = exc.path
        else:
            assert (rec.name, rec.seq) == ("models/m", 1)
            return
        assert where == path

    @FUZZ
    @given(index_bytes)
    def test_pack_index_parser_raises_only_integrity_errors(self, data: bytes) -> None:
        """A damaged pack index is an IntegrityError; a sound one lists in-range rows."""
        try:
            rows = parse_index(data, "packs/x.idx")
        except IntegrityError:
            return
        assert all(len(h) == 64 and off >= 0 and size >= 0 for h, off, size in rows)

    @FUZZ
    @given(st.one_of(manifest_bytes, record_bytes, st.just(b"[" * 100_000)))
    def test_sniffing_never_raises(self, data: bytes) -> None:
        """Telling a manifest from a record from anything else never raises."""
        fmt = sniff_json_format(data)
        assert fmt is None or fmt.startswith("mlopskit.")


class TestThroughTheStore:
    @FUZZ
    @given(manifest_bytes)
    def test_read_tree_and_record_of_arbitrary_objects(self, data: bytes) -> None:
        """read_tree / read_record / verify of any stored bytes raise only mlopskit errors
        (a manifest naming shards that are not stored: NotFoundError)."""
        store = ArtifactStore(f"memory://fuzz-{uuid.uuid4().hex}")
        ref = store.put_bytes(data)
        for read in (store.read_tree, store.read_record):
            try:
                read(ref.digest)
            except (IntegrityError, InvalidInputError, NotFoundError):
                pass
        assert store.verify(ref).ok

    @FUZZ
    @given(record_bytes)
    def test_refs_over_a_planted_record(self, data: bytes) -> None:
        """A planted ref record makes get/history/list raise IntegrityError or work."""
        store = ArtifactStore(f"memory://fuzz-{uuid.uuid4().hex}")
        store.fs.pipe_file(f"{store.root}/refs/models/m/~log/{1:020d}.json", data)
        for call in (
            lambda: store.refs.get("models/m"),
            lambda: store.refs.history("models/m"),
            lambda: store.refs.list("models"),
        ):
            try:
                call()
            except (IntegrityError, NotFoundError):
                pass

    @FUZZ
    @given(index_bytes)
    def test_a_planted_pack_index_never_stops_the_store(self, data: bytes) -> None:
        """With any bytes as a pack index, writes, reads and verify still work."""
        store = ArtifactStore(f"memory://fuzz-{uuid.uuid4().hex}")
        store.fs.pipe_file(f"{store.root}/packs/{'0' * 64}.idx", data)
        fresh = ArtifactStore(store.url)
        ref = fresh.put_bytes(b"still works")
        assert fresh.get_bytes(ref) == b"still works"
        fresh.verify()
