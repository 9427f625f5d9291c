"""Refs: named, movable pointers to objects, with an append-only history.

Each move of a ref is a create-only log record ``refs/<name>/~log/<seq:020d>.json``;
the record with the highest sequence number is the ref's value. Writing record ``n+1``
succeeds for exactly one writer (a create-only write: ``os.link`` locally, S3's
``If-None-Match: *``), which makes :meth:`Refs.set` a compare-and-swap that never loses
an update across threads, processes and machines — with no database and no lock.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mlopskit._context import whoami
from mlopskit._log import get_logger
from mlopskit.errors import (
    IntegrityError,
    InvalidNameError,
    NotFoundError,
    RefConflictError,
)
from mlopskit.serialize import canonical_json
from mlopskit.store._model import ArtifactRef, RefRecord

if TYPE_CHECKING:
    from mlopskit.store._fs import Location

log = get_logger("mlopskit.store.refs")

LOG_DIR = "~log"
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._@+=,-]*$")
_UNSET: Any = object()


def check_ref_name(name: str) -> str:
    """Ref names are ``/``-separated segments of letters, digits and ``._@+=,-``."""
    if not isinstance(name, str) or not name:
        raise InvalidNameError(f"a ref name must be a non-empty string, found {name!r}", found=name)
    for segment in name.split("/"):
        if segment in ("", ".", "..") or not _SEGMENT.match(segment):
            raise InvalidNameError(
                f"invalid ref name {name!r}: segment {segment!r} must start with a letter, "
                "digit or '_' and contain only letters, digits and '._@+=,-' "
                "(no '..', no leading '/', no empty segments)",
                found=name,
            )
    return name


def _digest_of(value: ArtifactRef | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.digest


class Refs:
    """The refs of one store: ``store.refs``.

    Args:
        loc: the store's location (refs live under ``refs/``).
        exists: whether an object is stored (a ref may only name stored objects).
    """

    def __init__(self, loc: Location, exists: Callable[[str], bool]) -> None:
        self._loc = loc
        self._exists = exists
        self._seen: dict[str, RefRecord] = {}  # last record read per name (append-only)

    def _dir(self, name: str) -> str:
        return self._loc.join("refs", *name.split("/"), LOG_DIR)

    def _seqs(self, name: str) -> list[int]:
        seqs = []
        for info in self._loc.ls(self._dir(name)):
            base = info["name"].rstrip("/").rsplit("/", 1)[-1]
            if base.endswith(".json") and base[:-5].isdigit():
                seqs.append(int(base[:-5]))
        return sorted(seqs)

    def _read(self, name: str, seq: int) -> RefRecord:
        path = f"{self._dir(name)}/{seq:020d}.json"
        return self._parse(self._loc.read_nonempty(path), path, name, seq)

    @staticmethod
    def _parse(data: bytes, path: str, name: str, seq: int) -> RefRecord:
        """A ref log record, checked against where it was found (its name and number)."""
        try:
            rec = RefRecord.model_validate(json.loads(data))
        except (ValueError, TypeError, RecursionError) as exc:
            raise IntegrityError(f"ref record {path} is damaged: {exc}", path=path) from exc
        if rec.seq != seq or rec.name != name:
            raise IntegrityError(
                f"ref record {path} is damaged: it says it is record {rec.seq} of ref "
                f"{rec.name!r}, but it is stored as record {seq} of ref {name!r}. Restore the "
                "file from a backup or remove it (and any record after it)",
                path=path,
                expected=(name, seq),
                found=(rec.name, rec.seq),
            )
        return rec

    def record(self, name: str) -> RefRecord | None:
        """The current (highest) log record of ``name``, or None if it never existed."""
        return self._head(check_ref_name(name))

    def _head(self, name: str) -> RefRecord | None:
        """The highest record: probe past the last one seen (one read), else list."""
        rec = self._seen.get(name)
        if rec is None:
            seqs = self._seqs(name)
            if not seqs:
                return None
            rec = self._read(name, seqs[-1])
        while True:
            try:
                rec = self._read(name, rec.seq + 1)
            except FileNotFoundError:
                break
        self._seen[name] = rec
        return rec

    def get(self, name: str) -> ArtifactRef:
        """The object ``name`` points to; NotFoundError if absent or deleted."""
        rec = self.record(name)
        if rec is None or rec.target is None:
            raise NotFoundError(
                f"no ref named {name!r} in {self._loc.url}"
                + (" (it was deleted)" if rec is not None else ""),
                name=name,
            )
        return rec.target

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        rec = self.record(name)
        return rec is not None and rec.target is not None

    def set(
        self,
        name: str,
        ref: ArtifactRef | None,
        *,
        expected: RefRecord | ArtifactRef | str | None = _UNSET,
        message: str = "",
        meta: dict[str, Any] | None = None,
    ) -> RefRecord:
        """Point ``name`` at ``ref`` (None deletes), appending to its history.

        Args:
            name: the ref name, e.g. ``"datasets/iris/latest"``.
            ref: the object to point at; it must exist in the store.
            expected: compare-and-swap: the record the caller read (strictest: the
                write succeeds only if nobody moved the ref since, in one request), the
                target it read (a ref or digest), or ``None`` for "must not exist yet". A stale value raises
                :class:`RefConflictError` and writes nothing. Left out, the set is
                unconditional (it still never loses a concurrent update's record).
            message: why, for the audit log.
            meta: extra fields for the audit log.
        """
        check_ref_name(name)
        if ref is not None and not self._exists(ref.digest):
            raise NotFoundError(
                f"cannot point ref {name!r} at {ref.digest}: no such object in the store "
                "(write objects before the refs that name them)",
                digest=ref.digest,
            )
        user, host = whoami()
        if isinstance(expected, RefRecord):
            return self._set_after(name, ref, expected, user, host, message, meta)
        want = _digest_of(expected) if expected is not _UNSET else _UNSET
        while True:
            head = self._head(name)
            current = head.target.digest if head is not None and head.target else None
            if want is not _UNSET and want != current:
                raise RefConflictError(
                    f"ref {name!r} points to {current or 'nothing'}, expected "
                    f"{want or 'nothing'}: it moved since you read it; re-read and retry",
                    name=name,
                    expected=want,
                    found=current,
                )
            try:
                return self._append(name, ref, head, user, host, message, meta)
            except FileExistsError:
                continue  # somebody else moved it first: re-read and decide again

    def _set_after(
        self,
        name: str,
        ref: ArtifactRef | None,
        expected: RefRecord,
        user: str,
        host: str,
        message: str,
        meta: dict[str, Any] | None,
    ) -> RefRecord:
        """Compare-and-swap against a record: exactly one write, or RefConflictError."""
        if expected.name != name:
            raise RefConflictError(
                f"expected record is of ref {expected.name!r}, not {name!r}",
                name=name,
                expected=expected.name,
                found=name,
            )
        try:
            return self._append(name, ref, expected, user, host, message, meta)
        except FileExistsError:
            head = self._head(name)
            found = head.target.digest if head is not None and head.target else None
            raise RefConflictError(
                f"ref {name!r} moved past record {expected.seq} (now {found or 'nothing'}); "
                "re-read and retry",
                name=name,
                expected=_digest_of(expected.target),
                found=found,
            ) from None

    def _append(
        self,
        name: str,
        ref: ArtifactRef | None,
        head: RefRecord | None,
        user: str,
        host: str,
        message: str,
        meta: dict[str, Any] | None,
    ) -> RefRecord:
        """Write record ``head.seq + 1`` create-only; FileExistsError if taken."""
        record = RefRecord(
            name=name,
            seq=(head.seq + 1) if head is not None else 1,
            target=ref,
            previous=head.target.digest if head is not None and head.target else None,
            time=datetime.now(timezone.utc),
            user=user,
            host=host,
            message=message,
            meta=meta or {},
        )
        path = f"{self._dir(name)}/{record.seq:020d}.json"
        self._loc.write_create_only(path, canonical_json(record.model_dump(mode="json")))
        self._seen[name] = record
        log.debug("ref_set", name=name, seq=record.seq, target=_digest_of(ref))
        return record

    def delete(
        self, name: str, *, expected: ArtifactRef | str | None = _UNSET, message: str = ""
    ) -> RefRecord:
        """Delete ``name`` (a tombstone record; the history is kept)."""
        if name not in self:
            raise NotFoundError(f"no ref named {name!r} to delete", name=name)
        return self.set(name, None, expected=expected, message=message)

    def numbers(self, prefix: str) -> builtins.list[int]:
        """The numbers ``n`` of the refs named ``<prefix>/<n>`` (deleted ones too), sorted."""
        scope = prefix.strip("/")
        cut = len(scope) + 1
        names = self.list(scope, include_deleted=True)
        return sorted(int(n[cut:]) for n in names if n[cut:].isdigit())

    def claim_next(
        self,
        prefix: str,
        make: Callable[[int], ArtifactRef | None],
        *,
        message: str = "",
        meta: dict[str, Any] | None = None,
    ) -> RefRecord | None:
        """Create ``<prefix>/<n>`` for the next number ``n``, pointing at ``make(n)``.

        Version numbers without a database: the create-only ref decides, so concurrent
        claimers on any number of machines get distinct, gap-free numbers; a loser
        calls ``make`` again with the next number. ``make`` returning None gives up
        (the call returns None), e.g. when it finds the latest version already holds
        the same content. The record's ``meta`` gets ``number``.
        """
        numbers = self.numbers(prefix)
        while True:
            n = (numbers[-1] if numbers else 0) + 1
            target = make(n)
            if target is None:
                return None
            try:
                return self.set(
                    f"{prefix.strip('/')}/{n}",
                    target,
                    expected=None,
                    message=message,
                    meta={**(meta or {}), "number": n},
                )
            except RefConflictError:
                numbers = self.numbers(prefix)  # somebody took n: take the next

    def history(self, name: str) -> list[RefRecord]:
        """Every record of ``name``, oldest first: who, when, why, from what to what."""
        seqs = self._seqs(check_ref_name(name))
        if not seqs:
            raise NotFoundError(f"no ref named {name!r}", name=name)
        paths = [f"{self._dir(name)}/{s:020d}.json" for s in seqs]
        return [
            self._parse(data, path, name, seq)
            for seq, path, data in zip(seqs, paths, self._cat_many(paths))
        ]

    def _cat_many(self, paths: list[str]) -> list[bytes]:
        if not paths:
            return []
        if self._loc.is_local or self._loc.is_memory:
            return [self._loc.cat(p) for p in paths]
        out = self._loc.retry(
            lambda: self._loc.fs.cat(paths, on_error="raise"), what="read ref records"
        )
        return [out[p] if p in out else out[self._loc.fs._strip_protocol(p)] for p in paths]

    def _all(self, prefix: str = "") -> dict[str, int]:
        """Every ref name at or under path prefix ``prefix``, with its highest sequence."""
        base = self._loc.join("refs")
        scope = prefix.strip("/")
        start = self._loc.join("refs", *scope.split("/")) if scope else base
        files = self._loc.find(start)
        heads: dict[str, int] = {}
        marker = f"/{LOG_DIR}/"
        strip = base.rstrip("/") + "/"
        for path in files:
            path = "/" + path.lstrip("/") if self._loc.is_memory else path
            if marker not in path or not path.endswith(".json"):
                continue
            head, _, leaf = path.rpartition(marker)
            if not leaf[:-5].isdigit() or not head.startswith(strip):
                continue
            name = head[len(strip) :]
            if scope and name != scope and not name.startswith(scope + "/"):
                continue
            heads[name] = max(heads.get(name, 0), int(leaf[:-5]))
        return heads

    def list(self, prefix: str = "", *, include_deleted: bool = False) -> builtins.list[str]:
        """Names of the refs under ``prefix`` (sorted), without deleted ones by default."""
        heads = self._all(prefix)
        if include_deleted:
            return sorted(heads)
        names = sorted(heads)
        paths = [f"{self._dir(n)}/{heads[n]:020d}.json" for n in names]
        records = [
            self._parse(d, p, n, heads[n]) for n, p, d in zip(names, paths, self._cat_many(paths))
        ]
        return [n for n, r in zip(names, records) if r.target is not None]

    def targets(self) -> builtins.list[ArtifactRef]:
        """Every object any ref points to now or pointed to in its history (for gc)."""
        heads = self._all()
        wanted = [(n, s) for n, top in heads.items() for s in range(1, top + 1)]
        paths = [f"{self._dir(n)}/{s:020d}.json" for n, s in wanted]
        out: builtins.list[ArtifactRef] = []
        for (name, seq), path, data in zip(wanted, paths, self._cat_many_tolerant(paths)):
            if data is None:
                continue
            rec = self._parse(data, path, name, seq)
            if rec.target is not None:
                out.append(rec.target)
        return out

    def _cat_many_tolerant(self, paths: builtins.list[str]) -> builtins.list[bytes | None]:
        out: builtins.list[bytes | None] = []
        for path in paths:
            try:
                out.append(self._loc.cat(path))
            except FileNotFoundError:
                out.append(None)
        return out
