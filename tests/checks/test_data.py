"""Data checks: schema, nulls, ranges, categories, row counts and drift, recorded as runs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from checks_models import make_frame
from hypothesis import given
from hypothesis import strategies as st

import mlopskit as mk
from mlopskit.checks import check_data
from mlopskit.errors import InvalidInputError, NotFoundError


def _rules(result: Any) -> dict[str, bool]:
    return {f.rule: f.passed for f in result.findings}


class TestPass:
    def test_same_distribution_passes_every_rule(self, ws: Any) -> None:
        """Two samples of one distribution pass schema, nulls, categories, rows and drift."""
        r = check_data(make_frame(seed=2), make_frame(seed=1))
        assert r.passed, r.summary()
        assert {"schema", "min_rows", "row_change", "drift", "categories[city]"} <= set(_rules(r))

    def test_previous_version_is_the_default_reference(self, ws: Any, holdout: str) -> None:
        """A dataset URI is checked against the version before it when no reference is given."""
        r = check_data(holdout)
        assert r.passed and r.subject == "holdout/2"
        assert r.params["reference"] == "holdout/1"

    def test_stored_profile_as_reference(self, ws: Any, tmp_path: Any) -> None:
        """A drift profile saved as JSON stands in for the reference data."""
        path = tmp_path / "profile.json"
        path.write_text(mk.drift.profile(make_frame(seed=1)).to_json())
        assert check_data(make_frame(seed=2), str(path)).passed

    def test_additive_schema_allows_new_columns(self, ws: Any) -> None:
        """schema='additive' accepts a new column that 'exact' refuses."""
        cur = make_frame(seed=2).assign(extra=1.0)
        assert not _rules(check_data(cur, make_frame(seed=1), drift=False))["schema"]
        assert check_data(cur, make_frame(seed=1), schema="additive", drift=False).passed


class TestFail:
    def test_missing_column_fails(self, ws: Any) -> None:
        """A column the reference had and the data lost fails the schema rule."""
        r = check_data(make_frame(seed=2).drop(columns=["f1"]), make_frame(seed=1))
        assert not r.passed and not _rules(r)["schema"]
        assert "f1" in r.failures[0].message

    def test_type_change_fails(self, ws: Any) -> None:
        """A numeric column turned to strings fails even with schema='additive'."""
        cur = make_frame(seed=2).assign(f1=lambda d: d["f1"].round(1).astype(str))
        r = check_data(cur, make_frame(seed=1), schema="additive", drift=False)
        assert not _rules(r)["schema"]

    def test_null_share_rise_fails(self, ws: Any) -> None:
        """A column whose nulls rise past max_null_increase fails its null rule."""
        cur = make_frame(seed=2)
        cur.loc[:99, "f1"] = np.nan
        r = check_data(cur, make_frame(seed=1), drift=False)
        assert _rules(r) == {**_rules(r), "nulls[f1]": False}
        assert r.metrics["null_share.f1"] == pytest.approx(100 / 300)

    def test_range_fails(self, ws: Any) -> None:
        """Values outside an explicit range fail it; an infinity counts as out of range."""
        cur = make_frame(seed=2)
        r = check_data(cur, make_frame(seed=1), ranges={"f0": [-10, 10]}, drift=False)
        assert _rules(r)["range[f0]"]
        cur.loc[0, "f0"] = np.inf
        r = check_data(cur, make_frame(seed=1), ranges={"f0": [-10, 10]}, drift=False)
        assert not _rules(r)["range[f0]"]

    def test_unseen_category_fails(self, ws: Any) -> None:
        """A category the reference never had fails the category rule, naming it."""
        cur = make_frame(seed=2)
        cur.loc[0, "city"] = "lille"
        r = check_data(cur, make_frame(seed=1), drift=False)
        assert not _rules(r)["categories[city]"]
        assert "lille" in r.failures[0].message

    def test_row_count_change_fails(self, ws: Any) -> None:
        """Losing most rows fails row_change; no rows at all also fails min_rows and drift."""
        r = check_data(make_frame(seed=2).head(50), make_frame(seed=1), drift=False)
        assert not _rules(r)["row_change"]
        empty = make_frame(seed=2).head(0)
        r = check_data(empty, make_frame(seed=1))
        assert not _rules(r)["min_rows"] and not _rules(r)["drift"] and not r.passed

    def test_drift_fails(self, ws: Any) -> None:
        """A shifted feature fails the drift rule, and the report is kept as evidence."""
        r = check_data(make_frame(seed=2, shift=2.0), make_frame(seed=1))
        assert not _rules(r)["drift"]
        assert "drift" in r.evidence and r.metrics["drift.share_drifted"] > 0


class TestBadInput:
    def test_unknown_schema_rule(self, ws: Any) -> None:
        """An unknown schema mode is an InvalidInputError naming it."""
        with pytest.raises(InvalidInputError, match="schema must be"):
            check_data(make_frame(), make_frame(), schema="loose")  # type: ignore[arg-type]

    def test_not_a_table(self, ws: Any) -> None:
        """A list is refused with what was expected, not guessed at."""
        with pytest.raises(InvalidInputError, match="expected a pandas DataFrame"):
            check_data([1, 2, 3], make_frame())

    def test_no_reference_for_in_memory_data(self, ws: Any) -> None:
        """In-memory data without reference= is an error, never a pass."""
        with pytest.raises(InvalidInputError, match="no reference"):
            check_data(make_frame())

    def test_first_version_has_no_previous(self, ws: Any) -> None:
        """A first dataset version without reference= is an error."""
        ws.datasets.commit("d", make_frame())
        with pytest.raises(InvalidInputError, match="first version"):
            check_data("d/1")

    def test_unknown_dataset(self, ws: Any) -> None:
        """An unknown dataset URI is a NotFoundError."""
        with pytest.raises(NotFoundError):
            check_data("nope/1", make_frame())

    def test_range_on_unknown_column(self, ws: Any) -> None:
        """A range rule naming a column the data lacks is an error, never skipped."""
        with pytest.raises(InvalidInputError, match="'zz' is not in the data"):
            check_data(make_frame(), make_frame(), ranges={"zz": [0, 1]})

    def test_null_bound_on_unknown_column(self, ws: Any) -> None:
        """A per-column null bound naming a column the data lacks is an error, never ignored."""
        with pytest.raises(InvalidInputError, match="max_null_share"):
            check_data(make_frame(), make_frame(), max_null_share={"f9": 0.1})

    def test_negative_threshold(self, ws: Any) -> None:
        """A negative max_row_change is refused and nothing is recorded."""
        with pytest.raises(InvalidInputError, match="max_row_change"):
            check_data(make_frame(), make_frame(), max_row_change=-1)
        assert "checks" not in ws.tracker.experiments()

    def test_damaged_profile_file(self, ws: Any, tmp_path: Any) -> None:
        """A reference JSON that is not a profile is a clear error naming the file."""
        path = tmp_path / "p.json"
        path.write_text('{"rows": "many"}')
        with pytest.raises(InvalidInputError, match=r"p\.json"):
            check_data(make_frame(), str(path))


class TestRecording:
    def test_result_is_a_run_with_evidence_and_lineage(self, ws: Any, holdout: str) -> None:
        """The check is a run: verdict tag, metrics, check.json artifact, and a lineage link."""
        r = check_data(holdout)
        run = mk.get_run(r.run_id)
        assert run.tags["verdict"] == "pass" and run.tags["check"] == "data"
        assert run.metrics["rows"] == 300
        stored = run.load_artifact("check.json")
        assert stored["passed"] is True and stored["run_id"] == r.run_id
        graph = mk.lineage("dataset:holdout/2", direction="down")
        assert r.run_id in graph.to_frame().to_string()

    def test_record_false_writes_no_run(self, ws: Any) -> None:
        """record=False judges without writing a run."""
        r = check_data(make_frame(seed=2), make_frame(seed=1), record=False)
        assert r.run_id is None and "checks" not in ws.tracker.experiments()


@given(perm_seed=st.integers(0, 2**32 - 1), shift=st.sampled_from([0.0, 0.4, 3.0]))
def test_verdict_does_not_depend_on_row_order(perm_seed: int, shift: float) -> None:
    """Shuffling the rows of either side never changes any finding's verdict."""
    ref, cur = make_frame(seed=1, rows=120), make_frame(seed=2, rows=150, shift=shift)
    cur.loc[:9, "f1"] = np.nan
    rng = np.random.default_rng(perm_seed)
    first = check_data(cur, ref, ranges={"f0": [-3, 3]}, record=False)
    again = check_data(
        cur.iloc[rng.permutation(len(cur))],
        ref.iloc[rng.permutation(len(ref))],
        ranges={"f0": [-3, 3]},
        record=False,
    )
    assert _rules(first) == _rules(again) and first.passed == again.passed


def test_result_round_trips_through_json() -> None:
    """A CheckResult read back from its JSON equals the original."""
    from mlopskit.checks import CheckResult

    r = check_data(make_frame(seed=2), pd.DataFrame(make_frame(seed=1)), record=False)
    assert CheckResult.model_validate_json(r.model_dump_json()) == r
