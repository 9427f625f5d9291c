"""The run attributes a filter names are the columns a run's summary shows."""

from __future__ import annotations

import pytest

from mlopskit.errors import FilterSyntaxError
from mlopskit.tracking import RUN_INFO_COLUMNS
from mlopskit.tracking._query import Field, parse_filter, parse_order_by


def test_unknown_field_lists_the_run_summary_columns_in_order() -> None:
    """An unknown field's error lists exactly the columns `runs show` prints, in its order."""
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter("colour = 'red'")
    assert f"one of {', '.join(RUN_INFO_COLUMNS)}" in str(info.value)


@pytest.mark.parametrize("column", RUN_INFO_COLUMNS)
def test_every_summary_column_can_order_runs(column: str) -> None:
    """Every column of a run's summary is an attribute ``order_by`` accepts by its bare name."""
    assert parse_order_by([column])[0].field == Field("attributes", column)
