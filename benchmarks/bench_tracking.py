"""Tracker benchmark: mlopskit against MLflow (SQLite store) and trackio, same machine, same run.

    nox -s bench_tracking            # installs mlflow and trackio in the session's venv
    python benchmarks/bench_tracking.py [--quick]   # competitors only if importable

Prints each figure (median of several repetitions) and the ratio to the anchor.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = str(HERE.parent / "src")
sys.path.insert(0, SRC)

RESULTS: list[tuple[str, str, str]] = []


def have(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None


def report(what: str, ours: str, ratio: str = "") -> None:
    RESULTS.append((what, ours, ratio))
    print(f"{what:<62} {ours:>22}  {ratio}", flush=True)


def median_of(fn: Callable[[], float], reps: int) -> float:
    return statistics.median(fn() for _ in range(reps))


def tmpdir() -> str:
    return tempfile.mkdtemp(prefix="bench-tracking-")


# -- import -----------------------------------------------------------------------------


def import_cost(module: str, reps: int) -> tuple[float, float]:
    code = (
        "import time, resource; t = time.perf_counter(); "
        f"import {module}; "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    walls, rss = [], []
    for _ in range(reps):
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": SRC},
        )
        walls.append(time.perf_counter() - start)
        rss.append(int(out.stdout.split()[1]) / 1024)
    return statistics.median(walls), statistics.median(rss)


def bench_import(reps: int) -> None:
    ours = import_cost("mlopskit", reps)
    report(
        "import mlopskit: process wall / peak RSS", f"{ours[0] * 1000:.0f} ms / {ours[1]:.0f} MiB"
    )
    if have("mlflow"):
        theirs = import_cost("mlflow", reps)
        report(
            "import mlflow: process wall / peak RSS",
            f"{theirs[0] * 1000:.0f} ms / {theirs[1]:.0f} MiB",
            f"mlopskit = {ours[0] / theirs[0]:.2f}x wall, {ours[1] / theirs[1]:.2f}x RSS "
            "(goal <= 0.10x, <= 0.25x)",
        )


# -- runs and metrics -------------------------------------------------------------------


def bench_runs(reps: int) -> None:
    from mlopskit.tracking import Tracker

    def fresh() -> float:
        root = tmpdir()
        t = time.perf_counter()
        tracker = Tracker(root)
        tracker.start_run("e", capture_env=False).end()
        out = time.perf_counter() - t
        tracker.backend.close()
        shutil.rmtree(root)
        return out

    first = median_of(fresh, reps)
    report(
        "fresh local workspace usable (first start+end run)",
        f"{first * 1000:.1f} ms",
        "goal <= 50 ms; MLflow sqlite 1.8 s measured in anchors",
    )
    root = tmpdir()
    tracker = Tracker(root)
    tracker.start_run("e", capture_env=False).end()
    times = []
    for _ in range(200):
        t = time.perf_counter()
        tracker.start_run("e", capture_env=False).end()
        times.append(time.perf_counter() - t)
    ours = statistics.median(times)
    ratio = ""
    if have("mlflow"):
        theirs = mlflow_start_end()
        ratio = f"MLflow sqlite {theirs * 1000:.2f} ms -> {theirs / ours:.1f}x faster"
    report("start+end empty run, median of 200", f"{ours * 1000:.3f} ms", ratio + " (goal <= 1 ms)")


def mlflow_setup(root: str) -> Any:
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    os.environ["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"
    mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
    mlflow.set_experiment("bench")
    return mlflow


def mlflow_start_end() -> float:
    mlflow = mlflow_setup(tmpdir())
    times = []
    for _ in range(30):
        t = time.perf_counter()
        mlflow.start_run()
        mlflow.end_run()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def ours_log_metric(n: int) -> float:
    from mlopskit.tracking import Tracker

    tracker = Tracker(tmpdir())
    t = time.perf_counter()
    run = tracker.start_run("e", capture_env=False)
    for i in range(n):
        run.log_metric("loss", 1.0 / (i + 1), step=i)
    run.end()  # every point is on disk when end() returns
    elapsed = time.perf_counter() - t
    assert len(run.metric_history("loss")) == n
    return n / elapsed


def trackio_log_metric(n: int) -> float:
    import trackio

    os.environ["TRACKIO_DIR"] = tmpdir()
    t = time.perf_counter()
    trackio.init(project=f"bench-{uuid.uuid4().hex[:6]}")
    for i in range(n):
        trackio.log({"loss": 1.0 / (i + 1)})
    trackio.finish()
    return n / (time.perf_counter() - t)


def mlflow_log_metric(n: int) -> float:
    mlflow = mlflow_setup(tmpdir())
    t = time.perf_counter()
    with mlflow.start_run():
        for i in range(n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
    return n / (time.perf_counter() - t)


def bench_log_metric(reps: int, quick: bool) -> None:
    n = 10_000
    ours = statistics.median(ours_log_metric(n) for _ in range(reps))
    report(f"log_metric x{n} incl. final flush, points/s", f"{ours:,.0f}", "goal >= 3x trackio")
    if have("trackio"):
        theirs = statistics.median(trackio_log_metric(n) for _ in range(reps))
        report(
            "  trackio.log same loop incl. finish, points/s",
            f"{theirs:,.0f}",
            f"mlopskit = {ours / theirs:.1f}x trackio",
        )
    if have("mlflow"):
        m = 300 if quick else 1000
        theirs = mlflow_log_metric(m)
        report(
            f"  mlflow.log_metric (sqlite) x{m}, points/s",
            f"{theirs:,.0f}",
            f"mlopskit = {ours / theirs:.0f}x MLflow",
        )
    from mlopskit.tracking import Tracker

    def batch() -> float:
        tracker = Tracker(tmpdir(), max_points=10**7)
        run = tracker.start_run("e", capture_env=False)
        values = [float(i) for i in range(1_000_000)]
        t = time.perf_counter()
        run.log_batch("x", values)
        run.flush()
        elapsed = time.perf_counter() - t
        run.end()
        return len(values) / elapsed

    report(
        "log_batch 1,000,000 points + flush, points/s",
        f"{median_of(batch, reps):,.0f}",
        "goal >= 300,000",
    )


# -- search -----------------------------------------------------------------------------


def fill(tracker: Any, runs: int, params: int, metrics: int) -> None:
    """Create runs straight through the backend (fast), each with params and metrics."""
    import random

    from mlopskit.tracking import RunRecord

    rng = random.Random(0)
    backend = tracker.backend
    now = time.time()
    for i in range(runs):
        rec = RunRecord(
            run_id=uuid.uuid4().hex,
            experiment="search",
            name=f"r{i}",
            status="RUNNING",
            start_time=now + i,
            params={f"p{j}": f"v{rng.randrange(10)}" for j in range(params)},
        )
        backend.create_run(rec)
        backend.log_metrics(rec.run_id, [(f"m{j}", rng.random(), 0, now) for j in range(metrics)])
        backend.finish(rec.run_id, "FINISHED", now + i + 1)


def bench_search(reps: int, quick: bool) -> None:
    from mlopskit.tracking import Tracker

    root = tmpdir()
    tracker = Tracker(root)
    t = time.perf_counter()
    fill(tracker, 1000, 10, 10)
    report(
        "create 1,000 runs x (10 params + 10 metrics)",
        f"{time.perf_counter() - t:.2f} s",
        "goal <= 2 s (MLflow 25.9 s in anchors)",
    )
    full = median_of(lambda: timed(lambda: tracker.search_runs("search")), reps)
    filt = median_of(
        lambda: timed(
            lambda: tracker.search_runs("search", filter="metrics.m0 > 0.5 and params.p1 = 'v3'")
        ),
        reps,
    )
    ratio_full = ratio_filt = ""
    if have("mlflow"):
        mf, mfilt = mlflow_search(quick)
        ratio_full = f"MLflow {mf * 1000:.0f} ms -> {mf / full:.1f}x faster (goal >= 15x)"
        ratio_filt = f"MLflow {mfilt * 1000:.0f} ms -> {mfilt / filt:.1f}x faster"
    report("search_runs -> DataFrame, 1,000 runs x 20 values", f"{full * 1000:.1f} ms", ratio_full)
    report("  with a filter (~5% of rows)", f"{filt * 1000:.1f} ms", ratio_filt)
    if quick:
        return
    big = Tracker(tmpdir())
    t = time.perf_counter()
    fill(big, 10_000, 20, 20)
    report("create 10,000 runs x (20 params + 20 metrics)", f"{time.perf_counter() - t:.2f} s")
    q = median_of(
        lambda: timed(
            lambda: big.search_runs(
                "search",
                filter="metrics.m3 > 0.9 and params.p2 != 'v1'",
                order_by=["metrics.m4 DESC"],
            )
        ),
        reps,
    )
    report(
        "search_runs 10,000 runs x 40 values, filter + order", f"{q * 1000:.0f} ms", "goal < 1 s"
    )
    q2 = median_of(
        lambda: timed(lambda: big.search_runs("search", order_by=["metrics.m4 DESC"], limit=100)),
        reps,
    )
    report("  order + limit 100", f"{q2 * 1000:.0f} ms")


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def mlflow_search(quick: bool) -> tuple[float, float]:
    import random

    mlflow = mlflow_setup(tmpdir())
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    exp = mlflow.get_experiment_by_name("bench").experiment_id
    rng = random.Random(0)
    now = int(time.time() * 1000)
    for _ in range(1000):
        run = client.create_run(exp)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(f"m{j}", rng.random(), now, 0) for j in range(10)],
            params=[Param(f"p{j}", f"v{rng.randrange(10)}") for j in range(10)],
        )
        client.set_terminated(run.info.run_id)
    reps = 2 if quick else 3
    full = median_of(lambda: timed(lambda: mlflow.search_runs([exp])), reps)
    filt = median_of(
        lambda: timed(
            lambda: mlflow.search_runs([exp], filter_string="metrics.m0 > 0.5 and params.p1 = 'v3'")
        ),
        reps,
    )
    return full, filt


# -- artifacts --------------------------------------------------------------------------


def one_pass_copy(src: str, dst: str) -> None:
    h = hashlib.sha256()
    buf = bytearray(8 * 1024 * 1024)
    view = memoryview(buf)
    with open(src, "rb", buffering=0) as f, open(dst, "wb", buffering=0) as out:
        while n := f.readinto(buf):
            h.update(view[:n])
            out.write(view[:n])
    h.hexdigest()


def disk_usage(path: str) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def bench_artifact(reps: int, size_mb: int) -> None:
    from mlopskit.tracking import Tracker

    work = tmpdir()
    src = os.path.join(work, "blob.bin")
    with open(src, "wb") as f:
        for _ in range(size_mb):
            f.write(os.urandom(1024 * 1024))

    def baseline() -> float:
        dst = os.path.join(work, f"copy-{uuid.uuid4().hex}")
        t = timed(lambda: one_pass_copy(src, dst))
        os.unlink(dst)
        return t

    def ours() -> float:
        root = tmpdir()
        tracker = Tracker(root)
        run = tracker.start_run("e", capture_env=False)
        t = timed(lambda: run.log_artifact(src, name="blob.bin"))
        run.end()
        shutil.rmtree(root)
        return t

    base = median_of(baseline, reps)
    mine = median_of(ours, reps)
    report(f"{size_mb} MB artifact: one-pass read+sha256+write loop", f"{size_mb / base:.0f} MB/s")
    report(
        f"{size_mb} MB artifact: run.log_artifact (put_file)",
        f"{size_mb / mine:.0f} MB/s",
        f"= {base / mine:.2f}x the loop (goal >= 0.9x)",
    )
    root = tmpdir()
    tracker = Tracker(root)
    with tracker.start_run("e", capture_env=False) as run:
        run.log_artifact(src, name="blob.bin")
    before = disk_usage(os.path.join(root, "objects"))
    with tracker.start_run("e", capture_env=False) as run2:
        again = timed(lambda: run2.log_artifact(src, name="blob.bin"))
    added = disk_usage(os.path.join(root, "objects")) - before
    reput = median_of(lambda: timed(lambda: tracker.store.put_file(src)), reps)
    report(
        "  same unchanged file: store.put_file again (stat cache)",
        f"{reput * 1000:.2f} ms",
        "goal: no re-hash, <= 5 ms (trackio re-hashes: 0.21 s)",
    )
    report(
        "  same file logged by a second run: log_artifact total",
        f"{again * 1000:.1f} ms, +{added} B",
        "0 bytes of content (+ the run's small artifact record); MLflow +200 MB",
    )
    shutil.rmtree(work)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer reps")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    reps = 3 if args.quick else 5
    print(f"python {sys.version.split()[0]}; mlflow: {have('mlflow')}; trackio: {have('trackio')}")
    bench_import(reps if args.quick else 10)
    bench_runs(reps)
    bench_log_metric(reps, args.quick)
    bench_search(reps, args.quick)
    bench_artifact(3, 50 if args.quick else 200)
    if args.json:
        Path(args.json).write_text(json.dumps(RESULTS, indent=1))


if __name__ == "__main__":
    main()
