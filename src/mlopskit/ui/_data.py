"""What the UI's JSON API returns: plain, JSON-able dicts read from one workspace.

Every function here reads through mlopskit's public API (``Workspace``, the tracker,
registry, datasets, ``lineage``, ``drift``) and never writes. Names that reach the store
(run ids, model and dataset names, artifact names) are checked by those APIs, which
raise :class:`~mlopskit.errors.InvalidInputError` or ``NotFoundError``; the app turns
them into 400 and 404 answers. Values are returned as data, never as markup: the
pages put them into the DOM with ``textContent``.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlopskit.errors import InvalidInputError, NotFoundError
from mlopskit.ui._series import window
from mlopskit.workspace import Workspace

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    from mlopskit.store import ArtifactRef

__all__ = ["MAX_PAGE", "MAX_POINTS", "RUN_VIEWS", "WorkspaceData", "jsonable"]

#: The largest page of runs one request may ask for (asking for more is an error).
MAX_PAGE = 1000
#: The most points of one series one request may ask for.
MAX_POINTS = 20000
_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"}
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
_TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".json", ".jsonl")
_TEXT_SUFFIXES = (".txt", ".md", ".log", ".yaml", ".yml", ".diff", ".py", ".toml", ".cfg")
_TABLE_ROWS = 200
#: Which runs the runs table shows, as ``search_runs(run_view=…)`` and ``runs ls --view``.
RUN_VIEWS = ("active", "deleted", "all")


def jsonable(value: Any) -> Any:
    """``value`` as JSON data: NaN and infinities become None, times become ISO strings."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return jsonable(item())
        except (TypeError, ValueError):
            pass
    iso = getattr(value, "isoformat", None)  # pandas Timestamp
    if callable(iso):
        return None if str(value) == "NaT" else iso()
    model_dump = getattr(value, "model_dump", None)  # pydantic records
    if callable(model_dump):
        return jsonable(model_dump(mode="json"))
    return str(value)


def _int_arg(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        out = int(value)
    except ValueError:
        raise InvalidInputError(
            f"{name} must be an integer, found {value!r}", expected="integer", found=value
        ) from None
    if not low <= out <= high:
        raise InvalidInputError(
            f"{name} must be between {low} and {high}, found {out}; "
            f"ask for the next page instead of a bigger one",
            expected=f"{low}..{high}",
            found=out,
        )
    return out


def _view_arg(value: str | None) -> str:
    if value is None or value == "":
        return "active"
    if value not in RUN_VIEWS:
        raise InvalidInputError(
            f"view must be one of {', '.join(RUN_VIEWS)}, found {value!r}",
            expected=RUN_VIEWS,
            found=value,
        )
    return value


def _float_arg(value: str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        out = float(value)
    except ValueError:
        raise InvalidInputError(
            f"{name} must be a number, found {value!r}", expected="number", found=value
        ) from None
    if not math.isfinite(out):
        raise InvalidInputError(f"{name} must be finite, found {value!r}", found=value)
    return out


def _frame_rows(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    import pandas as pd

    out: dict[str, list[Any]] = {}
    for col in columns:
        series = frame[col]
        if isinstance(series.dtype, pd.DatetimeTZDtype) or series.dtype.kind == "M":
            values: list[Any] = [None if pd.isna(v) else v.timestamp() for v in series.tolist()]
        else:
            values = [jsonable(v) for v in series.tolist()]
            values = [None if isinstance(v, float) and math.isnan(v) else v for v in values]
        out[col] = values
    return [{c: out[c][i] for c in columns} for i in range(len(frame))]


def _media_for(name: str) -> str:
    """The raster image type a file name says (JPEG when it says none of the others)."""
    suffix = name.lower().rsplit(".", 1)[-1]
    return {"png": "image/png", "gif": "image/gif", "webp": "image/webp", "bmp": "image/bmp"}.get(
        suffix, "image/jpeg"
    )


class _TTLCache:
    """A small least-recently-used cache whose entries expire after ``ttl`` seconds.

    At most ``size`` entries, and at most ``budget`` units of ``weight(value)`` in all
    (the newest entry is kept even when it alone is heavier).
    """

    def __init__(
        self,
        size: int,
        ttl: float,
        *,
        budget: float = float("inf"),
        weight: Callable[[Any], float] = lambda value: 0.0,
    ) -> None:
        self.size, self.ttl, self.budget, self.weight = size, ttl, budget, weight
        self._items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            hit = self._items.get(key)
            if hit is None or time.monotonic() - hit[0] > self.ttl:
                self._items.pop(key, None)
                return None
            self._items.move_to_end(key)
            return hit[1]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = (time.monotonic(), value)
            self._items.move_to_end(key)
            total = sum(self.weight(v) for _, v in self._items.values())
            while len(self._items) > 1 and (len(self._items) > self.size or total > self.budget):
                _, (_, old) = self._items.popitem(last=False)
                total -= self.weight(old)


def _artifact_view(name: str, ref: ArtifactRef) -> str:
    lower = name.lower()
    if ref.kind == "tree":
        return "tree"
    if ref.kind != "blob":
        return "table" if ref.media_type in ("application/vnd.apache.parquet",) else "download"
    if ref.media_type in _IMAGE_TYPES or lower.endswith(_IMAGE_SUFFIXES):
        return "image"
    if lower.endswith(_TABLE_SUFFIXES) or ref.media_type in ("text/csv", "application/json"):
        return "table"
    if lower.endswith(_TEXT_SUFFIXES) or (ref.media_type or "").startswith("text/"):
        return "text"
    return "download"


class WorkspaceData:
    """The read side of one workspace, as the UI's API returns it.

    Args:
        uri: the workspace (a local path or any fsspec URL, e.g. ``s3://bucket/ws``).
    """

    def __init__(self, uri: str) -> None:
        self.workspace = Workspace(uri)
        self.uri = self.workspace.uri
        self._runs_cache = _TTLCache(size=16, ttl=2.0)
        # Series are the big items: keep at most ~8 million points (128 MB) of them.
        self._series_cache = _TTLCache(
            size=64, ttl=10.0, budget=8_000_000, weight=lambda xy: float(len(xy[0]))
        )

    # -- runs ---------------------------------------------------------------------------

    def warm(self) -> None:
        """Load what the first request needs (pandas, the tracker's connection), so that
        a server is fast from its first page."""
        self.workspace.tracker.search_runs(limit=1)

    def experiments(self) -> dict[str, Any]:
        """Names of the experiments that have runs."""
        return {"experiments": self.workspace.tracker.experiments()}

    def _search(
        self,
        experiment: str | None,
        filter: str | None,
        order_by: str | None,
        limit: int | None = None,
        view: str = "active",
    ) -> pd.DataFrame:
        key = (experiment, filter, order_by, limit, view)
        frame: pd.DataFrame | None = self._runs_cache.get(key)
        if frame is None:
            order = [o.strip() for o in order_by.split(",") if o.strip()] if order_by else None
            frame = self.workspace.tracker.search_runs(
                experiment or None,
                filter=filter or None,
                order_by=order,
                limit=limit,
                run_view=view,
            )
            self._runs_cache.put(key, frame)
        return frame

    def runs(
        self,
        *,
        experiment: str | None = None,
        filter: str | None = None,
        order_by: str | None = None,
        offset: str | None = None,
        limit: str | None = None,
        columns: str | None = None,
        view: str | None = None,
    ) -> dict[str, Any]:
        """One page of ``search_runs`` and whether more follow (the total is
        :meth:`runs_count`, asked for separately so the first rows are not kept waiting).

        ``order_by`` is a comma-separated list (``"metrics.acc DESC,start_time"``);
        ``columns`` chooses which columns the rows carry (``run_id`` always); ``view`` is
        one of :data:`RUN_VIEWS` (``active`` by default: deleted runs hidden; otherwise
        rows carry ``lifecycle``). Only the runs up to the end of the page are loaded in
        full (``search_runs(limit=…)``).
        """
        start = _int_arg(offset, "offset", 0, 0, 2**62)
        size = _int_arg(limit, "limit", 50, 1, MAX_PAGE)
        frame = self._search(
            experiment, filter, order_by, limit=start + size + 1, view=_view_arg(view)
        )
        page = frame.iloc[start : start + size]
        available = list(frame.columns)
        wanted, missing = available, []
        if columns:
            asked = [c for c in columns.split(",") if c]
            missing = [c for c in asked if c not in available]
            wanted = ["run_id", *[c for c in asked if c in available and c != "run_id"]]
        return {
            "offset": start,
            "limit": size,
            "has_more": len(frame) > start + size,
            "columns": available,
            "missing_columns": missing,
            "rows": _frame_rows(page, wanted),
        }

    def runs_count(
        self,
        *,
        experiment: str | None = None,
        filter: str | None = None,
        view: str | None = None,
    ) -> dict[str, Any]:
        """How many runs of ``view`` match (every one counted: the table's "of N")."""
        wanted = _view_arg(view)
        if not filter:
            exps = [experiment] if experiment else None
            records = self.workspace.tracker.backend.list_runs(exps, keys=set())
            if wanted != "all":
                records = [r for r in records if r.lifecycle == wanted]
            return {"total": len(records)}
        return {"total": len(self._search(experiment, filter, None, view=wanted))}

    def run_columns(
        self, *, experiment: str | None = None, view: str | None = None
    ) -> dict[str, Any]:
        """Every column the runs of ``experiment`` (or all runs) in ``view`` have, for the
        column choice."""
        return {"columns": list(self._search(experiment, None, None, view=_view_arg(view)).columns)}

    def run(self, run_id: str) -> dict[str, Any]:
        """One run: its record, artifacts (with how the page shows each) and inputs."""
        run = self.workspace.tracker.get_run(run_id)
        record = run.record()
        out: dict[str, Any] = jsonable(record.to_dict())
        out["artifacts"] = [
            {
                "name": name,
                "digest": ref.digest,
                "size": ref.size,
                "kind": ref.kind,
                "media_type": ref.media_type,
                "view": _artifact_view(name, ref),
            }
            for name, ref in sorted(record.artifacts.items())
        ]
        out["metric_keys"] = sorted(record.metrics)
        return out

    def _artifact(self, run_id: str, name: str) -> ArtifactRef:
        run = self.workspace.tracker.get_run(run_id)
        artifacts = run.artifacts
        if name not in artifacts:
            raise NotFoundError(
                f"run {run_id} has no artifact {name!r}; it has {sorted(artifacts)[:20]}",
                name=name,
            )
        return artifacts[name]

    def artifact_files(self, run_id: str, name: str) -> dict[str, Any]:
        """The files of a directory artifact: relative path, size and digest of each."""
        ref = self._artifact(run_id, name)
        if ref.kind != "tree":
            raise InvalidInputError(
                f"artifact {name!r} is a {ref.kind}, not a directory",
                expected="tree",
                found=ref.kind,
            )
        files = [
            {"path": path, "size": entry.size, "digest": entry.digest}
            for path, entry in self.workspace.store.walk(ref)
            if entry.kind != "tree"
        ]
        return {"files": files}

    def artifact_bytes(
        self, run_id: str, name: str, path: str | None = None
    ) -> tuple[bytes, str, str]:
        """The bytes of a file artifact (or of the file ``path`` inside a directory
        artifact), verified against its digest, its media type and how to serve it
        (``inline`` for raster images, ``attachment`` otherwise)."""
        ref = self._artifact(run_id, name)
        if ref.kind == "tree" and path:
            # Only a path the manifest lists is served: nothing is joined onto a filesystem path.
            for rel, entry in self.workspace.store.walk(ref):
                if rel == path and entry.kind != "tree":
                    data = self.workspace.store.get_bytes(entry.digest)
                    if path.lower().endswith(_IMAGE_SUFFIXES):
                        return data, _media_for(path), "inline"
                    return data, "application/octet-stream", "attachment"
            raise NotFoundError(f"directory artifact {name!r} has no file {path!r}", name=path)
        if ref.kind != "blob":
            raise InvalidInputError(
                f"artifact {name!r} is a stored {ref.kind}, not a file; it cannot be downloaded "
                "as bytes (load it with run.load_artifact)",
                expected="blob",
                found=ref.kind,
            )
        data = self.workspace.store.get_bytes(ref)
        media = ref.media_type or "application/octet-stream"
        view = _artifact_view(name, ref)
        if view == "image" and media not in _IMAGE_TYPES:
            media = _media_for(name)
        return data, media, "inline" if view == "image" else "attachment"

    def artifact_table(self, run_id: str, name: str) -> dict[str, Any]:
        """The first rows of a table artifact (CSV, TSV, Parquet, JSON records or a
        stored DataFrame), with the total row count."""
        import io

        import pandas as pd

        ref = self._artifact(run_id, name)
        frame: Any
        lower = name.lower()
        if ref.kind != "blob":
            frame = self.workspace.store.get(ref, trusted=False)
        else:
            data = self.workspace.store.get_bytes(ref)
            try:
                if lower.endswith(".parquet"):
                    frame = pd.read_parquet(io.BytesIO(data))
                elif lower.endswith(".tsv"):
                    frame = pd.read_csv(io.BytesIO(data), sep="\t")
                elif lower.endswith(".jsonl"):
                    frame = pd.read_json(io.BytesIO(data), lines=True)
                elif lower.endswith(".json") or ref.media_type == "application/json":
                    import json

                    loaded = json.loads(data)
                    frame = (
                        pd.DataFrame(loaded)
                        if isinstance(loaded, list)
                        else pd.DataFrame({"key": list(loaded), "value": list(loaded.values())})
                        if isinstance(loaded, dict)
                        else pd.DataFrame({"value": [loaded]})
                    )
                else:
                    frame = pd.read_csv(io.BytesIO(data))
            except (ValueError, TypeError, UnicodeDecodeError, pd.errors.ParserError) as exc:
                raise InvalidInputError(
                    f"artifact {name!r} is not a table this page can read: {exc}",
                    found=name,
                ) from None
        if isinstance(frame, pd.Series):
            frame = frame.to_frame()
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInputError(
                f"artifact {name!r} holds a {type(frame).__name__}, not a table", found=name
            )
        head = frame.head(_TABLE_ROWS)
        cols = [str(c) for c in head.columns]
        rows = [[jsonable(v) for v in row] for row in head.itertuples(index=False, name=None)]
        return {"columns": cols, "rows": rows, "total": len(frame), "shown": len(rows)}

    def artifact_text(self, run_id: str, name: str, limit: int = 100_000) -> dict[str, Any]:
        """The start of a text artifact, decoded as UTF-8 (bad bytes replaced)."""
        ref = self._artifact(run_id, name)
        data = self.workspace.store.get_bytes(ref)
        return {
            "text": data[:limit].decode("utf-8", errors="replace"),
            "truncated": len(data) > limit,
            "size": len(data),
        }

    def _points(self, run_id: str, key: str, axis: str, *, live: bool) -> tuple[Any, Any]:
        """The series sorted by ``axis``; cached unless the run is still writing."""
        import numpy as np

        if not live:
            cached: tuple[Any, Any] | None = self._series_cache.get((run_id, key, axis))
            if cached is not None:
                return cached
        rows = self.workspace.tracker.backend.metric_history(run_id, key)
        flat = itertools.chain.from_iterable(rows)  # 2-3x faster than asarray(list of tuples)
        arr = np.fromiter(flat, dtype=np.float64, count=3 * len(rows)).reshape(-1, 3)
        if axis == "time":
            order = np.argsort(arr[:, 2], kind="stable")
            xs: npt.NDArray[np.float64] = arr[order, 2]
            ys: npt.NDArray[np.float64] = arr[order, 1]
        else:
            xs, ys = arr[:, 0].copy(), arr[:, 1].copy()
        if not live:
            self._series_cache.put((run_id, key, axis), (xs, ys))
        return xs, ys

    def metric(
        self,
        run_ids: Iterable[str],
        key: str,
        *,
        x: str | None = None,
        start: str | None = None,
        end: str | None = None,
        points: str | None = None,
    ) -> dict[str, Any]:
        """Metric ``key`` of several runs for one chart, each at most ``points`` points
        within ``[start, end]`` of the x axis (``step`` or ``time``, epoch seconds)."""
        axis = x or "step"
        if axis not in ("step", "time"):
            raise InvalidInputError(
                f"x must be 'step' or 'time', found {axis!r}", expected="step|time", found=axis
            )
        n = _int_arg(points, "points", 2000, 10, MAX_POINTS)
        lo, hi = _float_arg(start, "start"), _float_arg(end, "end")
        ids = [r for r in run_ids if r]
        if not ids:
            raise InvalidInputError("give at least one run id (runs=a,b,…)", found="")
        if len(ids) > 50:
            raise InvalidInputError(
                f"at most 50 runs per chart, found {len(ids)}", expected="<= 50", found=len(ids)
            )
        series = []
        tracker = self.workspace.tracker
        for run_id in ids:
            run = tracker.get_run(run_id)  # checks the id; NotFoundError for an unknown run
            live = run.status == "RUNNING"
            xs, ys = self._points(run_id, key, axis, live=live)
            win = window(xs, ys, start=lo, end=hi, points=n)
            series.append(
                {
                    "run_id": run_id,
                    "label": run.name,
                    "live": live,
                    "x": _floats(win.x),
                    "y": _floats(win.y),
                    "total": win.total,
                    "in_range": win.in_range,
                    "exact": win.exact,
                }
            )
        return {"key": key, "x": axis, "start": lo, "end": hi, "series": series}

    def lineage(self, uri: str, depth: str | None = None) -> dict[str, Any]:
        """The lineage graph around ``uri`` (``run:<id>``, ``dataset:name/3``, ``model:m@a``)."""
        from mlopskit import lineage

        hops = _int_arg(depth, "depth", 3, 1, 20)
        if not uri:
            raise InvalidInputError(
                "give the uri to walk from: run:<id>, dataset:name/3 or model:name@alias",
                found=uri,
            )
        if uri.startswith("run:"):
            self.workspace.tracker.get_run(uri[4:])  # checks the id, NotFoundError if unknown
        with Workspace(self.uri):
            graph = lineage(uri, depth=hops, store=self.workspace.store)
        return {
            "root": graph.root.model_dump(mode="json"),
            "records": [r.model_dump(mode="json") for r in graph.records],
        }

    # -- registry -------------------------------------------------------------------------

    def models(self) -> dict[str, Any]:
        """Every registered model: its version count, latest version and aliases."""
        registry = self.workspace.registry
        out = []
        for name in registry.names():
            try:
                versions: list[Any] = list(registry.versions(name))
            except NotFoundError:
                versions = []
            out.append(
                {
                    "name": name,
                    "versions": len(versions),
                    "latest": versions[-1].number if versions else None,
                    "updated": jsonable(versions[-1].created_at) if versions else None,
                    "aliases": registry.aliases(name),
                }
            )
        return {"models": out}

    def model(self, name: str) -> dict[str, Any]:
        """One model: versions (newest first), aliases and the audit history."""
        registry = self.workspace.registry
        versions = registry.versions(name)
        return {
            "name": name,
            "aliases": registry.aliases(name),
            "versions": [
                jsonable(
                    {
                        "number": v.number,
                        "uri": v.uri,
                        "digest": v.digest,
                        "kind": v.kind,
                        "created_at": v.created_at,
                        "author": v.author,
                        "message": v.message,
                        "run_id": v.run_id,
                        "metrics": v.metrics,
                        "tags": v.tags,
                        "python_version": v.python_version,
                        "requirements": v.requirements,
                        "signature": v.signature,
                    }
                )
                for v in reversed(versions)
            ],
            "history": [jsonable(e.model_dump(mode="json")) for e in registry.history(name)],
        }

    # -- datasets -------------------------------------------------------------------------

    def datasets(self) -> dict[str, Any]:
        """Every dataset: its latest version's number, kind, rows and time."""
        ds = self.workspace.datasets
        out = []
        for name in ds.names():
            try:
                latest = ds.get(name)
            except NotFoundError:
                continue
            out.append(
                {
                    "name": name,
                    "versions": latest.number,
                    "kind": latest.kind,
                    "rows": latest.rows,
                    "columns": len(latest.schema),
                    "created_at": jsonable(latest.created_at),
                }
            )
        return {"datasets": out}

    def dataset(self, name: str, version: str | None = None) -> dict[str, Any]:
        """One dataset: every version (oldest first) and one version's schema and
        per-column summary (the latest unless ``version`` is given)."""
        ds = self.workspace.datasets
        frame = ds.versions(name).to_frame()
        rows = _frame_rows(frame, list(frame.columns))
        number: int | str = "latest"
        if version:
            number = _int_arg(version, "version", 1, 1, 2**62)
        dv = ds.get(name, number)
        return {
            "name": name,
            "versions": rows,
            "version": jsonable(
                {
                    "number": dv.number,
                    "uri": dv.uri,
                    "digest": dv.digest,
                    "kind": dv.kind,
                    "rows": dv.rows,
                    "shape": dv.shape,
                    "message": dv.message,
                    "run_id": dv.run_id,
                    "created_at": dv.created_at,
                    "schema": [c.model_dump(mode="json") for c in dv.schema],
                    "summary": [s.model_dump(mode="json") for s in dv.summary],
                }
            ),
        }

    def dataset_diff(self, name: str, a: str | None, b: str | None) -> dict[str, Any]:
        """Schema and statistic changes from version ``a`` to version ``b``."""
        na = _int_arg(a, "a", 1, 1, 2**62)
        nb = _int_arg(b, "b", 1, 1, 2**62)
        diff = self.workspace.datasets.diff(f"{name}/{na}", f"{name}/{nb}")
        out: dict[str, Any] = jsonable(diff.model_dump(mode="json"))
        out["empty"] = diff.empty
        return out

    # -- drift ----------------------------------------------------------------------------

    def drift(self, reference: str, current: str) -> dict[str, Any]:
        """A drift report between two dataset versions (``name/1`` vs ``name/2``), with
        each column's histogram for the chart."""
        from mlopskit import drift

        ds = self.workspace.datasets
        frames = []
        for spec, what in ((reference, "reference"), (current, "current")):
            if "/" not in spec:
                raise InvalidInputError(
                    f"{what} must be a dataset version 'name/number', found {spec!r}",
                    expected="name/number",
                    found=spec,
                )
            name, _, num = spec.rpartition("/")
            number = _int_arg(num, what, 1, 1, 2**62)
            dv = ds.get(name, number)
            if dv.kind not in ("dataframe", "series"):
                raise InvalidInputError(
                    f"{spec} holds a {dv.kind}; drift compares tables (DataFrames)",
                    expected="dataframe",
                    found=dv.kind,
                )
            frames.append(ds.load(name, number))
        report = drift.compare(frames[0], frames[1])
        out: dict[str, Any] = jsonable(report.to_dict())
        out["reference_uri"], out["current_uri"] = reference, current
        return out


def _floats(arr: npt.NDArray[np.float64]) -> list[float | None]:
    import numpy as np

    values: list[float | None] = arr.tolist()
    if not np.isfinite(arr).all():
        values = [v if v is not None and math.isfinite(v) else None for v in values]
    return values
