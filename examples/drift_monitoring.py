"""Drift monitoring end to end: profile a reference, watch a stream, write an HTML report.

Runs as is (``python examples/drift_monitoring.py``) on small synthetic data; the report
page is written to a temporary directory whose path is printed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import mlopskit as mk


def make_batch(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    """A day of 'production' rows; ``shift`` moves the age distribution and the plan mix."""
    plans = rng.choice(["free", "pro", "team"], n, p=[0.6 - shift / 5, 0.3, 0.1 + shift / 5])
    age = rng.normal(40 + 8 * shift, 10, n)
    age[rng.random(n) < 0.02 + 0.1 * shift] = np.nan  # a pipeline starts losing values
    return pd.DataFrame({"age": age, "income": rng.lognormal(10, 1, n), "plan": plans})


def main() -> None:
    rng = np.random.default_rng(7)
    reference = make_batch(rng, 20_000, shift=0.0)

    # 1. Profile the reference once; the profile is small JSON and replaces the raw data.
    profile = mk.drift.profile(reference)
    out = Path(tempfile.mkdtemp(prefix="mlopskit-drift-"))
    (out / "reference_profile.json").write_text(profile.to_json(), encoding="utf-8")
    profile = mk.drift.ReferenceProfile.from_json((out / "reference_profile.json").read_text())

    # 2. Watch a stream of record batches; alert on drifted windows of 2,000 rows.
    def alert(report: mk.drift.DriftReport) -> None:
        start, end = report.window or (0, 0)
        print(f"ALERT rows {start}-{end}: {', '.join(report.drifted_columns)} drifted")

    monitor = mk.drift.Monitor(profile, window=2_000, on_drift=alert)
    for day, shift in enumerate([0.0, 0.0, 0.1, 0.5, 1.0]):
        records = make_batch(rng, 2_000, shift).to_dict("records")
        for report in monitor.update(records):
            share = report.share_drifted
            print(f"day {day}: {report.n_drifted}/{report.n_columns} columns drifted ({share:.0%})")

    # 3. The last window as a self-contained HTML page.
    last = monitor.reports[-1]
    page = out / "drift_report.html"
    last.to_html(page)
    print(last.to_frame()[["method", "statistic", "missing_share_current", "drifted"]])
    print(f"report written to {page}")


if __name__ == "__main__":
    main()
