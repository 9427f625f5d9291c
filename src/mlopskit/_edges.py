"""Lineage edges: input nodes → output node, recorded in the store (append-only).

A node is an event or a version — a dataset version, a model version, a run, a
``@versioned`` call, a package, a deployment, a prediction batch — identified by its
``id`` (``dataset:iris/3``, ``model:clf/2``, ``run:<id>``, ``versioned:<fn>/<key>``,
``package:<digest>``), never by the bytes it holds: two versions with identical
content are two nodes, and the content ``digest`` is an attribute of each.

An edge is an immutable record indexed by create-only refs, one per endpoint::

    lineage/out/<output id>/<edge key>      what a node was made from
    lineage/in/<input id>/<edge key>        what was made from a node
    lineage/run/<run id>/<edge key>         what a run used and produced
    lineage/node/<digest>/<node id>         which nodes hold a digest
    lineage/request/<segment digest>        the request ids of a prediction segment

The edge key hashes what the edge says (not when or by whom it was recorded), so
recording the same edge twice writes nothing new. Each index entry is its own ref,
created once, so concurrent writers never contend and never lose an edge; a walk
lists one prefix per node, so it costs O(edges it reaches), never a scan. Edges do
not link their endpoints for ``gc``: lineage remembers what existed, it does not keep
data alive.

Time: every edge carries ``when``, and the stamps one process writes strictly increase
(a clock that stands still or steps back is moved on by a microsecond), so a run's
``used`` edges and the edges of what it made (``produced``, ``registered``) are ordered:
what a run used after it made X is not upstream of X (see :func:`used_before`).

The first layout (before nodes had ids) indexed edges by content digest,
``lineage/{in,out}/<digest as sha256-hex>/<edge digest>``, and a run's ``used`` edges
had no output; :func:`edges_into`, :func:`edges_from` and :func:`edges_of_run` still
read it, keeping only the edges whose endpoint is the node asked for (an old edge names
its versions by label, which gives the same id a new one has).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlopskit import _context
from mlopskit._log import get_logger
from mlopskit._records import read_record_as
from mlopskit.errors import IntegrityError, NotFoundError, RefConflictError

if TYPE_CHECKING:
    from mlopskit.store import ArtifactRef, ArtifactStore

__all__ = [
    "Endpoint",
    "LineageEdge",
    "RequestEntry",
    "RequestIndex",
    "edges_from",
    "edges_into",
    "edges_of_run",
    "find_request",
    "node_ids_of",
    "node_segment",
    "record_edge",
    "record_request_columns",
    "record_requests",
    "record_use",
    "ref_segment",
    "run_endpoint",
    "used_before",
]

log = get_logger("mlopskit.versioning.lineage")

NodeKind = Literal[
    "dataset",
    "model",
    "versioned",
    "value",
    "artifact",
    "run",
    "package",
    "deployment",
    "prediction",
]
Relation = Literal["derived", "used", "produced", "registered", "deployed", "served"]
_UNSAFE = re.compile(r"[^A-Za-z0-9._@+=,-]")
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.@+,-")
_LEGACY_KEY = re.compile(r"^(sha256|blake3)-[0-9a-f]{16,128}$")  # first layout: edge digests
_clock = threading.Lock()
_last_stamp = [datetime.min.replace(tzinfo=timezone.utc)]


def _stamp() -> datetime:
    """Now (UTC), strictly later than every stamp this process gave before."""
    now = datetime.now(timezone.utc)
    with _clock:
        if now <= _last_stamp[0]:
            now = _last_stamp[0] + timedelta(microseconds=1)
        _last_stamp[0] = now
    return now


def _default_id(kind: str, label: str, digest: str | None) -> str:
    """The identity a node of ``kind`` gets when none is given."""
    if kind in ("dataset", "model", "deployment") and label:
        return f"{kind}:{label}"
    if kind == "run" and label:
        return f"run:{label}"
    if kind == "package" and digest:
        return f"package:{digest}"
    if kind == "prediction" and label and digest:
        return f"prediction:{label}/{digest}"
    return digest or ""


class Endpoint(BaseModel):
    """One end of an edge: the node ``id``, what it is, its content ``digest`` (None for
    runs and deployments) and a human ``label`` (``iris/3``).

    ``id`` defaults by kind: ``dataset:<name>/<n>``, ``model:<name>/<n>``,
    ``run:<run id>``, ``package:<digest>``, ``deployment:<name>``,
    ``prediction:<log>/<digest>``; an artifact or value is its digest.
    """

    model_config = ConfigDict(frozen=True)

    digest: str | None = None
    kind: NodeKind = "value"
    label: str = ""
    id: str = ""

    @model_validator(mode="before")
    @classmethod
    def _fill_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("id"):
            ident = _default_id(
                str(data.get("kind", "value")), str(data.get("label") or ""), data.get("digest")
            )
            if not ident:
                raise ValueError("an Endpoint needs an id or a digest")
            data = {**data, "id": ident}
        return data


def run_endpoint(run_id: str) -> Endpoint:
    """The node of run ``run_id``."""
    return Endpoint(kind="run", label=run_id, id=f"run:{run_id}")


class LineageEdge(BaseModel):
    """Inputs → output, made by ``function`` (with its code hash) in run ``run_id``.

    ``relation`` is ``derived`` (a ``@versioned`` call, a package), ``produced`` (a
    dataset committed in a run), ``registered`` (a model version), ``used`` (a run
    consumed its inputs; the output is the run), ``deployed`` or ``served``. ``when``
    and ``who`` say when and by whom the edge was first recorded.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: int = 2
    relation: Relation
    inputs: dict[str, Endpoint] = Field(default_factory=dict)
    output: Endpoint | None = None
    function: str | None = None
    code_hash: str | None = None
    run_id: str | None = None
    when: datetime | None = None
    who: str | None = None

    def key(self) -> str:
        """A digest of what the edge says (not of when or by whom it was recorded)."""
        body = self.model_dump(mode="json", exclude={"when", "who"})
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def ref_segment(value: str) -> str:
    """``value`` made safe as one ref-name segment (``sha256:ab`` → ``sha256-ab``)."""
    seg = _UNSAFE.sub("_", value.replace(":", "-"))
    return seg if seg and seg[0] not in ".-+=,@" else f"_{seg}"


def node_segment(value: str) -> str:
    """A node id as one ref-name segment, injectively (``dataset:a/1`` → ``dataset=3Aa=2F1``).

    Letters, digits and ``.@+,-`` stay; every other character (``=`` and ``_``
    included) is written ``=XX`` (its UTF-8 bytes in hex), and a segment that would not
    start with a letter or digit gets a ``_`` in front: two ids never share a segment.
    A segment longer than 160 characters keeps its head and gains a SHA-256 of the id.
    """
    out = []
    for c in value:
        if c in _SAFE:
            out.append(c)
        else:
            out.extend(f"={b:02X}" for b in c.encode())
    seg = "".join(out)
    if len(seg) > 160:  # keep file names short: a readable head and a digest of the whole
        seg = f"{seg[:96]},{hashlib.sha256(value.encode()).hexdigest()[:40]}"
    return seg if seg[:1].isalnum() and seg[:1].isascii() else f"_{seg}"


def _create(store: ArtifactStore, name: str, ref: ArtifactRef) -> None:
    try:
        store.refs.set(name, ref, expected=None, message="lineage edge")
    except RefConflictError:
        pass  # the same entry, recorded by someone else: nothing to do


def _normalized(edge: LineageEdge) -> LineageEdge:
    """The run as a node: ``used`` edges point at it; what a run made has it as input."""
    if not edge.run_id:
        return edge
    run = run_endpoint(edge.run_id)
    if edge.relation == "used" and edge.output is None:
        return edge.model_copy(update={"output": run})
    if edge.relation in ("produced", "registered") and run.id not in {
        e.id for e in edge.inputs.values()
    }:
        return edge.model_copy(update={"inputs": {**edge.inputs, "run": run}})
    return edge


def record_edge(store: ArtifactStore, edge: LineageEdge) -> ArtifactRef:
    """Store ``edge`` (stamped with when and who) and index it by its output, each input,
    its run and the digests of its endpoints; an edge already recorded is left as is."""
    edge = _normalized(edge)
    seg = edge.key()
    names = [f"lineage/in/{node_segment(e.id)}/{seg}" for e in edge.inputs.values()]
    if edge.output is not None:
        names.append(f"lineage/out/{node_segment(edge.output.id)}/{seg}")
    if edge.run_id:
        names.append(f"lineage/run/{node_segment(edge.run_id)}/{seg}")
    names = list(dict.fromkeys(names))
    missing = [n for n in names if n not in store.refs]
    if not missing:
        return store.refs.get(names[0])
    if edge.when is None or edge.who is None:
        user, host = _context.whoami()
        edge = edge.model_copy(
            update={
                "when": edge.when or _stamp(),
                "who": edge.who or f"{user}@{host}",
            }
        )
    ref = store.put_record(edge.model_dump(mode="json"))
    for name in missing:
        _create(store, name, ref)
    ends = [*edge.inputs.values(), *([edge.output] if edge.output is not None else [])]
    for end in ends:
        if end.digest and end.id != end.digest:
            name = f"lineage/node/{node_segment(end.digest)}/{node_segment(end.id)}"
            if name not in store.refs:
                _create(store, name, store.put_record(end.model_dump(mode="json")))
    log.debug("lineage_edge", relation=edge.relation, edge=ref.digest)
    return ref


def record_use(store: ArtifactStore, run_id: str, inputs: dict[str, Endpoint]) -> None:
    """Record that run ``run_id`` consumed ``inputs`` (one ``used`` edge per input)."""
    for name, end in inputs.items():
        record_edge(store, LineageEdge(relation="used", inputs={name: end}, run_id=run_id))


def _read(
    store: ArtifactStore,
    prefix: str,
    holds: Callable[[LineageEdge], bool],
    *,
    legacy: bool = False,
) -> list[LineageEdge]:
    """The edges indexed under ``prefix``; each must ``holds`` (say what its index entry
    says it does), else it was planted or damaged: IntegrityError naming the ref.
    ``legacy``: only the first layout's entries, normalised (runs as nodes)."""
    out = []
    if legacy:  # names only (a run's index is mostly new entries), then the old ones' heads
        names = [
            n
            for n in store.refs.list(prefix, include_deleted=True)
            if _LEGACY_KEY.match(n.rsplit("/", 1)[-1])
        ]
    else:
        names = store.refs.list(prefix)
    for name in names:
        try:
            ref = store.refs.get(name)
        except NotFoundError:  # deleted
            continue
        edge = read_record_as(store, LineageEdge, ref, name)
        if legacy:
            edge = _normalized(edge)
        if not holds(edge):
            raise IntegrityError(
                f"lineage record {name!r} ({ref.digest}) does not involve the node its index "
                "entry names: it was copied or planted under another name; delete the ref",
                path=name,
                digest=ref.digest,
            )
        out.append(edge)
    return out


def node_ids_of(store: ArtifactStore, digest: str) -> list[Endpoint]:
    """The recorded nodes (dataset and model versions, steps...) that hold ``digest``."""
    out = []
    for name in store.refs.list(f"lineage/node/{node_segment(digest)}/"):
        out.append(read_record_as(store, Endpoint, store.refs.get(name), name))
    return out


def _ids(store: ArtifactStore, node: str) -> list[str]:
    """``node`` itself, plus — for a bare digest — every node that holds it."""
    if node.partition(":")[0] in ("sha256", "blake3"):
        return [node, *(e.id for e in node_ids_of(store, node))]
    return [node]


def _ends(edge: LineageEdge, where: str) -> list[Endpoint]:
    if where == "out":
        return [edge.output] if edge.output is not None else []
    return list(edge.inputs.values())


def _gather(
    store: ArtifactStore, where: str, node: str, exact: bool, digest: str | None
) -> list[LineageEdge]:
    out: list[LineageEdge] = []

    def add(edges: Iterable[LineageEdge]) -> None:
        for edge in edges:
            if edge not in out:
                out.append(edge)

    def names(ident: str) -> Callable[[LineageEdge], bool]:
        return lambda e: any(end.id == ident or end.digest == ident for end in _ends(e, where))

    for ident in [node] if exact else _ids(store, node):
        add(_read(store, f"lineage/{where}/{node_segment(ident)}/", names(ident)))
    # the first layout: indexed by content digest (a run's edges: by its run index)
    if node.startswith("run:"):
        run_id = node[4:]
        found = _read(
            store, f"lineage/run/{ref_segment(run_id)}/", lambda e: e.run_id == run_id, legacy=True
        )
        add(e for e in found if any(end.id == node for end in _ends(e, where)))
    elif digest is not None or node.partition(":")[0] in ("sha256", "blake3"):
        held = digest or node
        found = _read(
            store,
            f"lineage/{where}/{ref_segment(held)}/",
            lambda e: any(end.digest == held for end in _ends(e, where)),
            legacy=True,
        )
        wanted = {node} if exact else set(_ids(store, node))
        add(e for e in found if any(end.id in wanted for end in _ends(e, where)))
    return out


def edges_into(
    store: ArtifactStore, node: str, *, exact: bool = False, digest: str | None = None
) -> list[LineageEdge]:
    """Edges whose output is ``node``: a node id, or a digest — then also every node
    holding it, unless ``exact``. ``digest`` (the node's content) also finds the node's
    edges in the first, digest-keyed layout.

    Raises:
        IntegrityError: a damaged or misfiled edge record (names its ref).
    """
    return _gather(store, "out", node, exact, digest)


def edges_from(
    store: ArtifactStore, node: str, *, exact: bool = False, digest: str | None = None
) -> list[LineageEdge]:
    """Edges with ``node`` among their inputs: a node id, or a digest — then also every
    node holding it, unless ``exact``. ``digest`` as in :func:`edges_into`.

    Raises:
        IntegrityError: a damaged or misfiled edge record (names its ref).
    """
    return _gather(store, "in", node, exact, digest)


def edges_of_run(store: ArtifactStore, run_id: str) -> list[LineageEdge]:
    """Edges recorded while run ``run_id`` was active (either layout)."""
    return _read(store, f"lineage/run/{node_segment(run_id)}/", lambda e: e.run_id == run_id)


def used_before(used: LineageEdge, made: LineageEdge) -> bool:
    """Whether the ``used`` edge into a run was recorded no later than the ``made`` edge
    out of it, so what it used can have gone into what it made. Unknown times (records
    of the first layout) count as before: an audit trail lists too much, never too
    little."""
    if used.when is None or made.when is None:
        return True
    return used.when <= made.when


# -- prediction requests ---------------------------------------------------------------------


class RequestEntry(BaseModel):
    """One request in a prediction segment: when it was answered (epoch seconds) and the
    package digests that answered it."""

    model_config = ConfigDict(frozen=True)

    time: float | None = None
    packages: list[str] = Field(default_factory=list)


class RequestIndex(BaseModel):
    """The request ids of one prediction segment (``segment``), each with its entry: the
    first layout of the index record (``schema_version`` 1), still read. Records are now
    written by :func:`record_request_columns` (``schema_version`` 2, columns)."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    segment: Endpoint
    requests: dict[str, RequestEntry] = Field(default_factory=dict)


def record_requests(
    store: ArtifactStore,
    segment: Endpoint,
    requests: Mapping[str, RequestEntry | tuple[float | None, Sequence[str]]],
) -> None:
    """Index the request ids of the prediction ``segment``: one create-only record per
    segment (``lineage/request/<segment id>``), so a served response's request id leads
    to the segment and the packages that answered it.

    ``requests`` maps each request id to its :class:`RequestEntry`, or to the same as
    ``(time, packages)``; the record is written as :func:`record_request_columns` writes it.
    """
    ids: list[str] = []
    times: list[float | None] = []
    sets: dict[tuple[str, ...], int] = {}
    package_of: list[int] = []
    for rid, entry in requests.items():
        when: float | None
        packages: Sequence[str]
        if isinstance(entry, RequestEntry):
            when, packages = entry.time, entry.packages
        else:
            when, packages = entry
        ids.append(str(rid))
        times.append(None if when is None else float(when))
        package_of.append(sets.setdefault(tuple(map(str, packages)), len(sets)))
    record_request_columns(store, segment, ids, times, [list(p) for p in sets], package_of)


def record_request_columns(
    store: ArtifactStore,
    segment: Endpoint,
    ids: list[str],
    times: list[float | None],
    packages: list[list[str]],
    package_of: list[int],
) -> None:
    """Index the request ids of the prediction ``segment`` as columns: request ``ids[i]``
    was answered at ``times[i]`` (epoch seconds, or None) by the package digests
    ``packages[package_of[i]]``. One create-only record per segment
    (``lineage/request/<segment id>``, ``schema_version`` 2): a segment holds thousands
    of requests, and columns cost a tenth of a table of one object per request to
    encode and to read.
    """
    if not ids:
        return
    name = f"lineage/request/{node_segment(segment.id)}"
    if name in store.refs:
        return
    payload = {
        "schema_version": 2,
        "segment": segment.model_dump(mode="json"),
        "ids": ids,
        "times": times,
        "packages": packages,
        "package_of": package_of,
    }
    _create(store, name, store.put_record(payload))


def _request_entry(
    payload: dict[str, Any], request_id: str, name: str, digest: str
) -> RequestEntry | None:
    """``request_id``'s entry in an index record of either layout (None: not there)."""

    def damaged(what: str) -> IntegrityError:
        return IntegrityError(
            f"request index {name!r} ({digest}) is damaged: {what}", path=name, digest=digest
        )

    ids = payload.get("ids")
    if ids is None:  # the first layout: a table of request id -> entry
        requests = payload.get("requests")
        if not isinstance(requests, dict):
            raise damaged("no request table")
        if request_id not in requests:
            return None
        index = RequestIndex.model_validate(payload)  # the caller names a ValidationError
        return index.requests[request_id]
    times, packages, package_of = (payload.get(k) for k in ("times", "packages", "package_of"))
    if not (
        isinstance(ids, list)
        and isinstance(times, list)
        and isinstance(package_of, list)
        and isinstance(packages, list)
        and len(times) == len(ids) == len(package_of)
    ):
        raise damaged("its request columns are missing or of different lengths")
    if request_id not in ids:
        return None
    i = ids.index(request_id)
    k = package_of[i]
    if type(k) is not int or not 0 <= k < len(packages):
        raise damaged(f"request {request_id!r} names no package set")
    try:
        return RequestEntry.model_validate({"time": times[i], "packages": packages[k]})
    except ValueError:
        raise damaged(f"request {request_id!r} has no valid time or packages") from None


def find_request(store: ArtifactStore, request_id: str) -> list[tuple[Endpoint, RequestEntry]]:
    """The prediction segments that hold ``request_id``, each with its entry.

    Reads one small index record per logged segment (no prediction data); only the
    records that hold the id are validated whole.

    Raises:
        IntegrityError: a damaged or misfiled index record (names its ref).
    """
    out = []
    for name in store.refs.list("lineage/request/"):
        ref = store.refs.get(name)
        try:
            payload = store.read_record(ref)
        except IntegrityError as exc:
            raise IntegrityError(
                f"record {name!r} is damaged: {exc.message}", path=name, digest=ref.digest
            ) from None
        try:
            entry = _request_entry(payload, request_id, name, ref.digest)
            if entry is None:
                continue
            segment = Endpoint.model_validate(payload.get("segment"))
        except (ValueError, TypeError) as exc:  # pydantic's ValidationError
            raise IntegrityError(
                f"request index {name!r} ({ref.digest}) is damaged: {exc}",
                path=name,
                digest=ref.digest,
            ) from None
        if name.rsplit("/", 1)[-1] != node_segment(segment.id):
            raise IntegrityError(
                f"request index {name!r} ({ref.digest}) describes segment "
                f"{segment.id!r}: it was copied or planted under another name",
                path=name,
                digest=ref.digest,
            )
        out.append((segment, entry))
    return out
