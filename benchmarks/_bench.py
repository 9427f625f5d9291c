"""Shared measurement and record helpers for the benchmarks (not part of the package).

Every benchmark measures A (mlopskit) and B (the anchor) alternately, ABAB..., after one
warm-up of each, with imports done before the timed region, and reports one *row* per
case: the median of the per-pair ratios A/B with their min and max. A row is a dict with
exactly these keys (``bench_serve.py`` writes the same)::

    {"row": str, "mode": "in-process" | "process" | "http", "anchor": str,
     "ratio": float, "min": float, "max": float, "n": int,
     "goal": "<= 0.5" | ">= 3" | None, "met": bool | None,
     "mlopskit": float, "anchor_value": float, "unit": "s" | "points/s" | ...}

``ratio`` is a *cost* ratio, so lower is always better: mlopskit / anchor for times and
bytes, anchor / mlopskit for rates (a unit ending in ``/s``); ``mlopskit`` and
``anchor_value`` are the medians of the measured values themselves, in ``unit``.
A row with no anchor tool but an absolute goal (``log_batch >= 300,000 points/s``) uses
the goal's bound as the anchor value, so its ratio is against the bound, goal ``<= 1``.

``write_record`` writes a *record*: the rows of one or more benches with the machine,
Python, library versions and commit they came from. ``benchmarks/render.py`` turns a
record into the tables of docs/performance.md; ``benchmarks/compare.py`` flags ratios
that got worse between two records.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODES = ("in-process", "process", "http")
ROW_KEYS = (
    "row",
    "mode",
    "anchor",
    "ratio",
    "min",
    "max",
    "n",
    "goal",
    "met",
    "mlopskit",
    "anchor_value",
    "unit",
)
LIBS = (
    "mlopskit",
    "numpy",
    "pandas",
    "pyarrow",
    "scipy",
    "blake3",
    "joblib",
    "dvc",
    "mlflow",
    "trackio",
    "evidently",
    "fastapi",
    "uvicorn",
    "bentoml",
    # what a served request runs through (the serve bench's model is scikit-learn's)
    "scikit-learn",
    "starlette",
    "uvloop",
    "httptools",
    "orjson",
    "pysimdjson",
    "prometheus_client",
    # the S3 rows' client and server
    "s3fs",
    "moto",
)
_GOAL = re.compile(r"^\s*(<=|>=|<|>)\s*([-+0-9.eE_,]+)\s*([^\s\d(]*)\s*(\(.*\))?\s*$")


def parse_goal(goal: str) -> tuple[str, float]:
    """``"<= 0.5"`` -> ``("<=", 0.5)`` (a trailing unit, ``"<= 0.15 s"``, and a note in
    parentheses, ``"<= 20 (nothing written after the index)"``, are allowed)."""
    m = _GOAL.match(goal)
    if not m:
        raise ValueError(f"a goal is '<= x', '>= x', '< x' or '> x'; found {goal!r}")
    return m.group(1), float(m.group(2).replace(",", "").replace("_", ""))


def goal_met(ratio: float, goal: str | None) -> bool | None:
    """Whether ``ratio`` meets ``goal`` (None when there is no goal)."""
    if goal is None:
        return None
    op, bound = parse_goal(goal)
    return {
        "<=": ratio <= bound,
        ">=": ratio >= bound,
        "<": ratio < bound,
        ">": ratio > bound,
    }[op]


def is_rate(unit: str) -> bool:
    """Units measured as a rate (``points/s``, ``MB/s``): higher values are better."""
    return unit.endswith("/s")


def higher_is_better(row: dict[str, Any]) -> bool:
    """The direction of a row's ratio: from its goal, else lower (a ratio is a cost ratio)."""
    if row.get("goal"):
        return parse_goal(row["goal"])[0].startswith(">")
    return False


def make_row(
    row: str,
    *,
    mode: str,
    anchor: str,
    a: list[float],
    b: list[float],
    unit: str,
    goal: str | None = None,
) -> dict[str, Any]:
    """A row from paired measurements (``a[i]`` and ``b[i]`` measured one after the other)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; found {mode!r}")
    if len(a) != len(b) or not a:
        raise ValueError(
            f"need the same non-zero number of A and B values; found {len(a)}, {len(b)}"
        )
    ratios = [y / x if is_rate(unit) else x / y for x, y in zip(a, b)]
    ratio = statistics.median(ratios)
    return {
        "row": row,
        "mode": mode,
        "anchor": anchor,
        "ratio": ratio,
        "min": min(ratios),
        "max": max(ratios),
        "n": len(ratios),
        "goal": goal,
        "met": goal_met(ratio, goal),
        "mlopskit": statistics.median(a),
        "anchor_value": statistics.median(b),
        "unit": unit,
    }


# The notes record.py writes into a bench's entry when it left rows out or the bench failed.
LEFT_OUT = "left out, malformed row"
FAILED = "failed: "


def failure_notes(bench: dict[str, Any]) -> list[str]:
    """The notes of a bench entry that say it failed or left a row out (empty: it ran clean)."""
    return [n for n in bench.get("notes", []) if n.startswith((LEFT_OUT, FAILED))]


def row_problems(row: dict[str, Any]) -> list[str]:
    """What is wrong with a row as a record holds it (empty when it is well formed).

    The ratio, ``min`` and ``max`` must be the same quantity (per-pair ratios), so the
    ratio lies within its own spread: a row whose spread is in seconds while its ratio is
    against an anchor reads as a spread it does not have.
    """
    problems: list[str] = []
    missing = [k for k in ROW_KEYS if k not in row]
    if missing:
        problems.append(f"missing keys {missing}")
        return problems
    if row["mode"] not in MODES:
        problems.append(f"mode {row['mode']!r} is not one of {MODES}")
    ratio, lo, hi = row["ratio"], row["min"], row["max"]
    if ratio is not None:
        if lo is None or hi is None:
            problems.append("a ratio without its spread (min, max)")
        elif not (lo * (1 - 1e-6) - 1e-12 <= ratio <= hi * (1 + 1e-6) + 1e-12):
            problems.append(f"ratio {ratio:.4g} outside its own spread {lo:.4g}–{hi:.4g}")
        if not isinstance(row["n"], int) or row["n"] < 1:
            problems.append(f"n must count the pairs (>= 1); found {row['n']!r}")
    return problems


def absolute_row(
    row: str, *, mode: str, values: list[float], unit: str, goal: str
) -> dict[str, Any]:
    """A row with no anchor tool: each value against the goal's bound, goal ``<= 1``.

    ``goal`` is on the value itself: ``">= 300000"`` for a rate, ``"<= 0.05"`` for a time.
    """
    _, bound = parse_goal(goal)
    return make_row(
        row,
        mode=mode,
        anchor="budget (no anchor tool)",
        a=values,
        b=[bound] * len(values),
        unit=unit,
        goal="<= 1",
    )


@contextlib.contextmanager
def isolated(work: Path) -> Iterator[None]:
    """Point HOME, the XDG dirs and every anchor's cache/telemetry into ``work`` meanwhile.

    Set before any anchor is imported, so no bench writes to the user's home (trackio,
    Hugging Face, MLflow telemetry, DVC's site cache, mlopskit's cache...).
    """
    env = {
        "HOME": work / "home",
        "XDG_CACHE_HOME": work / "home" / ".cache",
        "XDG_CONFIG_HOME": work / "home" / ".config",
        "XDG_DATA_HOME": work / "home" / ".local" / "share",
        "MPLCONFIGDIR": work / "home" / "mpl",
        "TRACKIO_DIR": work / "trackio",
        "HF_HOME": work / "hf",
        "MLOPSKIT_CACHE_DIR": work / "mlopskit-cache",
        "DVC_SITE_CACHE_DIR": work / "dvc-site-cache",
        "DVC_NO_ANALYTICS": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
    }
    saved = {k: os.environ.get(k) for k in env}
    (work / "home").mkdir(parents=True, exist_ok=True)
    os.environ.update({k: str(v) for k, v in env.items()})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def timed(fn: Callable[[], Any]) -> float:
    """Seconds taken by ``fn()``."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def abab(
    a: Callable[[], float],
    b: Callable[[], float],
    reps: int,
    *,
    warmup: int = 1,
    collect: bool = True,
) -> tuple[list[float], list[float]]:
    """Run ``a`` and ``b`` alternately ``reps`` times after ``warmup`` runs of each.

    Each callable returns its own measurement (seconds, or a rate): set-up that must not
    be timed stays outside it.
    """
    for _ in range(warmup):
        a()
        b()
    xs, ys = [], []
    for _ in range(reps):
        if collect:
            gc.collect()
        xs.append(a())
        if collect:
            gc.collect()
        ys.append(b())
    return xs, ys


def stated(x: float) -> str:
    """A ratio as docs/performance.md states it: three significant digits (whole numbers
    from 100 up). ``compare.py`` checks a re-run against the spread at this precision."""
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def as_stated(x: float) -> float:
    """``x`` rounded as :func:`stated` writes it (0.12638 -> 0.126)."""
    return float(stated(x).replace(",", ""))


RERUN_TOLERANCE = 0.2
"""How far past its observed spread a re-run's ratio may land and still be the same
result: the change ``compare.py`` calls a regression (its default threshold). Each of
run22-29 against the runs before it: the observed per-pair spreads missed 3-21 of its
130-132 rows (the machine's speed drifts 5-35% between runs), the spreads widened by
this 0-3 (docs/performance.md, "Run to run")."""


def rerun_range(lo: float, hi: float) -> tuple[float, float]:
    """Where a re-run's ratio is expected: the observed spread ``lo``-``hi`` widened by
    :data:`RERUN_TOLERANCE` on each side, multiplicatively (``lo / 1.2``, ``hi * 1.2``)."""
    return lo / (1 + RERUN_TOLERANCE), hi * (1 + RERUN_TOLERANCE)


def fmt_value(v: float | None, unit: str) -> str:
    """A value with its unit, readable (``0.274 s``, ``12.5 ms``, ``345,760 points/s``)."""
    if v is None:
        return "—"
    if unit == "s":
        if v >= 1:
            return f"{v:.2f} s"
        if v >= 1e-3:
            return f"{v * 1e3:.1f} ms"
        return f"{v * 1e6:.0f} µs"
    if unit == "B":
        return f"{v / 2**20:.1f} MiB"
    if v >= 100:
        return f"{v:,.0f} {unit}"
    return f"{v:.3g} {unit}"


def print_row(r: dict[str, Any]) -> None:
    """One line per row on stdout, as the bench runs."""
    verdict = "" if r["met"] is None else ("met" if r["met"] else "NOT met")
    goal = f"goal {r['goal']} {verdict}" if r["goal"] else ""
    print(
        f"{r['row']:<52} [{r['mode']}] mlopskit {fmt_value(r['mlopskit'], r['unit'])} | "
        f"{r['anchor']} {fmt_value(r['anchor_value'], r['unit'])} | ratio {r['ratio']:.3g} "
        f"({r['min']:.3g}-{r['max']:.3g}, n={r['n']}) {goal}",
        flush=True,
    )


class Bench:
    """The rows of one benchmark script; ``write`` saves them as a one-bench record."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.rows: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.load_start = _loadavg()

    def add(self, row: dict[str, Any]) -> dict[str, Any]:
        """Keep and print a row."""
        problems = row_problems(row)
        if problems:
            raise ValueError(f"row {row.get('row')!r}: {'; '.join(problems)}")
        self.rows.append(row)
        print_row(row)
        return row

    def skipped(self, what: str) -> None:
        """Note a case that did not run (printed as skipped, never as a missed goal)."""
        self.notes.append(f"skipped: {what}")
        print(f"{what:<52} skipped", flush=True)

    def summary(self) -> int:
        """Print the goals met / missed; the number missed."""
        missed = [r for r in self.rows if r["met"] is False]
        met = [r for r in self.rows if r["met"] is True]
        print(f"\n{self.name}: {len(met)} goals met, {len(missed)} NOT met", flush=True)
        for r in missed:
            print(f"  NOT met: {r['row']} [{r['mode']}] ratio {r['ratio']:.3g}, goal {r['goal']}")
        for note in self.notes:
            print(f"  {note}")
        return len(missed)

    def entry(self) -> dict[str, Any]:
        """This bench as it appears in a record's ``benches``."""
        out: dict[str, Any] = {"bench": self.name, "rows": self.rows}
        if self.notes:
            out["notes"] = self.notes
        return out

    def write(self, path: str | os.PathLike[str] | None) -> None:
        """Write a record holding this bench only (nothing when ``path`` is None)."""
        if path:
            write_record(path, [self.entry()], load_start=self.load_start)


# -- the record ---------------------------------------------------------------------------


def _loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine(load_start: list[float] | None = None) -> dict[str, Any]:
    """CPU model, the flags that matter here, cores, and the load average (start and now)."""
    model, flags = platform.processor() or platform.machine(), set[str]()
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name":
            model = value.strip()
        elif key == "flags":
            flags = set(value.split())
    return {
        "cpu": model,
        "flags": {
            "sha_ni": "sha_ni" in flags,
            "avx2": "avx2" in flags,
            "avx512": sorted(f for f in flags if f.startswith("avx512")),
        },
        "cores": os.cpu_count(),
        "load_start": load_start if load_start is not None else _loadavg(),
        "load_end": _loadavg(),
    }


def versions(libs: Iterable[str] = LIBS) -> dict[str, str]:
    """Installed versions of the libraries the benches touch (absent ones left out)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for lib in libs:
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:
            pass
    return out


def commit() -> str | None:
    """The checkout's commit (``+dirty`` when tracked files changed), or None."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def make_record(
    benches: list[dict[str, Any]],
    *,
    load_start: list[float] | None = None,
    command: str | None = None,
    commit_id: str | None = None,
) -> dict[str, Any]:
    """A record: machine, python, versions, commit, created, command and benches."""
    return {
        "machine": machine(load_start),
        "python": sys.version.split()[0],
        "versions": versions(),
        "commit": commit_id or commit(),
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command or " ".join(["python", *sys.argv]),
        "benches": benches,
    }


def write_record(
    path: str | os.PathLike[str],
    benches: list[dict[str, Any]],
    *,
    load_start: list[float] | None = None,
    command: str | None = None,
    commit_id: str | None = None,
) -> dict[str, Any]:
    """Write a record as JSON; return it (``commit_id``: the commit taken at the start)."""
    rec = make_record(benches, load_start=load_start, command=command, commit_id=commit_id)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(rec, indent=1) + "\n", encoding="utf-8")
    return rec
