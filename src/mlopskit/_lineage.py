"""``mk.lineage``: walk the graph of dataset versions, ``@versioned`` calls, runs, model
versions, packages, deployments and prediction batches.

Every node is an event or a version, identified by its record (``dataset:iris/3``,
``model:clf/2``, ``run:<id>``, ``versioned:<fn>/<key>``, ``package:<digest>``), never by
its bytes: two versions with identical content are two nodes. The graph is made of the
append-only lineage edges that versioning, the registry, tracking and deployment
record in the store (see :mod:`mlopskit._edges`), plus — when :mod:`mlopskit.tracking`
knows the run — each run's logged artifacts (downstream) and inputs logged before
edges existed (upstream). ``mk.lineage(x)`` returns a :class:`Lineage`: records a user
can print, turn into a DataFrame, render as Mermaid, DOT or a self-contained HTML
page, or read as sentences (:meth:`Lineage.explain`).
"""

from __future__ import annotations

import html
import math
import re
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from mlopskit import _context
from mlopskit._edges import RequestEntry, find_request, used_before
from mlopskit._log import get_logger
from mlopskit.errors import InvalidInputError, MlopskitError, NotFoundError
from mlopskit.store import ArtifactRef, ArtifactStore, current_store, store_for
from mlopskit.versioning import (
    Endpoint,
    LineageEdge,
    VersionedCall,
    edges_from,
    edges_into,
    find_call,
    node_ids_of,
)

if TYPE_CHECKING:
    import os

    import pandas as pd

__all__ = ["Lineage", "LineageNode", "LineageRecord", "lineage"]

log = get_logger("mlopskit.lineage")

Direction = Literal["up", "down", "both"]
_PREFIXES = ("dataset", "model", "run", "versioned", "package", "deployment", "prediction")
_SEGMENT = re.compile(r"^.+/(sha256|blake3):[0-9a-f]+$")  # prediction:<log>/<segment digest>


class LineageNode(BaseModel):
    """A node: its ``kind`` (dataset, model, versioned, run, package, deployment,
    prediction, artifact, value), its ``id`` (the record it stands for:
    ``dataset:iris/3``, ``run:<id>``...; a bare digest only for anonymous values), the
    content ``digest`` (None for runs) and a human ``label``."""

    model_config = ConfigDict(frozen=True)

    kind: str
    id: str
    digest: str | None = None
    label: str = ""

    @property
    def name(self) -> str:
        """What a reader calls it: the label, else a short digest, else the id."""
        if self.label:
            return self.label
        if self.digest and self.id.endswith(self.digest):
            return f"{self.digest[:15]}…"
        return self.id

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


class LineageRecord(BaseModel):
    """One edge of the walk: ``source`` → ``target`` by ``relation``, ``depth`` hops from
    the start, found walking ``direction``."""

    model_config = ConfigDict(frozen=True)

    source: LineageNode
    target: LineageNode
    relation: str
    depth: int
    direction: Literal["up", "down"]
    function: str | None = None
    code_hash: str | None = None
    run_id: str | None = None
    when: datetime | None = None
    who: str | None = None

    def __str__(self) -> str:
        return f"{self.source} --{self.relation}--> {self.target}"


class Lineage:
    """The result of :func:`lineage`: the start node and the records reached from it."""

    def __init__(
        self,
        root: LineageNode,
        records: list[LineageRecord],
        runs: Any = None,
        store: ArtifactStore | None = None,
    ) -> None:
        self.root = root
        self.records = records
        self.runs = runs
        self.store = store

    def __iter__(self) -> Iterator[LineageRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        lines = [f"Lineage of {self.root} ({len(self.records)} edges)"]
        lines += [f"  {r}" for r in self.records]
        return "\n".join(lines)

    @property
    def nodes(self) -> list[LineageNode]:
        """Every node, the root first."""
        seen = {self.root.id: self.root}
        for r in self.records:
            seen.setdefault(r.source.id, r.source)
            seen.setdefault(r.target.id, r.target)
        return list(seen.values())

    def upstream(self) -> list[LineageNode]:
        """Nodes the root was made from (directly or not)."""
        ids = {r.source.id for r in self.records if r.direction == "up"}
        return [n for n in self.nodes if n.id in ids and n.id != self.root.id]

    def downstream(self) -> list[LineageNode]:
        """Nodes made from the root (directly or not)."""
        ids = {r.target.id for r in self.records if r.direction == "down"}
        return [n for n in self.nodes if n.id in ids and n.id != self.root.id]

    def to_frame(self) -> pd.DataFrame:
        """One row per edge: ``from``, ``relation``, ``to``, ``when``, ``who``, ``run``,
        then the kinds, digests, depth, direction and the function that made it."""
        import pandas as pd

        columns = [
            "from",
            "relation",
            "to",
            "when",
            "who",
            "run",
            "from_kind",
            "to_kind",
            "from_digest",
            "to_digest",
            "depth",
            "direction",
            "function",
            "code_hash",
        ]
        rows = [
            {
                "from": r.source.id,
                "relation": r.relation,
                "to": r.target.id,
                "when": r.when,
                "who": r.who,
                "run": r.run_id,
                "from_kind": r.source.kind,
                "to_kind": r.target.kind,
                "from_digest": r.source.digest,
                "to_digest": r.target.digest,
                "depth": r.depth,
                "direction": r.direction,
                "function": r.function,
                "code_hash": r.code_hash,
            }
            for r in self.records
        ]
        frame: pd.DataFrame = pd.DataFrame(rows, columns=columns)
        return frame

    def _order(self) -> list[LineageNode]:
        """The nodes sources first (a topological order; ties and cycles by time)."""
        nodes = {n.id: n for n in self.nodes}
        preds: dict[str, set[str]] = {i: set() for i in nodes}
        first: dict[str, datetime] = {}
        for r in self.records:
            preds[r.target.id].add(r.source.id)
            if r.when is not None:
                when = first.get(r.target.id)
                first[r.target.id] = r.when if when is None else min(when, r.when)
        placed: list[str] = []
        done: set[str] = set()
        pending = sorted(nodes, key=lambda i: (first.get(i) is not None, str(first.get(i)), i))
        while pending:
            ready = [i for i in pending if preds[i] <= done] or pending[:1]  # a cycle: break it
            for i in ready:
                placed.append(i)
                done.add(i)
            pending = [i for i in pending if i not in done]
        return [nodes[i] for i in placed]

    def _describe(self, node: LineageNode) -> str:
        text = f"{node.kind} {node.name}"
        if node.kind == "run":
            run = _tracked_run(node.id[4:], self.runs)
            if run is not None:
                try:
                    text += f" ({run.name}, {run.status})"
                except (MlopskitError, OSError, ValueError):
                    pass
        elif node.kind in ("dataset", "model") and self.store is not None:
            find, verb = (
                (_dataset, "committed") if node.kind == "dataset" else (_model, "registered")
            )
            try:
                version = find(node.label, self.store)
                text += (
                    f" ({verb} by {version.author} at {version.created_at:%Y-%m-%d %H:%M:%S %Z})"
                )
            except (MlopskitError, AttributeError, ValueError):
                pass
        if node.digest and node.kind not in ("package", "run"):
            text += f" [{node.digest[:15]}…]"
        return text

    def explain(self) -> str:
        """The walk in sentences, oldest first, as an auditor reads it: each node, what
        it was made from, by which function and code, when and by whom."""
        verbs = {
            "derived": "derived from",
            "used": "used",
            "produced": "produced by",
            "registered": "registered from",
            "deployed": "deployed from",
            "served": "served by",
        }
        into: dict[str, list[LineageRecord]] = {}
        for r in self.records:
            into.setdefault(r.target.id, []).append(r)
        lines = [f"Lineage of {self._describe(self.root)}, oldest first:"]
        if not self.records:
            lines.append("  no recorded lineage.")
        for i, node in enumerate(self._order(), 1):
            text = f"  {i}. {self._describe(node)}"
            for relation in sorted({r.relation for r in into.get(node.id, [])}):
                group = [r for r in into[node.id] if r.relation == relation]
                sources = ", ".join(sorted(f"{r.source.kind} {r.source.name}" for r in group))
                text += f"; {verbs.get(relation, relation)} {sources}"
                fn = next((r for r in group if r.function), None)
                if fn is not None:
                    text += f" by {fn.function}"
                    if fn.code_hash:
                        text += f" (code {fn.code_hash[:15]}…)"
                stamped = [r for r in group if r.when is not None]
                if stamped:
                    r0 = min(stamped, key=lambda r: r.when)  # type: ignore[arg-type,return-value]
                    assert r0.when is not None
                    text += f", recorded {r0.when:%Y-%m-%d %H:%M:%S %Z}".rstrip()
                    if r0.who:
                        text += f" by {r0.who}"
            lines.append(text + ".")
        return "\n".join(lines)

    def to_html(self) -> str:
        """A self-contained HTML page (inline SVG and CSS, no script, nothing fetched)
        drawing every node, sources on the left; every stored text is HTML-escaped."""
        order = self._order()
        preds: dict[str, set[str]] = {n.id: set() for n in order}
        for r in self.records:
            preds[r.target.id].add(r.source.id)
        layer: dict[str, int] = {}
        for node in order:
            layer[node.id] = 1 + max((layer[p] for p in preds[node.id] if p in layer), default=-1)
        rows: dict[int, int] = {}
        pos: dict[str, tuple[int, int]] = {}
        for node in order:
            col = layer[node.id]
            pos[node.id] = (20 + col * 260, 20 + rows.get(col, 0) * 80)
            rows[col] = rows.get(col, 0) + 1
        width = 20 + (max(layer.values(), default=0) + 1) * 260
        height = 20 + max(rows.values(), default=1) * 80
        fills = {
            "dataset": "#dbeafe",
            "versioned": "#fef9c3",
            "run": "#dcfce7",
            "model": "#fae8ff",
            "package": "#ffedd5",
            "deployment": "#fee2e2",
            "prediction": "#e0e7ff",
        }
        esc = html.escape
        svg = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            'role="img" aria-label="lineage graph">',
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
            'markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/>'
            "</marker></defs>",
        ]
        for r in self.records:
            (x1, y1), (x2, y2) = pos[r.source.id], pos[r.target.id]
            svg.append(
                f'<line x1="{x1 + 220}" y1="{y1 + 25}" x2="{x2}" y2="{y2 + 25}" '
                'stroke="#555" marker-end="url(#arrow)"/>'
                f'<text class="rel" x="{(x1 + 220 + x2) // 2}" y="{(y1 + y2) // 2 + 20}">'
                f"{esc(r.relation)}</text>"
            )
        for node in order:
            x, y = pos[node.id]
            label = node.label or node.id
            svg.append(
                f'<g class="node" data-kind="{esc(node.kind)}"><title>{esc(node.id)}</title>'
                f'<rect x="{x}" y="{y}" width="220" height="50" rx="8" '
                f'fill="{fills.get(node.kind, "#f3f4f6")}" stroke="#333"/>'
                f'<text x="{x + 10}" y="{y + 20}" class="kind">{esc(node.kind)}</text>'
                f'<text x="{x + 10}" y="{y + 40}" class="label">{esc(label[:34])}</text></g>'
            )
        svg.append("</svg>")
        table = "".join(
            f"<tr><td>{esc(r.source.id)}</td><td>{esc(r.relation)}</td><td>{esc(r.target.id)}"
            f"</td><td>{esc(str(r.when or ''))}</td><td>{esc(r.who or '')}</td>"
            f"<td>{esc(r.run_id or '')}</td></tr>"
            for r in self.records
        )
        nodes = "".join(
            f'<li data-id="{esc(n.id)}">{esc(n.kind)} {esc(n.label or n.id)}</li>' for n in order
        )
        title = esc(f"Lineage of {self.root.kind} {self.root.label or self.root.id}")
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{title}</title><style>"
            "body{font-family:sans-serif;margin:1em}text{font-size:12px}"
            "text.kind{font-weight:bold}text.rel{fill:#555;font-size:10px}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
            f"</style></head><body><h1>{title}</h1>{''.join(svg)}"
            f'<h2>Nodes</h2><ul id="nodes">{nodes}</ul><h2>Edges</h2><table><tr><th>from</th>'
            "<th>relation</th><th>to</th><th>when</th><th>who</th><th>run</th></tr>"
            f"{table}</table></body></html>\n"
        )

    def _repr_html_(self) -> str:
        """The graph and its edges for notebooks: the body of :meth:`to_html`, escaped
        the same way, without the page's global styles."""
        body = self.to_html().split("<body>", 1)[1].rsplit("</body>", 1)[0]
        return f"<div class='mlopskit-lineage' style='font-family:sans-serif'>{body}</div>"

    def _ids(self) -> dict[str, str]:
        return {n.id: f"n{i}" for i, n in enumerate(self.nodes)}

    def to_mermaid(self) -> str:
        """A Mermaid ``graph LR`` of the walk (paste into Markdown that renders Mermaid).

        Labels come from stored records, so every character outside letters, digits and
        `` _.,:/@+=-`` is written as a Mermaid entity code (``#35;``): no name can end
        a label, start a statement or inject markup.
        """
        ids = self._ids()
        shapes = {"dataset": ("[(", ")]"), "run": ("([", "])"), "model": ("{{", "}}")}
        lines = ["graph LR"]
        for node in self.nodes:
            left, right = shapes.get(node.kind, ("[", "]"))
            text = _mermaid_text(f"{node.kind}: {node.label or node.id[:19]}")
            lines.append(f'    {ids[node.id]}{left}"{text}"{right}')
        for r in self.records:
            relation = _mermaid_text(r.relation)
            lines.append(f'    {ids[r.source.id]} -->|"{relation}"| {ids[r.target.id]}')
        return "\n".join(lines)

    def to_dot(self) -> str:
        """A Graphviz DOT digraph of the walk.

        Labels are DOT strings with backslashes and quotes escaped and newlines written
        as ``\\n``: no name can end a label or add attributes, nodes or edges.
        """
        ids = self._ids()
        shapes = {"dataset": "cylinder", "run": "ellipse", "model": "box3d", "versioned": "box"}
        lines = ["digraph lineage {", "  rankdir=LR;"]
        for node in self.nodes:
            text = f"{_dot_text(node.kind)}\\n{_dot_text(node.label or node.id[:19])}"
            lines.append(
                f'  {ids[node.id]} [label="{text}", shape={shapes.get(node.kind, "note")}];'
            )
        for r in self.records:
            lines.append(
                f'  {ids[r.source.id]} -> {ids[r.target.id]} [label="{_dot_text(r.relation)}"];'
            )
        lines.append("}")
        return "\n".join(lines)


_MERMAID_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.,:/@+=-"
)


def _mermaid_text(text: str) -> str:
    """``text`` safe inside a quoted Mermaid label: other characters as ``#<code>;``."""
    return "".join(c if c in _MERMAID_SAFE else f"#{ord(c)};" for c in text)


def _dot_text(text: str) -> str:
    """``text`` safe inside a double-quoted DOT string (``\\``, ``\\"``, ``\\n``).

    Other control characters become ``?``: DOT has no escape for them.
    """
    out = []
    for c in text:
        if c in '\\"':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif ord(c) < 32 or ord(c) == 127:
            out.append("?")
        else:
            out.append(c)
    return "".join(out)


# -- resolving what the user passed ----------------------------------------------------------


def _node(endpoint: Endpoint) -> LineageNode:
    return LineageNode(
        kind=endpoint.kind, id=endpoint.id, digest=endpoint.digest, label=endpoint.label
    )


def _run_node(run_id: str) -> LineageNode:
    return LineageNode(kind="run", id=f"run:{run_id}", label=run_id)


def _by_digest(digest: str, store: ArtifactStore) -> LineageNode:
    """The one node holding ``digest``; an anonymous artifact when none does."""
    holders = {e.id: e for e in node_ids_of(store, digest)}
    if len(holders) == 1:
        return _node(next(iter(holders.values())))
    if holders:
        raise InvalidInputError(
            f"{len(holders)} lineage nodes hold {digest}: {', '.join(sorted(holders))}; "
            "versions with the same content are separate nodes — pass one of these ids",
            expected="one node id",
            found=digest,
        )
    return LineageNode(kind="artifact", id=digest, digest=digest, label="")


def _call_node(call: VersionedCall, store: ArtifactStore) -> LineageNode:
    """The node of a stored ``@versioned`` call: the one recorded for its key (a call
    made on several input versions with the same content is several nodes: ambiguous)."""
    base = f"versioned:{call.function}/{call.key}"
    found = {
        e.id: e
        for e in node_ids_of(store, call.output.digest)
        if e.id == base or e.id.startswith(base + "/")
    }
    if len(found) > 1:
        raise InvalidInputError(
            f"the call {base} was made on {len(found)} different input versions: "
            f"{', '.join(sorted(found))}; pass one of these ids",
            expected="one node id",
            found=base,
        )
    if found:
        return _node(next(iter(found.values())))
    return LineageNode(
        kind="versioned",
        id=base,
        digest=call.output.digest,
        label=f"{call.function.rsplit('.', 1)[-1]}[{call.key[:8]}]",
    )


def _resolve(
    target: Any,
    store: ArtifactStore,
    requests: dict[str, list[tuple[Endpoint, RequestEntry]]] | None = None,
) -> LineageNode:
    """The node ``target`` names; request ids looked up are kept in ``requests``."""
    found = {} if requests is None else requests
    node = getattr(target, "__mlopskit_node__", None)
    if isinstance(node, Endpoint):
        return _node(node)
    if isinstance(target, VersionedCall):
        return _call_node(target, store)
    if isinstance(target, ArtifactRef):
        return _by_digest(target.digest, store)
    run_id = getattr(target, "run_id", None)
    if isinstance(run_id, str):
        return _run_node(run_id)
    if not isinstance(target, str):
        raise InvalidInputError(
            f"mk.lineage() takes a dataset or model version, a store ref, a digest, a run, "
            f"or a URI ('dataset:name/3', 'model:name@champion', 'run:<id>', "
            f"'package:<digest>'); found a {type(target).__qualname__}",
            expected="a version, a run, a digest or a URI",
            found=type(target).__qualname__,
        )
    scheme, sep, rest = target.partition(":")
    if sep and scheme in ("sha256", "blake3"):
        return _by_digest(target, store)
    if sep and scheme == "run":
        return _run_node(rest)
    if sep and scheme in ("dataset", "datasets"):
        return _node(_dataset(rest.lstrip("/"), store).__mlopskit_node__)
    if sep and scheme in ("model", "models"):
        return _node(_model(rest.lstrip("/"), store).__mlopskit_node__)
    if sep and scheme == "prediction" and rest and not _SEGMENT.match(rest):
        request = _request_node(rest, store, found, strict=True)
        assert request is not None
        return request
    if sep and scheme == "versioned" and rest.count("/") == 1:  # a VersionedCall's .uri
        call = find_call(store, target)
        if call is None:
            raise NotFoundError(f"no stored @versioned call {target!r}", found=target)
        return _call_node(call, store)
    if sep and scheme in _PREFIXES and rest:  # versioned:, package:, deployment:, prediction:
        digest = rest if scheme == "package" else None
        if scheme == "prediction":  # a logged segment: prediction:<log>/<digest>
            digest = rest.rpartition("/")[2]
        return LineageNode(kind=scheme, id=target, digest=digest, label=rest)
    for finder in (_dataset, _model):  # a bare "name/3": whichever exists
        try:
            return _node(finder(target, store).__mlopskit_node__)
        except (NotFoundError, InvalidInputError):
            continue
    request = _request_node(target, store, found, strict=False)
    if request is not None:
        return request
    raise NotFoundError(
        f"no dataset, model or prediction request id named by {target!r}; pass a URI "
        "('dataset:name/3', 'model:name@alias', 'run:<id>', 'prediction:<request id>')",
        found=target,
    )


def _request_node(
    request_id: str,
    store: ArtifactStore,
    found: dict[str, list[tuple[Endpoint, RequestEntry]]],
    *,
    strict: bool,
) -> LineageNode | None:
    """The node of the served request ``request_id`` (the id a response carries), found
    through the prediction logs' request index; None (or NotFoundError when ``strict``)
    when no logged segment holds it."""
    hits = found[request_id] = find_request(store, request_id)
    if not hits:
        if not strict:
            return None
        raise NotFoundError(
            f"no logged prediction has request id {request_id!r}: only requests a "
            "PredictionLogger kept (sampled) and flushed are indexed",
            found=request_id,
        )
    logs = ", ".join(sorted({segment.label for segment, _ in hits}))
    return LineageNode(
        kind="prediction", id=f"prediction:{request_id}", label=f"request {request_id} (log {logs})"
    )


def _dataset(spec: str, store: ArtifactStore) -> Any:
    from mlopskit.versioning import Datasets, parse_dataset_uri

    return Datasets(store).get(*parse_dataset_uri(spec))


def _input_node(item: Any, store: ArtifactStore) -> LineageNode:
    """A run's logged input: the dataset version it names (``name@n``) when that version
    holds exactly these bytes, else a plain artifact node."""
    label = getattr(item, "name", None) or ""
    name, at, number = label.rpartition("@")  # tracking labels inputs 'name@number'
    if (at and number.isdigit()) or "/" in label:
        try:
            version = _dataset(f"{name}/{number}" if at else label, store)
        except (MlopskitError, ValueError):
            version = None
        if version is not None and getattr(version, "digest", None) == item.digest:
            return _node(version.__mlopskit_node__)
    return LineageNode(kind="artifact", id=item.digest, digest=item.digest, label=label)


def _model(spec: str, store: ArtifactStore) -> Any:
    from mlopskit.registry import Registry

    return Registry(store).get(spec)


def _tracked_run(run_id: str, runs: Any) -> Any:
    """The tracking run handle, or None when tracking is absent or does not know it.

    ``runs`` is the tracker to ask (anything with ``get_run``), or the root URI of the
    workspace whose tracker to ask: the store's own root, never the current directory's
    workspace when a store was given.
    """
    if runs is None:
        return None
    if isinstance(runs, str):
        try:
            from mlopskit.tracking import tracker_for
        except ImportError:
            return None
        runs = tracker_for(runs)
    try:
        return runs.get_run(run_id)
    except (MlopskitError, KeyError, OSError, ValueError):
        return None


# -- the walk ----------------------------------------------------------------------------------


def _reach(edge: LineageEdge | None, way: str) -> float:
    """How much of a run reached through ``edge`` a walk may follow: going up through
    what the run made at ``when``, its inputs used until then; going down through an
    input it used at ``when``, what it made from then on. Larger allows more."""
    if edge is None or edge.when is None:
        return math.inf
    stamp = edge.when.timestamp()
    return stamp if way == "up" else -stamp


class _Walk:
    def __init__(
        self,
        store: ArtifactStore,
        root: LineageNode,
        runs: Any,
        requests: dict[str, list[tuple[Endpoint, RequestEntry]]] | None = None,
    ) -> None:
        self.store = store
        self.runs = runs
        self.requests = requests if requests is not None else {}  # request id -> hits
        self.nodes: dict[str, LineageNode] = {root.id: root}
        self.records: dict[tuple[str, str, str], LineageRecord] = {}
        self.root = root

    def see(self, node: LineageNode) -> LineageNode:
        known = self.nodes.get(node.id)
        if known is None or (not known.label and node.label):
            self.nodes[node.id] = node
            return node
        return known

    def add(
        self,
        source: LineageNode,
        target: LineageNode,
        relation: str,
        depth: int,
        direction: Literal["up", "down"],
        edge: LineageEdge | None = None,
    ) -> bool:
        source, target = self.see(source), self.see(target)
        key = (source.id, target.id, relation)
        if key in self.records or source.id == target.id:
            return False
        self.records[key] = LineageRecord(
            source=source,
            target=target,
            relation=relation,
            depth=depth,
            direction=direction,
            function=edge.function if edge else None,
            code_hash=edge.code_hash if edge else None,
            run_id=edge.run_id if edge else None,
            when=edge.when if edge else None,
            who=edge.who if edge else None,
        )
        return True

    def up(
        self, node: LineageNode, depth: int, via: LineageEdge | None
    ) -> list[tuple[LineageNode, LineageEdge | None]]:
        """What ``node`` was made from; for a run reached through what it made (``via``),
        only what it used before."""
        found: list[tuple[LineageNode, LineageEdge | None]] = []
        if node.kind == "prediction" and not _SEGMENT.match(node.id[11:]):  # a request
            return self._request(node, depth)
        digest = node.digest if node.kind != "run" else None
        for edge in edges_into(self.store, node.id, exact=True, digest=digest):
            if node.kind == "run" and via is not None and not used_before(edge, via):
                continue  # used after it made what the walk came from
            for e in edge.inputs.values():
                self.add(_node(e), node, edge.relation, depth, "up", edge)
                found.append((_node(e), edge))
        if node.kind == "run":  # inputs logged by tracking before lineage edges existed
            run = _tracked_run(node.id[4:], self.runs)
            for item in getattr(run, "inputs", None) or []:
                src = _input_node(item, self.store)
                if self.add(src, node, "used", depth, "up"):
                    found.append((src, None))
        return found

    def _request(
        self, node: LineageNode, depth: int
    ) -> list[tuple[LineageNode, LineageEdge | None]]:
        found: list[tuple[LineageNode, LineageEdge | None]] = []
        hits = self.requests.get(node.id[11:])
        if hits is None:
            hits = self.requests[node.id[11:]] = find_request(self.store, node.id[11:])
        for segment, entry in hits:
            when = (
                datetime.fromtimestamp(entry.time, timezone.utc)
                if entry.time is not None and math.isfinite(entry.time)
                else None
            )
            for digest in entry.packages:
                package = Endpoint(digest=digest, kind="package")
                edge = LineageEdge(
                    relation="served",
                    inputs={"package": package},
                    output=segment,
                    function="mlopskit.deploy.PredictionLogger",
                    when=when,
                )
                self.add(_node(package), node, "served", depth, "up", edge)
                found.append((_node(package), edge))
        return found

    def down(
        self, node: LineageNode, depth: int, via: LineageEdge | None
    ) -> list[tuple[LineageNode, LineageEdge | None]]:
        """What was made from ``node``; for a run reached through an input it used
        (``via``), only what it made after."""
        found: list[tuple[LineageNode, LineageEdge | None]] = []
        digest = node.digest if node.kind != "run" else None
        for edge in edges_from(self.store, node.id, exact=True, digest=digest):
            if edge.output is None:
                continue
            if node.kind == "run" and via is not None and not used_before(via, edge):
                continue  # made before the run used what the walk came from
            self.add(node, _node(edge.output), edge.relation, depth, "down", edge)
            found.append((_node(edge.output), edge))
        if node.kind == "run":  # the run's logged artifacts
            run = _tracked_run(node.id[4:], self.runs)
            for name, ref in (getattr(run, "artifacts", None) or {}).items():
                dst = LineageNode(kind="artifact", id=ref.digest, digest=ref.digest, label=name)
                if self.add(node, dst, "logged", depth, "down"):
                    found.append((dst, None))
        return found

    def run(self, direction: Direction, max_depth: int | None) -> Lineage:
        for way in ("up", "down"):
            if direction not in (way, "both"):
                continue
            queue: deque[tuple[LineageNode, int, LineageEdge | None]] = deque(
                [(self.root, 0, None)]
            )
            reach = {self.root.id: math.inf}  # how much of each node was followed
            step = self.up if way == "up" else self.down
            while queue:
                node, depth, via = queue.popleft()
                if max_depth is not None and depth >= max_depth:
                    continue
                for nxt, edge in step(node, depth + 1, via):
                    allowed = _reach(edge, way) if nxt.kind == "run" else math.inf
                    if allowed > reach.get(nxt.id, -math.inf):
                        reach[nxt.id] = allowed
                        queue.append((nxt, depth + 1, edge if nxt.kind == "run" else None))
        records = [
            r.model_copy(
                update={"source": self.nodes[r.source.id], "target": self.nodes[r.target.id]}
            )
            for r in self.records.values()
        ]
        records.sort(key=lambda r: (r.direction != "up", r.depth))
        return Lineage(self.nodes[self.root.id], records, self.runs, self.store)


def lineage(
    target: Any,
    direction: Direction = "both",
    depth: int | None = None,
    *,
    store: ArtifactStore | str | os.PathLike[str] | None = None,
    tracker: Any = None,
) -> Lineage:
    """The lineage graph around ``target``, upstream, downstream or both.

    Args:
        target: a :class:`~mlopskit.versioning.DatasetVersion`, a
            :class:`~mlopskit.registry.ModelVersion`, a ``VersionedCall``, an
            :class:`~mlopskit.store.ArtifactRef`, a digest (when exactly one node holds
            it), a run (or ``"run:<id>"``), or a URI: ``"dataset:iris/3"``,
            ``"model:clf@champion"``, ``"package:<digest>"``, ``"deployment:<name>"``,
            or a bare ``"iris/3"`` / ``"clf@champion"``.
        direction: ``"up"`` (what it was made from), ``"down"`` (what was made from
            it) or ``"both"``.
        depth: how many hops to follow (None: all).
        store: the store to read (default: the current workspace's). Runs are then
            looked up in the tracker of the workspace rooted at that store, never in
            the current directory's workspace.
        tracker: the :class:`~mlopskit.tracking.Tracker` whose runs contribute their
            logged artifacts (default: the tracker of the workspace whose store is
            read).

    Returns:
        A :class:`Lineage` with ``.records``, ``.nodes``, ``.to_frame()``,
        ``.to_mermaid()``, ``.to_dot()``, ``.to_html()`` and ``.explain()``.

    Raises:
        InvalidInputError: an unknown direction, an unsupported target, or a digest
            that several versions hold (name one of them).
        NotFoundError: no dataset or model by that name.
    """
    if direction not in ("up", "down", "both"):
        raise InvalidInputError(
            f"direction must be 'up', 'down' or 'both', found {direction!r}",
            expected="'up', 'down' or 'both'",
            found=repr(direction),
        )
    if store is None:
        the_store, home = current_store(), _context.current_workspace_uri()
    else:
        the_store = store if isinstance(store, ArtifactStore) else store_for(store)
        home = the_store.url
    runs: Any = tracker if tracker is not None else home
    requests: dict[str, list[tuple[Endpoint, RequestEntry]]] = {}
    root = _resolve(target, the_store, requests)
    return _Walk(the_store, root, runs, requests).run(direction, depth)
