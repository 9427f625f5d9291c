"""mk.log_model of a 100 MiB model against copying its bytes with shutil.

    python benchmarks/bench_log_model.py [--quick] [--reps N] [--json PATH]

Cases (A = mlopskit, B = the anchor, alternating ABAB after one warm-up of each; a row is
the median of the per-pair ratios A/B with their min and max), in-process:

1. ``mk.log_model(weights, "model")`` of a float64 weight array (stored as ``.npy`` in a
   deployment package: payload hashed and written, manifest, run artifact) vs
   ``shutil.copyfile`` of the same ``.npy`` bytes from a file to a new file (goal
   ``<= 1.2``, issue 12);
2. the same ``log_model`` vs ``shutil.copyfile`` followed by ``os.fsync`` of the copy (a
   durable copy: the store fsyncs every object it writes; no goal);
3. the same ``log_model`` vs ``ArtifactStore.put`` of the array into the same store (the
   store's floor: sha256 of every byte and an atomic, fsynced write; what ``log_model``
   adds on top is the package manifest, its refs and the run artifact; no goal);
4. the same ``log_model`` vs ``numpy.save`` of the array to a new file (no goal);
5. the floor under case 1: ``hashlib.sha256`` of the array's bytes alone (no write) vs
   ``shutil.copyfile`` (an in-kernel page-cache copy on Linux). The store names every
   object by its sha256, so ``log_model`` cannot cost less than this row's A side.

Every pair changes one weight first (outside the timed region), so each ``log_model``
stores new bytes (identical bytes would be deduplicated and write nothing). The store,
the runs and the copies live in one temporary directory, removed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _bench import Bench, abab, isolated, make_row, timed  # noqa: E402

MiB = 1024 * 1024


def bench_log_model(bench: Bench, work: Path, reps: int, mib: int) -> None:
    import numpy as np

    import mlopskit as mk

    weights = np.random.default_rng(0).random((mib * MiB // 8 // 16, 16))
    src = work / "model.npy"
    copies = work / "copies"
    copies.mkdir()
    counter = [0]

    def bump() -> None:
        counter[0] += 1
        weights[0, 0] = counter[0]

    with mk.Workspace(work / "ws"), mk.start_run("bench-log-model") as run:

        def a() -> float:
            bump()
            return timed(lambda: mk.log_model(weights, f"model-{counter[0]}", run=run))

        def b_copy() -> float:
            np.save(src, weights)  # the same bytes, outside the timed region
            dst = copies / f"{counter[0]}.npy"
            took = timed(lambda: shutil.copyfile(src, dst))
            dst.unlink()
            return took

        def b_durable() -> float:
            np.save(src, weights)
            dst = copies / f"{counter[0]}.npy"

            def copy() -> None:
                shutil.copyfile(src, dst)
                fd = os.open(dst, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

            took = timed(copy)
            dst.unlink()
            return took

        store = mk.ArtifactStore(work / "floor")

        def b_put() -> float:
            bump()
            return timed(lambda: store.put(weights))

        def b_save() -> float:
            dst = copies / f"{counter[0]}.npy"
            took = timed(lambda: np.save(dst, weights))
            dst.unlink()
            return took

        xs, ys = abab(a, b_copy, reps)
        bench.add(
            make_row(
                f"log_model of a {mib} MiB weight array vs shutil.copyfile of its .npy",
                mode="in-process",
                anchor="shutil.copyfile",
                a=xs,
                b=ys,
                unit="s",
                goal="<= 1.2",
            )
        )
        for anchor, fn, what in (
            ("shutil.copyfile + os.fsync", b_durable, "a durable copy of its .npy"),
            ("ArtifactStore.put", b_put, "ArtifactStore.put of the array"),
        ):
            xs, ys = abab(a, fn, reps)
            bench.add(
                make_row(
                    f"log_model of a {mib} MiB weight array vs {what}",
                    mode="in-process",
                    anchor=anchor,
                    a=xs,
                    b=ys,
                    unit="s",
                )
            )

        def a_hash() -> float:
            bump()
            return timed(lambda: hashlib.sha256(memoryview(weights).cast("B")).digest())

        xs, ys = abab(a, b_save, reps)
        bench.add(
            make_row(
                f"log_model of a {mib} MiB weight array vs numpy.save to a file",
                mode="in-process",
                anchor=f"numpy {np.__version__} save",
                a=xs,
                b=ys,
                unit="s",
            )
        )
        xs, ys = abab(a_hash, b_copy, reps)
        bench.add(
            make_row(
                f"sha256 of a {mib} MiB weight array alone vs shutil.copyfile of its .npy",
                mode="in-process",
                anchor="shutil.copyfile",
                a=xs,
                b=ys,
                unit="s",
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="10 MiB, 3 pairs")
    parser.add_argument("--json", help="write this bench's record here")
    args = parser.parse_args()
    mib = 10 if args.quick else 100
    if args.quick:
        args.reps = 3
    bench = Bench("log_model")
    work = Path(tempfile.mkdtemp(prefix="bench-log-model-"))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {args.reps} pairs", flush=True)
    try:
        with isolated(work):
            bench_log_model(bench, work, args.reps, mib)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bench.summary()
    bench.write(args.json)


if __name__ == "__main__":
    main()
