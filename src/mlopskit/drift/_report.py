"""The drift report: one row per column, the dataset verdict and its rule."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from mlopskit.drift._results import Binning

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ColumnDrift", "DriftReport", "Histogram", "Rule"]

Rule = Literal["share", "bonferroni", "fdr_bh"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")


class Histogram(_Frozen):
    """Shares of the reference and current samples per bin, for the HTML report."""

    labels: list[str]
    reference: list[float]
    current: list[float]


class ColumnDrift(_Frozen):
    """The drift verdict of one column.

    ``statistic`` and ``p_value`` are ``None`` only when a sample has no usable value
    (``note`` says which and what the verdict is). ``drifted`` combines the value test
    (``value_drifted``) and, when a missing threshold is set, the change in missing share
    (``missing_drifted``). With the Bonferroni or Benjamini-Hochberg rule, p-value tests
    are judged on ``p_value_adjusted``.
    """

    column: str
    kind: Literal["numeric", "categorical"]
    method: str
    statistic: float | None
    p_value: float | None = None
    p_value_adjusted: float | None = None
    threshold: float
    drifted: bool
    value_drifted: bool
    missing_share_reference: float
    missing_share_current: float
    missing_drifted: bool | None = None
    n_reference: int
    n_current: int
    exact: bool = True
    error_bound: float | None = None
    binning: Binning | None = None
    note: str | None = None
    histogram: Histogram | None = None


_FRAME_COLUMNS = [
    "column",
    "kind",
    "method",
    "statistic",
    "p_value",
    "p_value_adjusted",
    "threshold",
    "drifted",
    "value_drifted",
    "missing_share_reference",
    "missing_share_current",
    "missing_drifted",
    "n_reference",
    "n_current",
    "exact",
    "error_bound",
    "note",
]


class DriftReport(_Frozen):
    """Per-column drift and the dataset verdict.

    Dataset rules: ``"share"`` — drift when ``share_drifted >= drift_share``;
    ``"bonferroni"`` / ``"fdr_bh"`` — p-values of test columns are adjusted over the
    columns tested (Bonferroni, or Benjamini-Hochberg false discovery rate) and the
    dataset drifts when any column drifts.
    """

    schema_version: Literal[1] = 1
    preset: Literal["evidently"] | None = None
    rule: Rule
    drift_share: float
    n_columns: int
    n_drifted: int
    share_drifted: float
    drifted: bool
    reference_rows: int
    current_rows: int
    columns: list[ColumnDrift]
    window: tuple[int, int] | None = None  # rows [start, end) of a Monitor's stream

    def __getitem__(self, column: str) -> ColumnDrift:
        for row in self.columns:
            if row.column == column:
                return row
        raise KeyError(column)

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the columns that drifted, in report order."""
        return [row.column for row in self.columns if row.drifted]

    def to_frame(self) -> pd.DataFrame:
        """One row per column (index: column name) with the verdict fields."""
        import pandas as pd

        data = [{k: getattr(row, k) for k in _FRAME_COLUMNS} for row in self.columns]
        frame: pd.DataFrame = pd.DataFrame(data, columns=_FRAME_COLUMNS).set_index("column")
        return frame

    def to_dict(self) -> dict[str, Any]:
        """The whole report as plain Python data."""
        return self.model_dump()

    def to_json(self, **kwargs: Any) -> str:
        """The report as JSON (``Infinity`` for infinite statistics)."""
        return self.model_dump_json(**kwargs)

    def _repr_html_(self) -> str:
        from mlopskit.drift._html import render

        return render(self, standalone=False)

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """A self-contained HTML page (charts drawn by the inlined chart code, no network).

        Written to ``path`` when given; the page is returned either way.
        """
        from mlopskit.drift._html import render

        page = render(self, standalone=True)
        if path is not None:
            with open(os.fspath(path), "w", encoding="utf-8") as fh:
                fh.write(page)
        return page
