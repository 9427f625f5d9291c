"""Walking lineage costs O(edges reached), not a scan of every run.

    python benchmarks/bench_lineage.py [--runs 10000] [--edges-per-run 10] [--reps 15]
        [--segments 1000] [--store DIR]

Builds, in a local store, a graph of ``--runs`` runs, each using 9 of 1,000 dataset
versions (one ``used`` edge each) and registering one model version (one
``registered`` edge): ``--runs x 10`` edges, written through ``record_edge`` (fsync
is skipped while *building* only — the walk reads). Then, paired and alternating
(A, B, A, B...), medians of ``--reps``:

A. ``mk.lineage(<one model>, direction="up")`` — the walk (target: <= 100 ms at
   10,000 runs / 100,000 edges);
B. listing every lineage edge ref once (``store.refs.list("lineage/out")``): the floor
   of any walk that scans instead of following an index.

Also: walking down from one dataset version (every run that used it, every model
those runs registered), and walking up from a served request id
(``mk.lineage("<request id>")``) among ``--segments`` logged prediction segments of
100 requests each (their request index records, written by ``record_requests``), the
request answered by a package of one model.

``--store DIR`` builds the graph in DIR, or reuses the one a previous run built there:
the same graph can then be walked by two versions of mlopskit, alternating processes
(``PYTHONPATH=<old checkout>/src python benchmarks/bench_lineage.py --store DIR``).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from _bench import Bench, absolute_row, make_row

from mlopskit import lineage
from mlopskit.store import ArtifactStore
from mlopskit.versioning import Endpoint, LineageEdge, record_edge, run_endpoint

try:  # mlopskit with the request index (issue 11); older versions skip case C
    from mlopskit._edges import RequestEntry, record_requests
except ImportError:  # pragma: no cover - an older checkout
    RequestEntry = record_requests = None


class _Node:
    """Any object naming a lineage node (as versions do, through ``__mlopskit_node__``)."""

    def __init__(self, node: Endpoint) -> None:
        self.__mlopskit_node__ = node


def _digest(i: int) -> str:
    return f"sha256:{i:064x}"


def build(store: ArtifactStore, runs: int, per_run: int, seed: int = 0) -> None:
    """``runs`` runs, each using ``per_run - 1`` datasets and registering one model."""
    rng = random.Random(seed)
    datasets = [Endpoint(kind="dataset", label=f"d{k}/1", digest=_digest(k)) for k in range(1000)]
    real_fsync = os.fsync
    os.fsync = lambda fd: None  # building only: the walk below does not write
    try:
        for r in range(runs):
            run_id = f"run{r:06d}"
            for k, ds in enumerate(rng.sample(datasets, per_run - 1)):
                record_edge(
                    store, LineageEdge(relation="used", inputs={f"in{k}": ds}, run_id=run_id)
                )
            model = Endpoint(kind="model", label=f"m{r}/1", digest=_digest(10_000_000 + r))
            record_edge(
                store,
                LineageEdge(
                    relation="registered", inputs={"run": run_endpoint(run_id)}, output=model
                ),
            )
            if r and r % 1000 == 0:
                print(f"  built {r} runs", file=sys.stderr)
    finally:
        os.fsync = real_fsync


def build_requests(store: ArtifactStore, segments: int, runs: int) -> str:
    """``segments`` segments' request indexes (100 requests each); returns one request id
    (in the middle segment), answered by a package derived from model ``m<runs//2>/1``."""
    model = Endpoint(kind="model", label=f"m{runs // 2}/1", digest=_digest(10_000_000 + runs // 2))
    package = Endpoint(kind="package", digest=_digest(20_000_000))
    record_edge(store, LineageEdge(relation="derived", inputs={"model": model}, output=package))
    real_fsync = os.fsync
    os.fsync = lambda fd: None
    try:
        for s in range(segments):
            seg = Endpoint(kind="prediction", label="served", digest=_digest(30_000_000 + s))
            entries = {
                f"req-{s:05d}-{i:03d}": RequestEntry(time=1.7e9 + s, packages=[package.digest])
                for i in range(100)
            }
            record_requests(store, seg, entries)
    finally:
        os.fsync = real_fsync
    return f"req-{segments // 2:05d}-042"


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--edges-per-run", type=int, default=10)
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--segments", type=int, default=1000)
    parser.add_argument("--store", default=None, help="build here, or reuse what is here")
    parser.add_argument("--no-scan", action="store_true", help="time the walks only (not B)")
    parser.add_argument("--quick", action="store_true", help="2,000 runs, 5 reps")
    parser.add_argument("--json", help="write this bench's record here")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.reps = min(args.runs, 2_000), 5
    bench = Bench("lineage")

    root = args.store or tempfile.mkdtemp(prefix="bench-lineage-")
    try:
        measure(args, bench, root)
    finally:
        if not args.store:  # a store built for this run only: 4 GB at 10,000 runs
            shutil.rmtree(root, ignore_errors=True)


def measure(args: argparse.Namespace, bench: Bench, root: str) -> None:
    """Build the graph in ``root`` (unless it is there), time the walks, write the rows."""
    store = ArtifactStore(root)
    marker = os.path.join(root, "bench-lineage.built")
    edges = args.runs * args.edges_per_run
    if not os.path.exists(marker):
        start = time.perf_counter()
        build(store, args.runs, args.edges_per_run)
        if record_requests is not None:
            build_requests(store, args.segments, args.runs)
        with open(marker, "w") as f:
            f.write(f"{args.runs} {args.edges_per_run} {args.segments}\n")
        print(
            f"graph: {args.runs} runs, {edges} edges, built in {time.perf_counter() - start:.0f} s"
        )
    else:
        with open(marker) as f:
            print(f"graph: reusing {root} ({f.read().strip()})")

    model = _Node(Endpoint(kind="model", label=f"m{args.runs // 2}/1", digest=_digest(1)))
    dataset = _Node(Endpoint(kind="dataset", label="d7/1", digest=_digest(7)))

    def walk_up() -> Any:
        g = lineage(model, "up", store=store)
        assert len(g.upstream()) == args.edges_per_run  # the run and its datasets
        return g

    def scan() -> Any:
        return store.refs.list("lineage/out")

    walk_up()
    if args.no_scan:
        ta = [timed(walk_up) for _ in range(args.reps)]
        print(f"walk up from one model: {statistics.median(ta) * 1e3:.1f} ms (A)")
    else:
        scan()
        ta, tb = [], []
        for _ in range(args.reps):
            ta.append(timed(walk_up))
            tb.append(timed(scan))
        ratio = statistics.median(a / b for a, b in zip(ta, tb))
        print(
            f"walk up from one model: {statistics.median(ta) * 1e3:.1f} ms (A) vs listing "
            f"every edge ref: {statistics.median(tb) * 1e3:.1f} ms (B); A/B = {ratio:.2g}"
        )
    down = lineage(dataset, "down", store=store)
    td = statistics.median(timed(lambda: lineage(dataset, "down", store=store)) for _ in range(5))
    print(f"walk down from one dataset ({len(down.records)} edges reached): {td * 1e3:.1f} ms")
    tc: list[float] = []
    if record_requests is not None and store.refs.list("lineage/request/"):
        request = f"req-{args.segments // 2:05d}-042"
        trail = lineage(request, "up", store=store)
        assert f"model:m{args.runs // 2}/1" in {n.id for n in trail.nodes}
        tc = [timed(lambda: lineage(request, "up", store=store)) for _ in range(5)]
        print(
            f"walk up from a request id among {args.segments} logged segments "
            f"({len(trail.records)} edges reached): {statistics.median(tc) * 1e3:.1f} ms"
        )
    bench.add(
        absolute_row(
            f"walk up from one model ({args.runs:,} runs, {edges:,} edges)",
            mode="in-process",
            values=ta,
            unit="s",
            goal="<= 0.1",
        )
    )
    if not args.no_scan:
        bench.add(
            make_row(
                "walk up from one model vs listing every edge ref once",
                mode="in-process",
                anchor="store.refs.list('lineage/out')",
                a=ta,
                b=tb,
                unit="s",
            )
        )
    bench.summary()
    bench.write(args.json)


if __name__ == "__main__":
    main()
