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
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mlopskit import _config
from mlopskit.errors import IntegrityError, InvalidNameError

if TYPE_CHECKING:
    from mlopskit.store import ArtifactRef, ArtifactStore

__all__ = ["MAX_NAME_BYTES", "check_filename", "check_segment", "materialize"]

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
) -> Path:
    """Write the stored file or directory ``ref`` to a local path named ``filename``.

    Args:
        store: the store that holds ``ref``.
        ref: the stored file (blob) or directory (tree).
        kind: ``"file"`` or ``"directory"``.
        filename: the name to give it, read from ``record`` (checked here).
        record: the record's name, for errors (``datasets/iris/v/3``).
        area: the cache sub-directory (``datasets``, ``models``).
        dest: a directory to write into (a file keeps ``filename`` inside it) or, for
            a file, the exact path to write; default: the read-only cache.

    Returns:
        The local path. Every byte written is verified against its digest.

    Raises:
        IntegrityError: ``filename`` is not one plain path segment (nothing written).
    """
    name = check_filename(filename, record=record)
    if dest is not None:
        out = Path(dest)
        if kind == "file":
            return store.get_file(ref, out / name if out.is_dir() else out)
        return store.checkout(ref, out, overwrite=True)
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
