"""What a data check costs over the drift comparison it wraps.

    python benchmarks/bench_checks.py [--n 200000] [--reps 5] [--quick] [--json PATH]

Data: reference and current, ``n`` rows x 10 float64 columns of N(0, 1) plus 2 string
columns of 5 categories, seed 42 (current: column x0 shifted by 0.1).

Timed, alternating A B A B after one warm-up each, medians of ``--reps``:

- A ``drift.compare``: ``mk.drift.compare(ref, cur, method="psi")`` — the anchor;
- B ``checks.check_data``: ``check_data(cur, ref, drift={"method": "psi"}, record=False)``
  — both sides profiled, schema, nulls, categories, rows, and the same comparison.

The ratio B / A is the price of the extra rules. Recording (one run + a JSON artifact)
is timed on a local workspace as a second row (``record=True`` vs ``record=False``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from _bench import Bench, make_row

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
    parser.add_argument("--quick", action="store_true", help="50,000 rows, 3 reps")
    parser.add_argument("--json", help="write this bench's record here")
    args = parser.parse_args()
    if args.quick:
        args.n, args.reps = min(args.n, 50_000), 3
    bench = Bench("checks")
    ref, cur = make_data(args.n)

    def anchor() -> Any:
        return mk.drift.compare(ref, cur, method="psi")

    def ours() -> Any:
        return check_data(cur, ref, drift={"method": "psi"}, max_row_change=None, record=False)

    assert ours().findings[-1].passed == (not anchor().drifted)  # the same drift verdict
    anchor(), ours()  # warm-up
    a, b = [], []
    for _ in range(args.reps):  # alternating: B (ours) then A (anchor), pair by pair
        b.append(timed(ours))
        a.append(timed(anchor))
    print(f"rows={args.n} cols=12 reps={args.reps}")
    bench.add(
        make_row(
            f"checks.check_data vs drift.compare alone ({args.n:,} x 12)",
            mode="in-process",
            anchor="mk.drift.compare (psi)",
            a=b,
            b=a,
            unit="s",
        )
    )

    small_ref, small_cur = ref.head(1000), cur.head(1000)
    with tempfile.TemporaryDirectory() as tmp, mk.Workspace(tmp):
        check_data(small_cur, small_ref, max_row_change=None)  # warm-up: creates the DB
        rec, bare = [], []
        for _ in range(args.reps):
            rec.append(timed(lambda: check_data(small_cur, small_ref, max_row_change=None)))
            bare.append(
                timed(lambda: check_data(small_cur, small_ref, max_row_change=None, record=False))
            )
        bench.add(
            make_row(
                "check_data recorded (run + check.json) vs not recorded, 1,000 rows",
                mode="in-process",
                anchor="check_data(record=False)",
                a=rec,
                b=bare,
                unit="s",
            )
        )
    bench.summary()
    bench.write(args.json)


if __name__ == "__main__":
    main()
