"""mk.log_table stores a table as Parquet on the run; load_artifact gives the DataFrame back
(issue 12)."""

from __future__ import annotations

import pandas as pd
import pytest

import mlopskit as mk
from mlopskit.errors import InvalidInputError
from mlopskit.tracking import ObjectStoreBackend, Tracker


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"id": [1, 2, 3], "label": ["cat", "dog", "<b>x</b>"], "p": [0.1, 0.5, 0.9]}
    )


class TestLogTable:
    def test_a_dataframe_is_stored_as_parquet_and_loads_back(self, workspace: str) -> None:
        """The artifact is Parquet (readable outside Python) and load_artifact returns an
        equal DataFrame."""
        with mk.start_run("tables") as run:
            ref = mk.log_table("predictions", _frame())
        assert ref.media_type == "application/vnd.apache.parquet"
        assert run.artifacts["predictions"] == ref
        data = run.tracker.store.get_bytes(ref)
        assert data[:4] == b"PAR1"
        pd.testing.assert_frame_equal(mk.get_run(run.run_id).load_artifact("predictions"), _frame())

    def test_dicts_and_records_become_tables(self, workspace: str) -> None:
        """A dict of columns and a list of records are tables too."""
        with mk.start_run("tables") as run:
            run.log_table("cols", {"a": [1, 2]})
            run.log_table("rows", [{"a": 1}, {"a": 2}])
        assert run.load_artifact("cols").equals(run.load_artifact("rows"))

    def test_a_column_parquet_cannot_hold_is_refused_and_nothing_logged(
        self, workspace: str
    ) -> None:
        """A column of arbitrary objects is an InvalidInputError (never a silent pickle)."""
        with mk.start_run("tables") as run, pytest.raises(InvalidInputError, match="Parquet"):
            run.log_table("bad", pd.DataFrame({"o": [object(), object()]}))
        assert run.artifacts == {}

    def test_not_a_table_is_refused(self, workspace: str) -> None:
        """A scalar is not a table: InvalidInputError naming what was given."""
        with mk.start_run("tables") as run, pytest.raises(InvalidInputError, match="int"):
            run.log_table("n", 3)

    def test_tables_on_an_object_store_workspace(self, s3_url: str) -> None:
        """On S3 (the object-store backend) the table round-trips the same way."""
        tracker = Tracker(s3_url, ObjectStoreBackend(s3_url))
        with tracker.start_run("tables", capture_env=False) as run:
            run.log_table("t", _frame())
        pd.testing.assert_frame_equal(tracker.get_run(run.run_id).load_artifact("t"), _frame())
