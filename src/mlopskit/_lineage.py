"""``mk.lineage``: walk the graph of datasets, ``@versioned`` outputs, runs and models.

The graph is made of the lineage edges versioning and the registry record in the
store (input digests → output digest, with the function, its code hash and the run),
plus — when :mod:`mlopskit.tracking` is installed and knows the run — each run's
logged inputs (upstream) and artifacts (downstream). ``mk.lineage(x)`` returns a
:class:`Lineage`: records a user can print, turn into a DataFrame, or render as
Mermaid or Graphviz DOT.

Not found by the walk: runs that used a dataset only through ``run.log_input`` and
were never linked by an edge in this store (tracking keeps no index by input); their
inputs are found upstream from the run itself.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from mlopskit import _context
from mlopskit._log import get_logger
from mlopskit.errors import InvalidInputError, MlopskitError, NotFoundError
from mlopskit.store import ArtifactRef, ArtifactStore, current_store, store_for
from mlopskit.versioning import (
    Endpoint,
    LineageEdge,
    VersionedCall,
    edges_from,
    edges_into,
    edges_of_run,
)

if TYPE_CHECKING:
    import os

    import pandas as pd

__all__ = ["Lineage", "LineageNode", "LineageRecord", "lineage"]

log = get_logger("mlopskit.lineage")

Direction = Literal["up", "down", "both"]
_SPECIFIC = {"dataset": 3, "model": 3, "versioned": 2, "run": 3, "artifact": 1, "value": 0}


class LineageNode(BaseModel):
    """A node: its ``kind`` (dataset, model, versioned, run, artifact, value), a unique
    ``id`` (the digest, or ``run:<id>``), the ``digest`` and a human ``label``."""

    model_config = ConfigDict(frozen=True)

    kind: str
    id: str
    digest: str | None = None
    label: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.label or self.id}"


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

    def __str__(self) -> str:
        return f"{self.source} --{self.relation}--> {self.target}"


class Lineage:
    """The result of :func:`lineage`: the start node and the records reached from it."""

    def __init__(self, root: LineageNode, records: list[LineageRecord]) -> None:
        self.root = root
        self.records = records

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
        """One row per edge: source and target kind/label/digest, relation, depth, run."""
        import pandas as pd

        rows = [
            {
                "source_kind": r.source.kind,
                "source": r.source.label or r.source.id,
                "source_digest": r.source.digest,
                "relation": r.relation,
                "target_kind": r.target.kind,
                "target": r.target.label or r.target.id,
                "target_digest": r.target.digest,
                "depth": r.depth,
                "direction": r.direction,
                "function": r.function,
                "run_id": r.run_id,
            }
            for r in self.records
        ]
        frame: pd.DataFrame = pd.DataFrame(rows, columns=list(rows[0]) if rows else None)
        return frame

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
        kind=endpoint.kind, id=endpoint.digest, digest=endpoint.digest, label=endpoint.label
    )


def _run_node(run_id: str) -> LineageNode:
    return LineageNode(kind="run", id=f"run:{run_id}", label=run_id)


def _resolve(target: Any, store: ArtifactStore) -> LineageNode:
    node = getattr(target, "__mlopskit_node__", None)
    if isinstance(node, Endpoint):
        return _node(node)
    if isinstance(target, VersionedCall):
        return LineageNode(
            kind="versioned",
            id=target.output.digest,
            digest=target.output.digest,
            label=f"{target.function.rsplit('.', 1)[-1]}[{target.key[:8]}]",
        )
    if isinstance(target, ArtifactRef):
        return LineageNode(kind="artifact", id=target.digest, digest=target.digest, label="")
    run_id = getattr(target, "run_id", None)
    if isinstance(run_id, str):
        return _run_node(run_id)
    if not isinstance(target, str):
        raise InvalidInputError(
            f"mk.lineage() takes a dataset or model version, a store ref, a digest, a run, "
            f"or a URI ('dataset:name/3', 'model:name@champion', 'run:<id>'); found a "
            f"{type(target).__qualname__}"
        )
    scheme, sep, rest = target.partition(":")
    if sep and scheme in ("sha256", "blake3"):
        return LineageNode(kind="artifact", id=target, digest=target, label="")
    if sep and scheme == "run":
        return _run_node(rest)
    if sep and scheme in ("dataset", "datasets"):
        return _node(_dataset(rest, store).__mlopskit_node__)
    if sep and scheme in ("model", "models"):
        return _node(_model(rest.lstrip("/"), store).__mlopskit_node__)
    for finder in (_dataset, _model):  # a bare "name/3": whichever exists
        try:
            return _node(finder(target, store).__mlopskit_node__)
        except (NotFoundError, InvalidInputError):
            continue
    raise NotFoundError(f"no dataset or model named by {target!r}", found=target)


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


class _Walk:
    def __init__(self, store: ArtifactStore, root: LineageNode, runs: Any) -> None:
        self.store = store
        self.runs = runs
        self.nodes: dict[str, LineageNode] = {root.id: root}
        self.records: dict[tuple[str, str, str], LineageRecord] = {}
        self.root = root

    def see(self, node: LineageNode) -> LineageNode:
        known = self.nodes.get(node.id)
        if known is None or _SPECIFIC.get(node.kind, 0) > _SPECIFIC.get(known.kind, 0):
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
        )
        return True

    def up(self, node: LineageNode, depth: int) -> list[LineageNode]:
        found: list[LineageNode] = []
        if node.kind == "run":
            run_id = node.id[4:]
            for edge in edges_of_run(self.store, run_id):
                if edge.relation == "used":
                    for e in edge.inputs.values():
                        if self.add(_node(e), node, "used", depth, "up", edge):
                            found.append(_node(e))
            run = _tracked_run(run_id, self.runs)
            for item in getattr(run, "inputs", None) or []:
                src = _input_node(item, self.store)
                if self.add(src, node, "input", depth, "up"):
                    found.append(src)
            return found
        if node.digest is None:
            return found
        for edge in edges_into(self.store, node.digest):
            for e in edge.inputs.values():
                if self.add(_node(e), node, edge.relation, depth, "up", edge):
                    found.append(_node(e))
            if edge.run_id:
                run = _run_node(edge.run_id)
                if self.add(run, node, "produced", depth, "up", edge):
                    found.append(run)
        return found

    def down(self, node: LineageNode, depth: int) -> list[LineageNode]:
        found: list[LineageNode] = []
        if node.kind == "run":
            run_id = node.id[4:]
            for edge in edges_of_run(self.store, run_id):
                if edge.output is not None and self.add(
                    node, _node(edge.output), "produced", depth, "down", edge
                ):
                    found.append(_node(edge.output))
            run = _tracked_run(run_id, self.runs)
            for name, ref in (getattr(run, "artifacts", None) or {}).items():
                dst = LineageNode(kind="artifact", id=ref.digest, digest=ref.digest, label=name)
                if self.add(node, dst, "logged", depth, "down"):
                    found.append(dst)
            return found
        if node.digest is None:
            return found
        for edge in edges_from(self.store, node.digest):
            if edge.output is not None:
                if self.add(node, _node(edge.output), edge.relation, depth, "down", edge):
                    found.append(_node(edge.output))
            elif edge.run_id:
                run = _run_node(edge.run_id)
                if self.add(node, run, edge.relation, depth, "down", edge):
                    found.append(run)
        return found

    def run(self, direction: Direction, max_depth: int | None) -> Lineage:
        for way in ("up", "down"):
            if direction not in (way, "both"):
                continue
            queue: deque[tuple[LineageNode, int]] = deque([(self.root, 0)])
            visited = {self.root.id}
            while queue:
                node, depth = queue.popleft()
                if max_depth is not None and depth >= max_depth:
                    continue
                step = self.up if way == "up" else self.down
                for nxt in step(node, depth + 1):
                    if nxt.id not in visited:
                        visited.add(nxt.id)
                        queue.append((nxt, depth + 1))
        records = [
            r.model_copy(
                update={"source": self.nodes[r.source.id], "target": self.nodes[r.target.id]}
            )
            for r in self.records.values()
        ]
        records.sort(key=lambda r: (r.direction != "up", r.depth))
        return Lineage(self.nodes[self.root.id], records)


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
            :class:`~mlopskit.store.ArtifactRef`, a digest, a run (or ``"run:<id>"``),
            or a URI: ``"dataset:iris/3"``, ``"model:clf@champion"``, or a bare
            ``"iris/3"`` / ``"clf@champion"``.
        direction: ``"up"`` (what it was made from), ``"down"`` (what was made from
            it) or ``"both"``.
        depth: how many hops to follow (None: all).
        store: the store to read (default: the current workspace's). Runs are then
            looked up in the tracker of the workspace rooted at that store, never in
            the current directory's workspace.
        tracker: the :class:`~mlopskit.tracking.Tracker` whose runs contribute their
            logged inputs and artifacts (default: the tracker of the workspace whose
            store is read).

    Returns:
        A :class:`Lineage` with ``.records``, ``.nodes``, ``.to_frame()``,
        ``.to_mermaid()`` and ``.to_dot()``.
    """
    if direction not in ("up", "down", "both"):
        raise InvalidInputError(f"direction must be 'up', 'down' or 'both', found {direction!r}")
    if store is None:
        the_store, home = current_store(), _context.current_workspace_uri()
    else:
        the_store = store if isinstance(store, ArtifactStore) else store_for(store)
        home = the_store.url
    runs: Any = tracker if tracker is not None else home
    root = _resolve(target, the_store)
    return _Walk(the_store, root, runs).run(direction, depth)
