"""Export benchmark: writing a 100 MB package out for a serving engine against a plain
copy of its files, same run.

    python benchmarks/bench_export.py [--quick] [--json PATH]

The package is a 100 MB ``.npy`` weight array in a local store. Each pair times
mlopskit's adapter (``deploy.mlflow.export``, ``deploy.docker.context``: the payload is
copied from the store's object file, the small files are written) and the anchor, a
plain ``shutil.copyfile`` of the payload's object file into a new directory; the two
alternate (ABAB), each writing to a fresh directory that is removed afterwards. Each
figure is the median of the per-pair ratios mlopskit/anchor (lower is better), with
min and max; the goal is <= 1.5 (issue 9).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

ROWS: list[dict[str, Any]] = []


def add_row(row: str, pairs: list[tuple[float, float]], goal: float) -> None:
    ratios = [m / a for m, a in pairs]
    ratio = statistics.median(ratios)
    entry = {
        "row": row,
        "mode": "local store -> local dir",
        "anchor": "shutil.copyfile of the payload",
        "ratio": round(ratio, 4),
        "min": round(min(ratios), 4),
        "max": round(max(ratios), 4),
        "n": len(ratios),
        "goal": f"<= {goal:g}",
        "met": bool(ratio <= goal),
        "mlopskit": statistics.median(m for m, _ in pairs),
        "anchor_value": statistics.median(a for _, a in pairs),
        "unit": "s (ratio: mlopskit/anchor)",
    }
    ROWS.append(entry)
    print(
        f"{row:<40} {entry['mlopskit']:.4f}s vs {entry['anchor_value']:.4f}s  ratio {ratio:.3f} "
        f"[{min(ratios):.3f}, {max(ratios):.3f}] goal <= {goal:g} "
        f"{'met' if entry['met'] else 'NOT met'}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 pairs instead of 7")
    ap.add_argument("--json", help="also write the rows to this file")
    opts = ap.parse_args()
    import numpy as np

    from mlopskit.deploy import ModelPackage, docker, mlflow
    from mlopskit.store import ArtifactStore

    pairs_n = 3 if opts.quick else 7
    with tempfile.TemporaryDirectory() as tmp:
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

        def timed(fn: Any) -> float:
            out = fresh()
            t0 = time.perf_counter()
            fn(pkg, out)
            dt = time.perf_counter() - t0
            shutil.rmtree(out)
            return dt

        for name, fn in (
            ("deploy.mlflow.export", mlflow.export),
            ("deploy.docker.context", docker.context),
        ):
            timed(fn), anchor()  # warm the page cache and imports
            pairs = []
            for _ in range(pairs_n):
                m = timed(fn)
                a = anchor()
                pairs.append((m, a))
            add_row(f"export 100 MB package: {name}", pairs, 1.5)
    if opts.json:
        Path(opts.json).write_text(json.dumps(ROWS, indent=1) + "\n")


if __name__ == "__main__":
    main()
