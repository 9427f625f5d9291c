"""``Monitor``: feed production batches, get a drift report per window."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlopskit._log import get_logger
from mlopskit.drift._columns import as_frame
from mlopskit.drift._compare import compare
from mlopskit.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

    from mlopskit.drift._report import DriftReport

__all__ = ["Monitor"]

_log = get_logger("mlopskit.drift")


class Monitor:
    """Compare a stream of batches with a reference, one window of rows at a time.

    Rows are counted across batches. The first report covers rows ``[0, window)``;
    after that a report is made every ``step`` new rows over the latest ``window`` rows.
    ``step == window`` (the default) gives tumbling windows, ``step < window`` sliding
    ones. A batch may complete several windows; each gets its own report.

    Args:
        reference: A :class:`ReferenceProfile` (recommended: compact, no raw data kept)
            or anything ``compare`` accepts as a reference.
        window: Rows per window.
        step: Rows between reports (default: ``window``).
        on_drift: Called with each report whose dataset verdict is drift.
        on_report: Called with every report.
        keep: How many recent reports :attr:`reports` keeps.
        **compare_options: Passed to :func:`compare` (``method``, ``thresholds``,
            ``columns``, ``rule``, ``preset``, ...).
    """

    def __init__(
        self,
        reference: Any,
        *,
        window: int,
        step: int | None = None,
        on_drift: Callable[[DriftReport], object] | None = None,
        on_report: Callable[[DriftReport], object] | None = None,
        keep: int = 100,
        **compare_options: Any,
    ) -> None:
        step = window if step is None else step
        if window < 1 or step < 1 or step > window:
            raise InvalidInputError(
                f"need 1 <= step <= window; found window={window}, step={step}",
                found=(window, step),
            )
        self.reference = reference
        self.window = int(window)
        self.step = int(step)
        self.on_drift = on_drift
        self.on_report = on_report
        self.compare_options = compare_options
        self.reports: deque[DriftReport] = deque(maxlen=keep)
        self.rows_seen = 0
        self._buffer: pd.DataFrame | None = None
        self._buffer_start = 0  # stream index of the buffer's first row
        self._next_end = self.window  # stream index where the next window ends
        self._last_end = 0  # end of the last full window
        self._flushed_at = 0

    def update(self, batch: Any) -> list[DriftReport]:
        """Add a batch (DataFrame, mapping of columns, or list of record dicts).

        Returns:
            The reports of the windows this batch completed (often none).
        """
        import pandas as pd

        frame = as_frame(batch, what="batch")
        if len(frame) == 0:
            return []
        self._buffer = (
            frame if self._buffer is None else pd.concat([self._buffer, frame], ignore_index=True)
        )
        self.rows_seen += len(frame)
        out = []
        while self.rows_seen >= self._next_end:
            out.append(self._emit(self._next_end - self.window, self._next_end))
            self._last_end = self._next_end
            self._next_end += self.step
        self._trim()
        return out

    def flush(self) -> DriftReport | None:
        """A report on the rows not yet covered by a full window, if there are any.

        Use it at the end of a stream: it covers the buffered rows from the start of what
        the next window would need (the rows after the last window, for tumbling windows),
        so it may hold fewer than ``window`` rows. Calling it again without new rows
        returns ``None``.
        """
        if self._buffer is None or self.rows_seen <= max(self._last_end, self._flushed_at):
            return None
        self._flushed_at = self.rows_seen
        return self._emit(self._buffer_start, self.rows_seen)

    def _emit(self, start: int, end: int) -> DriftReport:
        assert self._buffer is not None
        lo, hi = start - self._buffer_start, end - self._buffer_start
        rows = self._buffer.iloc[lo:hi]
        report = compare(self.reference, rows, **self.compare_options).model_copy(
            update={"window": (start, end)}
        )
        self.reports.append(report)
        _log.debug("drift_window", start=start, end=end, dataset_drift=report.drifted)
        if self.on_report is not None:
            self.on_report(report)
        if report.drifted and self.on_drift is not None:
            self.on_drift(report)
        return report

    def _trim(self) -> None:
        assert self._buffer is not None
        keep_from = self._next_end - self.window  # first row the next window needs
        drop = keep_from - self._buffer_start
        if drop > 0:
            self._buffer = self._buffer.iloc[drop:].reset_index(drop=True)
            self._buffer_start = keep_from
