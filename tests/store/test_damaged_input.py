"""Hostile or damaged store contents: a clear mlopskit error, never a raw one or a hang."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlopskit.errors import IntegrityError, InvalidInputError, InvalidNameError
from mlopskit.serialize import canonical_json
from mlopskit.store import ArtifactRef, ArtifactStore
from mlopskit.testing import make_tree


def _within(seconds: float, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a thread; fail (instead of hanging the suite) if it does not return."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"did not return within {seconds} s (spinning?)"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _tree(store: ArtifactStore, rows: list[dict[str, Any]], fmt: str = "mlopskit.tree/1") -> str:
    return store.put_bytes(canonical_json({"entries": rows, "format": fmt})).digest


def _row(name: str, digest: str, kind: str = "blob", mode: int = 0o644) -> dict[str, Any]:
    return {"digest": digest, "kind": kind, "mode": mode, "name": name, "size": 1}


class TestRefRecords:
    def test_record_whose_seq_disagrees_with_its_file_name_is_an_integrity_error(
        self, tmp_path: Path
    ) -> None:
        """A planted record claiming another sequence number is named in an IntegrityError;
        readers do not spin forever."""
        store = ArtifactStore(tmp_path / "store")
        a = store.put_bytes(b"a")
        store.refs.set("r", a)
        first = tmp_path / "store" / "refs" / "r" / "~log" / f"{1:020d}.json"
        planted = first.with_name(f"{2:020d}.json")
        planted.write_bytes(first.read_bytes())  # says seq 1, stored as record 2
        fresh = ArtifactStore(tmp_path / "store")
        with pytest.raises(IntegrityError, match=f"{2:020d}.json") as info:
            _within(10, lambda: fresh.refs.get("r"))
        assert info.value.path.endswith(f"{2:020d}.json")  # type: ignore[attr-defined]
        with pytest.raises(IntegrityError):
            _within(10, lambda: store.refs.get("r"))  # an instance that saw record 1
        with pytest.raises(IntegrityError):
            fresh.refs.history("r")

    def test_record_of_another_ref_is_refused(self, tmp_path: Path) -> None:
        """A record copied from another ref's log is damage, not that ref's value."""
        store = ArtifactStore(tmp_path / "store")
        store.refs.set("x", store.put_bytes(b"x"))
        log = tmp_path / "store" / "refs"
        (log / "y" / "~log").mkdir(parents=True)
        (log / "y" / "~log" / f"{1:020d}.json").write_bytes(
            (log / "x" / "~log" / f"{1:020d}.json").read_bytes()
        )
        with pytest.raises(IntegrityError, match="ref 'y'"):
            store.refs.get("y")


class TestManifests:
    def test_deep_chain_of_manifests_is_refused_with_a_clear_error(self, tmp_path: Path) -> None:
        """1,500 nested manifests raise IntegrityError naming the depth limit, not
        RecursionError, and checkout writes nothing."""
        store = ArtifactStore(f"memory://deep-{os.getpid()}-{id(tmp_path)}")
        digest = _tree(store, [_row("leaf", store.put_bytes(b"x").digest)])
        for _ in range(1500):
            digest = _tree(store, [_row("d", digest, kind="tree", mode=0o755)])
        ref = ArtifactRef(digest=digest, size=1, kind="tree")
        with pytest.raises(IntegrityError, match="deeper than 512"):
            list(store.walk(ref))
        dest = tmp_path / "out"
        with pytest.raises(IntegrityError, match="deeper than 512"):
            store.checkout(ref, dest)
        assert not dest.exists() or not any(dest.iterdir())

    def test_duplicate_entry_name_is_refused(self, memory_store: ArtifactStore) -> None:
        """A manifest naming one entry twice is an IntegrityError (not "last one wins")."""
        a, b = memory_store.put_bytes(b"a"), memory_store.put_bytes(b"b")
        digest = _tree(memory_store, [_row("f", a.digest), _row("f", b.digest)])
        with pytest.raises(IntegrityError, match="twice"):
            memory_store.read_tree(digest)

    def test_blob_in_one_shard_and_tree_in_another_is_refused_before_writing(
        self, memory_store: ArtifactStore, tmp_path: Path
    ) -> None:
        """A name that is a file in one shard and a directory in another is refused
        before checkout writes any file."""
        blob = memory_store.put_bytes(b"data")
        sub = _tree(memory_store, [_row("inner", blob.digest)])
        shard1 = memory_store.put_bytes(
            canonical_json(
                {
                    "entries": [_row("a-first", blob.digest), _row("x", blob.digest)],
                    "format": "mlopskit.tree-shard/1",
                }
            )
        )
        shard2 = memory_store.put_bytes(
            canonical_json(
                {"entries": [_row("x", sub, kind="tree")], "format": "mlopskit.tree-shard/1"}
            )
        )
        top = memory_store.put_bytes(
            canonical_json(
                {
                    "format": "mlopskit.tree/1",
                    "shards": [
                        {"count": 2, "digest": shard1.digest, "size": 2},
                        {"count": 1, "digest": shard2.digest, "size": 1},
                    ],
                }
            )
        )
        dest = tmp_path / "out"
        with pytest.raises(IntegrityError, match="'x' twice"):
            memory_store.checkout(ArtifactRef(digest=top.digest, size=3, kind="tree"), dest)
        assert not dest.exists() or list(dest.iterdir()) == []

    def test_names_over_255_bytes_are_invalid_names(
        self, memory_store: ArtifactStore, tmp_path: Path
    ) -> None:
        """A manifest name longer than 255 bytes is an InvalidNameError, not an OSError."""
        blob = memory_store.put_bytes(b"x")
        digest = _tree(memory_store, [_row("é" * 128, blob.digest)])  # 256 bytes
        with pytest.raises(InvalidNameError, match="256 bytes"):
            memory_store.checkout(ArtifactRef(digest=digest, size=1, kind="tree"), tmp_path / "out")

    def test_checkout_masks_modes(self, memory_store: ArtifactStore, tmp_path: Path) -> None:
        """Modes from a manifest are masked to 0o755 / 0o644 (no world-writable files)."""
        blob = memory_store.put_bytes(b"x")
        digest = _tree(
            memory_store,
            [_row("exe", blob.digest, mode=0o777), _row("plain", blob.digest, mode=0o666)],
        )
        out = memory_store.checkout(
            ArtifactRef(digest=digest, size=2, kind="tree"), tmp_path / "out"
        )
        assert os.stat(out / "exe").st_mode & 0o7777 == 0o755
        assert os.stat(out / "plain").st_mode & 0o7777 == 0o644

    @pytest.mark.parametrize(
        "payload",
        [
            b"[]",
            b'{"format": "mlopskit.tree/1", "entries": {}}',
            b'{"format": "mlopskit.tree/1", "entries": [1]}',
            b'{"format": "mlopskit.tree/1", "shards": [{"digest": "nope"}]}',
            b'{"format": "mlopskit.tree/1", "entries": [{"name": "a", "digest": "sha256:x", '
            b'"kind": "blob", "size": 1}]}',
            b'{"format": "mlopskit.tree/1", "entries": [{"name": "a", "digest": "sha256:'
            + b"0" * 64
            + b'", "kind": "blob", "size": -1}]}',
        ],
    )
    def test_malformed_manifests_are_integrity_errors(
        self, memory_store: ArtifactStore, payload: bytes
    ) -> None:
        """A manifest of the wrong shape is an IntegrityError naming the object."""
        digest = memory_store.put_bytes(payload).digest
        with pytest.raises(IntegrityError, match=digest):
            memory_store.read_tree(digest)


class TestSymlinks:
    def test_put_dir_refuses_a_link_out_of_the_tree(self, tmp_path: Path) -> None:
        """A directory symlink leaving the tree is refused by default; nothing is written."""
        secret = make_tree(tmp_path / "home", {"id_rsa": b"PRIVATE"})
        src = make_tree(tmp_path / "src", {"a.txt": b"a"})
        (src / "home").symlink_to(secret, target_is_directory=True)
        store = ArtifactStore(tmp_path / "store")
        with pytest.raises(InvalidInputError, match="follow_symlinks=True"):
            store.put_dir(src)
        assert not (tmp_path / "store" / "packs").exists()

    def test_put_dir_refuses_a_file_link_out_of_the_tree(self, tmp_path: Path) -> None:
        """A file symlink to a file outside the tree is refused as well."""
        (tmp_path / "secret").write_bytes(b"PRIVATE")
        src = make_tree(tmp_path / "src", {"a.txt": b"a"})
        (src / "key").symlink_to(tmp_path / "secret")
        with pytest.raises(InvalidInputError, match="outside"):
            ArtifactStore(tmp_path / "store").put_dir(src)

    def test_follow_symlinks_stores_what_links_point_to(self, tmp_path: Path) -> None:
        """With follow_symlinks=True the linked directory is stored as content."""
        other = make_tree(tmp_path / "other", {"b.txt": b"b"})
        src = make_tree(tmp_path / "src", {"a.txt": b"a"})
        (src / "other").symlink_to(other, target_is_directory=True)
        store = ArtifactStore(tmp_path / "store")
        ref = store.put_dir(src, follow_symlinks=True)
        out = store.checkout(ref, tmp_path / "out")
        assert (out / "other" / "b.txt").read_bytes() == b"b"

    def test_links_inside_the_tree_are_followed(self, tmp_path: Path) -> None:
        """A link to a file inside the tree is stored as that file's content."""
        src = make_tree(tmp_path / "src", {"sub/a.txt": b"a"})
        (src / "alias.txt").symlink_to(src / "sub" / "a.txt")
        store = ArtifactStore(tmp_path / "store")
        out = store.checkout(store.put_dir(src), tmp_path / "out")
        assert (out / "alias.txt").read_bytes() == b"a"
