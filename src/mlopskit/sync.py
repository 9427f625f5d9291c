"""push and pull: copy a workspace's objects and refs to another workspace, and back.

A workspace is one store root (a local directory, ``s3://bucket/prefix``, any fsspec
URL), so pushing is store-to-store, in three steps, in this order:

1. **Objects** — only the ones the target lacks. Everything reachable from the refs being
   sent (ref targets, the entries of directory manifests and their shards, the links of
   records) is walked in the source; a subtree whose root the target already holds is not
   walked further (content addressing: the same digest is the same bytes, and objects are
   written children first, so a present object's closure is present). The missing set is
   copied children first, verified on read, many objects at a time; small objects go
   packed (a pack and its index: two requests per 64 MiB instead of one per file, read
   from the source one pack at a time). A missing directory tree of mostly new files is
   recognised from a sample and sent whole, without a lookup per file.
2. **Refs** — each ref's append-only history is compared with the target's: if the
   target's history is a prefix of the source's, the new records are appended with
   compare-and-swap (a *fast-forward*); if it already holds them (or more) nothing is
   written; if the two diverged (a concurrent push from another machine moved the ref to
   something else) the ref is refused and :class:`~mlopskit.errors.RefConflictError` is
   raised after every other ref was sent. A ref is never overwritten. Appended records
   keep the source record's message and metadata; the original author, host, time and
   sequence number are kept in ``meta["sync"]`` (the target's record says who pushed).
3. **Runs** (unless ``runs=False`` or a ``prefix`` is given) — the finished runs the
   target lacks, through the tracking backends' public protocol: params, tags, every
   metric point, artifacts, inputs, status and times (SQLite locally, segment files on
   object stores: the two backends interoperate). A run already on the target is left
   alone; a run still running is left out until it ends.

**Trust marks** (the store's "I wrote this pickle myself" marks, docs/security.md) are
*not* copied by default: a mark read from another store says only that *someone who could
write that store* put it there, and a shared bucket is untrusted input. A pickled model
pulled from elsewhere therefore loads with ``trusted=True`` — unless the sync was asked
``trust=True``: then you vouch for every writer of the source, exactly as
``trusted=True`` on a load from it would, and the source's marks of the pickles the sent
refs reach (ref targets and records' links, copied now or earlier) are set on the target.
Marks are copied, never invented: a pickle the source did not mark stays unmarked.
Safer still: register models as files (skops, ONNX, safetensors) that load without code.

Example::

    from mlopskit.sync import push, pull

    report = push("s3://team-bucket/project", workspace=".mlopskit", dry_run=True)
    print(report.objects_missing, report.bytes_missing)
    pull("s3://team-bucket/project", workspace=".mlopskit")
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from mlopskit import _config
from mlopskit._log import get_logger
from mlopskit._optional import import_optional
from mlopskit._retry import retry
from mlopskit.errors import IntegrityError, NotFoundError, RefConflictError
from mlopskit.hashing import check_digest
from mlopskit.store import ArtifactRef, ArtifactStore
from mlopskit.workspace import Workspace

if TYPE_CHECKING:
    from mlopskit.store import RefRecord

__all__ = ["RefUpdate", "SyncReport", "pull", "push", "sync"]

log = get_logger("mlopskit.sync")

Action = Literal["create", "fast-forward", "up-to-date", "behind", "conflict"]
StoreLike = ArtifactStore | Workspace | str | os.PathLike[str]
T = TypeVar("T")
R = TypeVar("R")

#: Objects larger than this go through a temporary file instead of memory.
LARGE = 64 * 1024 * 1024
#: Files of a missing tree looked up first: when most of them are missing too, the tree
#: is sent whole, packed (one request per pack instead of two per file), without
#: looking up the rest; otherwise each file is looked up and only the missing ones sent.
SAMPLE = 32
#: Entries of a missing tree's first level looked up on the target before anything else:
#: when most are missing, the tree is new there and is sent whole (a lookup of a missing
#: object costs up to four requests on S3, so the first look is kept small).
FIRST_SAMPLE = 8
#: Small objects sent in one pack are read from the source this many bytes at a time.
BATCH = 64 * 1024 * 1024
#: Fewer small objects than this are sent loose (a pack and its index are two writes).
PACK_MIN = 4
_CONTAINERS = ("tree", "record", "shard")


@dataclass
class RefUpdate:
    """What a sync did (or would do) to one ref.

    Attributes:
        name: the ref.
        action: ``create`` (new on the target), ``fast-forward`` (records appended),
            ``up-to-date``, ``behind`` (the target has newer records: pull them), or
            ``conflict`` (the histories diverged; nothing was written).
        old: the target's digest before (None: absent or deleted).
        new: the target's digest after (what it would be, in a dry run).
        records: how many history records were (or would be) appended.
    """

    name: str
    action: Action
    old: str | None = None
    new: str | None = None
    records: int = 0


@dataclass
class SyncReport:
    """The outcome of :func:`push`, :func:`pull` or :func:`sync`.

    Attributes:
        source, target: the two store URLs.
        dry_run: nothing was written when True.
        objects_missing, bytes_missing: what the target lacked.
        objects_copied, bytes_copied: what was copied (0 in a dry run).
        refs: one :class:`RefUpdate` per ref of the source.
        runs_copied: runs the target lacked, copied (or to copy, in a dry run).
        runs_running: runs left out because they are still running.
        trust_marks_copied: pickles marked trusted on the target because the source
            had marked them (only with ``trust=True``).
    """

    source: str
    target: str
    dry_run: bool
    objects_missing: int = 0
    bytes_missing: int = 0
    objects_copied: int = 0
    bytes_copied: int = 0
    refs: list[RefUpdate] = field(default_factory=list)
    runs_copied: int = 0
    runs_running: int = 0
    trust_marks_copied: int = 0

    @property
    def conflicts(self) -> list[RefUpdate]:
        """The refs that were refused because the histories diverged."""
        return [r for r in self.refs if r.action == "conflict"]

    @property
    def updated(self) -> list[RefUpdate]:
        """The refs created or fast-forwarded (or that would be, in a dry run)."""
        return [r for r in self.refs if r.action in ("create", "fast-forward")]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the report."""
        return asdict(self)


# -- entry points ---------------------------------------------------------------------------


def push(
    remote: StoreLike,
    *,
    workspace: StoreLike | None = None,
    prefix: str = "",
    dry_run: bool = False,
    progress: bool | None = None,
    storage_options: dict[str, Any] | None = None,
    workers: int = 16,
    runs: bool = True,
    trust: bool = False,
) -> SyncReport:
    """Send the workspace's refs under ``prefix`` (all by default) and their objects to
    ``remote``.

    Args:
        remote: the other workspace: a path, ``s3://…`` or any fsspec URL, or a store.
        workspace: the local workspace (default: the current one).
        prefix: only refs at or under this name (``"models/clf"``, ``"datasets"``).
        dry_run: compute and report, write nothing.
        progress: a progress bar on stderr (``None``: only on a TTY with tqdm installed).
        storage_options: passed to fsspec for ``remote``.
        workers: objects transferred at once.
        runs: also copy the finished runs ``remote`` lacks (params, metric histories,
            tags, artifacts, inputs); not with a ``prefix``.
        trust: also copy the trust marks of the pickles sent (you vouch for every writer
            of the source: see docs/security.md). Off by default.

    Raises:
        RefConflictError: some refs diverged (the report is on ``.found``; every other
            ref was sent).
    """
    local = _store(workspace if workspace is not None else Workspace(), must_exist=True)
    return sync(
        local,
        _store(remote, storage_options),
        prefix=prefix,
        dry_run=dry_run,
        progress=progress,
        workers=workers,
        runs=runs,
        trust=trust,
    )


def pull(
    remote: StoreLike,
    *,
    workspace: StoreLike | None = None,
    prefix: str = "",
    dry_run: bool = False,
    progress: bool | None = None,
    storage_options: dict[str, Any] | None = None,
    workers: int = 16,
    runs: bool = True,
    trust: bool = False,
) -> SyncReport:
    """Fetch ``remote``'s refs under ``prefix`` and their objects into the workspace.

    The mirror of :func:`push`; the same arguments and the same conflict rule. A pickle
    ``remote`` marked as its own still needs ``trusted=True`` to load here, unless
    ``trust=True`` (you vouch for everyone who can write ``remote``; a shared bucket is
    untrusted input): then its mark is copied with it (docs/security.md).
    """
    local = _store(workspace if workspace is not None else Workspace())
    return sync(
        _store(remote, storage_options, must_exist=True),
        local,
        prefix=prefix,
        dry_run=dry_run,
        progress=progress,
        workers=workers,
        runs=runs,
        trust=trust,
    )


def sync(
    source: StoreLike,
    target: StoreLike,
    *,
    prefix: str = "",
    dry_run: bool = False,
    progress: bool | None = None,
    workers: int = 16,
    runs: bool = True,
    trust: bool = False,
) -> SyncReport:
    """Copy the refs of ``source`` under ``prefix`` and the objects they reach to ``target``,
    then (``runs=True`` and no ``prefix``) the finished runs the target lacks.

    See the module docstring for the rules (``trust``: whether trust marks travel).
    Returns a :class:`SyncReport`; raises :class:`RefConflictError` at the end if any ref
    diverged.
    """
    src, dst = _store(source), _store(target)
    report = SyncReport(source=src.url, target=dst.url, dry_run=dry_run)
    names = src.refs.list(prefix, include_deleted=True)
    plans = _pmap(lambda name: _plan(src, dst, name), names, workers)
    report.refs = [p.update for p in plans]
    roots: dict[str, ArtifactRef] = {}
    for plan in plans:
        for rec in plan.append:
            if rec.target is not None:
                roots.setdefault(rec.target.digest, rec.target)
    todo = _missing(src, dst, list(roots.values()), workers)
    report.objects_missing, report.bytes_missing = todo.count, todo.nbytes
    if not dry_run:
        _copy_all(src, dst, todo, workers, progress)
        report.objects_copied, report.bytes_copied = todo.count, todo.nbytes
        if trust:
            tips = {p.tip.digest: p.tip for p in plans if p.tip is not None}
            candidates = _pickle_candidates(src, list(tips.values()), workers)
            report.trust_marks_copied = _copy_trust_marks(src, dst, candidates, workers)
        for plan in plans:
            _apply(dst, plan)
    if runs and not prefix:
        report.runs_copied, report.runs_running = _sync_runs(src.url, dst.url, dry_run)
    log.info(
        "sync",
        source=src.url,
        target=dst.url,
        dry_run=dry_run,
        objects=report.objects_missing,
        refs=len(report.updated),
        conflicts=len(report.conflicts),
    )
    if report.conflicts:
        names = [c.name for c in report.conflicts]
        raise RefConflictError(
            f"{len(names)} ref(s) of {dst.url} moved to something else than "
            f"{src.url} has: {', '.join(names[:5])}{' …' if len(names) > 5 else ''}; "
            "nothing was written to them (every other ref was sent). Pull, decide, and "
            "move the ref again",
            name=names[0],
            expected=src.url,
            found=report,
        )
    return report


# -- refs -----------------------------------------------------------------------------------


@dataclass
class _Plan:
    name: str
    update: RefUpdate
    head: RefRecord | None  # the target's head when planned (compare-and-swap against it)
    append: list[RefRecord]  # source records to append, oldest first
    tip: ArtifactRef | None = None  # what the ref names in the source now


def _target(rec: RefRecord | None) -> str | None:
    return None if rec is None or rec.target is None else rec.target.digest


def _plan(src: ArtifactStore, dst: ArtifactStore, name: str) -> _Plan:
    """Compare one ref's histories and decide what to append."""
    ours = src.refs.history(name)
    plan = _plan_ref(dst, name, ours)
    plan.tip = ours[-1].target if ours else None
    return plan


def _plan_ref(dst: ArtifactStore, name: str, ours: list[RefRecord]) -> _Plan:
    head = dst.refs.record(name)
    if head is None:
        update = RefUpdate(name, "create", None, _target(ours[-1]), len(ours))
        return _Plan(name, update, None, ours)
    old = _target(head)
    if head.seq == len(ours) and _target(ours[-1]) == old and ours[-1].previous == head.previous:
        return _Plan(name, RefUpdate(name, "up-to-date", old, old), head, [])
    theirs = dst.refs.history(name)
    common = 0
    for a, b in zip(ours, theirs):
        if _target(a) != _target(b):
            break
        common += 1
    if common == len(ours):  # the target holds all of ours, and maybe more
        action: Action = "up-to-date" if len(theirs) == len(ours) else "behind"
        return _Plan(name, RefUpdate(name, action, old, old), head, [])
    if common == len(theirs):
        new = ours[common:]
        update = RefUpdate(name, "fast-forward", old, _target(new[-1]), len(new))
        return _Plan(name, update, theirs[-1], new)
    return _Plan(name, RefUpdate(name, "conflict", old, _target(ours[-1])), head, [])


def _apply(dst: ArtifactStore, plan: _Plan) -> None:
    """Append the planned records with compare-and-swap; a lost race becomes a conflict."""
    expected: RefRecord | None = plan.head
    try:
        for rec in plan.append:
            meta = dict(rec.meta)
            meta["sync"] = {
                "seq": rec.seq,
                "time": rec.time.isoformat(),
                "user": rec.user,
                "host": rec.host,
            }
            expected = dst.refs.set(
                plan.name,
                rec.target,
                expected=expected,
                message=rec.message,
                meta=meta,
            )
    except RefConflictError:
        plan.update.action = "conflict"
        plan.update.new = _target(dst.refs.record(plan.name))


# -- trust marks ----------------------------------------------------------------------------


def _trust_mark(store: ArtifactStore, digest: str) -> str:
    """Where ``store`` keeps its trust mark of ``digest``: ``trust/<algo>/<hex[:2]>/<hex[2:]>``
    under the root (docs/layout-store.md; the store has no public call to set one)."""
    algo, _, hexpart = check_digest(digest).partition(":")
    return "/".join([store.root.rstrip("/"), "trust", algo, hexpart[:2], hexpart[2:]])


def _pickle_candidates(src: ArtifactStore, roots: Sequence[ArtifactRef], workers: int) -> list[str]:
    """The ``object``-kind digests (the only kind a pickle is stored as) reachable from
    ``roots`` through records' links; directory trees hold files only and are not walked."""
    found: set[str] = set()
    seen: set[str] = set()
    frontier = [_as_obj(r) for r in roots]
    while frontier:
        level = [o for o in _unique(frontier) if o.digest not in seen and o.kind != "tree"]
        seen.update(o.digest for o in level)
        found.update(o.digest for o in level if o.kind == "object")
        records = [o for o in level if o.kind == "record"]
        frontier = [
            kid for kids in _pmap(lambda o: _children(src, o), records, workers) for kid in kids
        ]
    return sorted(found)


def _copy_trust_marks(
    src: ArtifactStore, dst: ArtifactStore, digests: Sequence[str], workers: int
) -> int:
    """Mark on ``dst`` each of ``digests`` that ``src`` marked; returns how many were marked."""

    def one(digest: str) -> bool:
        mark = _trust_mark(src, digest)
        if not dst.exists(digest):  # not sent (a refused ref's): nothing to mark
            return False
        if not retry(lambda: src.fs.exists(mark), what=f"look up {mark}", url=src.url):
            return False
        path = _trust_mark(dst, digest)

        def write() -> None:
            if not dst.fs.exists(path):
                dst.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
                dst.fs.pipe_file(path, b"")

        retry(write, what=f"write {path}", url=dst.url, path=path)
        return True

    marked = sum(_pmap(one, sorted(set(digests)), workers))
    log.info("sync_trust_marks", source=src.url, target=dst.url, marked=marked)
    return marked


# -- runs -----------------------------------------------------------------------------------


def _sync_runs(source: str, target: str, dry_run: bool) -> tuple[int, int]:
    """Copy the runs ``target`` lacks through the tracking backends' public protocol.

    A run already on the target is left alone (run ids are unique: it is the same run);
    a run still running is left out (push again when it has ended). Returns (copied,
    left out as running).
    """
    from mlopskit.tracking import RunRecord, effective_status, tracker_for

    ours = tracker_for(source).backend
    if not ours.experiments():
        return 0, 0
    records = sorted(ours.list_runs(None), key=lambda r: r.start_time)  # parents first
    ids = [r.run_id for r in records]
    if dry_run and _no_local_runs(target):
        present: set[str] = set()  # opening the tracker would create its database
    else:
        theirs = tracker_for(target).backend
        present = {r.run_id for r in theirs.list_runs(run_ids=ids, keys=())} if ids else set()
    now = time.time()
    copied = running = 0
    events: dict[str, list[Any]] = {}  # run id -> its lifecycle events (one read for all)
    for event in ours.lifecycle_events("run"):
        events.setdefault(event.name, []).append(event)
    for rec in records:
        if rec.run_id in present:
            if not dry_run and rec.run_id in events:
                _sync_lifecycle(events[rec.run_id], tracker_for(target).backend, rec.run_id)
            continue
        status = effective_status(rec, now=now)
        if status == "RUNNING":
            running += 1
            continue
        copied += 1
        if dry_run:
            continue
        full = ours.get_run(rec.run_id)
        theirs = tracker_for(target).backend
        fresh = RunRecord(
            run_id=rec.run_id,
            experiment=rec.experiment,
            name=rec.name,
            status="RUNNING",
            start_time=rec.start_time,
            parent_id=rec.parent_id,
            user=rec.user,
            host=rec.host,
            params=dict(full.params),
            tags=dict(full.tags),
        )
        if not theirs.create_run(fresh):
            continue  # somebody copied it meanwhile
        points = [
            (key, value, step, when)
            for key in sorted(full.metrics)
            for step, value, when in ours.metric_history(rec.run_id, key)
        ]
        if points:
            theirs.log_metrics(rec.run_id, points)
        for name, ref in full.artifacts.items():
            theirs.log_artifact(rec.run_id, name, ref)
        for item in full.inputs:
            theirs.log_input(rec.run_id, item)
        end = full.end_time.timestamp() if full.end_time is not None else None
        theirs.finish(rec.run_id, status, end)  # a run that never ended keeps no end time
        if rec.run_id in events:
            _sync_lifecycle(events[rec.run_id], theirs, rec.run_id)
    return copied, running


def _sync_lifecycle(mine: list[Any], theirs: Any, run_id: str) -> None:
    """Append the run's deletion/restore events the target lacks (events are append-only and
    the newest is the state, so a run deleted on one side reads deleted on both)."""
    have = set(theirs.lifecycle_events("run", run_id))
    for event in mine:
        if event not in have and event.state != "purged":
            theirs.set_lifecycle(event)


def _no_local_runs(url: str) -> bool:
    """A local workspace without its run database (``<root>/tracking.sqlite``)."""
    path = url[len("file://") :] if url.startswith("file://") else url
    return "://" not in path and not os.path.exists(os.path.join(path, "tracking.sqlite"))


# -- objects --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Obj:
    digest: str
    kind: str  # blob, object, tree, record, shard
    size: int | None  # bytes of the object itself when known (not a tree's total)


def _as_obj(ref: ArtifactRef) -> _Obj:
    # a tree ref's size is the total of its files, not the manifest's
    return _Obj(ref.digest, ref.kind, None if ref.kind in _CONTAINERS else ref.size)


@dataclass
class _Transfer:
    """What the target lacks: whole directory trees, and single objects (records, blobs)."""

    trees: list[_Obj] = field(default_factory=list)
    closures: dict[str, list[_Obj]] = field(default_factory=dict)  # of trees, when known
    singles: dict[str, _Obj] = field(default_factory=dict)
    count: int = 0
    nbytes: int = 0

    def add(self, obj: _Obj) -> None:
        if obj.digest not in self.singles:
            self.singles[obj.digest] = obj
            self.count += 1
            self.nbytes += obj.size or 0


def _missing(
    src: ArtifactStore, dst: ArtifactStore, roots: Sequence[ArtifactRef], workers: int
) -> _Transfer:
    """What ``dst`` lacks of the closure of ``roots`` in ``src``.

    A present object's closure is present (objects are written children first), so the
    walk stops there. Directory trees are planned by :func:`_plan_tree`.
    """
    out = _Transfer()
    seen: set[str] = set()
    frontier = [_as_obj(r) for r in roots]
    while frontier:
        level = [o for o in _unique(frontier) if o.digest not in seen]
        seen.update(o.digest for o in level)
        present = dst.exists_many([o.digest for o in level], refresh=False)
        frontier = []
        for obj, here in zip(level, present):
            if here:
                continue
            if obj.kind == "tree":
                _plan_tree(src, dst, obj, workers, out)
                continue
            kids, size = _read_children(src, obj)
            out.add(_Obj(obj.digest, obj.kind, size))
            frontier.extend(kids)
    return out


def _plan_tree(
    src: ArtifactStore, dst: ArtifactStore, root: _Obj, workers: int, out: _Transfer
) -> None:
    """Plan a missing tree: the manifests (and shards) the target lacks, walked with the
    same pruning, and the files they list; then either the missing files one by one, or
    (mostly new files, see :data:`SAMPLE`) the whole tree at once (:func:`_send_tree`).

    A look at the tree's first level comes first: when most of a sample of its entries
    (files and subdirectories, read from the source) are missing on the target, the tree
    is new there and goes whole, without one lookup per subdirectory.
    """
    first = _unique(_first_level(src, root, workers))
    if len(first) > FIRST_SAMPLE:
        sample = sorted(first, key=lambda o: o.digest)[:FIRST_SAMPLE]
        present = dst.exists_many([o.digest for o in sample], refresh=False)
        if present.count(False) * 2 > len(sample):
            everything = _closure(src, root, workers)
            out.trees.append(root)
            out.closures[root.digest] = everything
            out.count += len(everything)
            out.nbytes += sum(o.size or 0 for o in everything)
            return
    manifests: dict[str, _Obj] = {}
    blobs: dict[str, _Obj] = {}
    seen: set[str] = set()
    frontier = [root]
    while frontier:
        level = [o for o in _unique(frontier) if o.digest not in seen]
        seen.update(o.digest for o in level)
        others = [o for o in level if o is not root]
        here = {
            o.digest
            for o, yes in zip(others, dst.exists_many([o.digest for o in others], refresh=False))
            if yes
        }
        level = [o for o in level if o.digest not in here]
        frontier = []
        for obj, (kids, size) in zip(
            level, _pmap(lambda o: _read_children(src, o), level, workers)
        ):
            manifests[obj.digest] = _Obj(obj.digest, obj.kind, size)
            for kid in kids:
                if kid.kind == "blob":
                    blobs.setdefault(kid.digest, kid)
                else:
                    frontier.append(kid)
    candidates = sorted(blobs.values(), key=lambda b: b.digest)
    sample = candidates[:SAMPLE]  # digests are uniformly random: a fair sample
    present = dst.exists_many([o.digest for o in sample], refresh=False)
    if len(candidates) > SAMPLE and present.count(False) * 2 > len(sample):
        # mostly new files: send the tree whole rather than look each file up
        out.trees.append(root)
        out.count += len(manifests) + len(blobs)
        out.nbytes += sum(m.size or 0 for m in manifests.values())
        out.nbytes += sum(b.size or 0 for b in blobs.values())
        return
    rest = candidates[len(sample) :]
    present += dst.exists_many([o.digest for o in rest], refresh=False)
    for obj in [*manifests.values(), *(b for b, here in zip(candidates, present) if not here)]:
        out.add(obj)


def _read_children(store: ArtifactStore, obj: _Obj) -> tuple[list[_Obj], int]:
    """The objects ``obj`` names, and its own size."""
    if obj.kind not in _CONTAINERS:
        size = obj.size if obj.size is not None else store.stat(obj.digest).size
        return [], size
    data = store.get_bytes(obj.digest)
    return _parse_children(store, obj, data), len(data)


def _children(store: ArtifactStore, obj: _Obj) -> list[_Obj]:
    """The objects ``obj`` names: a manifest's entries and shards, a record's links."""
    if obj.kind not in _CONTAINERS:
        return []
    return _parse_children(store, obj, store.get_bytes(obj.digest))


def _parse_children(store: ArtifactStore, obj: _Obj, data: bytes) -> list[_Obj]:
    try:
        body = json.loads(data)
        if not isinstance(body, dict):
            raise TypeError("not a JSON object")
        if obj.kind == "record":
            return [_as_obj(ArtifactRef.model_validate(link)) for link in body.get("links", [])]
        out = [_Obj(check_digest(s["digest"]), "shard", None) for s in body.get("shards", []) or []]
        for e in body.get("entries", []) or []:
            kind = e["kind"]
            if kind not in ("blob", "tree"):
                raise ValueError(f"entry kind {kind!r}")
            out.append(_Obj(check_digest(e["digest"]), kind, None if kind == "tree" else e["size"]))
        return out
    except (ValueError, TypeError, KeyError) as exc:
        raise IntegrityError(
            f"{obj.kind} {obj.digest} in {store.url} is damaged: {exc}; run "
            "`mlopskit store verify` on it",
            digest=obj.digest,
            found=str(exc),
        ) from exc


def _order(src: ArtifactStore, missing: dict[str, _Obj], workers: int) -> list[list[_Obj]]:
    """Waves of missing objects, children before the containers that name them."""
    leaves = [o for o in missing.values() if o.kind not in _CONTAINERS]
    containers = [o for o in missing.values() if o.kind in _CONTAINERS]
    kids = _pmap(lambda o: _children(src, o), containers, workers)
    waiting = {
        o.digest: {
            k.digest for k in ks if k.digest in missing and missing[k.digest].kind in _CONTAINERS
        }
        for o, ks in zip(containers, kids)
    }
    waves = [leaves] if leaves else []
    done: set[str] = set()
    while waiting:
        ready = [missing[d] for d, need in waiting.items() if need <= done]
        if not ready:  # pragma: no cover - content addressing makes cycles impossible
            raise IntegrityError(f"objects of {src.url} name each other in a cycle")
        for o in ready:
            del waiting[o.digest]
            done.add(o.digest)
        waves.append(ready)
    return waves


def _copy_all(
    src: ArtifactStore,
    dst: ArtifactStore,
    todo: _Transfer,
    workers: int,
    progress: bool | None,
) -> None:
    """Send the trees, then the single objects children first (records last)."""
    if not todo.count:
        return
    bar = _progress_bar(todo.nbytes, f"{src.url} → {dst.url}", progress)
    try:
        for tree in todo.trees:
            _send_tree(src, dst, tree, workers, bar, todo.closures.get(tree.digest))
        for wave in _order(src, todo.singles, workers):
            _send(src, dst, wave, workers, bar)
    finally:
        bar.close()


def _send_tree(
    src: ArtifactStore,
    dst: ArtifactStore,
    tree: _Obj,
    workers: int,
    bar: Any,
    closure: list[_Obj] | None = None,
) -> None:
    """Send a whole directory tree: every object under it, children first, its small
    ones packed (one request per pack instead of one per file)."""
    everything = closure if closure is not None else _closure(src, tree, workers)
    _send(src, dst, everything, workers, bar)


def _send(src: ArtifactStore, dst: ArtifactStore, objs: list[_Obj], workers: int, bar: Any) -> None:
    """Copy ``objs`` (given children first), verified, each after what it names: the
    large files first, many at a time, then the rest in order, the small ones read in
    batches of :data:`BATCH` bytes (one read per source pack) and written packed
    (:meth:`ArtifactStore.put_many`)."""

    def packable(o: _Obj) -> bool:
        return o.size is not None and o.size <= dst.pack_threshold

    big = [o for o in objs if o.kind not in _CONTAINERS and not packable(o)]
    _copy_objects(src, dst, big, workers, bar)  # leaves: they name nothing
    rest = [o for o in objs if o.kind in _CONTAINERS or packable(o)]
    if sum(map(packable, rest)) < PACK_MIN:
        for obj in rest:
            bar.update(_copy_one(src, dst, obj))
        return
    batch: list[_Obj] = []
    nbytes = 0
    for obj in rest:
        if not packable(obj):  # a large manifest or record: after what came before it
            _send_packed(src, dst, batch, bar)
            batch, nbytes = [], 0
            bar.update(_copy_one(src, dst, obj))
            continue
        batch.append(obj)
        nbytes += obj.size or 0
        if nbytes >= BATCH:
            _send_packed(src, dst, batch, bar)
            batch, nbytes = [], 0
    _send_packed(src, dst, batch, bar)


def _send_packed(src: ArtifactStore, dst: ArtifactStore, objs: list[_Obj], bar: Any) -> None:
    if not objs:
        return
    data = src.get_many([o.digest for o in objs])  # verified
    stored = dst.put_many([data[o.digest] for o in objs])
    for obj, digest in zip(objs, stored):
        _check_same(dst, obj.digest, digest)
    bar.update(sum(len(data[o.digest]) for o in objs))


def _copy_objects(
    src: ArtifactStore, dst: ArtifactStore, objs: list[_Obj], workers: int, bar: Any
) -> None:
    def one(obj: _Obj) -> None:
        bar.update(_copy_one(src, dst, obj))

    _pmap(one, objs, workers)


def _copy_one(src: ArtifactStore, dst: ArtifactStore, obj: _Obj) -> int:
    """Copy one object (verified when read); returns its size."""
    if obj.size is not None and obj.size > LARGE:
        fd, tmp = tempfile.mkstemp(prefix="mlopskit-sync-")
        os.close(fd)
        try:
            src.get_file(obj.digest, tmp, progress=False)
            ref = dst.put_file(tmp, progress=False)
        finally:
            os.unlink(tmp)
    else:
        ref = dst.put_bytes(src.get_bytes(obj.digest))
    _check_same(dst, obj.digest, ref.digest)
    return ref.size


def _check_same(dst: ArtifactStore, digest: str, stored: str) -> None:
    if stored != digest:
        raise IntegrityError(
            f"copying {digest} to {dst.url} stored it as {stored}: the two stores "
            "hash differently; sync only stores of the same hash algorithm",
            digest=digest,
            found=stored,
        )


def _first_level(src: ArtifactStore, root: _Obj, workers: int) -> list[_Obj]:
    """The entries of a tree's own manifest (its shards read through), not deeper."""
    kids = _children(src, root)
    shards = [k for k in kids if k.kind == "shard"]
    rest = [k for k in kids if k.kind != "shard"]
    return rest + [e for es in _pmap(lambda o: _children(src, o), shards, workers) for e in es]


def _closure(src: ArtifactStore, root: _Obj, workers: int) -> list[_Obj]:
    """``root`` and every object under it, with their sizes, each after the objects it
    names (children first). Containers are read a level at a time, many at once; a file's
    size comes from its manifest."""
    sized: dict[str, _Obj] = {}
    kids_of: dict[str, list[str]] = {}
    frontier = [root]
    while frontier:
        level = [o for o in _unique(frontier) if o.digest not in sized]
        frontier = []
        for obj in level:
            if obj.kind not in _CONTAINERS and obj.size is not None:
                sized[obj.digest] = obj
        rest = [o for o in level if o.digest not in sized]
        for obj, (kids, size) in zip(rest, _pmap(lambda o: _read_children(src, o), rest, workers)):
            sized[obj.digest] = _Obj(obj.digest, obj.kind, size)
            kids_of[obj.digest] = [k.digest for k in kids]
            frontier.extend(kids)
    order: list[_Obj] = []  # depth-first post-order (the objects form a DAG)
    seen: set[str] = set()
    stack = [(root.digest, False)]
    while stack:
        digest, expanded = stack.pop()
        if expanded:
            order.append(sized[digest])
            continue
        if digest in seen:
            continue
        seen.add(digest)
        stack.append((digest, True))
        stack.extend((k, False) for k in kids_of.get(digest, ()) if k not in seen)
    return order


# -- helpers --------------------------------------------------------------------------------


def _store(
    where: StoreLike,
    storage_options: dict[str, Any] | None = None,
    *,
    must_exist: bool = False,
) -> ArtifactStore:
    if isinstance(where, ArtifactStore):
        return where
    if isinstance(where, Workspace):
        where = where.uri
    path = os.fspath(where)
    if must_exist and "://" not in path and not os.path.isdir(path):
        raise NotFoundError(
            f"no workspace at {path} to copy from: check the path", path=path, found=path
        )
    if storage_options:
        return ArtifactStore(path, storage_options=storage_options)
    return Workspace(path).store


def _unique(objs: Iterable[_Obj]) -> list[_Obj]:
    out: dict[str, _Obj] = {}
    for o in objs:
        out.setdefault(o.digest, o)
    return list(out.values())


def _pmap(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """``[fn(x) for x in items]``, on a thread pool when there is more than one."""
    if len(items) < 2 or workers <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, desc: str, enabled: bool | None) -> Any:
    """A tqdm bar on stderr (extra ``progress``), or a no-op when off or not installed."""
    wanted = _config.flag("progress", enabled, default=None)
    if wanted is False or (wanted is None and not sys.stderr.isatty()):
        return _NoProgress()
    if wanted is None:
        try:
            module: Any = importlib.import_module("tqdm.auto")
        except ImportError:
            return _NoProgress()
    else:  # asked for: say which extra is missing
        module = import_optional("tqdm.auto", "progress", purpose="a progress bar")
    return module.tqdm(
        total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False
    )
