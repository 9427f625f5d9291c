"""Render the tables of docs/performance.md from a benchmark record.

    python benchmarks/render.py benchmarks/records/2026-12-01.json            # print them
    python benchmarks/render.py RECORD --docs docs/performance.md             # update the page
    python benchmarks/render.py RECORD --with EARLIER.json --docs docs/performance.md
    python benchmarks/render.py RECORD --only store,sync --with EARLIER.json --docs …

With ``--with`` (records of the same code, measured in separate runs), each row's spread
covers every run: the smallest and largest per-pair ratio of all of them, the pairs
counted over all runs, and each run's median ratio listed — so the spread a reader sees
includes the run-to-run variation, not only the pair-to-pair one. The ratio, the figures
and the verdict are the main record's.

In the page, each bench's table lives between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->`` (``NAME`` as in the record, e.g. ``store``) and the machine line
between ``<!-- bench:machine -->`` and ``<!-- /bench:machine -->``; everything outside
the markers is hand-written prose and is kept as it is.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import (
    RERUN_TOLERANCE,
    failure_notes,
    fmt_value,
    higher_is_better,
    is_rate,
    parse_goal,
    rerun_range,
    row_problems,
    stated,
)


def _num(x: float | None) -> str:
    """A ratio, three significant digits."""
    return "—" if x is None else stated(x)


def reads_as(row: dict[str, Any]) -> str:
    """The cost ratio in words: ``3.6× faster``, ``1.1× slower``, ``14.9× the rate``."""
    r = row.get("ratio")
    if r is None or r <= 0 or higher_is_better(row):
        return "—"
    unit = str(row.get("unit", ""))
    if unit in ("s", "ms", "µs", "us"):
        return f"{_num(1 / r)}× faster" if r <= 1 else f"{_num(r)}× slower"
    if is_rate(unit):
        return f"{_num(1 / r)}× the rate"
    if unit in ("B", "MiB", "bytes"):
        return f"{_num(r)}× the memory"
    return f"{_num(r)}×"


def verdict(row: dict[str, Any], earlier: Sequence[dict[str, Any]] = ()) -> str:
    """``met``, ``**NOT met**`` or ``—`` (no goal); "re-run range crosses the goal" when
    the goal's bound lies within the range a re-run is expected in, so a re-run's
    verdict may differ."""
    if row["met"] is None:
        return "—"
    text = "met" if row["met"] else "**NOT met**"
    seen = _observed(row, earlier)
    if seen is not None and row.get("goal"):
        r_lo, r_hi = rerun_range(seen[0], seen[1])
        if r_lo < parse_goal(row["goal"])[1] < r_hi:
            text += "; re-run range crosses the goal"
    return text


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _key(bench: str, row: dict[str, Any]) -> tuple[str, str, str]:
    return (bench, row["row"], row["mode"])


def _observed(
    row: dict[str, Any], earlier: Sequence[dict[str, Any]] = ()
) -> tuple[float, float, list[dict[str, Any]]] | None:
    """The smallest and largest per-pair ratio of ``row`` and its earlier runs, and those
    runs (``row`` first); None when the row has no spread."""
    if row["min"] is None or row["max"] is None:
        return None
    runs = [row, *(e for e in earlier if e.get("ratio") is not None and e.get("min") is not None)]
    if row["ratio"] is None:
        runs = [row]
    return min(r["min"] for r in runs), max(r["max"] for r in runs), runs


def spread(row: dict[str, Any], earlier: Sequence[dict[str, Any]] = ()) -> str:
    """``min–max, n=N`` of one run, or over several runs with each run's ratio listed; then
    the range a re-run is expected in (:func:`_bench.rerun_range` of that spread)."""
    seen = _observed(row, earlier)
    if seen is None:
        return "—"
    lo, hi, runs = seen
    r_lo, r_hi = rerun_range(lo, hi)
    rerun = f"; re-run {_num(r_lo)}–{_num(r_hi)}"
    if len(runs) == 1:
        return f"{_num(lo)}–{_num(hi)}, n={row['n']}{rerun}"
    pairs = sum(int(r["n"]) for r in runs)
    each = "; ".join(_num(r["ratio"]) for r in runs)
    return f"{_num(lo)}–{_num(hi)}, n={pairs} in {len(runs)} runs ({each}){rerun}"


def table(
    bench: dict[str, Any], earlier: dict[tuple[str, str, str], list[dict[str, Any]]] | None = None
) -> str:
    """The markdown table of one bench's rows (``earlier``: the same rows of other runs)."""
    earlier = earlier or {}
    lines = [
        "| case | mode | mlopskit | anchor (same run) | ratio "
        f"| spread (min–max of pairs; re-run: {RERUN_TOLERANCE:.0%} wider each side) "
        "| reads as | goal | |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    left_out = []
    for r in bench["rows"]:
        if row_problems(r):  # a record written before rows were checked
            left_out.append(
                f"left out, malformed row {r.get('row')!r}: {'; '.join(row_problems(r))}"
            )
            continue
        lines.append(
            "| "
            + " | ".join(
                _cell(c)
                for c in (
                    r["row"],
                    r["mode"],
                    fmt_value(r["mlopskit"], r["unit"]),
                    f"{r['anchor'] or '—'} {fmt_value(r['anchor_value'], r['unit'])}",
                    f"**{_num(r['ratio'])}×**" if r["ratio"] is not None else "—",
                    spread(r, earlier.get(_key(bench["bench"], r), [])),
                    reads_as(r),
                    r["goal"] or "—",
                    verdict(r, earlier.get(_key(bench["bench"], r), [])),
                )
            )
            + " |"
        )
    for note in [*bench.get("notes", []), *left_out]:
        lines.append("")
        lines.append(f"*{_cell(note)}*")
    return "\n".join(lines)


def machine_line(record: dict[str, Any], source: str | None = None) -> str:
    """Where and how the record was measured, in two short paragraphs."""
    m = record["machine"]
    flags = m.get("flags", {})
    avx512 = ", ".join(flags.get("avx512", [])) or "none"
    start, end = m.get("load_start") or [], m.get("load_end") or []
    load = (
        f"load average {start[0]:.1f} at the start, {end[0]:.1f} at the end"
        if start and end
        else "load average not recorded"
    )
    cores = m.get("cores") or 1
    loaded = max([*(start[:1] or [0]), *(end[:1] or [0])]) > cores  # more work than cores
    versions = ", ".join(f"{k} {v}" for k, v in sorted(record.get("versions", {}).items()))
    text = (
        f"Record written {record['created']} on {m['cpu']} ({cores} cores; SHA-NI "
        f"{'yes' if flags.get('sha_ni') else 'no'}, AVX2 {'yes' if flags.get('avx2') else 'no'}, "
        f"AVX-512: {avx512}), {load}; Python {record['python']}, commit "
        f"`{(record.get('commit') or 'unknown')[:12]}`."
    )
    if loaded:
        text += (
            " **The machine was loaded by other work during this run**: absolute figures are "
            "pessimistic; the ratios (A and B alternate pair by pair) are what to read."
        )
    text += f"\n\nCommand: `{record.get('command', '?')}`"
    text += f", record `{source}`." if source else "."
    text += f" Versions: {versions}."
    return text


def render(
    record: dict[str, Any],
    source: str | None = None,
    others: Sequence[dict[str, Any]] = (),
    other_sources: Sequence[str] = (),
) -> dict[str, str]:
    """Block name -> markdown, for ``machine`` and every bench of the record.

    ``others``: earlier records of the same code whose rows widen each row's spread.
    """
    earlier: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for other in others:
        for bench in other["benches"]:
            for row in bench["rows"]:
                earlier.setdefault(_key(bench["bench"], row), []).append(row)
    machine = machine_line(record, source)
    if others:
        listed = ", ".join(f"`{s}`" for s in other_sources) or f"{len(others)} more"
        commits = sorted({(o.get("commit") or "unknown")[:12] for o in others})
        machine += (
            f" Spreads also cover the earlier run(s) {listed} (commit "
            f"{', '.join(f'`{c}`' for c in commits)}): each row's spread is the smallest and "
            "largest per-pair ratio over all runs, with every run's median ratio in brackets, "
            f"then the range a re-run's ratio is expected in: that spread {RERUN_TOLERANCE:.0%} "
            "wider on each side (further out is what compare.py flags as a change)."
        )
    out = {"machine": machine}
    where = provenance(record, source)
    for bench in record["benches"]:
        out[bench["bench"]] = f"{where}\n\n{table(bench, earlier)}"
    return out


def provenance(record: dict[str, Any], source: str | None = None) -> str:
    """One line above each table: which record, commit, time and load it comes from.

    Blocks of a page may come from different records (a bench re-run on its own), so each
    table says where its figures were measured.
    """
    m = record.get("machine", {})
    start, end = m.get("load_start") or [], m.get("load_end") or []
    load = f", load average {start[0]:.1f} → {end[0]:.1f}" if start and end else ""
    src = f" (`{source}`)" if source else ""
    return (
        f"*Measured {record.get('created', '?')} at commit "
        f"`{(record.get('commit') or 'unknown')[:12]}`{src}{load}.*"
    )


_BLOCK = re.compile(r"(<!-- bench:([\w-]+) -->\n)(.*?)(<!-- /bench:\2 -->)", re.S)


def update_page(page: str, blocks: dict[str, str]) -> tuple[str, list[str]]:
    """The page with every marked block replaced; also the names of blocks not in the page."""
    seen: set[str] = set()

    def sub(m: re.Match[str]) -> str:
        name = m.group(2)
        if name not in blocks:
            return m.group(0)
        seen.add(name)
        return f"{m.group(1)}{blocks[name]}\n{m.group(4)}"

    return _BLOCK.sub(sub, page), sorted(set(blocks) - seen)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("record", help="a record written by a bench's --json or by nox -s bench_all")
    ap.add_argument("--docs", help="update the marked blocks of this page in place")
    ap.add_argument(
        "--with",
        dest="others",
        action="append",
        default=[],
        metavar="EARLIER",
        help="an earlier record of the same code; its rows widen each spread (repeatable)",
    )
    ap.add_argument(
        "--only",
        help="comma-separated bench names: render only these tables (and not the machine "
        "line), e.g. the benches whose code the --with records share",
    )
    args = ap.parse_args(argv)
    record = json.loads(Path(args.record).read_text(encoding="utf-8"))
    others = [json.loads(Path(p).read_text(encoding="utf-8")) for p in args.others]
    if args.only:
        keep = set(args.only.split(","))
        unknown = keep - {b["bench"] for b in record.get("benches", [])}
        if unknown:
            ap.error(f"--only names benches the record does not have: {sorted(unknown)}")
        for rec in (record, *others):
            rec["benches"] = [b for b in rec.get("benches", []) if b["bench"] in keep]
    failed = {
        path: [
            f"{path}: {b['bench']}: {note}"
            for b in rec.get("benches", [])
            for note in failure_notes(b)
        ]
        for path, rec in zip([args.record, *args.others], [record, *others])
    }
    if failed[args.record] and args.docs:  # a page never shows a run that failed
        ap.error(
            "a bench of the record failed; fix it and run again:\n" + "\n".join(failed[args.record])
        )
    for line in (line for lines in failed.values() for line in lines):
        print(f"render: {line}", file=sys.stderr)  # an earlier record's rows still widen
    blocks = render(
        record, Path(args.record).as_posix(), others, [Path(p).as_posix() for p in args.others]
    )
    if args.only:
        blocks.pop("machine", None)
    if not args.docs:
        for name, text in blocks.items():
            print(f"## {name}\n\n{text}\n")
        return 0
    page = Path(args.docs)
    new, missing = update_page(page.read_text(encoding="utf-8"), blocks)
    page.write_text(new, encoding="utf-8")
    for name in missing:
        print(f"render: no <!-- bench:{name} --> block in {page}; not written", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
