"""Monitor: tumbling and sliding windows over a stream of batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlopskit import drift
from mlopskit.errors import InvalidInputError


@pytest.fixture
def reference() -> drift.ReferenceProfile:
    rng = np.random.default_rng(0)
    return drift.profile(
        pd.DataFrame({"x": rng.normal(size=5000), "c": rng.choice(list("ab"), 5000)})
    )


def _batch(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(shift, size=n), "c": rng.choice(list("ab"), n)})


class TestMonitor:
    def test_tumbling_windows_cover_disjoint_rows(self, reference: drift.ReferenceProfile) -> None:
        """window=100: batches of 70 rows give reports on [0,100), [100,200), ..."""
        mon = drift.Monitor(reference, window=100, method="psi", drift_share=1.0)
        windows = []
        for i in range(5):
            windows += [r.window for r in mon.update(_batch(70, 0.0, i))]
        assert windows == [(0, 100), (100, 200), (200, 300)]
        assert mon.rows_seen == 350
        assert [r.window for r in mon.reports] == windows

    def test_sliding_windows_report_every_step(self, reference: drift.ReferenceProfile) -> None:
        """window=100, step=25: reports end at 100, 125, 150, ... over the last 100 rows."""
        mon = drift.Monitor(reference, window=100, step=25, method="ks")
        reports = mon.update(_batch(160, 0.0, 1))
        assert [r.window for r in reports] == [(0, 100), (25, 125), (50, 150)]
        assert all(r.current_rows == 100 for r in reports)

    def test_window_contents_are_the_right_rows(self, reference: drift.ReferenceProfile) -> None:
        """A window's report equals compare() on exactly its rows."""
        stream = pd.concat([_batch(60, 0.0, 2), _batch(60, 0.0, 3)], ignore_index=True)
        mon = drift.Monitor(reference, window=50, step=20, method="ks")
        out = mon.update(stream.iloc[:60]) + mon.update(stream.iloc[60:])
        last = out[-1]
        start, end = last.window
        direct = drift.compare(reference, stream.iloc[start:end], method="ks")
        assert last.model_copy(update={"window": None}) == direct

    def test_on_drift_is_called_only_for_drifting_windows(
        self, reference: drift.ReferenceProfile
    ) -> None:
        """The callback sees the drifted windows; on_report sees all of them."""
        seen: list[tuple[int, int]] = []
        every: list[drift.DriftReport] = []
        mon = drift.Monitor(
            reference,
            window=500,
            on_drift=lambda r: seen.append(r.window),
            on_report=every.append,
            columns=["x"],
        )
        mon.update(_batch(500, 0.0, 4))
        mon.update(_batch(500, 2.0, 5))
        assert seen == [(500, 1000)]
        assert len(every) == 2

    def test_record_dicts_and_flush(self, reference: drift.ReferenceProfile) -> None:
        """Records are accepted; flush reports the tail once and then returns None."""
        mon = drift.Monitor(reference, window=100, method="psi")
        mon.update(_batch(130, 0.0, 6).to_dict("records"))
        tail = mon.flush()
        assert tail is not None
        assert tail.window == (100, 130)
        assert mon.flush() is None
        assert mon.update([]) == []

    def test_bad_windows_are_refused(self, reference: drift.ReferenceProfile) -> None:
        """step must be between 1 and window."""
        with pytest.raises(InvalidInputError):
            drift.Monitor(reference, window=10, step=11)
        with pytest.raises(InvalidInputError):
            drift.Monitor(reference, window=0)
