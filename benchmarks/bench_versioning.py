"""@versioned and datasets against joblib.Memory and DVC 3.x, paired in the same run.

    nox -s bench_versioning                 # or nox -s bench_all for the whole record
    python benchmarks/bench_versioning.py [--quick] [--reps N] [--json PATH]

Cases (A = mlopskit, B = the anchor, alternating ABAB after one warm-up of each; a row is
the median of the per-pair ratios A/B with their min and max):

1. cache hit with a 100 MiB float64 ndarray argument: ``@versioned`` (sha256, then
   blake3) vs ``joblib.Memory.cache``, in-process (joblib has no CLI);
2. cache hit with tiny arguments (per-call overhead), in-process;
3. committing a 1,000,000-row DataFrame: ``datasets.commit`` vs writing the same data as
   Parquet and adding it to DVC, in both modes: ``in-process`` (``to_parquet`` +
   ``dvc.repo.Repo.add``, DVC's Python API) and ``process`` (A: a Python process that
   loads the frame and commits it; B: a Python process that loads it and writes the
   Parquet file, then ``dvc add``, the CLI a DVC user runs);
4. the same commit vs ``Repo.add`` of the already written Parquet file alone (in-process).

Temporary stores, DVC's site cache and mlopskit's cache live in one temporary directory,
removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _bench import Bench, abab, isolated, make_row, timed, versions  # noqa: E402

MiB = 1024 * 1024
PY = sys.executable

COMMIT_PROC = """
import sys, pandas as pd
from mlopskit.store import ArtifactStore
from mlopskit.versioning import Datasets
frame = pd.read_pickle(sys.argv[2]); frame.loc[0, "x"] = float(sys.argv[3])
Datasets(ArtifactStore(sys.argv[1])).commit("big", frame)
"""
PARQUET_PROC = """
import sys, pandas as pd
frame = pd.read_pickle(sys.argv[2]); frame.loc[0, "x"] = float(sys.argv[3])
frame.to_parquet(sys.argv[1], engine="pyarrow", compression="zstd")
"""


def add(bench: Bench, row: str, mode: str, anchor: str, xs: list[float], ys: list[float],
        goal: str | None, unit: str = "s") -> None:  # fmt: skip
    bench.add(make_row(row, mode=mode, anchor=anchor, a=xs, b=ys, unit=unit, goal=goal))


def bench_hits(bench: Bench, work: Path, reps: int, mib: int) -> None:
    import joblib
    import numpy as np

    from mlopskit.store import ArtifactStore
    from mlopskit.versioning import versioned

    label = f"joblib {joblib.__version__} Memory.cache"
    arr = np.random.default_rng(0).random(mib * MiB // 8)
    memory = joblib.Memory(str(work / "joblib"), verbose=0)

    def total(x: Any) -> float:
        return float(x[:1000].sum())

    jl = memory.cache(total)
    store = ArtifactStore(work / "mk")
    mk_sha = versioned(store=store)(total)
    cases: list[tuple[str, Callable[..., Any], str]] = [("sha256", mk_sha, "<= 0.6")]
    try:
        import blake3  # noqa: F401

        cases.append(("blake3", versioned(store=store, hash="blake3")(total), "<= 0.2"))
    except ImportError:
        bench.skipped("@versioned hit with hash='blake3' (install mlopskit[fast])")
    jl(arr)
    for _, f, _ in cases:
        f(arr)  # miss: store the output
    for name, f, goal in cases:
        xs, ys = abab(lambda f=f: timed(lambda: f(arr)), lambda: timed(lambda: jl(arr)), reps)
        add(bench, f"@versioned hit, {mib} MiB ndarray argument, {name}", "in-process", label,
            xs, ys, goal)  # fmt: skip

    def tiny(x: int, y: str = "a") -> int:
        return x + len(y)

    jt = memory.cache(tiny)
    mt = versioned(store=store)(tiny)
    jt(1)
    mt(1)
    n = 500

    def loop(f: Callable[..., Any]) -> Callable[[], float]:
        def go() -> float:
            t0 = time.perf_counter()
            for _ in range(n):
                f(1, y="abc")
            return (time.perf_counter() - t0) / n

        return go

    xs, ys = abab(loop(mt), loop(jt), reps)
    add(bench, "@versioned hit, tiny arguments (per call)", "in-process", label, xs, ys, "<= 1")


def bench_commit(bench: Bench, work: Path, reps: int, rows: int) -> None:
    import numpy as np
    import pandas as pd

    from mlopskit.store import ArtifactStore
    from mlopskit.versioning import Datasets

    beside = Path(PY).with_name("dvc")  # the venv running this script
    exe = str(beside) if beside.exists() else shutil.which("dvc")
    try:
        from dvc.repo import Repo
    except ImportError:
        Repo = None
    if exe is None or Repo is None:
        bench.skipped("datasets.commit vs DVC (dvc not installed: nox -s bench_versioning has it)")
        return
    dvc_label = f"dvc {versions(['dvc'])['dvc']}"
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "x": rng.random(rows),
            "y": rng.integers(0, 1000, rows),
            "cat": pd.Categorical(rng.choice(["a", "b", "c", "d"], rows)),
        }
    )
    pickled = work / "frame.pkl"
    frame.to_pickle(pickled)
    counter = [0]

    def bump() -> str:
        counter[0] += 1
        frame.loc[0, "x"] = float(counter[0])  # new content each time: a real commit
        return str(float(counter[0]))

    repo = work / "dvcrepo"
    repo.mkdir()
    subprocess.run([exe, "init", "--no-scm", "-q"], cwd=repo, check=True)
    target = repo / "data.parquet"
    datasets = Datasets(ArtifactStore(work / "mkds"))
    mkds = str(work / "mkds")

    def repo_add() -> None:
        here = os.getcwd()
        os.chdir(repo)
        try:
            with Repo(str(repo)) as r:
                r.add(target.name)
        finally:
            os.chdir(here)

    def a_api() -> float:
        bump()
        return timed(lambda: datasets.commit("big", frame))

    def b_api() -> float:
        bump()

        def go() -> None:
            frame.to_parquet(target, engine="pyarrow", compression="zstd")
            repo_add()

        return timed(go)

    def a_proc() -> float:
        v = bump()
        return timed(
            lambda: subprocess.run([PY, "-c", COMMIT_PROC, mkds, str(pickled), v], check=True)
        )

    def b_proc() -> float:
        v = bump()

        def go() -> None:
            subprocess.run([PY, "-c", PARQUET_PROC, str(target), str(pickled), v], check=True)
            subprocess.run([exe, "add", "-q", target.name], cwd=repo, check=True)

        return timed(go)

    what = f"datasets.commit of a {rows:,}-row DataFrame vs to_parquet + dvc add"
    xs, ys = abab(a_api, b_api, reps)
    add(bench, what, "in-process", f"to_parquet + {dvc_label} Repo.add", xs, ys, None)
    xs, ys = abab(a_proc, b_proc, reps)
    add(bench, what, "process", f"python to_parquet; {dvc_label} add (CLI)", xs, ys, None)

    def b_add_only() -> float:
        bump()
        frame.to_parquet(target, engine="pyarrow", compression="zstd")
        return timed(repo_add)

    xs, ys = abab(a_api, b_add_only, reps)
    add(bench, f"datasets.commit of a {rows:,}-row DataFrame vs dvc add of its Parquet file",
        "in-process", f"{dvc_label} Repo.add", xs, ys, None)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="10 MiB, 100,000 rows, 3 pairs")
    parser.add_argument("--json", help="write this bench's record here")
    args = parser.parse_args()
    mib, rows = (10, 100_000) if args.quick else (100, 1_000_000)
    if args.quick:
        args.reps = 3
    bench = Bench("versioning")
    work = Path(tempfile.mkdtemp(prefix="bench-versioning-"))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {args.reps} pairs", flush=True)
    try:
        with isolated(work):  # before joblib or DVC is imported
            bench_hits(bench, work, args.reps, mib)
            bench_commit(bench, work, args.reps, rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bench.summary()
    bench.write(args.json)


if __name__ == "__main__":
    main()
