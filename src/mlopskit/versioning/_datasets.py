"""Datasets: named, numbered, immutable versions of data in the store.

Layout (refs)::

    datasets/<name>/v/<n>     → the record of version n (links the data, so gc keeps it)

Version numbers are allocated by creating ``datasets/<name>/v/<n>`` create-only
(``expected=None``): of concurrent committers exactly one gets ``n``, the others
retry with ``n + 1`` — distinct and gap-free across processes and machines, with no
lock and no database (the mlflow#22635 race cannot happen).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from mlopskit import _context
from mlopskit._edges import Endpoint, LineageEdge, record_edge, record_use
from mlopskit._log import get_logger
from mlopskit._provenance import recall, remember
from mlopskit.errors import (
    IntegrityError,
    InvalidInputError,
    InvalidNameError,
    NotFoundError,
    SchemaError,
)
from mlopskit.store import ArtifactRef, ArtifactStore, RefRecord, TreeEntry
from mlopskit.versioning._hash import digest_value
from mlopskit.versioning._materialize import (
    check_filename,
    check_segment,
    file_digest,
    materialize,
)
from mlopskit.versioning._numbered import (
    NumberedArea,
    NumberedVersion,
    VersionList,
    check_name,
    read_version,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ColumnSchema",
    "ColumnSummary",
    "DatasetDiff",
    "DatasetVersion",
    "Datasets",
    "FileChange",
    "parse_dataset_uri",
]

log = get_logger("mlopskit.versioning.datasets")

DataKind = Literal["dataframe", "series", "array", "file", "directory"]
_MAX_DEPTH = 512  # as the store's tree walk: deeper is damage, not a folder
_Side: TypeAlias = (
    "str | dict[str, TreeEntry] | None"  # a tree digest, one file's entry, or nothing
)


class ColumnSchema(BaseModel):
    """One column: name, dtype (as pandas/numpy prints it) and whether it holds nulls."""

    model_config = ConfigDict(frozen=True)

    name: str
    dtype: str
    nullable: bool = False


class ColumnSummary(BaseModel):
    """Statistics of one column (numbers for numeric columns, counts for the rest)."""

    model_config = ConfigDict(frozen=True)

    name: str
    dtype: str
    count: int
    nulls: int
    distinct: int | None = None
    mean: float | None = None
    std: float | None = None
    min: float | str | None = None
    max: float | str | None = None
    top: str | None = None


with warnings.catch_warnings():
    # ``schema`` is the documented field name; it shadows pydantic's deprecated
    # BaseModel.schema() classmethod, which nobody should call on a record.
    warnings.filterwarnings("ignore", message='Field name "schema"')

    class DatasetVersion(NumberedVersion, BaseModel):
        """One immutable version of a dataset.

        Attributes:
            name: the dataset's name.
            number: its version number (1, 2, …; gap-free).
            digest: the digest of the stored data (Parquet, ``.npy``, file or tree).
            data: the stored data's reference.
            kind: ``dataframe``, ``series``, ``array``, ``file`` or ``directory``.
            content_hash: the content hash of the data (independent of its encoding);
                committing equal content again returns this version.
            schema: the columns (name, dtype, nullable).
            rows: the row count (None for files and directories).
            summary: per-column statistics.
        """

        model_config = ConfigDict(frozen=True)

        schema_version: int = 1
        name: str
        number: int
        digest: str
        data: ArtifactRef
        kind: DataKind
        content_hash: str
        message: str = ""
        metadata: dict[str, Any] = Field(default_factory=dict)
        created_at: datetime
        author: str = ""
        host: str = ""
        run_id: str | None = None
        schema: list[ColumnSchema] = Field(default_factory=list)  # type: ignore[assignment]
        shape: list[int] | None = None
        rows: int | None = None
        files: int | None = None
        size: int = 0
        summary: list[ColumnSummary] = Field(default_factory=list)

        node_kind: ClassVar[str] = "dataset"
        frame_columns: ClassVar[tuple[str, ...]] = (
            "number",
            "created_at",
            "author",
            "message",
            "kind",
            "rows",
            "size",
            "digest",
            "run_id",
        )


class FileChange(BaseModel):
    """One file that differs between two versions of a folder (or file) dataset:
    ``change`` is ``added``, ``removed`` or ``changed``; sizes in bytes (None on the
    side that lacks it)."""

    model_config = ConfigDict(frozen=True)

    path: str
    change: Literal["added", "removed", "changed"]
    size_a: int | None = None
    size_b: int | None = None
    digest_a: str | None = None
    digest_b: str | None = None


class DatasetDiff(BaseModel):
    """What changed between two dataset versions.

    Attributes:
        a, b: the versions compared (``name/number``).
        added_columns, removed_columns: column names.
        changed_columns: name → ``{"dtype": [a, b], "nullable": [a, b]}`` (what changed).
        stats: column → statistic → ``[a, b]`` for every statistic that differs.
        rows_added, rows_removed, rows_changed: by key, when ``key=`` was given.
        files: for folder (and file) datasets, each file added, removed or changed,
            by path (see :meth:`files_frame`).
    """

    a: str
    b: str
    rows: tuple[int | None, int | None]
    added_columns: list[str] = Field(default_factory=list)
    removed_columns: list[str] = Field(default_factory=list)
    changed_columns: dict[str, dict[str, list[Any]]] = Field(default_factory=dict)
    stats: dict[str, dict[str, list[Any]]] = Field(default_factory=dict)
    key: list[str] | None = None
    rows_added: int | None = None
    rows_removed: int | None = None
    rows_changed: int | None = None
    files: list[FileChange] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when neither the schema, the statistics nor the rows changed."""
        return not (
            self.added_columns
            or self.removed_columns
            or self.changed_columns
            or self.stats
            or self.rows[0] != self.rows[1]
            or self.rows_added
            or self.rows_removed
            or self.rows_changed
            or self.files
        )

    def files_frame(self) -> pd.DataFrame:
        """One row per file added, removed or changed: ``path``, ``change``, ``size_a``,
        ``size_b`` (bytes; missing on the side without the file), ``delta`` (bytes)."""
        import pandas as pd

        frame = pd.DataFrame(
            {
                "path": [f.path for f in self.files],
                "change": [f.change for f in self.files],
                "size_a": pd.array([f.size_a for f in self.files], dtype="Int64"),
                "size_b": pd.array([f.size_b for f in self.files], dtype="Int64"),
            }
        )
        frame["delta"] = frame["size_b"].fillna(0) - frame["size_a"].fillna(0)
        result: pd.DataFrame = frame
        return result

    def to_frame(self) -> pd.DataFrame:
        """One row per change: ``column``, ``change``, ``what``, ``a``, ``b``."""
        import pandas as pd

        rows: list[dict[str, Any]] = []
        rows += [{"column": c, "change": "added"} for c in self.added_columns]
        rows += [{"column": c, "change": "removed"} for c in self.removed_columns]
        for col, what in self.changed_columns.items():
            rows += [
                {"column": col, "change": "schema", "what": k, "a": v[0], "b": v[1]}
                for k, v in what.items()
            ]
        for col, stats in self.stats.items():
            rows += [
                {"column": col, "change": "stat", "what": k, "a": v[0], "b": v[1]}
                for k, v in stats.items()
            ]
        frame: pd.DataFrame = pd.DataFrame(rows, columns=["column", "change", "what", "a", "b"])
        return frame


# -- helpers ---------------------------------------------------------------------------------


def parse_dataset_uri(uri: str) -> tuple[str, int | str]:
    """``"iris/3"`` → ``("iris", 3)``; ``"iris"`` and ``"iris@latest"`` → ``("iris", "latest")``;
    ``"iris/sha256:…"`` → ``("iris", "sha256:…")``. A ``datasets:`` prefix is allowed.

    ``/`` selects a version (number or digest) and ``@`` an alias, as in model URIs;
    datasets have one alias, ``latest``. ``"iris@3"`` still means version 3 but is
    deprecated (DeprecationWarning): write ``"iris/3"``.
    """
    if not isinstance(uri, str):
        raise InvalidNameError(f"a dataset URI is a str such as 'iris/3'; found {uri!r}", found=uri)
    text = uri.split(":", 1)[1].lstrip("/") if uri.startswith(("dataset:", "datasets:")) else uri
    if "@" in text:
        name, _, alias = text.partition("@")
        if alias.isdigit():
            warnings.warn(
                f"dataset URI {uri!r}: '@' names an alias; write {name}/{alias} for a "
                "version number ('@<number>' is deprecated)",
                DeprecationWarning,
                stacklevel=3,
            )
            return _check_name(name), int(alias)
        if alias != "latest":
            raise InvalidNameError(
                f"invalid dataset URI {uri!r}: datasets have no alias {alias!r}; use "
                "'name', 'name/<number>', 'name/<digest>' or 'name@latest'",
                found=uri,
            )
        return _check_name(name), "latest"
    name, sep, version = text.partition("/")
    if not sep:
        return _check_name(name), "latest"
    if version.isdigit():
        return _check_name(name), int(version)
    if version == "latest" or ":" in version:
        return _check_name(name), version
    raise InvalidNameError(
        f"invalid dataset URI {uri!r}: expected 'name', 'name/<number>', 'name/<digest>' "
        "or 'name@latest'",
        found=uri,
    )


def _digest_at(store: ArtifactStore, v: DatasetVersion, rel: str) -> str | None:
    """The digest of the file at ``rel`` in version ``v`` (None when it has none)."""
    if v.kind == "file":
        name = v.metadata.get("filename") or v.name
        return v.data.digest if rel == name else None
    if v.kind != "directory":
        return None
    digest: str | None = v.data.digest
    parts = rel.split("/")
    for i, part in enumerate(parts):
        if digest is None:
            return None
        entry = next((e for e in store.read_tree(digest) if e.name == part), None)
        want = "blob" if i == len(parts) - 1 else "tree"
        digest = entry.digest if entry is not None and entry.kind == want else None
    return digest


def _held_by_another_version(
    store: ArtifactStore, dv: DatasetVersion, rel: str, path: Path
) -> bool:
    """Whether the local file ``path`` holds what another version of ``dv``'s dataset has
    at ``rel``: a file a load wrote, not a local edit."""
    local = file_digest(path, dv.data.digest)
    if local is None:
        return False
    versions = Datasets(store)
    for number in sorted(versions._numbers(dv.name), reverse=True):
        if number == dv.number:
            continue
        if _digest_at(store, versions._read(dv.name, number), rel) == local:
            return True
    return False


def _check_name(name: str) -> str:
    return check_name(name, "dataset")


def _run_id() -> str | None:
    run = _context.active_run()
    return None if run is None else str(run.run_id)


def _is_frame(data: Any) -> bool:
    if "pandas" not in sys.modules:
        return False
    import pandas as pd

    return isinstance(data, (pd.DataFrame, pd.Series))


def _is_array(data: Any) -> bool:
    if "numpy" not in sys.modules:
        return False
    import numpy as np

    return isinstance(data, np.ndarray)


def _jsonable(value: Any) -> float | str | None:
    import numpy as np

    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        f = float(value)
        return f if np.isfinite(f) else None
    return str(value)


def _frame_profile(df: pd.DataFrame) -> tuple[list[ColumnSchema], list[ColumnSummary]]:
    import pandas as pd

    schema, summary = [], []
    for i in range(df.shape[1]):
        col = df.iloc[:, i]
        name = str(df.columns[i])
        nulls = int(col.isna().sum())
        dtype = str(col.dtype)
        schema.append(ColumnSchema(name=name, dtype=dtype, nullable=nulls > 0))
        stats: dict[str, Any] = {"count": int(len(col) - nulls), "nulls": nulls}
        numeric = pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(
            col.dtype
        )
        if numeric and stats["count"]:
            values = col.dropna().astype("float64")
            stats.update(
                mean=_jsonable(values.mean()),
                std=_jsonable(values.std()) if len(values) > 1 else None,
                min=_jsonable(values.min()),
                max=_jsonable(values.max()),
            )
        elif stats["count"]:
            try:
                counts = col.value_counts(dropna=True)
                stats.update(distinct=len(counts), top=str(counts.index[0]))
            except TypeError:  # unhashable cells (lists, dicts)
                pass
            if pd.api.types.is_datetime64_any_dtype(col.dtype):
                stats.update(min=_jsonable(col.min()), max=_jsonable(col.max()))
        summary.append(ColumnSummary(name=name, dtype=dtype, **stats))
    return schema, summary


def _array_profile(arr: Any) -> tuple[list[ColumnSchema], list[ColumnSummary]]:
    import pandas as pd

    if arr.ndim in (1, 2) and arr.dtype.kind in "biufcmMUSO" and arr.size:
        frame = pd.DataFrame(arr if arr.ndim == 2 else arr.reshape(-1, 1))
        if frame.shape[1] <= 1000:
            return _frame_profile(frame)
    return [ColumnSchema(name="array", dtype=str(arr.dtype))], []


# -- the store-bound API ---------------------------------------------------------------------


class Datasets(NumberedArea):
    """The datasets of one store (``mk.datasets`` uses the current workspace's)."""

    area = "datasets"
    noun = "dataset"
    restore_call = "mk.datasets.restore"
    log_name = "mlopskit.versioning.datasets"

    def _parse_uri(self, uri: str) -> tuple[str, int | str]:
        return parse_dataset_uri(uri)

    # -- reading ------------------------------------------------------------------------

    def _read(self, name: str, number: int) -> DatasetVersion:
        try:
            return read_version(
                self.store, DatasetVersion, f"datasets/{name}/v/{number}", name=name, number=number
            )
        except NotFoundError:
            raise NotFoundError(
                f"dataset {name!r} has no version {number}", name=name, version=number
            ) from None

    def get(self, name: str, version: int | str = "latest") -> DatasetVersion:
        """The :class:`DatasetVersion` record for ``version``: ``"latest"``, a number, or a
        digest. ``name`` may be a URI instead (``"iris/3"``, as ``Registry.get`` takes).

        Raises:
            NotFoundError: no such dataset or version.
            InvalidNameError: not a dataset name or URI.
        """
        if isinstance(name, str) and ("/" in name or "@" in name) and version == "latest":
            name, version = parse_dataset_uri(name)
        numbers, deleted = self._state(name)
        if version in ("latest", None):
            return self._read(name, self._latest_alive(name, numbers, deleted))
        if not numbers:
            raise self._missing(name)
        if isinstance(version, int) or (isinstance(version, str) and version.isdigit()):
            if int(version) in deleted:
                raise self._deleted_error(name, int(version), deleted[int(version)])
            return self._read(name, int(version))
        if isinstance(version, str) and ":" in version:
            for n in reversed(numbers):
                if n in deleted:
                    continue
                dv = self._read(name, n)
                if version in (dv.digest, dv.content_hash):
                    return dv
        raise NotFoundError(
            f"dataset {name!r} has no version {version!r}; versions are "
            f"{numbers[0]}..{numbers[-1]}, 'latest', or a digest",
            name=name,
            version=version,
        )

    def versions(self, name: str) -> VersionList[DatasetVersion]:
        """Every version of ``name``, oldest first: a list of :class:`DatasetVersion`
        (``.to_frame()`` for a table)."""
        numbers, deleted = self._state(name)
        if not numbers:
            raise self._missing(name)
        return VersionList(self._read(name, n) for n in numbers if n not in deleted)

    # -- deleting -----------------------------------------------------------------------

    def delete(
        self, name: str, version: int | str | None = None, *, reason: str = ""
    ) -> RefRecord | None:
        """Delete a dataset version (soft): it leaves ``latest`` and ``versions()``, and
        loading it raises NotFoundError saying when and by whom it was deleted.

        ``name`` may be a URI (``"iris/3"``). The deletion is recorded in the version's
        history with who, when and ``reason``; nothing is removed from the store (runs
        that used the version keep their lineage). Returns the record written, or None
        if the version was deleted already.
        """
        return self._mark(*self._number(name, version), reason)

    def restore(
        self, name: str, version: int | str | None = None, *, reason: str = ""
    ) -> RefRecord | None:
        """Undo :meth:`delete`; returns the record written, or None if it was not deleted."""
        return self._unmark(*self._number(name, version), reason)

    def deleted(self, name: str) -> dict[int, RefRecord]:
        """Version number → deletion record (who, when, ``message``: why) of ``name``."""
        return self._deleted_map(name)

    def load(
        self,
        name: str,
        version: int | str = "latest",
        *,
        dest: str | os.PathLike[str] | None = None,
        force: bool = False,
    ) -> Any:
        """The data of a version: a DataFrame, Series or array, or a local path.

        ``name`` may be a URI (``"iris/3"``). Files and directories are written under
        the name they were committed with into ``dest`` when it is an existing
        directory (``dest="."``: the work tree), else at ``dest`` itself; default: a
        directory in the cache named by digest (treat it as read-only). Into ``dest``,
        files that already hold the stored bytes are left as they are, other files
        are kept; a file there with other content is refused (InvalidInputError
        listing them, nothing written) unless ``force=True``. Every byte read is
        verified against its digest. Inside a run, the run is recorded as using the
        version.
        """
        dv = self.get(name, version)
        store = self.store
        data: Any
        if dv.kind in ("file", "directory"):
            data = self._materialize(store, dv, dest, force=force)
        else:
            data = store.get(dv.data)
            remember(data, dv.__mlopskit_node__)
        run_id = _run_id()
        if run_id is not None:
            record_use(store, run_id, {dv.name: dv.__mlopskit_node__})
        return data

    @staticmethod
    def _materialize(
        store: ArtifactStore,
        dv: DatasetVersion,
        dest: str | os.PathLike[str] | None,
        *,
        force: bool = False,
    ) -> Path:
        key = "filename" if dv.kind == "file" else "dirname"
        return materialize(
            store,
            dv.data,
            dv.kind,  # type: ignore[arg-type]
            dv.metadata.get(key) or dv.name,
            record=f"datasets/{dv.name}/v/{dv.number}",
            area="datasets",
            dest=dest,
            keep_changed=not force,
            clean=lambda rel, path: _held_by_another_version(store, dv, rel, path),
        )

    # -- writing ------------------------------------------------------------------------

    def _encode(
        self, data: Any
    ) -> tuple[ArtifactRef, DataKind, str, dict[str, Any], dict[str, Any]]:
        """Store ``data``; returns (ref, kind, content hash, profile fields, metadata)."""
        store = self.store
        if _is_frame(data):
            import pandas as pd

            frame = data.to_frame() if isinstance(data, pd.Series) else data
            schema, summary = _frame_profile(frame)
            kind: DataKind = "series" if isinstance(data, pd.Series) else "dataframe"
            fields = {
                "schema": schema,
                "summary": summary,
                "rows": len(data),
                "shape": list(data.shape),
            }
            return store.put(data), kind, digest_value(data, name="data"), fields, {}
        if _is_array(data):
            schema, summary = _array_profile(data)
            fields = {
                "schema": schema,
                "summary": summary,
                "rows": int(data.shape[0]) if data.ndim else None,
                "shape": list(data.shape),
            }
            return store.put(data), "array", digest_value(data, name="data"), fields, {}
        if isinstance(data, (str, os.PathLike)):
            path = Path(data)
            if path.is_file():
                ref = store.put_file(path)
                return ref, "file", ref.digest, {}, {"filename": path.name}
            if path.is_dir():
                ref = store.put_dir(path)
                files = sum(1 for _, e in store.walk(ref) if e.kind == "blob")
                return ref, "directory", ref.digest, {"files": files}, {"dirname": path.name}
            raise NotFoundError(f"no such file or directory: {path}", path=str(path))
        raise InvalidInputError(
            f"cannot commit a {type(data).__module__}.{type(data).__qualname__} as a dataset: "
            "pass a pandas DataFrame or Series, a numpy array, or the path of a file or "
            "directory"
        )

    def commit(
        self,
        name: str,
        data: Any,
        *,
        message: str = "",
        metadata: Mapping[str, Any] | None = None,
        allow_empty: bool = False,
    ) -> DatasetVersion:
        """Store ``data`` as the next version of dataset ``name``.

        Args:
            name: the dataset's name (letters, digits, ``._+=,-``).
            data: a DataFrame, Series, numpy array, or the path of a file or directory.
            message: why, for the history.
            metadata: free-form JSON-able fields kept with the version.
            allow_empty: make a new version even if the content equals the latest's.

        Returns:
            The new version, or the latest one when its content is identical (unless
            ``allow_empty``).
        """
        _check_name(name)
        if isinstance(data, (str, os.PathLike)):
            for key in ("filename", "dirname"):
                if (metadata or {}).get(key):
                    check_segment(metadata[key], f"metadata[{key!r}]")  # type: ignore[index]
        ref, kind, content_hash, fields, meta = self._encode(data)
        meta.update(metadata or {})
        user, host = _context.whoami()
        store = self.store
        run_id = _run_id()
        unchanged: list[DatasetVersion] = []
        version: DatasetVersion | None = None

        def make(number: int) -> ArtifactRef | None:
            nonlocal version
            latest = self._read(name, number - 1) if number > 1 else None
            if (
                latest is not None
                and latest.content_hash == content_hash
                and not allow_empty
                and f"datasets/{name}/deleted/{number - 1}" not in store.refs  # not deleted
            ):
                unchanged.append(latest)
                return None
            version = DatasetVersion(
                name=name,
                number=number,
                digest=ref.digest,
                data=ref,
                kind=kind,
                content_hash=content_hash,
                message=message,
                metadata=meta,
                created_at=datetime.now(timezone.utc),
                author=user,
                host=host,
                run_id=run_id,
                size=ref.size,
                **fields,
            )
            try:
                return store.put_record(version.model_dump(mode="json"), links=[ref])
            except InvalidInputError as exc:
                raise SchemaError(f"dataset metadata must be JSON-able: {exc}") from exc

        claimed = store.refs.claim_next(
            f"datasets/{name}/v",
            make,
            message=message or f"commit {name}",
            meta={"digest": ref.digest},
        )
        if claimed is None:
            log.info("dataset_unchanged", name=name, number=unchanged[-1].number)
            return unchanged[-1]
        assert version is not None
        number = version.number
        log.info("dataset_committed", name=name, number=number, digest=ref.digest)
        self._record_lineage(store, data, version, run_id)
        if kind not in ("file", "directory"):
            remember(data, version.__mlopskit_node__)
        return version

    @staticmethod
    def _record_lineage(
        store: ArtifactStore, data: Any, version: DatasetVersion, run_id: str | None
    ) -> None:
        source = recall(data) if version.kind not in ("file", "directory") else None
        inputs: dict[str, Endpoint] = {}
        node = version.__mlopskit_node__
        recommit = (  # the same content committed again under the same name: not derived
            source is not None
            and source.kind == "dataset"
            and source.digest == version.digest
            and source.label.rpartition("/")[0] == version.name
        )
        if source is not None and source.id != node.id and not recommit:
            inputs["data"] = source
        if run_id is None and not inputs:
            return
        record_edge(
            store,
            LineageEdge(
                relation="produced",
                inputs=inputs,
                output=version.__mlopskit_node__,
                run_id=run_id,
            ),
        )

    # -- comparing ----------------------------------------------------------------------

    def _resolve(self, spec: DatasetVersion | str) -> DatasetVersion:
        if isinstance(spec, DatasetVersion):
            return spec
        return self.get(*parse_dataset_uri(spec))

    def diff(
        self,
        a: DatasetVersion | str,
        b: DatasetVersion | str,
        *,
        key: str | list[str] | None = None,
    ) -> DatasetDiff:
        """Schema and statistic changes from ``a`` to ``b`` (``"name/3"``, a version).

        With ``key`` (DataFrames only), also the rows added, removed and changed,
        matched on the key columns.
        """
        va, vb = self._resolve(a), self._resolve(b)
        sa = {c.name: c for c in va.schema}
        sb = {c.name: c for c in vb.schema}
        out = DatasetDiff(
            a=va.uri,
            b=vb.uri,
            rows=(va.rows, vb.rows),
            added_columns=[c for c in sb if c not in sa],
            removed_columns=[c for c in sa if c not in sb],
        )
        for col in sa.keys() & sb.keys():
            changes = {
                f: [getattr(sa[col], f), getattr(sb[col], f)]
                for f in ("dtype", "nullable")
                if getattr(sa[col], f) != getattr(sb[col], f)
            }
            if changes:
                out.changed_columns[col] = changes
        ta = {s.name: s for s in va.summary}
        tb = {s.name: s for s in vb.summary}
        for col in sorted(ta.keys() & tb.keys()):
            da, db = ta[col].model_dump(), tb[col].model_dump()
            changed = {k: [da[k], db[k]] for k in da if k not in ("name",) and da[k] != db[k]}
            if changed:
                out.stats[col] = changed
        if key is not None:
            self._row_diff(va, vb, [key] if isinstance(key, str) else list(key), out)
        out.files = self._file_diff(va, vb)
        return out

    def _file_diff(self, va: DatasetVersion, vb: DatasetVersion) -> list[FileChange]:
        """The files added, removed and changed from folder (or file) version ``va`` to
        ``vb``; subtrees with equal digests are skipped unread. [] for tabular data."""
        if va.kind not in ("file", "directory") or vb.kind not in ("file", "directory"):
            return []
        out: list[FileChange] = []
        stack: list[tuple[_Side, _Side, str]] = [(self._side(va), self._side(vb), "")]
        while stack:
            ta, tb, base = stack.pop()
            if base.count("/") > _MAX_DEPTH:
                raise IntegrityError(
                    f"the trees of {va.uri} and {vb.uri} nest deeper than {_MAX_DEPTH} "
                    f"levels at {base[:80]!r}…: a manifest chain this long is damage",
                    found=base.count("/"),
                )
            ea, eb = self._entries(ta), self._entries(tb)
            for name in sorted(ea.keys() | eb.keys()):
                x, y = ea.get(name), eb.get(name)
                if x is not None and y is not None and (x.digest, x.kind) == (y.digest, y.kind):
                    continue
                path = base + name
                xt = x.digest if x is not None and x.kind == "tree" else None
                yt = y.digest if y is not None and y.kind == "tree" else None
                if xt or yt:
                    stack.append((xt, yt, path + "/"))
                xb = x if x is not None and x.kind == "blob" else None
                yb = y if y is not None and y.kind == "blob" else None
                if xb is None and yb is None:
                    continue
                change: Literal["added", "removed", "changed"] = (
                    "changed" if xb and yb else "removed" if xb else "added"
                )
                out.append(
                    FileChange(
                        path=path,
                        change=change,
                        size_a=xb.size if xb else None,
                        size_b=yb.size if yb else None,
                        digest_a=xb.digest if xb else None,
                        digest_b=yb.digest if yb else None,
                    )
                )
        out.sort(key=lambda f: f.path)
        return out

    @staticmethod
    def _side(v: DatasetVersion) -> _Side:
        """A folder version's tree digest; a file version as its one entry, named as it
        was committed (checked: the name comes from a stored record)."""
        if v.kind == "directory":
            return v.data.digest
        record = f"datasets/{v.name}/v/{v.number}"
        name = check_filename(v.metadata.get("filename") or v.name, record=record)
        return {name: TreeEntry(name=name, digest=v.data.digest, size=v.data.size, kind="blob")}

    def _entries(self, side: _Side) -> dict[str, TreeEntry]:
        if side is None:
            return {}
        if isinstance(side, dict):
            return side
        return {e.name: e for e in self.store.read_tree(side)}

    def _row_diff(
        self, va: DatasetVersion, vb: DatasetVersion, key: list[str], out: DatasetDiff
    ) -> None:
        if va.kind != "dataframe" or vb.kind != "dataframe":
            raise InvalidInputError("diff(key=...) compares rows of DataFrames only")
        fa, fb = self.store.get(va.data), self.store.get(vb.data)
        for frame, v in ((fa, va), (fb, vb)):
            missing = [k for k in key if k not in frame.columns]
            if missing:
                raise SchemaError(f"{v.uri} has no key column(s) {missing}", found=missing)
            if frame.duplicated(subset=key).any():
                raise SchemaError(f"key {key} is not unique in {v.uri}", found=key)
        ia, ib = fa.set_index(key), fb.set_index(key)
        common = ia.index.intersection(ib.index)
        cols = [c for c in ia.columns if c in ib.columns]
        left = ia.loc[common, cols]
        right = ib.loc[common, cols]
        differs = (left != right) & ~(left.isna() & right.isna())
        out.key = key
        out.rows_added = len(ib.index.difference(ia.index))
        out.rows_removed = len(ia.index.difference(ib.index))
        out.rows_changed = int(differs.any(axis=1).sum())
