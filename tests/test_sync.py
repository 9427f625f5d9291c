"""push / pull between workspaces: only missing objects, refs by compare-and-swap."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlopskit as mk
from mlopskit import _context
from mlopskit.errors import IntegrityError, RefConflictError, UntrustedObjectError
from mlopskit.store import ArtifactStore
from mlopskit.sync import SyncReport, pull, push, sync
from mlopskit.testing import corrupt_object


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLOPSKIT_HOME", raising=False)
    monkeypatch.setenv("MLOPSKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MLOPSKIT_PROGRESS", "off")
    monkeypatch.setattr(_context, "_process_workspace", [None])


def memory() -> ArtifactStore:
    return ArtifactStore(f"memory://sync-{uuid.uuid4().hex}")


def tree(root: Path, n: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / f"f{i:04d}.txt").write_text(f"file {i}\n")
    (root / "sub").mkdir(exist_ok=True)
    (root / "sub" / "deep.bin").write_bytes(b"\x00\x01" * 1000)
    return root


def same_files(a: Path, b: Path) -> bool:
    files_a = {p.relative_to(a): p.read_bytes() for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b): p.read_bytes() for p in b.rglob("*") if p.is_file()}
    return files_a == files_b


class TestObjects:
    def test_sharded_tree_arrives_whole(self, tmp_path: Path) -> None:
        """A directory big enough to be sharded checks out identically on the other side."""
        src, dst = ArtifactStore(tmp_path / "a"), memory()
        ref = src.put_dir(tree(tmp_path / "data", 700))
        src.refs.set("data/main", ref)
        report = sync(src, dst)
        assert report.objects_copied == report.objects_missing > 700
        dst.checkout(dst.refs.get("data/main"), tmp_path / "out")
        assert same_files(tmp_path / "data", tmp_path / "out")
        assert dst.verify().ok

    def test_new_tree_arrives_packed(self, tmp_path: Path) -> None:
        """A tree of mostly new files is sent as pack files, not one object per file."""
        src, dst = ArtifactStore(tmp_path / "a"), ArtifactStore(tmp_path / "b")
        ref = src.put_dir(tree(tmp_path / "data", 300))
        src.refs.set("data/main", ref)
        sync(src, dst)
        first = next(e for _, e in src.walk(ref) if e.kind == "blob")
        assert dst.stat(first.digest).location == "pack"
        assert not list((tmp_path / "b").glob("objects/*/*/*"))

    def test_new_tree_of_many_directories_needs_few_lookups(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A new tree of 100 subdirectories is recognised from a sample of its first level:
        a few lookups on the target (each up to four requests on S3), not one per
        subdirectory, and it arrives whole and packed."""
        from mlopskit import sync as sync_module

        data = tmp_path / "data"
        for i in range(100):
            (data / f"d{i:03d}").mkdir(parents=True)
            (data / f"d{i:03d}" / "f.txt").write_text(f"file {i}\n")
        src, dst = ArtifactStore(tmp_path / "a"), ArtifactStore(tmp_path / "b")
        ref = src.put_dir(data)
        src.refs.set("data/main", ref)
        lookups: list[str] = []
        real = dst.exists_many
        monkeypatch.setattr(
            dst, "exists_many", lambda ds, **kw: lookups.extend(map(str, ds)) or real(ds, **kw)
        )
        report = sync(src, dst)
        assert len(lookups) <= sync_module.FIRST_SAMPLE + 5, len(lookups)
        assert report.objects_copied == report.objects_missing == 1 + 100 + 100
        dst.checkout(dst.refs.get("data/main"), tmp_path / "out")
        assert same_files(data, tmp_path / "out")
        assert not list((tmp_path / "b").glob("objects/*/*/*"))

    def test_tree_with_unusual_modes_arrives_whole(self, tmp_path: Path) -> None:
        """A tree a checkout cannot rebuild bit for bit (a setuid file) still arrives whole."""
        src, dst = ArtifactStore(tmp_path / "a"), ArtifactStore(tmp_path / "b")
        data = tree(tmp_path / "data", 100)
        (data / "f0000.txt").chmod(0o4644)
        ref = src.put_dir(data)
        if not any(e.mode & 0o4000 for _, e in src.walk(ref)):
            pytest.skip("this filesystem keeps no setuid bit")
        src.refs.set("data/main", ref)
        sync(src, dst)
        assert dst.refs.get("data/main").digest == ref.digest
        assert dst.verify(ref).ok
        dst.checkout(ref, tmp_path / "out")
        assert same_files(data, tmp_path / "out")

    def test_second_push_copies_only_what_changed(self, tmp_path: Path) -> None:
        """After one file changes, a push copies that file and the manifests above it only."""
        src, dst = ArtifactStore(tmp_path / "a"), memory()
        data = tree(tmp_path / "data", 700)
        src.refs.set("data/main", src.put_dir(data))
        first = sync(src, dst)
        (data / "f0001.txt").write_text("changed\n")
        src.refs.set("data/main", src.put_dir(data))
        second = sync(src, dst)
        assert 2 <= second.objects_copied <= 4  # the file, its shard, the top manifest
        assert second.objects_copied < first.objects_copied / 100
        assert [r.action for r in second.refs] == ["fast-forward"]
        assert sync(src, dst).objects_copied == 0

    def test_record_links_are_followed(self) -> None:
        """Objects a record links to travel with it (run artifacts, model files)."""
        src, dst = memory(), memory()
        blob = src.put_bytes(b"weights")
        rec = src.put_record({"what": "model"}, links=[blob])
        src.refs.set("models/m", rec)
        sync(src, dst)
        assert dst.get_bytes(blob) == b"weights"
        assert dst.read_record(dst.refs.get("models/m")) == {"what": "model"}

    def test_dry_run_writes_nothing(self, tmp_path: Path) -> None:
        """A dry run reports the objects and refs it would send and writes none."""
        src, dst = ArtifactStore(tmp_path / "a"), ArtifactStore(tmp_path / "b")
        ref = src.put_bytes(b"x" * 100)
        src.refs.set("k", ref)
        report = sync(src, dst, dry_run=True)
        assert (report.objects_missing, report.bytes_missing, report.objects_copied) == (1, 100, 0)
        assert [(r.name, r.action) for r in report.refs] == [("k", "create")]
        assert not dst.exists(ref) and dst.refs.list() == []

    def test_damaged_source_object_moves_no_ref(self, tmp_path: Path) -> None:
        """A damaged object stops the push before any ref is written (objects come first)."""
        src, dst = ArtifactStore(tmp_path / "a"), ArtifactStore(tmp_path / "b")
        good, bad = src.put_bytes(b"good"), src.put_bytes(b"bad")
        src.refs.set("a", good)
        src.refs.set("b", bad)
        path = next(p for p in (tmp_path / "a" / "objects").rglob("*") if p.name == bad.hex[2:])
        path.write_bytes(b"tampered")
        with pytest.raises(IntegrityError):
            sync(src, dst)
        assert dst.refs.list() == []

    def test_damaged_packed_source_object_moves_no_ref(self, tmp_path: Path) -> None:
        """A file of a new tree damaged in the source's pack stops the push with
        IntegrityError naming it, before the tree's manifests or any ref are written."""
        src, dst = ArtifactStore(tmp_path / "a"), ArtifactStore(tmp_path / "b")
        ref = src.put_dir(tree(tmp_path / "data", 300))
        src.refs.set("data/main", ref)
        victim = next(e for _, e in src.walk(ref) if e.kind == "blob")
        assert src.stat(victim.digest).location == "pack"
        corrupt_object(src, victim.digest)
        with pytest.raises(IntegrityError, match=victim.digest):
            sync(src, dst)
        assert dst.refs.list() == [] and not dst.exists(ref)

    def test_a_push_stopped_between_packs_leaves_no_dangling_manifest(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Packs are written children first: a push that fails after its first pack leaves
        no manifest on the target naming an object the target lacks, and the next push
        completes the tree."""
        from mlopskit import sync as sync_module

        monkeypatch.setattr(sync_module, "BATCH", 2000)  # a pack per ~2 KB
        src, dst = ArtifactStore(tmp_path / "a"), ArtifactStore(tmp_path / "b")
        data = tmp_path / "data"
        for d in range(6):
            tree(data / f"d{d}", 40)
        ref = src.put_dir(data)
        src.refs.set("data/main", ref)
        calls = []
        real = dst.put_many

        def failing(datas: Any) -> list[str]:
            calls.append(1)
            if len(calls) == 3:
                raise OSError("disk full")
            return real(datas)

        monkeypatch.setattr(dst, "put_many", failing)
        with pytest.raises(OSError, match="disk full"):
            sync(src, dst)
        monkeypatch.setattr(dst, "put_many", real)
        assert len(calls) == 3 and not dst.exists(ref)
        for _, entry in src.walk(ref):
            if entry.kind == "tree" and dst.exists(entry.digest):
                assert all(dst.exists(e.digest) for e in dst.read_tree(entry.digest))
        sync(src, dst)
        dst.checkout(dst.refs.get("data/main"), tmp_path / "out")
        assert same_files(data, tmp_path / "out")
        assert dst.verify().ok

    def test_large_objects_go_through_a_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Objects above the size limit are streamed through a temporary file, verified."""
        from mlopskit import sync as sync_module

        monkeypatch.setattr(sync_module, "LARGE", 1000)
        src, dst = ArtifactStore(tmp_path / "a"), ArtifactStore(tmp_path / "b")
        big = tmp_path / "big.bin"
        big.write_bytes(bytes(range(256)) * 100)
        src.refs.set("big", src.put_file(big))
        assert sync(src, dst).bytes_copied == 25600
        assert dst.get_bytes(dst.refs.get("big")) == big.read_bytes()

    def test_progress_bar_on_request(self, capsys: pytest.CaptureFixture[str]) -> None:
        """progress=True draws a bar on stderr (tqdm, extra 'progress')."""
        pytest.importorskip("tqdm")
        src, dst = memory(), memory()
        src.refs.set("k", src.put_bytes(b"y" * 5000))
        sync(src, dst, progress=True)
        assert "→" in capsys.readouterr().err


class TestRefs:
    def test_history_is_replayed_in_order(self) -> None:
        """A new ref arrives with its whole history, messages and original authors kept."""
        src, dst = memory(), memory()
        a, b = src.put_bytes(b"a"), src.put_bytes(b"b")
        src.refs.set("r", a, message="first")
        src.refs.set("r", b, message="second")
        src.refs.delete("r", message="gone")
        report = sync(src, dst)
        assert report.refs[0].records == 3
        history = dst.refs.history("r")
        assert [h.target.digest if h.target else None for h in history] == [
            a.digest,
            b.digest,
            None,
        ]
        assert [h.message for h in history] == ["first", "second", "gone"]
        assert history[0].meta["sync"]["seq"] == 1
        assert "r" not in dst.refs

    def test_fast_forward_and_behind(self) -> None:
        """New records are appended to a ref the target holds a prefix of; a target that is
        ahead is left alone and reported 'behind'."""
        src, dst = memory(), memory()
        a, b, c = (src.put_bytes(x) for x in (b"a", b"b", b"c"))
        src.refs.set("r", a)
        sync(src, dst)
        src.refs.set("r", b)
        report = sync(src, dst)
        assert [(u.action, u.old, u.new) for u in report.refs] == [
            ("fast-forward", a.digest, b.digest)
        ]
        sync(dst, src)  # nothing to pull
        dst.put_bytes(b"c")
        dst.refs.set("r", c)
        assert [u.action for u in sync(src, dst).refs] == ["behind"]
        assert dst.refs.get("r").digest == c.digest
        assert [u.action for u in sync(dst, src).refs] == ["fast-forward"]
        assert src.refs.get("r").digest == c.digest

    def test_diverged_ref_is_refused_and_others_are_sent(self) -> None:
        """A ref both sides moved differently raises RefConflictError, keeps the target's
        value, and every other ref is still sent."""
        src, dst = memory(), memory()
        base = src.put_bytes(b"base")
        src.refs.set("shared", base)
        sync(src, dst)
        theirs = dst.put_bytes(b"theirs")
        dst.refs.set("shared", theirs)
        src.refs.set("shared", src.put_bytes(b"ours"))
        src.refs.set("other", src.put_bytes(b"other"))
        with pytest.raises(RefConflictError) as info:
            sync(src, dst)
        assert info.value.name == "shared"
        report = info.value.found
        assert isinstance(report, SyncReport)
        assert {u.name: u.action for u in report.refs} == {"shared": "conflict", "other": "create"}
        assert dst.refs.get("shared").digest == theirs.digest
        assert dst.get_bytes(dst.refs.get("other")) == b"other"

    def test_prefix_limits_the_refs(self) -> None:
        """--prefix sends only the refs under it, and only their objects."""
        src, dst = memory(), memory()
        src.refs.set("models/m/v/1", src.put_bytes(b"m"))
        kept = src.put_bytes(b"d")
        src.refs.set("datasets/d/v/1", kept)
        report = sync(src, dst, prefix="models")
        assert [u.name for u in report.refs] == ["models/m/v/1"]
        assert not dst.exists(kept)


class TestWorkspaces:
    def test_missing_local_source_is_not_found(self, tmp_path: Path) -> None:
        """Pulling from (or pushing) a local path that does not exist is an error, not a no-op."""
        from mlopskit.errors import NotFoundError

        with pytest.raises(NotFoundError, match="no workspace"):
            pull(tmp_path / "typo", workspace=tmp_path / "ws")
        with pytest.raises(NotFoundError, match="no workspace"):
            push(tmp_path / "remote", workspace=tmp_path / "typo")
        assert not (tmp_path / "remote").exists()

    def test_pull_brings_models_datasets_and_run_artifacts(self, tmp_path: Path) -> None:
        """After push and pull, the clone loads the same dataset, model and run artifact."""
        import pandas as pd

        frame = pd.DataFrame({"a": [1, 2, 3]})
        with mk.Workspace(tmp_path / "laptop"):
            mk.datasets.commit("d", frame)
            with mk.start_run("e", params={"lr": 0.1}) as run:
                run.log_artifact({"k": 1}, name="cfg.json")
                for step in range(5):
                    run.log_metric("loss", 1 / (step + 1), step=step)
                mk.registry.register("m", [1.0, 2.0])
            mk.registry.set_alias("m", "prod", 1)
        assert push(tmp_path / "remote", workspace=tmp_path / "laptop").runs_copied == 1
        assert pull(tmp_path / "remote", workspace=tmp_path / "clone").runs_copied == 1
        with mk.Workspace(tmp_path / "clone") as ws:
            copy = mk.get_run(run.run_id)
            assert copy.params == {"lr": "0.1"} and copy.status == "FINISHED"
            assert copy.metric_history("loss")["value"].tolist() == [1 / (s + 1) for s in range(5)]
            assert copy.artifacts["cfg.json"] == run.artifacts["cfg.json"]
            pd.testing.assert_frame_equal(mk.datasets.load("d"), frame)
            assert mk.registry.load("m@prod", trusted=True) == [1.0, 2.0]
            assert ws.store.exists(copy.artifacts["cfg.json"])
            # the artifact is anchored against gc in the clone too
            assert list(ws.store.refs.list(f"tracking/runs/{run.run_id}/"))


@pytest.mark.s3
class TestRunsCopy:
    def test_running_runs_are_left_out_and_copied_once_ended(self, tmp_path: Path) -> None:
        """A run still running is not pushed; after it ends, the next push sends it once."""
        with mk.Workspace(tmp_path / "laptop"):
            run = mk.start_run("e")
            run.log_metric("x", 1.0)
            run.flush()
            report = push(tmp_path / "remote", workspace=tmp_path / "laptop")
            assert (report.runs_copied, report.runs_running) == (0, 1)
            run.end()
        assert push(tmp_path / "remote", workspace=tmp_path / "laptop").runs_copied == 1
        assert push(tmp_path / "remote", workspace=tmp_path / "laptop").runs_copied == 0

    def test_no_runs_and_prefix_copy_no_runs(self, tmp_path: Path) -> None:
        """runs=False, or a prefix, leaves runs where they are."""
        with mk.Workspace(tmp_path / "laptop"), mk.start_run("e"):
            pass
        assert push(tmp_path / "r1", workspace=tmp_path / "laptop", runs=False).runs_copied == 0
        assert (
            push(tmp_path / "r2", workspace=tmp_path / "laptop", prefix="tracking").runs_copied == 0
        )


@pytest.mark.s3
class TestS3Remote:
    def _laptop(self, root: Path, model: str) -> None:
        with mk.Workspace(root):
            mk.registry.register(model, {"owner": model})
            mk.registry.register("shared", {"v": 1})

    def test_two_workspaces_push_to_one_s3_remote(self, tmp_path: Path, s3_url: str) -> None:
        """Two machines push different models to one S3 remote; each pulls the other's."""
        a, b = tmp_path / "a", tmp_path / "b"
        self._laptop(a, "model-a")
        push(s3_url, workspace=a)
        pull(s3_url, workspace=b)
        with mk.Workspace(b):
            mk.registry.register("model-b", {"owner": "b"})
        report = push(s3_url, workspace=b)
        sent = {u.name for u in report.updated if not u.name.startswith("lineage/")}
        assert sent == {"models/model-b/v/1"}
        pull(s3_url, workspace=a)
        with mk.Workspace(a):
            assert mk.registry.load("model-b/1", trusted=True) == {"owner": "b"}
        remote = ArtifactStore(s3_url)
        assert remote.verify().ok

    def test_directory_round_trip_through_s3(self, tmp_path: Path, s3_url: str) -> None:
        """A directory pushed to S3 (packed) and pulled elsewhere checks out identically;
        pushing a one-file change sends only that file and its manifests."""
        a, b = ArtifactStore(tmp_path / "a"), ArtifactStore(tmp_path / "b")
        remote = ArtifactStore(s3_url, cache=tmp_path / "cache")
        data = tree(tmp_path / "data", 600)
        a.refs.set("data/main", a.put_dir(data))
        sync(a, remote)
        (data / "f0007.txt").write_text("new\n")
        a.refs.set("data/main", a.put_dir(data))
        assert sync(a, remote).objects_copied <= 4
        sync(remote, b)
        b.checkout(b.refs.get("data/main"), tmp_path / "out")
        assert same_files(data, tmp_path / "out")
        assert [h.target.digest for h in b.refs.history("data/main") if h.target] == [
            h.target.digest for h in a.refs.history("data/main") if h.target
        ]

    def test_concurrent_pushes_of_a_diverged_alias(self, tmp_path: Path, s3_url: str) -> None:
        """Two machines move the same alias differently and push at once: exactly one wins,
        the other gets RefConflictError, and the remote's history is whole."""
        a, b = tmp_path / "a", tmp_path / "b"
        self._laptop(a, "model-a")
        with mk.Workspace(a):
            mk.registry.register("shared", {"v": 2})
            mk.registry.set_alias("shared", "champion", 1)
        push(s3_url, workspace=a)
        pull(s3_url, workspace=b)
        with mk.Workspace(a):
            mk.registry.set_alias("shared", "champion", 2)
        with mk.Workspace(b):
            mk.registry.register("shared", {"v": 3})
            mk.registry.set_alias("shared", "champion", 3)
        outcomes: dict[str, Any] = {}

        def go(name: str, root: Path) -> None:
            try:
                outcomes[name] = push(s3_url, workspace=root, prefix="models/shared/aliases")
            except RefConflictError as exc:
                outcomes[name] = exc

        # b's version 3 must be on the remote before its alias can point at it
        push(s3_url, workspace=b, prefix="models/shared/v")
        threads = [threading.Thread(target=go, args=(n, r)) for n, r in (("a", a), ("b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        kinds = sorted(type(v).__name__ for v in outcomes.values())
        assert kinds == ["RefConflictError", "SyncReport"]
        winner = next(n for n, v in outcomes.items() if isinstance(v, SyncReport))
        remote = ArtifactStore(s3_url)
        history = remote.refs.history("models/shared/aliases/champion")
        assert [h.meta.get("version") for h in history] == [1, 2 if winner == "a" else 3]


_names = st.sampled_from(["x", "y", "models/m", "datasets/d/v/1"])
_values = st.binary(min_size=0, max_size=8)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(st.tuples(_names, st.one_of(st.none(), _values)), max_size=12),
    split=st.integers(0, 12),
)
def test_push_then_push_again_mirrors_every_history(
    ops: list[tuple[str, bytes | None]], split: int
) -> None:
    """Pushing part of a history, then the rest, leaves the target with exactly the
    source's history of every ref (same targets, same order) and every object readable."""
    src, dst = memory(), memory()

    def apply(batch: list[tuple[str, bytes | None]]) -> None:
        for name, value in batch:
            if value is None:
                if name in src.refs:
                    src.refs.delete(name)
            else:
                src.refs.set(name, src.put_bytes(value))

    apply(ops[:split])
    sync(src, dst)
    apply(ops[split:])
    report = sync(src, dst)
    assert report.conflicts == []
    for name in src.refs.list(include_deleted=True):
        ours = [h.target.digest if h.target else None for h in src.refs.history(name)]
        theirs = [h.target.digest if h.target else None for h in dst.refs.history(name)]
        assert ours == theirs
        if name in dst.refs:
            assert dst.get_bytes(dst.refs.get(name)) == src.get_bytes(src.refs.get(name))


class Pickled:
    """A class only a pickle codec stores (no JSON or pydantic form)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pickled) and other.value == self.value

    __hash__ = None  # type: ignore[assignment]


class TestTrustMarks:
    """A trust mark says "this store wrote the pickle"; whether it travels is the user's call."""

    def _source(self) -> tuple[ArtifactStore, Any]:
        src = memory()
        ref = src.put(Pickled(7))
        src.refs.set("models/m", ref)
        assert src.get(ref) == Pickled(7)  # the source loads its own pickle
        return src, ref

    def test_marks_do_not_travel_by_default(self) -> None:
        """A pulled pickle needs trusted=True: a mark read from another store proves nothing."""
        src, ref = self._source()
        dst = memory()
        report = sync(src, dst)
        assert report.trust_marks_copied == 0
        with pytest.raises(UntrustedObjectError):
            dst.get(ref)
        assert dst.get(ref, trusted=True) == Pickled(7)

    def test_trust_copies_the_marks_the_source_had(self) -> None:
        """With trust=True the pickle loads on the target without trusted=True."""
        src, ref = self._source()
        stranger = src.put_bytes(b"not marked")  # unmarked objects stay unmarked
        src.refs.set("blobs/b", stranger)
        dst = memory()
        report = sync(src, dst, trust=True)
        assert report.trust_marks_copied == 1
        assert dst.get(ref) == Pickled(7)
        with pytest.raises(UntrustedObjectError):
            dst.get(ref, trusted=False)  # an explicit refusal still wins

    def test_trust_on_a_later_pull_marks_objects_already_present(self) -> None:
        """Pulling again with trust=True marks a ref's pickle copied earlier without it."""
        src, ref = self._source()
        dst = memory()
        sync(src, dst)
        report = sync(src, dst, trust=True)
        assert report.trust_marks_copied == 1
        assert dst.get(ref) == Pickled(7)

    def test_a_mark_the_source_lacks_is_not_invented(self) -> None:
        """trust=True copies marks only: a pickle the source never marked stays untrusted."""
        src, dst = memory(), memory()
        foreign = memory()
        ref = foreign.put(Pickled(1))  # written elsewhere: no mark in src
        src.put_bytes(foreign.get_bytes(ref))
        src.refs.set("models/x", ref)
        report = sync(src, dst, trust=True)
        assert report.trust_marks_copied == 0
        with pytest.raises(UntrustedObjectError):
            dst.get(ref)

    @pytest.mark.s3
    def test_pull_trust_from_s3(self, tmp_path: Path, s3_url: str) -> None:
        """A model pushed to S3 and pulled with trust=True loads without trusted=True."""
        a, b = tmp_path / "a", tmp_path / "b"
        with mk.Workspace(a):
            mk.registry.register("clf", Pickled(3))
        push(s3_url, workspace=a, trust=True)
        pull(s3_url, workspace=b)
        with mk.Workspace(b), pytest.raises(UntrustedObjectError):
            mk.registry.load("clf/1")
        report = pull(s3_url, workspace=b, trust=True)
        assert report.trust_marks_copied >= 1
        with mk.Workspace(b):
            assert mk.registry.load("clf/1") == Pickled(3)


class TestDeletedRuns:
    """A run deleted on one side reads deleted on the other after push/pull, and a restore
    travels the same way (lifecycle events are append-only; the newest is the state)."""

    def _deleted_elsewhere(self, remote: str, tmp_path: Path) -> tuple[str, str]:
        laptop = tmp_path / "laptop"
        with mk.Workspace(laptop):
            with mk.start_run("e") as kept:
                pass
            with mk.start_run("e") as gone:
                pass
            mk.delete_run(gone.run_id, reason="bad seed")
        push(remote, workspace=laptop)
        return kept.run_id, gone.run_id

    def _check(self, remote: str, tmp_path: Path) -> None:
        kept, gone = self._deleted_elsewhere(remote, tmp_path)
        clone = tmp_path / "clone"
        pull(remote, workspace=clone)
        with mk.Workspace(clone):
            assert set(mk.search_runs("e")["run_id"]) == {kept}
            assert mk.get_run(gone).record().deletion.reason == "bad seed"  # type: ignore[union-attr]
        with mk.Workspace(tmp_path / "laptop"):
            mk.restore_run(gone)
        push(remote, workspace=tmp_path / "laptop")  # the run is present: only the event goes
        pull(remote, workspace=clone)
        with mk.Workspace(clone):
            assert set(mk.search_runs("e")["run_id"]) == {kept, gone}

    def test_deletion_and_restore_travel_between_local_workspaces(self, tmp_path: Path) -> None:
        """push/pull through a local remote carries the deletion, then the restore."""
        self._check(str(tmp_path / "remote"), tmp_path)

    @pytest.mark.s3
    def test_deletion_and_restore_travel_through_s3(self, tmp_path: Path, s3_url: str) -> None:
        """The same through the S3 server: the object-store backend stores the events."""
        self._check(s3_url, tmp_path)
