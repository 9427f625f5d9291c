"""Materialise a stored file or directory as a local path, for datasets and the registry.

One helper, used by ``Datasets.load`` and ``Registry.load``, so both keep a file's
name (ONNX, joblib and torch loaders dispatch on the suffix) and both refuse a name
read from a stored record that is not one plain path segment.

Names come from records anyone who can write the store can plant, so they are checked
where they are read (:func:`check_filename`), before anything is written: a record
naming ``../../x`` or ``/etc/x`` raises :class:`~mlopskit.errors.IntegrityError`
naming the record, and no file is created.

Cache layout (the default when no ``dest`` is given; treat it as read-only)::

    <cache_dir>/<area>/<digest hex>/<filename>

Published with one ``os.replace`` from a private temporary directory, so concurrent
loaders never see a partial file; the loser of a directory race keeps the winner's.

Into a work tree (``dest``, ``keep_changed=True``): every file that exists there with
other content than the stored one is found before anything is written, and the call
refuses (listing them) rather than lose a local edit; files with the stored content are
left as they are.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mlopskit import _config
from mlopskit.errors import IntegrityError, InvalidInputError, InvalidNameError
from mlopskit.hashing import digester_for

if TYPE_CHECKING:
    from mlopskit.store import ArtifactRef, ArtifactStore

__all__ = [
    "MAX_NAME_BYTES",
    "changed_files",
    "check_filename",
    "check_segment",
    "file_digest",
    "materialize",
]

MAX_NAME_BYTES = 255  # NAME_MAX on Linux, macOS and Windows file systems
_FORBIDDEN = frozenset({"", ".", ".."})
_SEPARATORS = ("/", "\\", "\x00") + ((":",) if os.name == "nt" else ())


def _segment_problem(name: object) -> str | None:
    """Why ``name`` is not one plain path segment (None when it is)."""
    if not isinstance(name, str):
        return f"a {type(name).__name__}, not a string"
    if name in _FORBIDDEN:
        return "empty, '.' or '..'"
    if any(sep in name for sep in _SEPARATORS):
        return "a path separator or NUL in it"
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return "not valid UTF-8"
    if size > MAX_NAME_BYTES:
        return f"{size} bytes long (at most {MAX_NAME_BYTES})"
    return None


def check_segment(name: str, what: str = "file name") -> str:
    """``name`` as one plain path segment given by a caller; InvalidNameError if not."""
    problem = _segment_problem(name)
    if problem is not None:
        raise InvalidNameError(
            f"invalid {what} {name!r}: {problem}; use one plain path segment "
            f"(no '/', '\\\\', NUL, not '.' or '..', at most {MAX_NAME_BYTES} bytes)",
            found=name,
            expected="one plain path segment",
        )
    return name


def check_filename(name: object, *, record: str) -> str:
    """A file name read from the stored ``record``: one plain segment, else IntegrityError.

    Raised before anything is written, so a planted record cannot create or overwrite
    a file outside the target directory.
    """
    problem = _segment_problem(name)
    if problem is not None:
        raise IntegrityError(
            f"record {record!r} names the file {name!r} ({problem}): refusing to write "
            "it, since it is not one plain path segment. The record is damaged or was "
            "planted by someone who can write the store; check who wrote it "
            "(store.refs.history) before trusting this store.",
            path=record,
            found=name,
            expected="one plain path segment",
        )
    return name  # type: ignore[return-value]


def materialize(
    store: ArtifactStore,
    ref: ArtifactRef,
    kind: Literal["file", "directory"],
    filename: object,
    *,
    record: str,
    area: str,
    dest: str | os.PathLike[str] | None = None,
    keep_changed: bool = False,
    clean: Callable[[str, Path], bool] | None = None,
) -> Path:
    """Write the stored file or directory ``ref`` to a local path named ``filename``.

    Args:
        store: the store that holds ``ref``.
        ref: the stored file (blob) or directory (tree).
        kind: ``"file"`` or ``"directory"``.
        filename: the name to give it, read from ``record`` (checked here).
        record: the record's name, for errors (``datasets/iris/v/3``).
        area: the cache sub-directory (``datasets``, ``models``).
        dest: an existing directory to write into (the file or directory keeps
            ``filename`` inside it) or the exact path to write; default: the
            read-only cache.
        keep_changed: refuse (InvalidInputError, nothing written) when a file at the
            target holds other content than the stored one...
        clean: ... unless ``clean(relative path, local path)`` says that content is a
            known one (another version's), not a local edit.

    Returns:
        The local path. Every byte written is verified against its digest.

    Raises:
        IntegrityError: ``filename`` is not one plain path segment (nothing written).
        InvalidInputError: with ``keep_changed``, files at the target hold other
            content (nothing written).
    """
    name = check_filename(filename, record=record)
    if dest is not None:
        out = Path(dest)
        target = out / name if out.is_dir() else out
        if keep_changed:
            changed = changed_files(store, ref, kind, target, clean)
            if changed:
                shown = ", ".join(str(p) for p in changed[:5])
                more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
                raise InvalidInputError(
                    f"{len(changed)} file(s) under {target} differ from {record}: "
                    f"{shown}{more}; pass force=True to overwrite them, or load elsewhere",
                    expected="no local changes",
                    found=[str(p) for p in changed],
                    path=str(target),
                )
        if kind == "file":
            if target.is_file() and _same(target, ref.digest, ref.size):
                return target
            return store.get_file(ref, target)
        return store.checkout(ref, target, overwrite=True)
    base = Path(_config.cache_dir()) / area / ref.hex
    final = base / name
    if final.exists():
        return final
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=base, prefix=".tmp-"))
    try:
        if kind == "file":
            store.get_file(ref, tmp / name)
        else:
            store.checkout(ref, tmp / name)
        try:
            os.replace(tmp / name, final)
        except OSError:  # a directory another process published first
            if not final.exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _same(path: Path, digest: str, size: int) -> bool:
    """Whether the local file ``path`` holds exactly the bytes of ``digest``."""
    try:
        if path.stat().st_size != size:
            return False
    except OSError:
        return False
    return file_digest(path, digest) == digest


def file_digest(path: Path, like: str) -> str | None:
    """The digest of the local file ``path`` in the algorithm of the digest ``like``
    (None when it cannot be read)."""
    hasher = digester_for(like)
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                hasher.update(chunk)
    except OSError:
        return None
    return str(hasher.digest())


def changed_files(
    store: ArtifactStore,
    ref: ArtifactRef,
    kind: Literal["file", "directory"],
    target: Path,
    clean: Callable[[str, Path], bool] | None = None,
) -> list[Path]:
    """The paths under ``target`` that exist with other content than the stored file or
    directory ``ref`` would write there (a directory in the way counts as changed), less
    those ``clean(relative path, local path)`` accepts."""
    if kind == "file":
        wanted = [(target.name, target, ref.digest, ref.size)]
    else:
        wanted = [
            (rel, target.joinpath(*rel.split("/")), e.digest, e.size)
            for rel, e in store.walk(ref)
            if e.kind == "blob"
        ]
    return [
        path
        for rel, path, digest, size in wanted
        if os.path.lexists(path)
        and not (path.is_file() and _same(path, digest, size))
        and not (clean is not None and path.is_file() and clean(rel, path))
    ]
