"""``mlopskit runs ls`` from plain rows (SQLiteBackend.run_rows) prints what the record
path prints, and leaves every row it cannot vouch for to the record path."""

from __future__ import annotations

import json
import math
import sqlite3
import uuid
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlopskit.cli._tracking as cli_tracking
from mlopskit.cli import EXIT_OK, cli
from mlopskit.errors import ConfigError
from mlopskit.tracking import RunRecord, SQLiteBackend, _model, _sqlite, _validate
from mlopskit.tracking._tracker import backend_for

TEXT = st.text(st.characters(codec="utf-8"), max_size=6) | st.sampled_from(["", "é", "\x00", "\n"])
FLOAT = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.1, 1.0, -2.5])
PAUSE = st.sampled_from(["5", "0.5", "nan", "inf", "abc", "-1", "1e9", "0"])
RUN = st.fixed_dictionaries(
    {
        "experiment": st.sampled_from(["exp", "b-2", "c.x"]),
        "name": TEXT,
        "start": st.floats(0, 2e9) | st.sampled_from([1e9, 1e9 + 1e-7]),
        "span": st.none() | st.floats(0, 1e6),
        "status": st.sampled_from(["FINISHED", "FAILED", "KILLED"]),
        "params": st.dictionaries(st.sampled_from(["lr", "a.b", "x y"]), TEXT, max_size=3),
        "tags": st.dictionaries(st.sampled_from(["t", "u:v"]), TEXT, max_size=2),
        "paused": st.none() | PAUSE,
        "metrics": st.dictionaries(st.sampled_from(["acc", "loss"]), FLOAT, max_size=2),
        "user": TEXT,
        "dead_writer": st.booleans(),
        "child": st.booleans(),
    }
)
ARGS = st.fixed_dictionaries(
    {
        "view": st.sampled_from(["active", "all", "deleted"]),
        "status": st.lists(
            st.sampled_from(["RUNNING", "FINISHED", "KILLED", "failed"]), max_size=2
        ),
        "limit": st.none() | st.integers(0, 4),
        "experiment": st.lists(st.sampled_from(["exp", "b-2", "nope"]), max_size=2),
    }
)


def _write(root: Path, runs: list[dict[str, Any]]) -> list[str]:
    """``runs`` written through the backend (a run without a span stays RUNNING); their ids."""
    backend = SQLiteBackend(root / "tracking.sqlite")
    ids: list[str] = []
    stale: list[str] = []
    for spec in runs:
        run_id = uuid.uuid4().hex
        tags = dict(spec["tags"])
        if spec["paused"] is not None:
            tags[_model.PAUSED_TAG] = spec["paused"]
        backend.create_run(
            RunRecord(
                run_id=run_id,
                experiment=spec["experiment"],
                name=spec["name"],
                status="RUNNING",
                start_time=spec["start"],
                parent_id=ids[-1] if spec["child"] and ids else None,
                user=spec["user"],
                host="h",
                params=spec["params"],
                tags=tags,
            )
        )
        if spec["metrics"]:
            backend.log_metrics(run_id, [(k, v, 0, 1.0) for k, v in spec["metrics"].items()])
        if spec["span"] is not None:
            backend.finish(run_id, spec["status"], spec["start"] + spec["span"])
        elif spec["dead_writer"]:  # its writer's heartbeat long stale: read as KILLED
            stale.append(run_id)
        ids.append(run_id)
    backend.close()
    if stale:  # a writer per run: make the runs' own writers stale
        conn = sqlite3.connect(root / "tracking.sqlite")
        conn.execute("UPDATE writers SET heartbeat = 0")
        conn.commit()
        conn.close()
    return ids


def _spec(**changes: Any) -> dict[str, Any]:
    """One finished run's spec for ``_write``."""
    spec: dict[str, Any] = {
        "experiment": "exp",
        "name": "n",
        "start": 1e9,
        "span": 1.0,
        "status": "FINISHED",
        "params": {"lr": "0.1"},
        "tags": {},
        "paused": None,
        "metrics": {"acc": 0.5},
        "user": "u",
        "dead_writer": False,
        "child": False,
    }
    return {**spec, **changes}


def _listing(root: Path, *args: str, rows: bool) -> tuple[str, bool]:
    """``runs ls`` output, from rows (rows=True) or from records; and whether rows answered."""
    taken: list[bool] = []
    real = cli_tracking._listed_from_rows

    def spy(*a: Any, **k: Any) -> bool:
        taken.append(real(*a, **k) if rows else False)
        return taken[-1]

    with mock.patch.object(cli_tracking, "_listed_from_rows", spy):
        result = CliRunner().invoke(cli, ["--workspace", str(root), "runs", "ls", *args])
    assert result.exit_code == EXIT_OK, result.output
    return result.stdout, any(taken)


def _args(spec: dict[str, Any]) -> list[str]:
    out = ["--view", spec["view"]]
    for s in spec["status"]:
        out += ["--status", s]
    for e in spec["experiment"]:
        out += ["-e", e]
    if spec["limit"] is not None:
        out += ["--limit", str(spec["limit"])]
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs=st.lists(RUN, max_size=5), args=ARGS)
def test_rows_and_records_print_one_listing(
    tmp_path_factory: pytest.TempPathFactory, runs: list[dict[str, Any]], args: dict[str, Any]
) -> None:
    """Table and --json from plain rows equal the record path's, for any names, params,
    tags, pauses, non-finite metrics, running and dead runs, views, filters and limits."""
    root = tmp_path_factory.mktemp("ws")
    _write(root, runs)
    argv = _args(args)
    fast_json, used = _listing(root, *argv, "--json", rows=True)
    assert used
    slow_json, _ = _listing(root, *argv, "--json", rows=False)
    assert json.loads(fast_json) == json.loads(slow_json)
    fast_table, used = _listing(root, *argv, rows=True)
    assert used
    assert fast_table == _listing(root, *argv, rows=False)[0]


def test_a_damaged_row_is_skipped_and_reported_as_before(tmp_path: Path) -> None:
    """A planted run row (markup for a status) sends runs ls to the record path: the row is
    skipped with a warning naming it, and the good run is listed."""
    good, bad = _write(tmp_path, [_spec(), _spec(start=2e9)])
    conn = sqlite3.connect(tmp_path / "tracking.sqlite")
    conn.execute("UPDATE runs SET status = '<b>DONE</b>' WHERE run_id = ?", (bad,))
    conn.commit()
    conn.close()
    with pytest.warns(RuntimeWarning, match="skipped a damaged run"):
        out, used = _listing(tmp_path, "--json", rows=True)
    assert not used
    assert [r["run_id"] for r in json.loads(out)] == [good]


def test_deleted_runs_are_listed_by_the_record_path(tmp_path: Path) -> None:
    """Once a run has lifecycle events the record path answers: a deleted run is hidden by
    default and shown, with who deleted it, under --view deleted."""
    gone, _ = _write(tmp_path, [_spec(), _spec(start=2e9)])
    result = CliRunner().invoke(
        cli, ["--workspace", str(tmp_path), "runs", "delete", gone, "--reason", "typo"]
    )
    assert result.exit_code == EXIT_OK, result.output
    out, used = _listing(tmp_path, "--json", rows=True)
    assert not used
    assert gone not in {r["run_id"] for r in json.loads(out)}
    out, _ = _listing(tmp_path, "--json", "--view", "deleted", rows=True)
    (row,) = json.loads(out)
    assert (row["run_id"], row["lifecycle"], row["deletion"]["reason"]) == (gone, "deleted", "typo")


VALUE = (
    st.none()
    | st.integers(-(2**62), 2**62)
    | st.floats(allow_nan=False)
    | st.binary(max_size=4)
    | st.text(st.sampled_from("abAZ09_.@+=,-/é \x00\n"), max_size=70)
    | st.sampled_from([uuid.uuid4().hex, "exp", "RUNNING", "FINISHED", "x" * 65, "x" * 201])
)


@settings(max_examples=300, deadline=None)
@given(
    row=st.tuples(VALUE, VALUE, VALUE, VALUE, VALUE, VALUE, VALUE),
    fields=st.lists(st.integers(0, 6), max_size=7),
)
def test_the_sql_row_check_never_accepts_a_row_python_refuses(
    row: tuple[Any, ...], fields: list[int]
) -> None:
    """Any stored run row the rows path's checks accept (SQL, then the names' regular
    expression), ``_invalid_row`` accepts too: a damaged row never reaches the rows path;
    a well-formed row passes both."""
    good = [uuid.uuid4().hex, "exp-1", "name", "FINISHED", 1e9, 1e9 + 5, None]
    values = [row[i] if i in fields else good[i] for i in range(7)]
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE TABLE runs (run_id, experiment, name, status, start_time, end_time, parent_id)"
    )
    conn.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)", values)
    (check,) = conn.execute(f"SELECT {_sqlite._ROW_CHECK} FROM runs r").fetchone()
    stored = conn.execute("SELECT * FROM runs").fetchone()
    accepted = check and _sqlite._names_ok([(*stored, "", "", check)])
    python_ok = _sqlite._invalid_row(stored, _sqlite._row_checks()) is None
    if accepted:
        assert python_ok
    if not fields:
        assert accepted and python_ok


def test_the_sql_rules_are_the_validators_rules() -> None:
    """The constants the rows path checks with in SQL are the records' and validators'."""
    assert _sqlite._PAUSED_TAG == _model.PAUSED_TAG
    assert (_sqlite._MIN_TIME, _sqlite._MAX_TIME) == (_validate.MIN_TIME, _validate.MAX_TIME)
    assert "(" + ", ".join(f"'{s}'" for s in _model.STATUSES) + ")" == _sqlite._STATUSES_SQL
    rule = f"^{_sqlite._SEGMENT_HEAD}{_sqlite._SEGMENT_TAIL}{{0,199}}$"
    assert rule == _validate._SEGMENT.pattern


@given(names=st.lists(st.text(st.sampled_from("ab_.-@\n\x00é"), max_size=5), max_size=4))
def test_many_names_match_as_each_does(names: list[str]) -> None:
    """One regular expression over many names accepts them exactly when each run id is
    accepted alone (a newline inside a name cannot split it into two good ones)."""
    each = all(_validate.is_run_id(n) and "\n" not in n for n in names)
    assert _sqlite._all_match(_sqlite._RUN_IDS, names) == each


@pytest.mark.parametrize("setting", [None, "auto", "sqlite", "objectstore", "SQLite", "bogus"])
@pytest.mark.parametrize("uri", ["ws", "/tmp/x/ws", "file:///tmp/x/ws", "~/ws", "s3://b/p"])
def test_of_workspace_picks_the_backend_a_tracker_picks(
    monkeypatch: pytest.MonkeyPatch, uri: str, setting: str | None
) -> None:
    """SQLiteBackend.of_workspace answers as the tracker's backend_for: the same database
    file when that is SQLite, None otherwise."""
    if setting is None:
        monkeypatch.delenv("MLOPSKIT_TRACKING_BACKEND", raising=False)
    else:
        monkeypatch.setenv("MLOPSKIT_TRACKING_BACKEND", setting)
    ours = SQLiteBackend.of_workspace(uri)
    if setting == "bogus":  # the tracker reports the bad setting; the rows path steps aside
        assert ours is None
        with pytest.raises(ConfigError, match="MLOPSKIT_TRACKING_BACKEND"):
            backend_for(uri)
    elif ours is None:
        with mock.patch("mlopskit.tracking._objectstore.ObjectStoreBackend") as other:
            assert backend_for(uri) is other.return_value
    else:
        theirs = backend_for(uri)
        assert isinstance(theirs, SQLiteBackend)
        assert theirs.path == ours.path


def test_non_finite_duration_pause_reads_as_no_pause() -> None:
    """A pause tag that is not a number between 0 and the span counts as no pause."""
    from datetime import datetime, timezone

    start = datetime.fromtimestamp(0, timezone.utc)
    end = datetime.fromtimestamp(10, timezone.utc)
    assert cli_tracking._active_seconds(start, end, "4") == 6.0
    for pause in ("nan", "inf", "-1", "10", "x", None):
        assert cli_tracking._active_seconds(start, end, pause) == 10.0
    assert cli_tracking._active_seconds(start, None, "4") is None


@pytest.mark.parametrize("planted", [None, b"garbage", b"ML1\0\x02\x00\x00\x00[]\x00", "text"])
def test_a_planted_packed_value_changes_no_listed_metric(tmp_path: Path, planted: Any) -> None:
    """``runs ls --json`` lists the latest metrics ``latest_metrics`` holds: whatever sits
    in a run's packed value (``runs.latest``: nothing, bytes of another form, text), the
    listing is the same as before, and as the record path's."""
    specs = [
        _spec(name=f"r{i}", start=1e9 + i, metrics={"acc": i / 4, "loss": math.nan})
        for i in range(4)
    ]
    ids = _write(tmp_path, specs)
    before, used = _listing(tmp_path, "--json", rows=True)
    assert used
    conn = sqlite3.connect(tmp_path / "tracking.sqlite")
    conn.executemany(
        "UPDATE runs SET latest = ? WHERE run_id = ?", [(planted, ids[0]), (planted, ids[2])]
    )
    conn.commit()
    conn.close()
    after, used = _listing(tmp_path, "--json", rows=True)
    assert used
    assert json.loads(after) == json.loads(before)
    assert json.loads(after) == json.loads(_listing(tmp_path, "--json", rows=False)[0])
    listed = {r["name"]: r["metrics"] for r in json.loads(after)}
    assert listed == {f"r{i}": {"acc": i / 4, "loss": None} for i in range(4)}
