"""CLI benchmark: whole-process wall time of `mlopskit --help` and `mlopskit runs ls`.

    python benchmarks/bench_cli.py [--quick] [--json out.json] [--mlflow PATH]

Hyperfine-style: each command is run as a fresh process, a warm-up first, then ``n``
timed runs, the anchor and mlopskit alternating (ABAB); the figure is the median, with
min and max. The anchor of ``--help`` is ``mlflow --help`` (MLflow's CLI, when its
console script is on PATH, importable here, or given with ``--mlflow``). ``runs ls``
lists 10,000 runs of a SQLite workspace (created for each benchmark run through the
tracking backend's public protocol, in a temporary directory removed afterwards, so a
figure never comes from a workspace an older commit wrote) and is measured against its
goal only.

Rows written with ``--json`` are the record's rows (``_bench.absolute_row``: each time
against the goal's budget; ``_bench.make_row``: ``--help`` paired with ``mlflow --help``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = str(HERE.parent / "src")
sys.path.insert(0, SRC)
sys.path.insert(0, str(HERE))

from _bench import absolute_row, make_row  # noqa: E402

HELP_GOAL = 0.15
RUNS_LS_GOAL = 0.5
N_RUNS = 10_000


def env() -> dict[str, str]:
    # As a user runs it: bytecode caches written and used (pip compiles them at install).
    drop = {"MLOPSKIT_HOME", "PYTHONDONTWRITEBYTECODE"}
    out = {k: v for k, v in os.environ.items() if k not in drop}
    out["PYTHONPATH"] = SRC + os.pathsep + out.get("PYTHONPATH", "")
    return out


def mlopskit_cmd() -> list[str]:
    script = shutil.which("mlopskit", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "mlopskit"]


def mlflow_cmd(explicit: str | None) -> list[str] | None:
    if explicit:
        return [explicit]
    script = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or shutil.which("mlflow")
    if script:
        return [script]
    from importlib.util import find_spec

    return [sys.executable, "-m", "mlflow"] if find_spec("mlflow") else None


def wall(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + sys) seconds of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env(), check=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def timed(
    cmds: dict[str, list[str]], n: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """One warm-up each, then ``n`` rounds, the commands alternating within a round.

    Returns wall and CPU seconds per command; CPU time is the figure to trust on a
    loaded machine (wall time includes waiting for a core).
    """
    for cmd in cmds.values():
        wall(cmd)
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    cpus: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(n):
        for key, cmd in cmds.items():
            w, c = wall(cmd)
            walls[key].append(w)
            cpus[key].append(c)
    return walls, cpus


def row(
    name: str,
    ours: list[float],
    goal: float,
    cpu: list[float],
    anchor: str | None = None,
    theirs: list[float] | None = None,
    theirs_cpu: list[float] | None = None,
) -> list[dict[str, Any]]:
    """The goal's row (each time against the budget) and, with an anchor, the paired row."""
    med = statistics.median(ours)
    out = [absolute_row(name, mode="process", values=ours, unit="s", goal=f"<= {goal}")]
    ratio = ""
    if anchor and theirs:
        paired = make_row(
            f"{name} vs {anchor}", mode="process", anchor=anchor, a=ours, b=theirs, unit="s"
        )
        out.append(paired)
        ratio = f"  {paired['ratio']:.3g}x {anchor} ({statistics.median(theirs):.3f} s"
        ratio += f"; CPU {statistics.median(theirs_cpu):.3f} s)" if theirs_cpu else ")"
    print(
        f"{name:<38} median {med:.3f} s (min {min(ours):.3f}, max {max(ours):.3f}, n={len(ours)};"
        f" CPU {statistics.median(cpu):.3f} s)  goal <= {goal} s: "
        f"{'met' if out[0]['met'] else 'NOT met'}{ratio}",
        flush=True,
    )
    return out


def make_runs(root: Path, n: int) -> None:
    """``n`` finished runs with two params and two metrics, written through the backend."""
    from mlopskit.tracking import RunRecord, tracker_for

    backend = tracker_for(str(root)).backend
    now = time.time()
    for i in range(n):
        run_id = uuid.uuid4().hex
        backend.create_run(
            RunRecord(
                run_id=run_id,
                experiment=f"exp{i % 10}",
                name=f"run-{i}",
                status="RUNNING",
                start_time=now - n + i,
                params={"lr": str(0.001 * (i % 7)), "depth": str(i % 5)},
                tags={"team": "bench"},
            )
        )
        backend.log_metrics(run_id, [("acc", i / n, 0, now), ("loss", 1 - i / n, 0, now)])
        backend.finish(run_id, "FINISHED", now - n + i + 1)
    backend.close()


def workspace(n: int, base: Path) -> Path:
    """A workspace of ``n`` runs under ``base``, written by the code being measured."""
    root = base / f"runs-{n}"
    start = time.perf_counter()
    make_runs(root, n)
    print(f"(created {n} runs in {time.perf_counter() - start:.1f} s at {root})", flush=True)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--json", metavar="PATH", help="write the rows to this file")
    parser.add_argument("--mlflow", metavar="PATH", help="the mlflow executable to compare with")
    parser.add_argument("--runs", type=int, default=N_RUNS, help="runs in the runs ls workspace")
    parser.add_argument(
        "--tmp",
        "--keep",
        type=Path,
        help="directory to create the runs workspace in (it is removed after the run)",
    )
    args = parser.parse_args()
    n = 5 if args.quick else 20
    ours = mlopskit_cmd()
    rows = []

    anchor = mlflow_cmd(args.mlflow)
    cmds = {"mlopskit": [*ours, "--help"]}
    if anchor is not None:
        cmds["mlflow"] = [*anchor, "--help"]
    else:
        print("(mlflow not found: --help measured without its anchor)")
    times, cpus = timed(cmds, n)
    rows.extend(
        row(
            "mlopskit --help",
            times["mlopskit"],
            HELP_GOAL,
            cpus["mlopskit"],
            "mlflow --help" if anchor else None,
            times.get("mlflow"),
            cpus.get("mlflow"),
        )
    )

    # A fresh workspace each run, removed after it: a figure never comes from a workspace
    # an older commit (or schema) wrote.
    with tempfile.TemporaryDirectory(prefix="mlopskit-bench-cli-", dir=args.tmp) as tmp:
        root = workspace(args.runs, Path(tmp))
        for fmt in ([], ["--json"]):
            name = f"mlopskit runs ls{' --json' if fmt else ''} ({args.runs:,} runs)"
            times, cpus = timed({"mlopskit": [*ours, "-w", str(root), "runs", "ls", *fmt]}, n)
            rows.extend(row(name, times["mlopskit"], RUNS_LS_GOAL, cpus["mlopskit"]))

    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
