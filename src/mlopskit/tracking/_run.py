"""A run: log to it, read it back.

A :class:`Run` is a handle on one run. Started with :meth:`Tracker.start_run` it is
*live*: active in the current context (thread / asyncio task) until it ends, its
metrics buffered, its process watched (heartbeat, interpreter exit, SIGTERM: see
``_lifecycle``). Returned by :meth:`Tracker.get_run` it is a handle on a stored run:
its properties read the backend, and logging to it still works.
"""

from __future__ import annotations

import contextvars
import html
import io
import json
import math
import os
import time
from array import array
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from mlopskit import _context
from mlopskit.errors import InvalidInputError, NotFoundError
from mlopskit.store import ArtifactRef
from mlopskit.tracking import _lifecycle
from mlopskit.tracking._anchor import anchor_artifact
from mlopskit.tracking._buffer import MetricBuffer, Series, worker
from mlopskit.tracking._flatten import flatten_params
from mlopskit.tracking._model import MetricPoint, RunInput, RunRecord
from mlopskit.tracking._status import error_tags, status_for
from mlopskit.tracking._validate import (
    KNOWN_KEYS,
    MAX_STEP,
    MAX_TIME,
    MIN_STEP,
    MIN_TIME,
    check_key,
    check_status,
    metric_step,
    metric_time,
    metric_value,
    param_value,
    tag_value,
)

if TYPE_CHECKING:
    import pandas as pd

    from mlopskit.tracking._tracker import Tracker

__all__ = ["MAX_RUN_NAME", "Run"]

#: The longest run name :meth:`Run.rename` accepts.
MAX_RUN_NAME = 250


class Run:
    """One run: log to it, read it back. A context manager that ends the run on exit.

    Attributes:
        run_id: the run's id (32 hex characters unless chosen).
        experiment: the experiment it belongs to.
        parent_id: the enclosing run's id for a nested run.
    """

    def __init__(
        self,
        tracker: Tracker,
        run_id: str,
        experiment: str,
        *,
        name: str | None = None,
        parent_id: str | None = None,
        record: RunRecord | None = None,
        live: bool = False,
    ) -> None:
        self.tracker = tracker
        self.run_id = run_id
        self.experiment = experiment
        self.parent_id = parent_id
        self._name = name
        self._buffer: MetricBuffer | None = None
        self._steps: dict[str, int] = {}
        self._params: dict[str, str] = {}
        self._token: contextvars.Token[Any] | None = None
        self._previous: Any = None
        self._live = False
        self._ended = False
        self._cached: RunRecord | None = record
        if live:
            self._go_live()

    def __repr__(self) -> str:
        return f"Run(run_id={self.run_id!r}, experiment={self.experiment!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.run_id == self.run_id

    def __hash__(self) -> int:
        return hash(self.run_id)

    # -- life cycle --------------------------------------------------------------------

    def _go_live(self) -> None:
        self._live = True
        self._previous = _context.active_run()
        self._token = _context.set_active_run(self)
        _lifecycle.register(self)
        worker.register(self._metric_buffer(), self.tracker.backend)

    def _metric_buffer(self) -> MetricBuffer:
        buf = self._buffer
        if buf is None:
            backend, run_id = self.tracker.backend, self.run_id
            buf = self._buffer = MetricBuffer(
                lambda batch: backend.log_metrics(run_id, batch),
                max_points=self.tracker.max_points,
                max_age=self.tracker.max_age,
                label=run_id,
            )
            if not self._live:
                _lifecycle.install_hooks()  # points of a stored run's handle are flushed at exit
                worker.register(buf, backend)
        return buf

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.end("FINISHED")
        else:
            self.end(status_for(exc), error=exc)

    def end(self, status: str = "FINISHED", *, error: BaseException | None = None) -> None:
        """Flush, record ``status`` (and ``error``'s type, message, traceback) and end.

        Ending twice does nothing. The run stops being the active one.
        """
        if self._ended:
            return
        status = check_status(status)
        if status == "RUNNING":
            raise InvalidInputError("end a run with FINISHED, FAILED or KILLED, not RUNNING")
        self._ended = True
        self._cached = None
        flush_error: BaseException | None = None
        try:
            self.flush()
        except Exception as exc:  # keep going: the status must still be recorded
            flush_error = exc
        try:
            if error is not None:
                self.tracker.backend.set_tags(self.run_id, error_tags(error))
            self.tracker.backend.finish(self.run_id, status, time.time())
        finally:
            self._detach()
        if flush_error is not None:
            raise flush_error

    def _detach(self) -> None:
        if self._buffer is not None and not len(self._buffer):
            worker.unregister(self._buffer)
        _lifecycle.unregister(self)
        if not self._live:
            return
        self._live = False
        if _context.active_run() is self:
            try:
                if self._token is not None:
                    _context.reset_active_run(self._token)
            except ValueError:  # ended from another context: restore by hand
                _context.set_active_run(self._previous)
            else:
                if _context.active_run() is self:  # pragma: no cover - defensive
                    _context.set_active_run(self._previous)

    def flush(self) -> None:
        """Write every buffered metric point now (raises if the backend fails)."""
        if self._buffer is not None:
            self._buffer.flush()

    # -- logging -----------------------------------------------------------------------

    def log_param(self, key: str, value: Any) -> None:
        """Record a parameter; it cannot change once logged (the same value is fine)."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record several parameters in one write.

        Nested mappings become dotted names (``{"optimizer": {"lr": 0.1}}`` logs
        ``optimizer.lr``); estimators, functions and other objects are logged as stable
        descriptions (class and changed params, qualified name), never a memory
        address (see :func:`~mlopskit.tracking.flatten_params`).
        """
        clean = {
            check_key(k, "param"): param_value(k, v) for k, v in flatten_params(params).items()
        }
        for key, value in clean.items():
            old = self._params.get(key)
            if old is not None and old != value:
                raise InvalidInputError(
                    f"param {key!r} of run {self.run_id} is already {old!r}; params are "
                    f"immutable, so it cannot become {value!r}",
                    key=key,
                    expected=old,
                    found=value,
                )
        new = {k: v for k, v in clean.items() if self._params.get(k) != v}
        if new:
            self.tracker.backend.log_params(self.run_id, new)
            self._params.update(new)
            self._cached = None

    def log_metric(
        self,
        key: str,
        value: float,
        step: int | None = None,
        timestamp: float | datetime | None = None,
    ) -> None:
        """Buffer one point. ``step`` defaults to the key's last step + 1 (from 0)."""
        if key.__class__ is not str or key not in KNOWN_KEYS:
            check_key(key)
        if value.__class__ is float and value - value == 0.0:  # finite float: fast path
            v: float = value
        else:
            v = metric_value(key, value)
        if step is None:
            step = self._steps.get(key, 0)
            if step > MAX_STEP:  # the auto step ran past int64
                metric_step(key, step)
        elif step.__class__ is not int or not MIN_STEP <= step <= MAX_STEP:
            step = metric_step(key, step)  # converts or raises
        ts = time.time() if timestamp is None else metric_time(key, timestamp)
        self._steps[key] = step + 1
        buf = self._buffer or self._metric_buffer()
        buf.add((key, v, step, ts))

    def log_metrics(
        self,
        metrics: Mapping[str, float],
        step: int | None = None,
        timestamp: float | datetime | None = None,
    ) -> None:
        """Buffer one point per key (all validated before any is buffered)."""
        ts = time.time() if timestamp is None else metric_time("*", timestamp)
        batch: list[MetricPoint] = []
        steps = dict(self._steps)
        for key, value in metrics.items():
            check_key(key)
            v = metric_value(key, value)
            s = metric_step(key, steps.get(key, 0) if step is None else step)
            steps[key] = s + 1
            batch.append((key, v, s, ts))
        self._steps = steps
        (self._buffer or self._metric_buffer()).extend(batch)

    def log_batch(
        self,
        key: str,
        values: Iterable[float],
        steps: Iterable[int] | None = None,
        timestamps: Iterable[float | datetime] | None = None,
    ) -> None:
        """Buffer a whole series of one metric at once (the fast path for arrays).

        Every value, step and timestamp is validated exactly as :meth:`log_metric` does;
        the series is kept as three typed columns (no Python object per point).
        """
        check_key(key)
        vals = _float_column(key, values)
        n = len(vals)
        start = self._steps.get(key, 0)
        if steps is None:
            if n:
                metric_step(key, start + n - 1)
            st = array("q", range(start, start + n))
            next_step = start + n
        else:
            st = _step_column(key, steps)
            next_step = max(st) + 1 if st else start
        ts = array("d", [time.time()]) * n if timestamps is None else _time_column(key, timestamps)
        if not len(st) == len(ts) == n:
            raise InvalidInputError(
                f"log_batch({key!r}): {n} values, {len(st)} steps, {len(ts)} timestamps; "
                "give one step and one timestamp per value (or leave them out)",
                key=key,
            )
        if n:
            self._steps[key] = next_step
        (self._buffer or self._metric_buffer()).add_series(Series(key, vals, st, ts))

    def set_tag(self, key: str, value: Any) -> None:
        """Set a tag (tags, unlike params, can change)."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set several tags in one write."""
        clean = {check_key(k, "tag"): tag_value(k, v) for k, v in tags.items()}
        self.tracker.backend.set_tags(self.run_id, clean)
        self._cached = None

    def log_artifact(self, artifact: Any, name: str | None = None) -> ArtifactRef:
        """Store a file, a directory or an object in the workspace store; record its ref.

        Args:
            artifact: a path to a file or directory, bytes, or any object a codec
                takes (arrays, frames, JSON-able values, pickles).
            name: the artifact's name in the run; defaults to the file or directory
                name (required for objects).

        Identical content is stored once, however many runs log it.
        """
        store = self.tracker.store
        if isinstance(artifact, ArtifactRef):
            ref, default = artifact, None
        elif isinstance(artifact, (str, os.PathLike)):
            path = os.fspath(artifact)
            if os.path.isdir(path):
                ref = store.put_dir(path)
            elif os.path.exists(path):
                ref = store.put_file(path)
            else:
                raise NotFoundError(
                    f"no such file or directory: {path!r} (to log a string, use log_text)",
                    path=path,
                )
            default = os.path.basename(os.path.normpath(path))
        elif isinstance(artifact, (bytes, bytearray, memoryview)):
            ref, default = store.put_bytes(artifact), None
        else:
            ref, default = store.put(artifact), None
        final = name or default
        if not final:
            raise InvalidInputError(
                f"log_artifact of a {type(artifact).__name__} needs name=…", run_id=self.run_id
            )
        check_key(final, "artifact")
        anchor_artifact(store, self.run_id, final, ref)
        self.tracker.backend.log_artifact(self.run_id, final, ref)
        self._cached = None
        return ref

    def log_dict(self, data: Mapping[str, Any], name: str) -> ArtifactRef:
        """Store ``data`` as a JSON artifact (keys sorted, so equal dicts dedupe)."""
        body = json.dumps(data, sort_keys=True, indent=2, default=str).encode()
        ref = self.tracker.store.put_bytes(body, media_type="application/json")
        return self.log_artifact(ref, name)

    def log_text(self, text: str, name: str) -> ArtifactRef:
        """Store ``text`` (UTF-8) as an artifact."""
        if not isinstance(text, str):
            raise InvalidInputError(f"log_text takes a str, found {type(text).__name__}")
        ref = self.tracker.store.put_bytes(text.encode(), media_type="text/plain; charset=utf-8")
        return self.log_artifact(ref, name)

    def log_figure(self, figure: Any, name: str = "figure.png", **savefig: Any) -> ArtifactRef:
        """Store a matplotlib figure (``savefig``'s format follows the name's suffix)."""
        if not hasattr(figure, "savefig"):
            from mlopskit._optional import import_optional

            import_optional("matplotlib", "plot", purpose="log_figure")
            raise InvalidInputError(
                f"log_figure takes a matplotlib figure, found {type(figure).__name__}"
            )
        fmt = os.path.splitext(name)[1].lstrip(".").lower() or "png"
        buf = io.BytesIO()
        figure.savefig(buf, format=fmt, **savefig)
        media = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}.get(fmt)
        ref = self.tracker.store.put_bytes(buf.getvalue(), media_type=media)
        return self.log_artifact(ref, name)

    def log_table(self, name: str, data: Any) -> ArtifactRef:
        """Store a table as a Parquet artifact; ``load_artifact(name)`` gives the DataFrame.

        Args:
            name: the artifact's name (``predictions.parquet``, ``errors``...).
            data: a pandas DataFrame, or what ``pandas.DataFrame(data)`` takes (a dict
                of columns, a list of records).

        Raises:
            InvalidInputError: ``data`` is not a table, or a column cannot be stored as
                Parquet (nothing is stored then).
        """
        import pandas as pd

        from mlopskit.serialize import encode

        check_key(name, "artifact")
        if not isinstance(data, pd.DataFrame):
            try:
                data = pd.DataFrame(data)
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(
                    f"log_table takes a DataFrame (or a dict of columns, a list of records), "
                    f"found {type(data).__name__}: {exc}",
                    expected="pandas.DataFrame",
                    found=type(data).__name__,
                    run_id=self.run_id,
                ) from None
        encoded = encode(data)
        if encoded.is_pickle:  # pyarrow refused a column: never fall back to a pickle here
            raise InvalidInputError(
                f"table {name!r} cannot be stored as Parquet (a column holds Python objects "
                f"pyarrow cannot convert; columns: {[str(c) for c in data.columns][:20]}); "
                "convert those columns to str or numbers first",
                expected="Parquet-compatible columns",
                found=encoded.media_type,
                run_id=self.run_id,
            )
        return self.log_artifact(self.tracker.store.put(data), name)

    def log_input(self, item: Any, name: str | None = None, context: str | None = None) -> RunInput:
        """Record that the run consumed ``item``: an ArtifactRef, a digest string, or any
        object with a ``digest`` attribute (such as a dataset version)."""
        digest = item if isinstance(item, str) else getattr(item, "digest", None)
        if not isinstance(digest, str):
            raise InvalidInputError(
                f"log_input needs an ArtifactRef, a digest or an object with a .digest, "
                f"found {type(item).__name__}"
            )
        from mlopskit.hashing import check_digest

        check_digest(digest)
        if name is None:
            label = getattr(item, "name", None)
            number = getattr(item, "number", None)
            if isinstance(label, str):
                name = f"{label}@{number}" if isinstance(number, int) else label
        entry = RunInput(digest=digest, name=name, context=context)
        self.tracker.backend.log_input(self.run_id, entry)
        from mlopskit._edges import Endpoint, record_use
        from mlopskit._provenance import node_of

        node = node_of(item) or Endpoint(digest=digest, kind="artifact", label=name or "")
        record_use(self.tracker.store, self.run_id, {name or digest: node})
        self._cached = None
        return entry

    # -- reading -----------------------------------------------------------------------

    def record(self) -> RunRecord:
        """A fresh snapshot of the stored run (this handle's buffered points flushed)."""
        if self._buffer is not None and (len(self._buffer) or self._buffer.error):
            self.flush()
        rec = self.tracker.record(self.run_id)
        self._cached = rec
        return rec

    def _rec(self) -> RunRecord:
        if self._cached is None or self._live or (self._buffer is not None and len(self._buffer)):
            return self.record()
        return self._cached

    def refresh(self) -> Run:
        """Forget the snapshot a handle from ``get_run`` reads; the next read is fresh."""
        self._cached = None
        return self

    @property
    def uri(self) -> str:
        """``run:<run id>``: what ``mk.lineage`` accepts."""
        return f"run:{self.run_id}"

    @property
    def name(self) -> str:
        """The run's name."""
        if self._name is None:
            self._name = self._rec().name
        return self._name

    def rename(self, name: str) -> Run:
        """Give the run a new name, recorded by the backend (search finds the run by it;
        the name it replaces reads as the ``mlopskit.previous_name`` tag); returns the
        run, so calls chain.

        Raises:
            InvalidInputError: ``name`` is not 1-250 printable characters; nothing changes.
            NotFoundError: the run does not exist.
        """
        if (
            not isinstance(name, str)
            or not 0 < len(name) <= MAX_RUN_NAME
            or not name.isprintable()
            or name != name.strip()
        ):
            raise InvalidInputError(
                f"a run name is 1-{MAX_RUN_NAME} printable characters, no surrounding "
                f"spaces; found {name!r}",
                expected=f"1-{MAX_RUN_NAME} printable characters",
                found=name,
                run_id=self.run_id,
            )
        self.tracker.backend.rename(self.run_id, name)
        self._name = name
        self._cached = None
        return self

    @property
    def status(self) -> str:
        """RUNNING, FINISHED, FAILED or KILLED (a dead process's run reads KILLED)."""
        return self.record().status

    @property
    def params(self) -> dict[str, str]:
        """Parameters, as strings."""
        return self._rec().params

    @property
    def metrics(self) -> dict[str, float]:
        """Each metric's latest value."""
        return self._rec().metrics

    @property
    def tags(self) -> dict[str, str]:
        """Tags, including the captured environment (``mlopskit.*``)."""
        return self._rec().tags

    @property
    def artifacts(self) -> dict[str, ArtifactRef]:
        """Artifact name → store ref (what lineage follows downstream)."""
        return self._rec().artifacts

    @property
    def inputs(self) -> list[RunInput]:
        """What the run consumed, by digest (what lineage follows upstream)."""
        return self._rec().inputs

    @property
    def start_time(self) -> datetime:
        """Start (an aware UTC datetime)."""
        return self._rec().start_time

    @property
    def end_time(self) -> datetime | None:
        """End (an aware UTC datetime; None while running)."""
        return self._rec().end_time

    @property
    def duration(self) -> float | None:
        """Active seconds: start to end, less the time the run spent ended before it was
        resumed (None while running)."""
        return self._rec().duration

    def metric_history(self, key: str) -> pd.DataFrame:
        """Every point of one metric: columns ``step``, ``value``, ``timestamp`` (UTC)."""
        import pandas as pd

        self.flush()
        rows = self.tracker.backend.metric_history(self.run_id, key)
        frame: pd.DataFrame = pd.DataFrame(rows, columns=["step", "value", "timestamp"])
        frame["step"] = frame["step"].astype("int64")
        frame["value"] = frame["value"].astype("float64")
        frame["timestamp"] = pd.to_datetime(
            frame["timestamp"].astype("float64"), unit="s", utc=True
        )
        return frame

    def load_artifact(self, name: str, *, trusted: bool | None = None) -> Any:
        """Load an artifact back: bytes for files, a dict for ``log_dict``, the object
        for ``log_artifact(obj)``, tree entries for a directory."""
        try:
            ref = self.artifacts[name]
        except KeyError:
            raise NotFoundError(
                f"run {self.run_id} has no artifact {name!r}; it has {sorted(self.artifacts)}",
                name=name,
            ) from None
        store = self.tracker.store
        if ref.kind == "blob":  # files and bytes: JSON is decoded, the rest is bytes
            data = store.get_bytes(ref)
            return json.loads(data) if ref.media_type == "application/json" else data
        return store.get(ref, trusted=trusted)

    def to_dict(self) -> dict[str, Any]:
        """The run as a JSON-able dict."""
        return self.record().to_dict()

    def _repr_html_(self) -> str:
        rec = self.record()
        rows = [
            ("run", rec.run_id),
            ("name", rec.name),
            ("experiment", rec.experiment),
            ("status", rec.status),
            ("duration", "" if rec.duration is None else f"{rec.duration:.3f} s"),
        ]
        if rec.parent_id:
            rows.append(("parent", rec.parent_id))
        rows += [(f"params.{k}", v) for k, v in sorted(rec.params.items())]
        rows += [(f"metrics.{k}", f"{v:.6g}") for k, v in sorted(rec.metrics.items())]
        rows += [
            (f"tags.{k}", v)
            for k, v in sorted(rec.tags.items())
            if not k.startswith("mlopskit.error.traceback")
        ]
        rows += [(f"artifact {k}", r.digest[:19] + "…") for k, r in sorted(rec.artifacts.items())]
        rows += [("input", f"{i.name or ''} {i.digest[:19]}…") for i in rec.inputs]
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in rows
        )
        return f"<table class='mlopskit-run'>{body}</table>"


def _finite_sum(values: Any) -> bool:
    """Whether every number in ``values`` is finite (an exact sum: one C loop)."""
    try:
        return math.isfinite(math.fsum(values))
    except (OverflowError, ValueError):  # a huge int; inf + -inf
        return False


def _plain(values: Iterable[Any]) -> list[Any]:
    if hasattr(values, "tolist"):  # numpy arrays, pandas series: Python scalars at C speed
        values = values.tolist()
    return values if isinstance(values, list) else list(values)


def _float_column(key: str, values: Iterable[Any]) -> array[float]:
    """Metric values as a float64 column, each checked as :func:`metric_value` checks it."""
    raw = _plain(values)
    if set(map(type, raw)) <= {float, int} and _finite_sum(raw):
        return array("d", raw)  # every value a finite real number: C speed
    return array("d", [metric_value(key, v) for v in raw])


def _step_column(key: str, steps: Iterable[Any]) -> array[int]:
    """Steps as an int64 column, each checked as :func:`metric_step` checks it."""
    raw = _plain(steps)
    if set(map(type, raw)) <= {int}:
        try:
            return array("q", raw)  # OverflowError beyond int64
        except OverflowError:
            pass
    return array("q", [metric_step(key, s) for s in raw])


def _time_column(key: str, timestamps: Iterable[Any]) -> array[float]:
    """Timestamps as a float64 column of epoch seconds, checked as :func:`metric_time` does."""
    raw = _plain(timestamps)
    if raw and set(map(type, raw)) <= {float} and _finite_sum(raw):
        column = array("d", raw)
        if min(column) >= MIN_TIME and max(column) <= MAX_TIME:
            return column
    return array("d", [metric_time(key, t) for t in raw])
