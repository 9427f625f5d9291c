"""@versioned and datasets against joblib.Memory and DVC, paired in the same run.

    nox -s bench_versioning                 # or: python benchmarks/bench_versioning.py [--reps N]

Cases (A = mlopskit, B = the anchor; medians of several runs, A and B alternating):

1. cache hit with a 100 MiB float64 ndarray argument: ``@versioned`` (sha256, then
   blake3) vs ``joblib.Memory.cache`` (targets: ≤ 0.6x with sha256, ≤ 0.2x with blake3);
2. cache hit with a tiny argument (per-call overhead; target: ≤ joblib's);
3. committing a 1,000,000-row DataFrame with ``datasets.commit`` vs writing the same
   data as a Parquet file and ``dvc add``-ing it (and vs ``dvc add`` alone).

Prints one line per case with both medians and the median of the per-pair ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlopskit.store import ArtifactStore
from mlopskit.versioning import Datasets, versioned

MiB = 1024 * 1024


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def paired(a: Callable[[], Any], b: Callable[[], Any], reps: int) -> tuple[float, float, float]:
    """Median of A, median of B, median of the per-pair A/B ratios (one warm-up each)."""
    a()
    b()
    ta, tb = [], []
    for _ in range(reps):
        ta.append(timed(a))
        tb.append(timed(b))
    ratios = [x / y for x, y in zip(ta, tb)]
    return statistics.median(ta), statistics.median(tb), statistics.median(ratios)


def report(case: str, a: str, b: str, result: tuple[float, float, float], unit: str = "ms") -> None:
    scale = 1e3 if unit == "ms" else 1e6
    ma, mb, ratio = result
    print(
        f"{case:<44} {a} {ma * scale:9.3f} {unit} | {b} {mb * scale:9.3f} {unit} | "
        f"ratio {ratio:5.3f}x",
        flush=True,
    )


def bench_hits(work: Path, reps: int) -> None:
    import joblib

    arr = np.random.default_rng(0).random(100 * MiB // 8)
    memory = joblib.Memory(str(work / "joblib"), verbose=0)

    def total(x: np.ndarray) -> float:
        return float(x[:1000].sum())

    jl = memory.cache(total)
    store = ArtifactStore(work / "mk")
    mk_sha = versioned(store=store)(total)
    mk_b3 = versioned(store=store, hash="blake3")(total)
    for f in (jl, mk_sha, mk_b3):
        f(arr)  # miss: store the output
    report(
        "hit, 100 MiB ndarray arg, sha256",
        "mlopskit",
        "joblib",
        paired(lambda: mk_sha(arr), lambda: jl(arr), reps),
    )
    report(
        "hit, 100 MiB ndarray arg, blake3",
        "mlopskit",
        "joblib",
        paired(lambda: mk_b3(arr), lambda: jl(arr), reps),
    )

    def tiny(x: int, y: str = "a") -> int:
        return x + len(y)

    jt = memory.cache(tiny)
    mt = versioned(store=store)(tiny)
    jt(1)
    mt(1)
    n = 500

    def loop(f: Callable[..., Any]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(n):
                f(1, y="abc")

        return run

    ma, mb, ratio = paired(loop(mt), loop(jt), reps)
    report("hit, tiny args (per call)", "mlopskit", "joblib", (ma / n, mb / n, ratio), unit="us")


def bench_commit(work: Path, reps: int) -> None:
    beside = Path(sys.executable).with_name("dvc")  # the venv running this script
    dvc = str(beside) if beside.exists() else shutil.which("dvc")
    rows = 1_000_000
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "x": rng.random(rows),
            "y": rng.integers(0, 1000, rows),
            "cat": pd.Categorical(rng.choice(["a", "b", "c", "d"], rows)),
        }
    )
    counter = [0]

    def fresh() -> pd.DataFrame:
        counter[0] += 1
        frame.loc[0, "x"] = float(counter[0])  # new content each time: a real commit
        return frame

    datasets = Datasets(ArtifactStore(work / "mkds"))
    if dvc is None:
        print("dvc not installed: skipping the dvc comparison (nox -s bench_versioning has it)")
        t = statistics.median(timed(lambda: datasets.commit("big", fresh())) for _ in range(reps))
        print(f"{'commit 1,000,000-row DataFrame':<44} mlopskit {t * 1e3:9.3f} ms")
        return
    repo = work / "dvcrepo"
    repo.mkdir()
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(work / "dvcsite")}
    subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=repo, check=True, env=env)
    target = repo / "data.parquet"

    def dvc_add() -> None:
        subprocess.run([dvc, "add", "-q", target.name], cwd=repo, check=True, env=env)

    def write_and_add() -> None:
        fresh().to_parquet(target, engine="pyarrow", compression="zstd")
        dvc_add()

    report(
        "commit 1M-row DataFrame vs to_parquet+dvc add",
        "mlopskit",
        "dvc",
        paired(lambda: datasets.commit("big", fresh()), write_and_add, reps),
    )

    def add_only_pair() -> tuple[float, float]:
        fresh().to_parquet(target, engine="pyarrow", compression="zstd")
        tb = timed(dvc_add)
        ta = timed(lambda: datasets.commit("big", fresh()))
        return ta, tb

    add_only_pair()
    pairs = [add_only_pair() for _ in range(reps)]
    ta = statistics.median(p[0] for p in pairs)
    tb = statistics.median(p[1] for p in pairs)
    ratio = statistics.median(p[0] / p[1] for p in pairs)
    report("commit 1M-row DataFrame vs dvc add alone", "mlopskit", "dvc", (ta, tb, ratio))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"{os.cpu_count()} CPUs; medians of {args.reps} paired runs"
    )
    with tempfile.TemporaryDirectory(prefix="bench-versioning-") as tmp:
        work = Path(tmp)
        os.environ.setdefault("MLOPSKIT_CACHE_DIR", str(work / "cache"))
        bench_hits(work, args.reps)
        bench_commit(work, args.reps)


if __name__ == "__main__":
    main()
