"""Compare two benchmark records and flag every ratio that got more than 20% worse.

    python benchmarks/compare.py OLD.json NEW.json [--threshold 0.2] [--with EARLIER.json ...]

Rows are matched by (bench, row, mode). A ratio is a cost ratio (mlopskit / anchor for
times, anchor / mlopskit for rates), so lower is better, unless a row's goal says ``>=``.
The change is ``new / old`` (``old / new`` for a ``>=`` goal), so 1.25 means 25% worse
whichever the direction; rows without a ratio are skipped. Exit status: 1 when any matched row is worse by more than
the threshold, else 0. Rows present in only one record are listed, not flagged.

The "observed" column says whether the new ratio lies within the old spread: the old
run's smallest and largest per-pair ratio, or with ``--with`` (earlier records of the same
code, as ``render.py --with`` renders them) the smallest and largest over OLD and every
EARLIER record. The "stated" column checks the range docs/performance.md states a re-run
is expected in: that spread widened by 20% on each side (``_bench.rerun_range``). Both at
the precision the page prints (three significant digits, ``_bench.stated``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import RERUN_TOLERANCE, as_stated, higher_is_better, rerun_range

Key = tuple[str, str, str]


def rows_by_key(record: dict[str, Any]) -> dict[Key, dict[str, Any]]:
    """Every row of a record under (bench, row, mode)."""
    return {
        (b["bench"], r["row"], r["mode"]): r
        for b in record.get("benches", [])
        for r in b["rows"]
        if r.get("ratio") is not None
    }


def worse_by(old: dict[str, Any], new: dict[str, Any]) -> float:
    """How many times worse the new ratio is (> 1 worse, < 1 better)."""
    a, b = float(old["ratio"]), float(new["ratio"])
    if a <= 0 or b <= 0:
        return float("inf") if a != b else 1.0
    return a / b if higher_is_better(new) else b / a


def compare(
    old: dict[str, Any],
    new: dict[str, Any],
    threshold: float = RERUN_TOLERANCE,
    earlier: Sequence[dict[str, Any]] = (),
) -> tuple[list[dict[str, Any]], list[Key], list[Key]]:
    """Per matched row: key, old and new ratio, change, flagged, in_observed, in_spread;
    then only-old, only-new.

    ``in_observed``: within the old per-pair spread; ``in_spread``: within the range the page
    states for a re-run (:func:`_bench.rerun_range` of it). ``earlier``: more records of the
    old code; they widen the spread.
    """
    a, b = rows_by_key(old), rows_by_key(new)
    more = [rows_by_key(e) for e in earlier]
    out = []
    for key in [k for k in a if k in b]:
        ro, rn = a[key], b[key]
        change = worse_by(ro, rn)
        runs = [ro, *(m[key] for m in more if key in m)]
        lows = [r["min"] for r in runs if r.get("min") is not None]
        highs = [r["max"] for r in runs if r.get("max") is not None]
        have = bool(lows and highs)
        lo, hi = (min(lows), max(highs)) if have else (0.0, 0.0)
        r_lo, r_hi = rerun_range(lo, hi)
        now = as_stated(rn["ratio"])
        out.append(
            {
                "key": key,
                "old": ro["ratio"],
                "new": rn["ratio"],
                "change": change,
                "flagged": change > 1 + threshold,
                "in_observed": have and as_stated(lo) <= now <= as_stated(hi),
                "in_spread": have and as_stated(r_lo) <= now <= as_stated(r_hi),
                "goal_lost": ro.get("met") is True and rn.get("met") is False,
            }
        )
    return out, [k for k in a if k not in b], [k for k in b if k not in a]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument(
        "--threshold", type=float, default=RERUN_TOLERANCE, help="0.2 = flag >20%% worse"
    )
    ap.add_argument(
        "--with",
        dest="earlier",
        action="append",
        default=[],
        metavar="EARLIER",
        help="an earlier record of the old code; widens the old spread (repeatable)",
    )
    args = ap.parse_args(argv)
    old = json.loads(Path(args.old).read_text(encoding="utf-8"))
    new = json.loads(Path(args.new).read_text(encoding="utf-8"))
    earlier = [json.loads(Path(p).read_text(encoding="utf-8")) for p in args.earlier]
    rows, only_old, only_new = compare(old, new, args.threshold, earlier)
    print(f"{'bench / row [mode]':<70} {'old':>9} {'new':>9} {'change':>8}  observed stated")
    for r in rows:
        bench, name, mode = r["key"]
        mark = "  WORSE" if r["flagged"] else ""
        if r["goal_lost"]:
            mark += "  goal lost"
        print(
            f"{f'{bench} / {name} [{mode}]':<70} {r['old']:>9.4g} {r['new']:>9.4g} "
            f"{r['change']:>7.2f}x  {'yes' if r['in_observed'] else 'no':<8} "
            f"{'yes' if r['in_spread'] else 'no':<3}{mark}"
        )
    for k in only_old:
        print(f"only in {args.old}: {' / '.join(k)}")
    for k in only_new:
        print(f"only in {args.new}: {' / '.join(k)}")
    flagged = [r for r in rows if r["flagged"]]
    inside = sum(r["in_spread"] for r in rows)
    observed = sum(r["in_observed"] for r in rows)
    print(
        f"\n{len(rows)} rows compared, {inside} within the stated re-run range "
        f"(the old spread widened by {RERUN_TOLERANCE:.0%}), {observed} within the old spread, "
        f"{len(flagged)} more than {args.threshold:.0%} worse"
    )
    return 1 if flagged else 0


if __name__ == "__main__":
    raise SystemExit(main())
