"""The web UI (``mlopskit ui``) in headless Chromium: 10,000 runs, a 1,000,000-point chart.

Run it with::

    python benchmarks/bench_ui.py [--runs 10000] [--points 1000000] [--reps 5] [--json out.json]

Needs the ``ui`` extra, Playwright for Python and Debian's ``chromium`` (``/usr/bin/chromium``
or ``MLOPSKIT_CHROMIUM``). The workspace is written once under ``benchmarks/_work/ui``
(reused while its run count matches). The UI is served by ``serve_ui`` in a subprocess on
127.0.0.1:0 and stopped by pid.

Rows (medians of ``--reps``; there is no anchor — no comparable local UI is installed —
so ``anchor`` is null):

- ``runs page, rows painted``: a fresh browser context opens ``/`` and the time from
  navigation start to the first page of runs drawn in the table (``performance.mark``
  set by the page once the rows are in the DOM) is read. The server's 2-second query cache
  is allowed to expire between repetitions, so each load lists all runs again. Goal 1 s.
- ``runs page, total shown``: the same loads, until "of 10,001" is shown (the count is a
  second request, so the rows do not wait for it).
- ``runs page, first contentful paint``: the browser's own FCP of the same loads.
- ``server: one page of runs``: ``/api/runs`` (a page of 50 not yet cached) timed with
  urllib: the server's share of the first row paint (``search_runs(limit=…)`` inside).
- ``1M-point chart drawn, series not yet read``: a fresh page of
  ``/compare?runs=<id>&key=loss`` on a fresh server until the chart has its data
  (``data-loaded``): the server reads all 1,000,000 points from SQLite, decimates them to
  2,000 and the page draws them.
- ``1M-point chart drawn, series read before``: the same page again (the server keeps a
  finished run's series in memory for 10 seconds). Goal 1 s (interactive).
- ``1M-point series, zoom request``: ``/api/metrics`` for a 1,000-step window (exact
  points) of the same series, as a drag-zoom asks for it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import mlopskit as mk

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import absolute_row

WORK = Path(__file__).resolve().parent / "_work" / "ui"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RESULTS: list[dict[str, Any]] = []
LOAD = 0.0  # the 1-minute load average when the measurements start (shared machines)


def build(root: Path, runs: int, points: int) -> str:
    """Write ``runs`` runs (3 params, 3 metrics each) and one run with ``points`` points."""
    stamp = root / f"built-{runs}-{points}"
    if stamp.exists():
        return stamp.read_text()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    ws = mk.Workspace(root / "ws")
    t0 = time.perf_counter()
    with ws:
        tracker = ws.tracker
        for i in range(runs):
            params = {"lr": 10 ** -(1 + i % 4), "seed": i, "model": f"m{i % 7}"}
            with tracker.start_run(f"exp{i % 5}", params=params, capture_env=False) as run:
                run.log_metrics({"acc": (i % 997) / 997, "loss": 1 - (i % 991) / 991}, step=0)
                run.log_metric("f1", (i % 89) / 89, step=0)
        with tracker.start_run("long", name="one-million", capture_env=False) as run:
            for step in range(points):
                run.log_metric("loss", 1 / (step + 1) + (step % 100) * 1e-4, step=step)
            long_id = run.run_id
    print(f"built {runs:,} runs + {points:,} points in {time.perf_counter() - t0:.1f} s")
    stamp.write_text(long_id)
    return long_id


class Server:
    """``serve_ui`` in a subprocess; ``stop()`` by pid."""

    def __init__(self, workspace: Path) -> None:
        code = "import sys; from mlopskit.ui import serve_ui; serve_ui(sys.argv[1], port=0)"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, str(workspace)], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if " at http://" not in line:
            self.stop()
            raise RuntimeError(f"the UI did not start: {line!r}")
        self.url = line.split(" at ", 1)[1].split()[0]

    def stop(self) -> None:
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def get_seconds(url: str) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as resp:
        resp.read()
    return time.perf_counter() - t0


def row(name: str, values: list[float], *, goal: float | None, unit: str = "s") -> None:
    """A row: against the goal's budget when there is one (ratio = value / budget)."""
    med = statistics.median(values)
    if goal is not None:
        entry = absolute_row(name, mode="http", values=values, unit=unit, goal=f"<= {goal}")
    else:
        entry = {
            "row": name,
            "mode": "http",  # headless Chromium against the UI server on 127.0.0.1
            "anchor": None,
            "ratio": None,
            "min": min(values),
            "max": max(values),
            "n": len(values),
            "goal": None,
            "met": None,
            "mlopskit": med,
            "anchor_value": None,
            "unit": unit,
        }
    RESULTS.append(entry)
    met = "" if goal is None else ("  goal met" if entry["met"] else "  GOAL MISSED")
    print(
        f"{name:<40} median {med:8.3f} {unit}  (min {min(values):.3f}, max {max(values):.3f}){met}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json", help="write the rows as JSON to this file")
    parser.add_argument("--quick", action="store_true", help="2,000 runs, 100,000 points, 2 reps")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.points, args.reps = 2_000, 100_000, 2

    from playwright.sync_api import sync_playwright

    exe = os.environ.get("MLOPSKIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    long_id = build(WORK, args.runs, args.points)
    global LOAD
    LOAD = os.getloadavg()[0]
    print(f"load average {LOAD:.1f} on {os.cpu_count()} CPUs")
    ws = WORK / "ws"

    rows_ms: list[float] = []
    fcp_ms: list[float] = []
    count_ms: list[float] = []
    first_page: list[float] = []
    cold_chart: list[float] = []
    warm_chart: list[float] = []
    zoom: list[float] = []

    def chart_seconds(page: Any, url: str) -> float:
        page.goto(url)
        page.wait_for_selector(".chart-box[data-loaded]", timeout=60_000)
        mark = "() => performance.getEntriesByName('mk-ready-compare')[0].startTime"
        return float(page.evaluate(mark)) / 1000

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            for rep in range(args.reps):
                server = Server(ws)
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                try:
                    page = context.new_page()
                    compare = f"{server.url}/compare?runs={long_id}&key=loss"
                    cold_chart.append(chart_seconds(page, compare))  # series not read yet
                    warm_chart.append(chart_seconds(page, compare))  # read moments ago
                    series = f"{server.url}/api/metrics?runs={long_id}&key=loss&points=2000"
                    zoom.append(get_seconds(series + "&start=500000&end=500999"))
                    time.sleep(2.2)  # the server's 2-second query cache holds the warm-up's listing
                    first_page.append(get_seconds(f"{server.url}/api/runs?offset=1&limit=50"))
                    context.close()  # a fresh context: nothing of the UI in the browser cache
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    page = context.new_page()
                    page.goto(server.url + "/")
                    page.wait_for_selector("body[data-ready=runs]", timeout=60_000)
                    page.wait_for_selector("#page-info[data-total]", timeout=60_000)
                    total = page.get_attribute("#page-info", "data-total")
                    assert total == str(args.runs + 1), total
                    marks = page.evaluate(
                        """() => [performance.getEntriesByName('mk-ready-runs')[0].startTime,
                           performance.getEntriesByName('mk-runs-counted')[0].startTime,
                           (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime]"""
                    )
                    rows_ms.append(marks[0] / 1000)
                    count_ms.append(marks[1] / 1000)
                    if marks[2] is not None:
                        fcp_ms.append(marks[2] / 1000)
                finally:
                    context.close()
                    server.stop()
                print(f"rep {rep + 1}/{args.reps} done")
        finally:
            browser.close()

    n = f"{args.runs:,} runs"
    row(f"runs page, rows painted ({n})", rows_ms, goal=1.0)
    row(f"runs page, total shown ({n})", count_ms, goal=None)
    row(f"server: one page of runs, /api/runs ({n})", first_page, goal=None)
    if fcp_ms:
        row(f"runs page, first contentful paint ({n})", fcp_ms, goal=1.0)
    row(f"{args.points:,}-point chart drawn, series not yet read", cold_chart, goal=None)
    row(f"{args.points:,}-point chart drawn, series read before", warm_chart, goal=1.0)
    row(f"{args.points:,}-point series, zoom request", zoom, goal=None)
    if args.json:
        Path(args.json).write_text(json.dumps(RESULTS, indent=1))
    print(json.dumps(RESULTS))


if __name__ == "__main__":
    main()
