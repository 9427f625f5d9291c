"""verify and gc: whole-store maintenance, written against the object database."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta

from mlopskit._log import get_logger
from mlopskit.errors import IntegrityError, NotFoundError
from mlopskit.hashing import check_digest
from mlopskit.store._io import FRESHEN_AFTER, _digest_of, _mtime, _now
from mlopskit.store._model import CorruptObject, GcReport, VerifyReport
from mlopskit.store._odb import ObjectDB
from mlopskit.store._pack import PackBuilder
from mlopskit.store._ref import RECORD_FORMAT, ArtifactRef
from mlopskit.store._tree import SHARD_FORMAT, parse_manifest, sniff_json_format

log = get_logger("mlopskit.store.gc")

_SNIFF_LIMIT = 16 * 1024 * 1024


def verify_all(odb: ObjectDB) -> VerifyReport:
    """Hash every loose and packed object as the store holds it; report what is damaged.

    A damaged or missing pack index is reported (with its path) and the other packs
    are still checked.
    """
    report = VerifyReport()
    for digest, info in sorted(odb.iter_loose()):
        path = info["name"]
        try:
            found = odb.hash_loose(digest)
        except FileNotFoundError:
            continue  # removed by a concurrent gc since the listing
        report.checked += 1
        report.bytes_checked += int(info.get("size") or 0)
        if found != digest:
            report.corrupt.append(
                CorruptObject(
                    digest=digest, path=path, found=found, reason="content does not match digest"
                )
            )
    packs = odb.packs
    for name in sorted(packs.listing()):
        index_path = packs.index_path(name)
        try:
            entries = packs.read_index_from_store(name)
            data = packs.read_pack(name)
        except (IntegrityError, FileNotFoundError) as exc:
            report.corrupt.append(
                CorruptObject(digest="", path=index_path, found=None, reason=str(exc))
            )
            continue
        pack_path = packs.pack_path(name)
        for hexdigest, offset, size in entries:
            digest = f"sha256:{hexdigest}"
            found = _digest_of(data[offset : offset + size], digest)
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


def _children(odb: ObjectDB, digest: str, kind: str | None) -> list[tuple[str, str | None]]:
    """The objects an object names: a tree's entries and shards, a record's links."""
    if kind == "blob" or kind == "object":
        return []
    if kind is None:
        try:
            if odb.stat(digest).size > _SNIFF_LIMIT:
                return []
        except NotFoundError:
            return []
    data = odb.read(digest)
    fmt = sniff_json_format(data)
    if fmt in ("mlopskit.tree/1", SHARD_FORMAT):
        entries, shards = parse_manifest(data, digest)
        out: list[tuple[str, str | None]] = [(e.digest, e.kind) for e in entries]
        return out + [(s, "tree") for s in shards]
    if fmt == RECORD_FORMAT:
        try:
            links = json.loads(data).get("links", [])
            return [(check_digest(link["digest"]), link.get("kind")) for link in links]
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise IntegrityError(
                f"record {digest} has damaged links: {exc}", digest=digest
            ) from exc
    return []


def reachable(odb: ObjectDB, roots: Iterable[ArtifactRef | str]) -> set[str]:
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
            stack.extend(c for c in _children(odb, digest, kind) if c[0] not in marked)
        except (NotFoundError, IntegrityError) as exc:
            log.warning("gc_unreadable_object", digest=digest, error=str(exc))
    return marked


def verify_closure(odb: ObjectDB, ref: ArtifactRef | str) -> VerifyReport:
    """Verify one object and everything it reaches (all files of a tree).

    The bytes checked are the store's (a remote store's local cache is not trusted
    for this).
    """
    report = VerifyReport()
    for digest in sorted(reachable(odb, [ref])):
        try:
            data, where = odb.fetch(digest, cached=False)
        except NotFoundError:
            report.corrupt.append(
                CorruptObject(digest=digest, path="", found=None, reason="missing")
            )
            continue
        found = _digest_of(data, digest)
        report.checked += 1
        report.bytes_checked += len(data)
        if found != digest:
            if odb.cache is not None:
                odb.cache.evict(digest)
            report.corrupt.append(
                CorruptObject(
                    digest=digest, path=where, found=found, reason="content does not match digest"
                )
            )
    return report


def collect_garbage(
    odb: ObjectDB,
    roots: Iterable[ArtifactRef | str],
    *,
    dry_run: bool,
    grace: timedelta,
) -> GcReport:
    """Mark from ``roots`` (every ref, its history, and ``keep``); sweep what is old and
    unmarked: loose objects, dead objects of packs (repacked), stale temporary files
    and packs whose index was never written."""
    if grace < 2 * FRESHEN_AFTER:
        log.warning(
            "gc_short_grace",
            grace_s=grace.total_seconds(),
            note="objects re-put while gc runs may be swept; use a longer grace "
            "when other writers are active",
        )
    cutoff = _now() - grace.total_seconds()
    marked = reachable(odb, roots)
    report = GcReport(dry_run=dry_run, reachable=len(marked))

    for digest, info in list(odb.iter_loose()):
        if digest in marked:
            continue
        if _mtime(info) > cutoff:
            report.kept_young += 1
            continue
        report.removed.append(digest)
        report.removed_bytes += int(info.get("size") or 0)
        if not dry_run:
            odb.delete(digest)

    packs = odb.packs
    for name, mtime in packs.listing().items():
        try:
            entries = packs.read_index_from_store(name)
        except (IntegrityError, FileNotFoundError) as exc:
            log.warning("gc_skips_damaged_pack", pack=name, error=str(exc))
            continue  # never sweep what cannot be read; verify reports it
        live = [e for e in entries if f"sha256:{e[0]}" in marked]
        dead = [e for e in entries if f"sha256:{e[0]}" not in marked]
        if not dead:
            continue
        if mtime > cutoff:
            report.kept_young += len(dead)
            continue
        report.removed.extend(f"sha256:{e[0]}" for e in dead)
        report.removed_bytes += sum(e[2] for e in dead)
        if not live:
            report.packs_removed += 1
            if not dry_run:
                packs.remove(name)
            continue
        report.packs_rewritten += 1
        if not dry_run:
            _repack(odb, name, live)

    for name, mtime in packs.orphans().items():
        if mtime <= cutoff:  # a pack whose index was never written: an unfinished write
            report.temp_removed += 1
            if not dry_run:
                odb.loc.rm(packs.pack_path(name))

    loc = odb.loc
    for path, info in loc.find(loc.join("tmp")).items():
        if _mtime(info) <= cutoff:
            report.temp_removed += 1
            if not dry_run:
                loc.rm(path)

    if not dry_run:
        odb.forget(report.removed)
    log.info(
        "gc",
        dry_run=dry_run,
        reachable=report.reachable,
        removed=len(report.removed),
        removed_bytes=report.removed_bytes,
    )
    return report


def _repack(odb: ObjectDB, pack_name: str, live: list[tuple[str, int, int]]) -> None:
    """Write the live objects of a pack into a new pack, then remove the old one."""
    builder = PackBuilder(max_bytes=1 << 62)
    data = odb.packs.read_pack(pack_name)
    for hexdigest, offset, size in live:
        builder.add(f"sha256:{hexdigest}", data[offset : offset + size])
    name = odb.packs.write(builder.entries, builder.chunks)
    if name != pack_name:
        odb.packs.remove(pack_name)


__all__ = ["collect_garbage", "reachable", "verify_all", "verify_closure"]
