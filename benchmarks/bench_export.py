"""Export benchmark: writing a 100 MB package out for a serving engine against a plain
copy of its files, same run.

    python benchmarks/bench_export.py [--quick] [--json PATH]

The package is a 100 MB ``.npy`` weight array in a local store. Each pair times
mlopskit's adapter (``deploy.mlflow.export``, ``deploy.docker.context``: the payload is
copied from the store's object file, the small files are written, the export is
recorded in lineage and in the package's export log) and the anchor, a plain
``shutil.copyfile`` of the payload's object file into a new directory. Both run in this
process, alternating (ABAB, ``benchmarks/_bench.py``) after a warm-up of each, each
writing to a fresh directory that is removed outside the timed region. A row is the
median of the per-pair ratios mlopskit/anchor with min and max; the goal is <= 1.5
(issue 9).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _bench import Bench, abab, make_row  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 pairs instead of 7")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json", help="write this bench's record here")
    opts = ap.parse_args()
    import numpy as np

    from mlopskit.deploy import ModelPackage, docker, mlflow
    from mlopskit.store import ArtifactStore

    reps = 3 if opts.quick else opts.reps
    bench = Bench("export")
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        root = Path(tmp)
        store = ArtifactStore(root / "store")
        weights = np.random.default_rng(0).normal(size=(100 * 2**20) // 8)
        pkg = ModelPackage.from_model(weights, name="big", store=store)
        src = store.stat(pkg.manifest.model).path
        print(f"package payload: {pkg.manifest.model.size / 2**20:.0f} MiB", flush=True)
        n = 0

        def fresh() -> Path:
            nonlocal n
            n += 1
            return root / f"out{n}"

        def anchor() -> float:
            out = fresh()
            t0 = time.perf_counter()
            out.mkdir()
            shutil.copyfile(src, out / "model.npy")
            dt = time.perf_counter() - t0
            shutil.rmtree(out)
            return dt

        def adapter(fn: Any) -> Any:
            def go() -> float:
                out = fresh()
                t0 = time.perf_counter()
                fn(pkg, out)
                dt = time.perf_counter() - t0
                shutil.rmtree(out)
                return dt

            return go

        for name, fn in (
            ("deploy.mlflow.export", mlflow.export),
            ("deploy.docker.context", docker.context),
        ):
            xs, ys = abab(adapter(fn), anchor, reps)
            bench.add(
                make_row(
                    f"export 100 MB package: {name}",
                    mode="in-process",
                    anchor="shutil.copyfile of the payload (same store, same disk)",
                    a=xs,
                    b=ys,
                    unit="s",
                    goal="<= 1.5",
                )
            )
    bench.summary()
    bench.write(opts.json)


if __name__ == "__main__":
    main()
