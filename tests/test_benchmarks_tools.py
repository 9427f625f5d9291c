"""The benchmark record tooling: rows, rendering into docs/performance.md, comparing records."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

BENCH_DIR = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str) -> ModuleType:
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    spec = importlib.util.spec_from_file_location(f"_bench_tools_{name}", BENCH_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bench = _load("_bench")
render = _load("render")
compare = _load("compare")
record = _load("record")


def _row(name: str, ratio: float, **kw: Any) -> dict[str, Any]:
    row = {
        "row": name,
        "mode": "in-process",
        "anchor": "dvc 3.x",
        "ratio": ratio,
        "min": ratio * 0.9,
        "max": ratio * 1.1,
        "n": 5,
        "goal": "<= 0.5",
        "met": ratio <= 0.5,
        "mlopskit": ratio,
        "anchor_value": 1.0,
        "unit": "s",
    }
    row.update(kw)
    return row


def _record(*benches: tuple[str, list[dict[str, Any]]], load: float = 0.3) -> dict[str, Any]:
    return {
        "machine": {
            "cpu": "AMD EPYC 7B13",
            "flags": {"sha_ni": True, "avx2": True, "avx512": []},
            "cores": 2,
            "load_start": [load, 0.2, 0.1],
            "load_end": [load, 0.2, 0.1],
        },
        "python": "3.11.7",
        "versions": {"numpy": "2.4.6", "dvc": "3.59.0"},
        "commit": "0123456789abcdef",
        "created": "2026-12-01T19:00:00Z",
        "command": "nox -s bench_all",
        "benches": [{"bench": b, "rows": rows} for b, rows in benches],
    }


# -- rows -------------------------------------------------------------------------------------


def test_make_row_is_the_median_of_per_pair_ratios() -> None:
    """A row's ratio is the median of a[i]/b[i] (not median(a)/median(b)), with min and max."""
    row = bench.make_row(
        "put_file",
        mode="process",
        anchor="dvc 3.x",
        a=[1.0, 2.0, 9.0],
        b=[2.0, 2.0, 10.0],
        unit="s",
    )
    assert tuple(row) == bench.ROW_KEYS
    assert row["ratio"] == 0.9  # pairs 0.5, 1.0, 0.9
    assert (row["min"], row["max"], row["n"]) == (0.5, 1.0, 3)
    assert (row["mlopskit"], row["anchor_value"]) == (2.0, 2.0)
    assert row["goal"] is None and row["met"] is None


def test_rate_rows_use_the_cost_convention() -> None:
    """For a rate, ratio = anchor / mlopskit, so lower is better for every row."""
    row = bench.make_row(
        "log_metric",
        mode="in-process",
        anchor="trackio",
        a=[300_000.0],
        b=[30_000.0],
        unit="points/s",
        goal="<= 0.333",
    )
    assert row["ratio"] == pytest.approx(0.1)
    assert row["met"] is True


def test_absolute_row_measures_against_the_goal_bound() -> None:
    """A row without an anchor tool compares each value with the goal's bound, goal <= 1."""
    row = bench.absolute_row(
        "log_batch", mode="in-process", values=[250_000.0, 350_000.0, 400_000.0],
        unit="points/s", goal=">= 300000",
    )  # fmt: skip
    assert row["anchor_value"] == 300_000
    assert row["ratio"] == pytest.approx(300_000 / 350_000)
    assert row["goal"] == "<= 1" and row["met"] is True


@given(st.lists(st.tuples(st.floats(0.001, 1000), st.floats(0.001, 1000)), min_size=1, max_size=15))
def test_row_ratio_lies_within_its_spread(pairs: list[tuple[float, float]]) -> None:
    """Whatever the measurements, min <= ratio <= max and n counts the pairs."""
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    row = bench.make_row("x", mode="http", anchor="y", a=a, b=b, unit="s")
    assert row["min"] <= row["ratio"] <= row["max"]
    assert row["n"] == len(pairs)


def test_bad_rows_are_refused() -> None:
    """An unknown mode, unpaired values or a malformed goal are errors, not silent rows."""
    with pytest.raises(ValueError, match="mode"):
        bench.make_row("x", mode="cli", anchor="y", a=[1.0], b=[1.0], unit="s")
    with pytest.raises(ValueError, match="same"):
        bench.make_row("x", mode="process", anchor="y", a=[1.0, 2.0], b=[1.0], unit="s")
    with pytest.raises(ValueError, match="goal"):
        bench.goal_met(1.0, "about 2")


def test_goal_operators() -> None:
    """Each goal operator decides met/not met as written; no goal gives None."""
    assert bench.goal_met(0.5, "<= 0.5") is True
    assert bench.goal_met(0.5, "< 0.5") is False
    assert bench.goal_met(30.0, ">= 30") is True
    assert bench.goal_met(29.9, "> 30") is False
    assert bench.goal_met(1.0, None) is None
    assert bench.parse_goal("<= 0.15 s") == ("<=", 0.15)  # bench_cli writes a unit
    # bench_s3 writes a note in parentheses (render.py failed on it before)
    assert bench.parse_goal("<= 20 (nothing written after the index)") == ("<=", 20.0)


def test_rows_of_other_benches_render_and_compare() -> None:
    """A row as bench_cli writes it (goal with a unit, no anchor) renders and compares."""
    cli = _row("mlopskit --help", 0.4, goal="<= 0.15 s", met=True, unit="s")
    cli_none = _row("runs ls", 0.4, goal="<= 0.5 s", met=True)
    cli_none.update(anchor=None, ratio=None, anchor_value=None)
    text = render.table({"bench": "cli", "rows": [cli, cli_none]})
    assert "<= 0.15 s" in text and "| runs ls | in-process |" in text
    worse = _row("mlopskit --help", 0.6, goal="<= 0.15 s", met=False)
    rows, _, _ = compare.compare(_record(("cli", [cli, cli_none])), _record(("cli", [worse])))
    assert [(r["key"][1], r["flagged"], r["goal_lost"]) for r in rows] == [
        ("mlopskit --help", True, True)
    ]


def test_machine_reads_the_cpu_flags() -> None:
    """The machine block names the CPU, the SHA-NI/AVX2/AVX-512 flags, cores and load."""
    m = bench.machine([1.0, 1.0, 1.0])
    assert set(m) == {"cpu", "flags", "cores", "load_start", "load_end"}
    assert isinstance(m["flags"]["sha_ni"], bool) and isinstance(m["flags"]["avx512"], list)
    assert m["load_start"] == [1.0, 1.0, 1.0]
    if Path("/proc/cpuinfo").exists():
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8")
        assert m["flags"]["sha_ni"] == (" sha_ni" in flags)


def test_write_record_holds_every_field(tmp_path: Path) -> None:
    """A written record has machine, python, versions, commit, created and the benches."""
    out = tmp_path / "r.json"
    bench.write_record(out, [{"bench": "store", "rows": [_row("a", 0.3)]}], command="x")
    rec = json.loads(out.read_text(encoding="utf-8"))
    assert {"machine", "python", "versions", "commit", "created", "command", "benches"} <= set(rec)
    assert rec["benches"][0]["rows"][0]["ratio"] == 0.3


def test_record_names_the_serving_stack_versions() -> None:
    """The record says which scikit-learn, pandas and serving stack a served request ran
    through (the serve rows' model and codec), as importlib.metadata reports them."""
    from importlib.metadata import version

    pytest.importorskip("sklearn")
    got = bench.versions()
    assert got["scikit-learn"] == version("scikit-learn")
    assert got["pandas"] == version("pandas")
    assert "not-a-library" not in bench.versions(["not-a-library", "pandas"])


# -- render -----------------------------------------------------------------------------------


def test_table_states_mode_ratio_spread_goal_and_verdict() -> None:
    """Every rendered row shows its mode, ratio, spread, goal and met / NOT met."""
    text = render.table(
        {"bench": "store", "rows": [_row("put_file", 0.36), _row("re-put", 1.5, mode="process")]}
    )
    lines = text.splitlines()
    assert len(lines) == 4
    assert "| put_file | in-process |" in lines[2] and "**0.36×**" in lines[2]
    assert "0.324–0.396, n=5; re-run 0.27–0.475" in lines[2]
    assert "<= 0.5" in lines[2] and "| met |" in lines[2]
    assert "| process |" in lines[3] and "**NOT met**" in lines[3] and "1.5× slower" in lines[3]


def test_verdict_says_when_the_rerun_range_crosses_the_goal() -> None:
    """A goal inside the range a re-run is expected in is a verdict a re-run may flip:
    the row says so, met or not; a goal outside that range gets the plain verdict."""
    near = _row("near", 0.45, min=0.4, max=0.48)  # re-run 0.333-0.576 holds 0.5
    missed = _row("missed", 0.52, min=0.45, max=0.55)
    far = _row("far", 0.36)  # re-run 0.27-0.475
    faster = _row("rate", 10.0, min=9.5, max=11.0, goal=">= 9", met=True)
    lines = render.table({"bench": "s", "rows": [near, missed, far, faster]}).splitlines()
    assert lines[2].endswith("| met; re-run range crosses the goal |")
    assert lines[3].endswith("| **NOT met**; re-run range crosses the goal |")
    assert lines[4].endswith("| met |")
    assert lines[5].endswith("| met; re-run range crosses the goal |")  # 9 > 9.5 / 1.2
    # earlier runs widen the range the verdict looks at
    wide = render.render(
        _record(("s", [far])), "n.json", [_record(("s", [_row("far", 0.4, max=0.43)]))]
    )
    assert "| met; re-run range crosses the goal |" in wide["s"]


def test_table_tolerates_rows_without_an_anchor() -> None:
    """A row with no anchor (null ratio, value and spread) renders dashes, not a crash."""
    row = _row("first paint", 0.4)
    row.update(anchor=None, ratio=None, min=None, max=None, anchor_value=None, goal=None, met=None)
    line = render.table({"bench": "ui", "rows": [row]}).splitlines()[2]
    assert line.startswith("| first paint | in-process |") and "—" in line


def test_machine_line_says_loaded_and_names_flags() -> None:
    """The machine line names the CPU and AVX-512 'none', and warns when the load was high."""
    quiet = render.machine_line(_record(load=0.3))
    assert "AMD EPYC 7B13" in quiet and "AVX-512: none" in quiet and "SHA-NI yes" in quiet
    assert "loaded" not in quiet and "nox -s bench_all" in quiet
    assert "loaded by other work" in render.machine_line(_record(load=3.5))
    assert "loaded" not in render.machine_line(_record(load=1.2))  # the bench itself: <= cores


def test_update_page_replaces_only_marked_blocks() -> None:
    """Prose outside the markers is kept; a bench without a block is reported, not dropped silently."""
    page = (
        "# Perf\n\nprose one\n\n<!-- bench:machine -->\nold machine\n<!-- /bench:machine -->\n\n"
        "## Store\n\nprose two\n\n<!-- bench:store -->\nold table\n<!-- /bench:store -->\n"
        "tail\n"
    )
    blocks = render.render(_record(("store", [_row("put_file", 0.36)]), ("drift", [])))
    new, missing = render.update_page(page, blocks)
    assert "old table" not in new and "old machine" not in new
    assert "prose one" in new and "prose two" in new and new.endswith("tail\n")
    assert "| put_file | in-process |" in new
    assert missing == ["drift"]
    again, _ = render.update_page(new, blocks)
    assert again == new  # idempotent


def test_render_main_writes_the_page(tmp_path: Path) -> None:
    """The command updates the page in place from a record file."""
    rec = tmp_path / "r.json"
    rec.write_text(json.dumps(_record(("store", [_row("put_file", 0.36)]))), encoding="utf-8")
    page = tmp_path / "p.md"
    page.write_text("<!-- bench:store -->\n<!-- /bench:store -->\n", encoding="utf-8")
    assert render.main([str(rec), "--docs", str(page)]) == 1  # no machine block: said so
    page.write_text(
        "<!-- bench:machine -->\n<!-- /bench:machine -->\n<!-- bench:store -->\n<!-- /bench:store -->\n",
        encoding="utf-8",
    )
    assert render.main([str(rec), "--docs", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert "put_file" in text and "AMD EPYC 7B13" in text


def test_render_refuses_to_write_a_page_from_a_failed_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A record whose bench failed (left a row out, exited non-zero) never reaches the
    page; printing it, or rendering only the benches that did not fail, works and names
    the failure."""
    bad = _record(("serve", [_row("rps", 0.4)]), ("store", [_row("put_file", 0.36)]))
    bad["benches"][0]["notes"] = [
        "left out, malformed row 'x': mode 'http, pinned' is not one of (...)",
        "failed: 1 malformed row(s)",
    ]
    rec = tmp_path / "r.json"
    rec.write_text(json.dumps(bad), encoding="utf-8")
    page = tmp_path / "p.md"
    blank = "<!-- bench:machine -->\n<!-- /bench:machine -->\n"
    blank += (
        "<!-- bench:store -->\n<!-- /bench:store -->\n<!-- bench:serve -->\n<!-- /bench:serve -->\n"
    )
    page.write_text(blank, encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        render.main([str(rec), "--docs", str(page)])
    assert exc.value.code == 2
    assert "serve: failed: 1 malformed row(s)" in capsys.readouterr().err
    assert page.read_text(encoding="utf-8") == blank
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_record(("store", [_row("put_file", 0.4)]))), encoding="utf-8")
    # an earlier record's failed bench is named; its other rows still widen the spreads
    assert render.main([str(good), "--with", str(rec), "--docs", str(page)]) == 0
    assert "serve: failed" in capsys.readouterr().err
    assert "n=10 in 2 runs (0.4; 0.36)" in page.read_text(encoding="utf-8")
    assert render.main([str(rec)]) == 0
    assert "render: " in capsys.readouterr().err
    assert render.main([str(rec), "--only", "store", "--docs", str(page)]) == 0
    assert "put_file" in page.read_text(encoding="utf-8")


# -- compare ----------------------------------------------------------------------------------


def test_compare_flags_more_than_twenty_percent_worse() -> None:
    """A ratio 25% worse is flagged, 15% worse is not, better never is; direction follows the goal."""
    old = _record(
        ("store", [_row("a", 0.40), _row("b", 0.40), _row("c", 0.40)]),
        ("drift", [_row("speed-up", 10.0, goal=">= 3")]),
    )
    new = _record(
        ("store", [_row("a", 0.50), _row("b", 0.46), _row("c", 0.10)]),
        ("drift", [_row("speed-up", 7.0, goal=">= 3")]),
    )
    rows, only_old, only_new = compare.compare(old, new)
    flagged = {r["key"][1]: r["flagged"] for r in rows}
    assert flagged == {"a": True, "b": False, "c": False, "speed-up": True}
    assert only_old == only_new == []
    assert not any(r["in_observed"] for r in rows)  # all moved outside 0.9x-1.1x
    # the range the page states for a re-run is that spread 20% wider each side
    assert {r["key"][1]: r["in_spread"] for r in rows} == {
        "a": True,  # 0.50 <= 0.44 x 1.2
        "b": True,
        "c": False,  # 0.10 < 0.36 / 1.2
        "speed-up": False,  # 7.0 < 9.0 / 1.2
    }


def test_in_spread_is_checked_at_the_precision_the_page_states() -> None:
    """A spread is stated with three significant digits: a memory row whose ratio moved
    within that precision (0.1253-0.1262 stated "0.125-0.126", then 0.1264) is within
    it; one that moved past it (0.1266, stated 0.127) is not."""
    row = _row("mem", 0.1258, min=0.1253, max=0.1262, n=10)
    for new, inside in ((0.1264, True), (0.1266, False), (0.1246, True), (0.1244, False)):
        moved = _row("mem", new, min=new, max=new, n=10)
        (r,), _, _ = compare.compare(_record(("d", [row])), _record(("d", [moved])))
        assert r["in_observed"] is inside, new
    big = _row("rate", 402.4, min=401.6, max=402.4, n=3)  # stated "402-402"
    (r,), _, _ = compare.compare(_record(("d", [big])), _record(("d", [_row("rate", 402.3)])))
    assert r["in_observed"]


def test_the_rerun_range_is_checked_at_the_precision_the_page_states() -> None:
    """Spread 0.1-0.2: the page states a re-run within 0.0833-0.24; 0.2404 prints as 0.24
    (inside), 0.2406 as 0.241 (outside), 0.0832 is below 0.0833."""
    row = _row("r", 0.15, min=0.1, max=0.2, n=5)
    assert "re-run 0.0833–0.24" in render.table({"bench": "d", "rows": [row]})
    for new, inside in ((0.2404, True), (0.2406, False), (0.0834, True), (0.0832, False)):
        moved = _row("r", new, min=new, max=new, n=5)
        (r,), _, _ = compare.compare(_record(("d", [row])), _record(("d", [moved])))
        assert r["in_spread"] is inside and not r["in_observed"], new


@given(
    st.floats(min_value=1e-4, max_value=1e4, allow_nan=False),
    st.floats(min_value=1.0, max_value=3.0),
    st.floats(min_value=0.1, max_value=10.0),
)
def test_a_ratio_within_the_observed_spread_is_within_the_rerun_range(
    lo: float, width: float, where: float
) -> None:
    """The re-run range holds the observed spread and is 20% wider each side; a new ratio
    inside the observed spread is inside it, one more than 20% past an edge is not."""
    hi = lo * width
    r_lo, r_hi = bench.rerun_range(lo, hi)
    assert r_lo < lo <= hi < r_hi
    assert r_hi / hi == pytest.approx(1.2) and lo / r_lo == pytest.approx(1.2)
    new = lo * where
    (r,), _, _ = compare.compare(
        _record(("d", [_row("x", lo, min=lo, max=hi)])),
        _record(("d", [_row("x", new, min=new, max=new)])),
    )
    assert not r["in_observed"] or r["in_spread"]
    if new > hi * 1.21 or new < lo / 1.21:
        assert not r["in_spread"]


@given(st.floats(min_value=1e-6, max_value=1e6, allow_nan=False))
def test_as_stated_is_the_number_the_page_prints(x: float) -> None:
    """What compare.py checks is the number render.py writes, for every magnitude."""
    assert compare.as_stated(x) == float(render._num(x).replace(",", ""))
    assert abs(compare.as_stated(x) - x) <= 0.005 * x + 0.5  # 3 digits, or whole from 100


def test_compare_matches_rows_by_bench_row_and_mode() -> None:
    """The same case in another mode is a different row; rows in one record only are listed."""
    old = _record(("store", [_row("a", 0.4)]))
    new = _record(("store", [_row("a", 0.9, mode="process")]))
    rows, only_old, only_new = compare.compare(old, new)
    assert rows == []
    assert only_old == [("store", "a", "in-process")] and only_new == [("store", "a", "process")]


def test_compare_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The command exits 1 when a ratio got >20% worse and 0 when every change is within it."""
    old, same, worse = tmp_path / "o.json", tmp_path / "s.json", tmp_path / "w.json"
    old.write_text(json.dumps(_record(("s", [_row("a", 0.4)]))), encoding="utf-8")
    same.write_text(json.dumps(_record(("s", [_row("a", 0.41)]))), encoding="utf-8")
    worse.write_text(json.dumps(_record(("s", [_row("a", 0.6)]))), encoding="utf-8")
    assert compare.main([str(old), str(same)]) == 0
    assert compare.main([str(old), str(worse)]) == 1
    assert "WORSE" in capsys.readouterr().out


# -- record -----------------------------------------------------------------------------------


def test_gather_accepts_every_bench_output_shape(tmp_path: Path) -> None:
    """A bench may write a full record, {"bench", "rows"} or a bare list of rows."""
    rows = [_row("a", 0.4)]
    shapes = {
        "full": _record(("store", rows)),
        "entry": {"bench": "serve", "rows": rows},
        "list": rows,
    }
    got = {}
    for name, data in shapes.items():
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps(data), encoding="utf-8")
        got[name] = record.gather(p, name)
    assert got["full"] == [{"bench": "store", "rows": rows}]
    assert got["entry"] == [{"bench": "serve", "rows": rows}]
    assert got["list"] == [{"bench": "list", "rows": rows}]


def test_gather_leaves_out_a_row_whose_ratio_is_outside_its_spread(tmp_path: Path) -> None:
    """A bench row whose spread is another quantity than its ratio is dropped and named."""
    good = _row("a", 0.4)
    bad = _row("b", 1.08, min=1.88, max=2.01)  # spread in seconds, ratio against an anchor
    p = tmp_path / "s3.json"
    p.write_text(json.dumps({"bench": "s3", "rows": [good, bad]}), encoding="utf-8")
    (entry,) = record.gather(p, "s3")
    assert entry["rows"] == [good]
    assert "'b'" in entry["notes"][0] and "outside its own spread" in entry["notes"][0]
    assert record.malformed([entry]) == 1


def test_row_problems_names_what_is_wrong() -> None:
    """Missing keys, an unknown mode, a ratio without a spread and n < 1 are each named."""
    assert bench.row_problems(_row("ok", 0.4)) == []
    assert bench.row_problems(_row("ok", 0.4, load=1.2)) == []  # extra keys are allowed
    assert "missing keys" in bench.row_problems({"row": "x"})[0]
    assert "mode" in bench.row_problems(_row("x", 0.4, mode="headless chromium"))[0]
    assert "spread" in bench.row_problems(_row("x", 0.4, min=None))[0]
    assert "n must" in bench.row_problems(_row("x", 0.4, n=0))[0]
    b = bench.Bench("t")
    with pytest.raises(ValueError, match="outside its own spread"):
        b.add(_row("x", 0.4, min=0.5, max=0.6))
    assert b.rows == []


def test_spread_over_several_runs_covers_them_all() -> None:
    """With earlier runs, the spread is the widest min–max, pairs summed, each run's ratio listed."""
    now = _row("put_file", 0.36)
    before = _row("put_file", 0.5, min=0.45, max=0.6)
    other_mode = _row("put_file", 0.9, mode="process", min=0.1, max=2.0)
    blocks = render.render(
        _record(("store", [now])),
        "new.json",
        [_record(("store", [before, other_mode]))],
        ["old.json"],
    )
    assert "0.324–0.6, n=10 in 2 runs (0.36; 0.5); re-run 0.27–0.72" in blocks["store"]
    assert "**0.36×**" in blocks["store"] and "`old.json`" in blocks["machine"]
    alone = render.render(_record(("store", [now])), "r.json")
    assert "0.324–0.396, n=5; re-run 0.27–0.475 |" in alone["store"]
    first = alone["store"].splitlines()[0]  # each table says which record it comes from
    assert "`0123456789ab`" in first and "`r.json`" in first and "2026-12-01T19:00:00Z" in first


def test_render_main_takes_earlier_records(tmp_path: Path) -> None:
    """``--with EARLIER`` widens the spreads of the page it writes."""
    new, old = tmp_path / "new.json", tmp_path / "old.json"
    new.write_text(json.dumps(_record(("store", [_row("put_file", 0.36)]))), encoding="utf-8")
    old.write_text(json.dumps(_record(("store", [_row("put_file", 0.5)]))), encoding="utf-8")
    page = tmp_path / "p.md"
    page.write_text(
        "<!-- bench:machine -->\n<!-- /bench:machine -->\n<!-- bench:store -->\n<!-- /bench:store -->\n",
        encoding="utf-8",
    )
    assert render.main([str(new), "--with", str(old), "--docs", str(page)]) == 0
    assert "n=10 in 2 runs (0.36; 0.5)" in page.read_text(encoding="utf-8")


def test_render_main_only_renders_the_named_benches(tmp_path: Path) -> None:
    """``--only`` rewrites the named tables and leaves the machine line and other tables be."""
    new, old = tmp_path / "new.json", tmp_path / "old.json"
    both = (("store", [_row("put_file", 0.36)]), ("drift", [_row("psi", 0.2)]))
    new.write_text(json.dumps(_record(*both)), encoding="utf-8")
    old.write_text(json.dumps(_record(("store", [_row("put_file", 0.5)]))), encoding="utf-8")
    page = tmp_path / "p.md"
    blank = "<!-- bench:machine -->\nkept\n<!-- /bench:machine -->\n"
    blank += "<!-- bench:store -->\n<!-- /bench:store -->\n<!-- bench:drift -->\nold\n<!-- /bench:drift -->\n"
    page.write_text(blank, encoding="utf-8")
    args = [str(new), "--only", "store", "--with", str(old), "--docs", str(page)]
    assert render.main(args) == 0
    text = page.read_text(encoding="utf-8")
    assert "n=10 in 2 runs (0.36; 0.5)" in text and "psi" not in text
    assert "kept" in text and "\nold\n" in text
    with pytest.raises(SystemExit):  # a bench the record does not have is an error
        render.main([str(new), "--only", "sync", "--docs", str(page)])
    assert page.read_text(encoding="utf-8") == text


# -- side effects -----------------------------------------------------------------------------


def test_isolated_points_home_and_caches_into_the_work_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside isolated(), HOME and every anchor cache point into the work dir; after, they are back."""
    monkeypatch.setenv("HOME", "/original/home")
    monkeypatch.delenv("TRACKIO_DIR", raising=False)
    import os

    with bench.isolated(tmp_path):
        assert os.environ["HOME"] == str(tmp_path / "home")
        for key in ("TRACKIO_DIR", "HF_HOME", "XDG_CACHE_HOME", "DVC_SITE_CACHE_DIR"):
            assert os.environ[key].startswith(str(tmp_path)), key
    assert os.environ["HOME"] == "/original/home"
    assert "TRACKIO_DIR" not in os.environ


def test_skip_evidently_says_skipped_not_missed(tmp_path: Path) -> None:
    """bench_drift --skip-evidently reports the Evidently rows as skipped, never as a missed goal."""
    import subprocess

    out = tmp_path / "drift.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH_DIR / "bench_drift.py"), "--n", "3000", "--reps", "1",
         "--skip-evidently", "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    lines = proc.stdout.splitlines()
    assert any("Evidently" in line and "skipped" in line for line in lines)
    assert not any("Evidently" in line and "NOT met" in line for line in lines)
    rec = json.loads(out.read_text(encoding="utf-8"))
    rows = rec["benches"][0]["rows"]
    assert rows and not any("Evidently" in r["anchor"] for r in rows)
    assert all(tuple(r) == bench.ROW_KEYS for r in rows)


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH_DIR.glob("bench_*.py")))
def test_every_bench_takes_the_record_options(script: str) -> None:
    """`nox -s bench_all` passes --json to every bench_*.py: each one declares it and --quick."""
    import ast

    tree = ast.parse((BENCH_DIR / script).read_text())
    options = {
        arg.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "add_argument"
        for arg in node.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
    }
    assert {"--json", "--quick"} <= options, f"{script} declares {sorted(options)}"


def test_record_passes_per_bench_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--args NAME=ARGS`` reaches that bench's command line and no other bench's."""
    script = """
import json, sys
out = sys.argv[sys.argv.index("--json") + 1]
row = {"row": " ".join(sys.argv[1:]), "mode": "in-process", "anchor": "x", "ratio": 1.0,
       "min": 1.0, "max": 1.0, "n": 1, "goal": None, "met": None, "mlopskit": 1.0,
       "anchor_value": 1.0, "unit": "s"}
json.dump([row], open(out, "w"))
"""
    for name in ("echo", "other"):
        (tmp_path / f"bench_{name}.py").write_text(script, encoding="utf-8")
    monkeypatch.setattr(record, "HERE", tmp_path)
    out = tmp_path / "rec.json"
    assert record.main(["--out", str(out), "--args", "echo=--mlflow-python '/a b/python'"]) == 0
    rows = {b["bench"]: b["rows"][0]["row"] for b in json.loads(out.read_text())["benches"]}
    assert rows["echo"].endswith("--mlflow-python /a b/python")
    assert "--mlflow-python" not in rows["other"]
    with pytest.raises(SystemExit):
        record.main(["--out", str(out), "--args", "no-equals-sign"])


def test_compare_with_earlier_records_checks_the_stated_spread() -> None:
    """With earlier runs, "in spread" means within the spread the page states (all runs)."""
    old = _record(("store", [_row("put_file", 0.36)]))  # 0.324–0.396
    earlier = _record(("store", [_row("put_file", 0.5, min=0.45, max=0.6)]))
    new = _record(("store", [_row("put_file", 0.55)]))
    (alone,), _, _ = compare.compare(old, new)
    (both,), _, _ = compare.compare(old, new, 0.2, [earlier])
    assert alone["in_spread"] is False and both["in_spread"] is True
    assert both["flagged"] is True  # the 20% rule still compares with OLD's ratio
