"""mlopskit.drift against Evidently 0.7.23, a scipy KS loop and a plain numpy PSI loop.

Run it with ``nox -s bench_drift`` (a venv with evidently==0.7.23 and pandas<3, because
Evidently does not import under pandas 3), or directly::

    python benchmarks/bench_drift.py [--n 1000000] [--reps 5] [--evidently-reps 1]

Data: reference and current, ``n`` rows x 20 float64 columns of N(0, 1), seed 42; the
current data is shifted in three columns (col_00 + 0.2, col_01 x 1.3, col_02 + 0.05).

Methods, each timed in this one process (medians of ``--reps`` runs after a warm-up;
Evidently takes about a minute per report at 1M rows, so it runs ``--evidently-reps``
times, one by default):

- ``evidently_psi`` / ``evidently_ks``: ``Report([DataDriftPreset(method=...)]).run`` plus
  ``snapshot.dict()``;
- ``scipy_ks_loop``: ``scipy.stats.ks_2samp`` per column;
- ``numpy_psi_loop``: 10 reference-quantile bins, open outer bins, shares floored at 1e-4;
- ``mlopskit_psi``: ``compare(ref, cur, method="psi")`` (fit on the raw reference + score);
- ``mlopskit_psi_profile``: ``compare(profile, cur, method="psi")`` with the profile built,
  serialised to JSON and loaded back outside the timed region;
- ``mlopskit_ks``: ``compare(ref, cur, method="ks")``, checked equal to the scipy loop.

Memory: the extra peak of ``compare`` over what is allocated before it (tracemalloc, which
sees numpy's buffers), in a separate untimed run, against the bytes of both inputs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("DO_NOT_TRACK", "1")

from mlopskit import drift


def make_data(n: int, cols: int = 20, seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current frames, three current columns shifted."""
    rng = np.random.default_rng(seed)
    names = [f"col_{i:02d}" for i in range(cols)]
    ref = pd.DataFrame({c: rng.normal(size=n) for c in names})
    cur = pd.DataFrame({c: rng.normal(size=n) for c in names})
    cur["col_00"] += 0.2
    cur["col_01"] *= 1.3
    cur["col_02"] += 0.05
    return ref, cur


def scipy_ks_loop(ref: pd.DataFrame, cur: pd.DataFrame) -> list[tuple[float, float]]:
    from scipy.stats import ks_2samp

    out = []
    for c in ref.columns:
        r = ks_2samp(ref[c].to_numpy(), cur[c].to_numpy())
        out.append((float(r.statistic), float(r.pvalue)))
    return out


def numpy_psi_loop(ref: pd.DataFrame, cur: pd.DataFrame) -> list[float]:
    out = []
    for c in ref.columns:
        r, k = ref[c].to_numpy(), cur[c].to_numpy()
        edges = np.quantile(r, np.linspace(0, 1, 11))
        rp = np.bincount(np.searchsorted(edges[1:-1], r), minlength=10) / r.size
        cp = np.bincount(np.searchsorted(edges[1:-1], k), minlength=10) / k.size
        rp, cp = np.maximum(rp, 1e-4), np.maximum(cp, 1e-4)
        out.append(float(np.sum((cp - rp) * np.log(cp / rp))))
    return out


def evidently_report(ref: pd.DataFrame, cur: pd.DataFrame, method: str) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from evidently import Report
        from evidently.presets import DataDriftPreset

        return Report([DataDriftPreset(method=method)]).run(cur, ref).dict()  # type: ignore[no-any-return]


def timed(fn: Callable[[], Any], reps: int, warmup: int = 1) -> tuple[float, list[float], Any]:
    for _ in range(warmup):
        fn()
    times, result = [], None
    for _ in range(reps):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result


def extra_peak(fn: Callable[[], Any]) -> int:
    """Bytes allocated at the peak of ``fn`` above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--evidently-reps", type=int, default=1)
    ap.add_argument("--skip-evidently", action="store_true")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()

    ref, cur = make_data(args.n)
    input_bytes = int(ref.memory_usage(index=False).sum() + cur.memory_usage(index=False).sum())
    print(f"data: {args.n:,} rows x 20 float64 columns each side ({input_bytes / 2**20:.0f} MiB)")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}")

    stored = drift.profile(ref).to_json()
    prof = drift.ReferenceProfile.from_json(stored)
    print(f"profile: {len(stored) / 2**10:.0f} KiB of JSON, exact={prof.exact}")

    rows: dict[str, dict[str, Any]] = {}

    def run(name: str, fn: Callable[[], Any], reps: int, warmup: int = 1) -> Any:
        med, times, result = timed(fn, reps, warmup)
        rows[name] = {"median_s": med, "runs": len(times), "min_s": min(times), "max_s": max(times)}
        print(
            f"  {name:<22} median {med:8.3f} s  ({len(times)} runs, {min(times):.3f}-{max(times):.3f})"
        )
        return result

    print("timing:")
    numpy_psi = run("numpy_psi_loop", lambda: numpy_psi_loop(ref, cur), args.reps)
    scipy_ks = run("scipy_ks_loop", lambda: scipy_ks_loop(ref, cur), max(3, args.reps // 2))
    mk_psi = run("mlopskit_psi", lambda: drift.compare(ref, cur, method="psi"), args.reps)
    run("mlopskit_psi_profile", lambda: drift.compare(prof, cur, method="psi"), args.reps)
    mk_ks = run("mlopskit_ks", lambda: drift.compare(ref, cur, method="ks"), args.reps)
    if not args.skip_evidently and not _evidently_available():
        print("  (evidently is not importable here: use `nox -s bench_drift`; skipping it)")
        args.skip_evidently = True
    if not args.skip_evidently:
        run(
            "evidently_psi",
            lambda: evidently_report(ref, cur, "psi"),
            args.evidently_reps,
            warmup=0,
        )
        run("evidently_ks", lambda: evidently_report(ref, cur, "ks"), args.evidently_reps, warmup=0)

    ks_same = all(
        row.statistic == pytest_free_approx(d) and row.p_value == pytest_free_approx(p)
        for row, (d, p) in zip(mk_ks.columns, scipy_ks)
    )
    max_ks_rel = max(
        max(_rel(row.statistic, d), _rel(row.p_value, p))
        for row, (d, p) in zip(mk_ks.columns, scipy_ks)
    )
    max_psi_diff = max(abs(row.statistic - v) for row, v in zip(mk_psi.columns, numpy_psi))

    print("memory (tracemalloc, extra peak during the call / bytes of both inputs):")
    mem = {
        "mlopskit_psi": extra_peak(lambda: drift.compare(ref, cur, method="psi")),
        "mlopskit_ks": extra_peak(lambda: drift.compare(ref, cur, method="ks")),
        "mlopskit_psi_profile": extra_peak(lambda: drift.compare(prof, cur, method="psi")),
    }
    for name, b in mem.items():
        print(f"  {name:<22} {b / 2**20:8.1f} MiB = {b / input_bytes:.2f}x the input")

    med = {k: v["median_s"] for k, v in rows.items()}
    print("ratios (medians, same run; > 1 means mlopskit is faster):")
    ratios: dict[str, float] = {}
    if "evidently_psi" in med:
        ratios["evidently_psi / mlopskit_psi"] = med["evidently_psi"] / med["mlopskit_psi"]
        ratios["evidently_psi / mlopskit_psi_profile"] = (
            med["evidently_psi"] / med["mlopskit_psi_profile"]
        )
        ratios["evidently_ks / mlopskit_ks"] = med["evidently_ks"] / med["mlopskit_ks"]
    ratios["mlopskit_psi / mlopskit_psi_profile"] = (
        med["mlopskit_psi"] / med["mlopskit_psi_profile"]
    )
    ratios["scipy_ks_loop / mlopskit_ks"] = med["scipy_ks_loop"] / med["mlopskit_ks"]
    ratios["numpy_psi_loop / mlopskit_psi"] = med["numpy_psi_loop"] / med["mlopskit_psi"]
    for k, v in ratios.items():
        print(f"  {k:<40} {v:7.1f}x")
    print(
        f"KS equal to scipy for all 20 columns: {ks_same} (max relative difference {max_ks_rel:.1e})"
    )
    print(f"PSI vs the plain numpy loop: max |difference| {max_psi_diff:.1e}")
    targets = {
        "PSI >= 30x Evidently": ratios.get("evidently_psi / mlopskit_psi", float("nan")) >= 30,
        "PSI from profile >= 3x raw": ratios["mlopskit_psi / mlopskit_psi_profile"] >= 3,
        "KS >= 2x scipy loop, identical": ratios["scipy_ks_loop / mlopskit_ks"] >= 2 and ks_same,
        "extra memory <= 0.5x input": max(mem.values()) <= 0.5 * input_bytes,
    }
    for k, ok in targets.items():
        print(f"  target {k:<34} {'met' if ok else 'NOT met'}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(
                {
                    "n": args.n,
                    "timings": rows,
                    "ratios": ratios,
                    "memory_bytes": mem,
                    "input_bytes": input_bytes,
                    "ks_identical": ks_same,
                    "targets": targets,
                },
                fh,
                indent=2,
            )


def _evidently_available() -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import evidently  # noqa: F401
    except ImportError:
        return False
    return True


def _rel(a: float | None, b: float) -> float:
    assert a is not None
    return 0.0 if a == b else abs(a - b) / max(abs(b), 1e-300)


def pytest_free_approx(x: float) -> float:
    """Identity: the comparison is exact equality (bit for bit)."""
    return x


if __name__ == "__main__":
    main()
