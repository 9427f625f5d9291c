"""Autolog benchmark: mk.autolog() against mlflow.sklearn.autolog on the same fits.

    nox -s bench_autolog                          # installs mlflow and scikit-learn
    python benchmarks/bench_autolog.py [--quick] [--json out.json]

Rows (keys as in the shared benchmark records: row, mode, anchor, ratio, min, max, n,
goal, met, mlopskit, anchor_value, unit):

- a tiny fit (LogisticRegression on iris) and a ~1 s fit (RandomForest) with each
  library's autolog at its defaults, measured alternately mlopskit, MLflow, mlopskit,
  ... (each one's patches installed and removed outside the timed region); without
  MLflow the anchor is the same fit without autolog;
- the system-metrics sampler's CPU use at the default interval, against the goal of
  1% of one core.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

ROWS: list[dict[str, Any]] = []


def have(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None


def row(
    what: str, anchor: str, ours: list[float], theirs: list[float], unit: str, goal: str | None
) -> None:
    ratios = [a / b for a, b in zip(ours, theirs)]
    ratio = statistics.median(ratios)
    met = None
    if goal is not None:
        bound = float(goal.split()[1])
        met = ratio <= bound if goal.startswith("<=") else ratio >= bound
    rec = {
        "row": what,
        "mode": "in-process",
        "anchor": anchor,
        "ratio": ratio,
        "min": min(ratios),
        "max": max(ratios),
        "n": len(ratios),
        "goal": goal,
        "met": met,
        "mlopskit": statistics.median(ours),
        "anchor_value": statistics.median(theirs),
        "unit": unit,
    }
    ROWS.append(rec)
    print(
        f"{what:<58} mlopskit {rec['mlopskit']:.4g} {unit}  {anchor} {rec['anchor_value']:.4g} "
        f"{unit}  ratio {ratio:.3f} [{rec['min']:.3f}, {rec['max']:.3f}]",
        flush=True,
    )


def bench_fits(reps: int) -> None:
    from sklearn.datasets import load_iris, make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    import mlopskit as mk

    mlflow: Any = None
    if have("mlflow"):
        import mlflow as _mlflow

        mlflow = _mlflow
        logging.getLogger("mlflow").setLevel(logging.ERROR)
        where = tempfile.mkdtemp(prefix="bench-mlflow-")
        mlflow.set_tracking_uri(f"sqlite:///{where}/m.db")
        mlflow.create_experiment("bench", artifact_location=f"{where}/artifacts")
        mlflow.set_experiment("bench")
    mk.set_workspace(tempfile.mkdtemp(prefix="bench-autolog-"))

    iris = load_iris(return_X_y=True)
    big = make_classification(n_samples=4000, n_features=30, random_state=0)

    def tiny() -> None:
        LogisticRegression(max_iter=500).fit(*iris)

    def forest(n: int) -> Callable[[], None]:
        def fit() -> None:
            RandomForestClassifier(n_estimators=n, random_state=0, n_jobs=1).fit(*big)

        return fit

    costs = []
    for _ in range(3):  # the machine may be shared: calibrate on the median of three
        t = time.perf_counter()
        forest(20)()
        costs.append((time.perf_counter() - t) / 20)
    n_trees = max(5, int(1.0 / statistics.median(costs)))
    one_second = forest(n_trees)
    print(f"  RandomForest calibrated to {n_trees} trees for ~1 s", flush=True)

    def timed(fn: Callable[[], None]) -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    def with_ours(fn: Callable[[], None]) -> float:
        mk.autolog()
        try:
            return timed(fn)
        finally:
            mk.autolog(disable=True)

    def with_theirs(fn: Callable[[], None]) -> float:
        if mlflow is None:
            return timed(fn)
        mlflow.sklearn.autolog(silent=True)
        try:
            return timed(fn)
        finally:
            mlflow.sklearn.autolog(disable=True)

    anchor = (
        f"mlflow {mlflow.__version__} sklearn.autolog()" if mlflow else "the fit without autolog"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, fn in (
            ("tiny fit (LogisticRegression, iris)", tiny),
            ("~1 s fit (RandomForest, 4000x30)", one_second),
        ):
            with_ours(fn), with_theirs(fn)  # warm-up: imports, patch tables, databases
            ours, theirs, plain = [], [], []
            for _ in range(reps):  # A B plain, A B plain, ...
                ours.append(with_ours(fn))
                theirs.append(with_theirs(fn))
                plain.append(timed(fn))
            print(f"  plain fit: median {statistics.median(plain):.3f} s", flush=True)
            row(f"autologged {label}", anchor, ours, theirs, "s", "<= 1")
            over = [max(o - p, 0.0) for o, p in zip(ours, plain)]
            over_theirs = [max(o - p, 1e-9) for o, p in zip(theirs, plain)]
            if mlflow is not None:
                row(
                    f"  autolog overhead over the plain {label}",
                    anchor,
                    over,
                    over_theirs,
                    "s",
                    "<= 1",
                )


def bench_system(seconds: float) -> None:
    """CPU share of one core the sampler costs at the default interval.

    Measured as (CPU per sample, including writing it) / interval + (CPU per wake-up)
    / wake-up period, each from many repetitions in this thread (a live sampler's
    thread time is below the OS's 10 ms accounting tick); a live sampler then runs
    for ``seconds`` as a check of the number of samples.
    """
    import psutil

    import mlopskit as mk
    from mlopskit.tracking import _system

    os.environ.pop("MLOPSKIT_SYSTEM_METRICS_INTERVAL", None)
    mk.set_workspace(tempfile.mkdtemp(prefix="bench-system-"))
    tracker = mk.tracking.current_tracker()
    shares = []
    with tracker.start_run("system-cost", capture_env=False) as run:
        psutil.cpu_percent(interval=None)
        start_io = _system._io_counters(psutil)
        for rep in range(5):
            t0 = time.thread_time()
            for i in range(40):
                run.log_metrics(_system.sample_system(psutil, "/", start_io), step=rep * 40 + i)
                run.flush()
            per_sample = (time.thread_time() - t0) / 40
            event = threading.Event()
            t0 = time.thread_time()
            for _ in range(2000):
                event.wait(0)
            per_wake = (time.thread_time() - t0) / 2000
            shares.append(per_sample / _system.DEFAULT_INTERVAL + per_wake / _system._POLL)
    row(
        f"system metrics sampler, {_system.DEFAULT_INTERVAL:.0f} s interval: share of one core",
        "goal: 1% of one core",
        shares,
        [0.01] * len(shares),
        "core",
        "<= 1",
    )
    with tracker.start_run("system", log_system_metrics=True, capture_env=False) as live:
        time.sleep(seconds)
    samples = len(live.metric_history("system/cpu_utilization_percentage"))
    print(f"  live sampler: {samples} samples in {seconds:.0f} s at the default interval")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer reps, 30 s of sampling")
    parser.add_argument("--json", help="write {'bench': 'autolog', 'rows': [...]} here")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}; mlflow: {have('mlflow')}")
    # Every workspace and MLflow store of this run goes under one directory removed at the end.
    with tempfile.TemporaryDirectory(prefix="bench-autolog-run-") as work:
        tempfile.tempdir = work
        try:
            bench_fits(3 if args.quick else 5)
            if have("psutil"):
                bench_system(30.0 if args.quick else 90.0)
        finally:
            tempfile.tempdir = None
    if args.json:
        Path(args.json).write_text(json.dumps({"bench": "autolog", "rows": ROWS}, indent=1))


if __name__ == "__main__":
    main()
