"""Track a small synthetic training with @mk.track, then query and report the runs.

Runs as is: ``python examples/tracking.py`` (uses a temporary workspace).
"""

from __future__ import annotations

import math
import random
import tempfile
from pathlib import Path

import mlopskit as mk


@mk.track(experiment="linear-regression")
def train(lr: float, epochs: int = 30, seed: int = 0) -> dict[str, float]:
    """Fit y = 3x + 1 by gradient descent on noisy synthetic data."""
    rng = random.Random(seed)
    xs = [rng.uniform(-1, 1) for _ in range(200)]
    ys = [3 * x + 1 + rng.gauss(0, 0.1) for x in xs]
    w = b = 0.0
    for epoch in range(epochs):
        gw = sum((w * x + b - y) * x for x, y in zip(xs, ys)) * 2 / len(xs)
        gb = sum(w * x + b - y for x, y in zip(xs, ys)) * 2 / len(xs)
        w, b = w - lr * gw, b - lr * gb
        mse = sum((w * x + b - y) ** 2 for x, y in zip(xs, ys)) / len(xs)
        mk.log_metric("mse", mse, step=epoch)
    mk.log_dict({"w": w, "b": b}, "model.json")
    return {"rmse": math.sqrt(mse), "w": w, "b": b}


def main() -> None:
    workspace = Path(tempfile.mkdtemp()) / "ws"
    mk.set_workspace(workspace)
    with mk.start_run("linear-regression", name="sweep") as sweep:
        for lr in (0.01, 0.05, 0.1, 0.3):
            train(lr)
    best = mk.search_runs(
        "linear-regression", filter=f"parent_id = '{sweep.run_id}'", order_by=["metrics.rmse"]
    )
    print(best[["name", "params.lr", "metrics.rmse", "metrics.w", "status"]].to_string())
    report = workspace / "report.html"
    mk.runs_report("linear-regression").to_html(report)
    print(f"report: {report}")
    assert best["metrics.rmse"].iloc[0] < 0.5


if __name__ == "__main__":
    main()
