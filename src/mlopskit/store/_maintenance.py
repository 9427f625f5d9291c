"""verify and gc: whole-store maintenance."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from mlopskit._log import get_logger
from mlopskit.errors import IntegrityError, NotFoundError
from mlopskit.hashing import check_digest, new_hasher
from mlopskit.store._io import _list_dir
from mlopskit.store._model import CorruptObject, GcReport, VerifyReport
from mlopskit.store._pack import PackBuilder, parse_index
from mlopskit.store._ref import RECORD_FORMAT, ArtifactRef
from mlopskit.store._tree import SHARD_FORMAT, parse_manifest, sniff_json_format

if TYPE_CHECKING:
    from mlopskit.store._store import ArtifactStore

log = get_logger("mlopskit.store.gc")

_SNIFF_LIMIT = 16 * 1024 * 1024


def _hash_stream(f: Any, algo: str, chunk: int) -> str:
    h = new_hasher(algo)
    while data := f.read(chunk):
        h.update(data)
    return f"{algo}:{h.hexdigest()}"


def _loose_objects(store: ArtifactStore) -> dict[str, dict[str, Any]]:
    """digest → listing info of every loose object (path ↔ digest checked)."""
    base = store._loc.join("objects")
    fs = store._loc.fs
    if not store._loc.is_local:
        fs.invalidate_cache(base)
    try:
        found = fs.find(base, detail=True)
    except FileNotFoundError:
        return {}
    out = {}
    for path, info in found.items():
        parts = path.rstrip("/").split("/")
        if len(parts) < 3:
            continue
        algo, prefix, rest = parts[-3], parts[-2], parts[-1]
        try:
            digest = check_digest(f"{algo}:{prefix}{rest}")
        except ValueError:
            continue  # not an object name (e.g. a stray file): ignored
        info = dict(info)
        info["name"] = path
        out[digest] = info
    return out


def _packs(store: ArtifactStore) -> dict[str, dict[str, Any]]:
    listing = _list_dir(store._loc, store._loc.join("packs"))
    return {info["name"].rsplit("/", 1)[-1]: info for info in listing}


def verify_all(store: ArtifactStore) -> VerifyReport:
    """Hash every loose and packed object and report the ones that do not match."""
    report = VerifyReport()
    fs = store._loc.fs
    for digest, info in sorted(_loose_objects(store).items()):
        path = info["name"]
        with fs.open(path, "rb") as f:
            found = _hash_stream(f, digest.partition(":")[0], store.chunk_size)
        report.checked += 1
        report.bytes_checked += int(info.get("size") or 0)
        if found != digest:
            report.corrupt.append(
                CorruptObject(
                    digest=digest, path=path, found=found, reason="content does not match digest"
                )
            )
    for name, info in sorted(_packs(store).items()):
        if not name.endswith(".idx"):
            continue
        pack_path = info["name"][:-4] + ".pack"
        try:
            entries = parse_index(fs.cat_file(info["name"]), info["name"])
            data = fs.cat_file(pack_path)
        except (IntegrityError, FileNotFoundError) as exc:
            report.corrupt.append(
                CorruptObject(digest="", path=info["name"], found=None, reason=str(exc))
            )
            continue
        for hexdigest, offset, size in entries:
            digest = f"sha256:{hexdigest}"
            chunk = data[offset : offset + size]
            h = new_hasher("sha256")
            h.update(chunk)
            found = f"sha256:{h.hexdigest()}"
            report.checked += 1
            report.bytes_checked += size
            if found != digest:
                report.corrupt.append(
                    CorruptObject(
                        digest=digest,
                        path=f"{pack_path}@{offset}",
                        found=found,
                        reason="packed content does not match digest",
                    )
                )
    log.info("verify", checked=report.checked, corrupt=len(report.corrupt))
    return report


def _children(store: ArtifactStore, digest: str, kind: str | None) -> list[tuple[str, str | None]]:
    """The objects an object names: a tree's entries and shards, a record's links."""
    if kind == "blob" or kind == "object":
        return []
    if kind is None:
        try:
            if store.stat(digest).size > _SNIFF_LIMIT:
                return []
        except NotFoundError:
            return []
    data = store._verified(digest)
    fmt = sniff_json_format(data)
    if fmt in ("mlopskit.tree/1", SHARD_FORMAT):
        entries, shards = parse_manifest(data, digest)
        out: list[tuple[str, str | None]] = [(e.digest, e.kind) for e in entries]
        return out + [(s, "tree") for s in shards]
    if fmt == RECORD_FORMAT:
        body = json.loads(data)
        return [(link["digest"], link.get("kind")) for link in body.get("links", [])]
    return []


def reachable(store: ArtifactStore, roots: Iterable[ArtifactRef | str]) -> set[str]:
    """Every digest reachable from ``roots`` through trees and record links."""
    stack: list[tuple[str, str | None]] = []
    for root in roots:
        if isinstance(root, ArtifactRef):
            stack.append((root.digest, root.kind))
        else:
            stack.append((check_digest(root), None))
    marked: set[str] = set()
    while stack:
        digest, kind = stack.pop()
        if digest in marked:
            continue
        marked.add(digest)
        try:
            stack.extend(c for c in _children(store, digest, kind) if c[0] not in marked)
        except (NotFoundError, IntegrityError) as exc:
            log.warning("gc_unreadable_object", digest=digest, error=str(exc))
    return marked


def verify_closure(store: ArtifactStore, ref: ArtifactRef | str) -> VerifyReport:
    """Verify one object and everything it reaches (all files of a tree)."""
    report = VerifyReport()
    for digest in sorted(reachable(store, [ref])):
        try:
            data = store._fetch(digest)
        except NotFoundError:
            report.corrupt.append(
                CorruptObject(digest=digest, path="", found=None, reason="missing")
            )
            continue
        h = new_hasher(digest.partition(":")[0])
        h.update(data[0])
        found = f"{digest.partition(':')[0]}:{h.hexdigest()}"
        report.checked += 1
        report.bytes_checked += len(data[0])
        if found != digest:
            report.corrupt.append(
                CorruptObject(
                    digest=digest, path=data[1], found=found, reason="content does not match digest"
                )
            )
    return report


def collect_garbage(
    store: ArtifactStore, keep: Iterable[ArtifactRef | str], *, dry_run: bool, grace: timedelta
) -> GcReport:
    """Mark from every ref (and its history) and ``keep``; sweep what is old and unmarked."""
    from mlopskit.store._io import FRESHEN_AFTER, _mtime, _now

    if grace < 2 * FRESHEN_AFTER:
        log.warning(
            "gc_short_grace",
            grace_s=grace.total_seconds(),
            note="objects re-put while gc runs may be swept; use a longer grace "
            "when other writers are active",
        )
    cutoff = _now() - grace.total_seconds()
    marked = reachable(store, [*store.refs.targets(), *keep])
    report = GcReport(dry_run=dry_run, reachable=len(marked))
    fs = store._loc.fs

    for digest, info in _loose_objects(store).items():
        if digest in marked:
            continue
        if _mtime(info) > cutoff:
            report.kept_young += 1
            continue
        report.removed.append(digest)
        report.removed_bytes += int(info.get("size") or 0)
        if not dry_run:
            fs.rm_file(info["name"])
            _remove_quietly(store, store._trust_path(digest))

    packs = _packs(store)
    for name, info in packs.items():
        if not name.endswith(".idx"):
            continue
        pack_name = name[:-4]
        pack_path = store._pack_path(pack_name, "pack")
        entries = parse_index(fs.cat_file(info["name"]), info["name"])
        live = [e for e in entries if f"sha256:{e[0]}" in marked]
        dead = [e for e in entries if f"sha256:{e[0]}" not in marked]
        if not dead:
            continue
        if _mtime(info) > cutoff:
            report.kept_young += len(dead)
            continue
        dead_bytes = sum(e[2] for e in dead)
        report.removed.extend(f"sha256:{e[0]}" for e in dead)
        report.removed_bytes += dead_bytes
        if not live:
            report.packs_removed += 1
            if not dry_run:
                fs.rm_file(info["name"])  # the index first: readers stop seeing the pack
                _remove_quietly(store, pack_path)
            continue
        report.packs_rewritten += 1
        if not dry_run:
            _repack(store, pack_name, live)

    tmp = store._loc.join("tmp")
    try:
        temps = fs.find(tmp, detail=True)
    except FileNotFoundError:
        temps = {}
    for path, info in temps.items():
        if _mtime(info) <= cutoff:
            report.temp_removed += 1
            if not dry_run:
                _remove_quietly(store, path)

    if not dry_run:
        for digest in report.removed:
            store._recent.pop(digest, None)
        with store._lock:  # forget removed packs; they are re-read on demand
            store._packs.clear()
            store._pack_mtime.clear()
            store._packs_loaded = False
    log.info(
        "gc",
        dry_run=dry_run,
        reachable=report.reachable,
        removed=len(report.removed),
        removed_bytes=report.removed_bytes,
    )
    return report


def _repack(store: ArtifactStore, pack_name: str, live: list[tuple[str, int, int]]) -> None:
    from mlopskit.store._pack import build_index

    fs = store._loc.fs
    old_pack = store._pack_path(pack_name, "pack")
    builder = PackBuilder(max_bytes=1 << 62)
    data = fs.cat_file(old_pack)
    for hexdigest, offset, size in live:
        builder.add(f"sha256:{hexdigest}", data[offset : offset + size])
    name, index = build_index([(d.partition(":")[2], o, s) for d, o, s in builder.entries])
    store._loc.write_atomic(store._pack_path(name, "pack"), builder.chunks)
    store._loc.write_atomic(store._pack_path(name, "idx"), [index])
    if name != pack_name:
        fs.rm_file(store._pack_path(pack_name, "idx"))
        _remove_quietly(store, old_pack)


def _remove_quietly(store: ArtifactStore, path: str) -> None:
    try:
        store._loc.fs.rm_file(path)
    except FileNotFoundError:
        pass


__all__ = ["collect_garbage", "reachable", "verify_all", "verify_closure"]
