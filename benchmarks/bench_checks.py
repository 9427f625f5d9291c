"""What a data check costs over the drift comparison it wraps.

    python benchmarks/bench_checks.py [--n 200000] [--reps 5]

Data: reference and current, ``n`` rows x 10 float64 columns of N(0, 1) plus 2 string
columns of 5 categories, seed 42 (current: column x0 shifted by 0.1).

Timed, alternating A B A B after one warm-up each, medians of ``--reps``:

- A ``drift.compare``: ``mk.drift.compare(ref, cur, method="psi")`` — the anchor;
- B ``checks.check_data``: ``check_data(cur, ref, drift={"method": "psi"}, record=False)``
  — both sides profiled, schema, nulls, categories, rows, and the same comparison.

The ratio B / A is the price of the extra rules. Recording (one run + a JSON artifact)
is timed separately on a local workspace (``record=True`` minus ``record=False``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import mlopskit as mk
from mlopskit.checks import check_data


def make_data(n: int, seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def frame(shift: float) -> pd.DataFrame:
        data: dict[str, Any] = {f"x{i}": rng.normal(size=n) for i in range(10)}
        data["x0"] = data["x0"] + shift
        for c in ("c0", "c1"):
            data[c] = rng.choice(["a", "b", "c", "d", "e"], size=n)
        return pd.DataFrame(data)

    return frame(0.0), frame(0.1)


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    ref, cur = make_data(args.n)

    def anchor() -> Any:
        return mk.drift.compare(ref, cur, method="psi")

    def ours() -> Any:
        return check_data(cur, ref, drift={"method": "psi"}, max_row_change=None, record=False)

    assert ours().findings[-1].passed == (not anchor().drifted)  # the same drift verdict
    anchor(), ours()  # warm-up
    a, b = [], []
    for _ in range(args.reps):
        a.append(timed(anchor))
        b.append(timed(ours))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"rows={args.n} cols=12 reps={args.reps}")
    print(f"drift.compare (anchor)   median {ma * 1000:9.1f} ms")
    print(f"checks.check_data        median {mb * 1000:9.1f} ms   ratio {mb / ma:.2f}x")

    small_ref, small_cur = ref.head(1000), cur.head(1000)
    with tempfile.TemporaryDirectory() as tmp, mk.Workspace(tmp):
        check_data(small_cur, small_ref, max_row_change=None)  # warm-up: creates the DB
        rec, bare = [], []
        for _ in range(args.reps):
            rec.append(timed(lambda: check_data(small_cur, small_ref, max_row_change=None)))
            bare.append(
                timed(lambda: check_data(small_cur, small_ref, max_row_change=None, record=False))
            )
        cost = statistics.median(rec) - statistics.median(bare)
        print(f"recording one check (run + check.json, local workspace): {cost * 1000:.1f} ms")


if __name__ == "__main__":
    main()
