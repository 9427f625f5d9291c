"""Run every benchmarks/bench_*.py and write ONE record (what ``nox -s bench_all`` runs).

    python benchmarks/record.py --out benchmarks/records/2026-12-01.json [--quick] [--only store,drift]
        [--args "serve=--mlflow-python VENV/bin/python --mlserver-python VENV/bin/python"]

Each bench runs as its own process with ``--json <tmp file>`` (and ``--quick`` when
given, to the benches that take it); their rows are gathered with the machine (CPU model,
SHA-NI / AVX2 / AVX-512 flags, cores, load average at the start and the end), Python,
library versions and the commit. A bench that fails is kept in the record with a note
and no rows, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _bench import FAILED, LEFT_OUT, _loadavg, commit, row_problems, write_record  # noqa: E402


def gather(path: Path, name: str) -> list[dict[str, Any]]:
    """The bench entries of one bench's JSON (a record, a bench entry or a list of rows).

    A malformed row (see ``row_problems``) is left out of the record and named in the
    bench's notes, so no table states a spread the row does not have.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list):
        entries = [{"bench": name, "rows": data}]
    elif "benches" in data:
        entries = list(data["benches"])
    else:
        entries = [{"bench": data.get("bench", name), "rows": data["rows"], **_notes(data)}]
    for entry in entries:
        kept = []
        for row in entry["rows"]:
            problems = row_problems(row)
            if problems:
                entry.setdefault("notes", []).append(
                    f"{LEFT_OUT} {row.get('row')!r}: {'; '.join(problems)}"
                )
            else:
                kept.append(row)
        entry["rows"] = kept
    return entries


def malformed(entries: list[dict[str, Any]]) -> int:
    """How many rows ``gather`` left out of these entries."""
    return sum(note.startswith(LEFT_OUT) for e in entries for note in e.get("notes", []))


def _notes(data: dict[str, Any]) -> dict[str, Any]:
    return {"notes": data["notes"]} if data.get("notes") else {}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="the record to write")
    ap.add_argument("--quick", action="store_true", help="pass --quick to every bench")
    ap.add_argument("--only", default="", help="comma-separated bench names (default: all)")
    ap.add_argument(
        "--args",
        dest="extra",
        action="append",
        default=[],
        metavar="NAME=ARGS",
        help="more arguments for one bench, e.g. 'serve=--mlflow-python P' (repeatable)",
    )
    args = ap.parse_args(argv)
    extra: dict[str, list[str]] = {}
    for item in args.extra:
        name, sep, rest = item.partition("=")
        if not sep or not name:
            ap.error(f"--args takes NAME=ARGS; found {item!r}")
        extra.setdefault(name.strip(), []).extend(shlex.split(rest))
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    scripts = [
        p
        for p in sorted(HERE.glob("bench_*.py"))
        if not only or p.stem.removeprefix("bench_") in only
    ]
    load_start = _loadavg()
    commit_id = commit()  # what is measured is the checkout as it is now
    benches: list[dict[str, Any]] = []
    failed = 0
    with tempfile.TemporaryDirectory(prefix="bench-record-") as tmp:
        for script in scripts:
            name = script.stem.removeprefix("bench_")
            out = Path(tmp) / f"{name}.json"
            cmd = [sys.executable, str(script), "--json", str(out)]
            if args.quick and "--quick" in script.read_text(encoding="utf-8"):
                cmd.append("--quick")
            cmd += extra.get(name, [])
            print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, env=os.environ.copy())
            took = time.perf_counter() - t0
            print(f"=== {name}: exit {proc.returncode} after {took:.0f} s", flush=True)
            entries = gather(out, name) if out.exists() else []
            if proc.returncode != 0 or malformed(entries):
                failed += 1
                note = (
                    f"{FAILED}exit status {proc.returncode}"
                    if proc.returncode
                    else f"{FAILED}{malformed(entries)} malformed row(s)"
                )
                if entries:
                    entries[0].setdefault("notes", []).append(note)
                else:
                    entries = [{"bench": name, "rows": [], "notes": [note]}]
            benches.extend(entries)
    command = "nox -s bench_all" + (" -- --quick" if args.quick else "")
    write_record(args.out, benches, load_start=load_start, command=command, commit_id=commit_id)
    print(f"\nrecord written to {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
