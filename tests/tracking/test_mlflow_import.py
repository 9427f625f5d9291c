"""import_mlflow reads MLflow's file and SQLite stores (built here as MLflow lays them out)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import mlopskit as mk
from mlopskit.errors import NotFoundError
from mlopskit.tracking import import_mlflow

RUN = "a" * 32
CHILD = "b" * 32


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def file_store(tmp_path: Path) -> Path:
    """An MLflow file store: experiment 1 with a finished run and a running child run."""
    pytest.importorskip("yaml")
    root = tmp_path / "mlruns"
    _write(root / "1" / "meta.yaml", "experiment_id: '1'\nlifecycle_stage: active\nname: My Exp\n")
    run = root / "1" / RUN
    _write(
        run / "meta.yaml",
        f"run_id: {RUN}\nrun_name: first\nstatus: 3\nstart_time: 1700000000000\n"
        "end_time: 1700000060000\nuser_id: alice\nlifecycle_stage: active\nexperiment_id: '1'\n",
    )
    _write(run / "params" / "lr", "0.01")
    _write(run / "params" / "nested" / "p", "x")
    _write(run / "tags" / "mlflow.runName", "first")
    _write(
        run / "metrics" / "loss", "1700000001000 0.5 0\n1700000002000 0.25 1\n1700000003000 nan 2\n"
    )
    child = root / "1" / CHILD
    _write(
        child / "meta.yaml",
        f"run_id: {CHILD}\nrun_name: child\nstatus: 1\n"
        "start_time: 1700000010000\nend_time: null\nuser_id: alice\nlifecycle_stage: active\n",
    )
    _write(child / "tags" / "mlflow.parentRunId", RUN)
    _write(root / "2" / "meta.yaml", "experiment_id: '2'\nlifecycle_stage: deleted\nname: gone\n")
    _write(root / ".trash" / "x", "")
    return root


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Path:
    """An MLflow SQLite store with MLflow's table layout."""
    path = tmp_path / "mlflow.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name VARCHAR(256),
            artifact_location VARCHAR(256), lifecycle_stage VARCHAR(32),
            creation_time BIGINT, last_update_time BIGINT);
        CREATE TABLE runs (run_uuid VARCHAR(32) PRIMARY KEY, name VARCHAR(250),
            source_type VARCHAR(20), source_name VARCHAR(500), entry_point_name VARCHAR(50),
            user_id VARCHAR(256), status VARCHAR(9), start_time BIGINT, end_time BIGINT,
            deleted_time BIGINT, source_version VARCHAR(50), lifecycle_stage VARCHAR(20),
            artifact_uri VARCHAR(200), experiment_id INTEGER);
        CREATE TABLE params (key VARCHAR(250), value VARCHAR(8000), run_uuid VARCHAR(32));
        CREATE TABLE tags (key VARCHAR(250), value VARCHAR(8000), run_uuid VARCHAR(32));
        CREATE TABLE metrics (key VARCHAR(250), value FLOAT, timestamp BIGINT,
            run_uuid VARCHAR(32), step BIGINT, is_nan BOOLEAN);
        INSERT INTO experiments VALUES (0, 'Default', '', 'active', 0, 0);
        INSERT INTO runs VALUES ('aaaa1111aaaa1111aaaa1111aaaa1111', 'sq', 'LOCAL', '', '',
            'bob', 'FAILED', 1700000000000, 1700000005000, NULL, '', 'active', '', 0);
        INSERT INTO runs VALUES ('dddd1111dddd1111dddd1111dddd1111', 'del', 'LOCAL', '', '',
            'bob', 'FINISHED', 1700000000000, 1700000005000, 1, '', 'deleted', '', 0);
        INSERT INTO params VALUES ('depth', '4', 'aaaa1111aaaa1111aaaa1111aaaa1111');
        INSERT INTO tags VALUES ('team', 'x', 'aaaa1111aaaa1111aaaa1111aaaa1111');
        INSERT INTO metrics VALUES ('acc', 0.5, 1700000001000, 'aaaa1111aaaa1111aaaa1111aaaa1111', 0, 0);
        INSERT INTO metrics VALUES ('acc', 0.75, 1700000002000, 'aaaa1111aaaa1111aaaa1111aaaa1111', 1, 0);
        INSERT INTO metrics VALUES ('acc', 0, 1700000003000, 'aaaa1111aaaa1111aaaa1111aaaa1111', 2, 1);
        """
    )
    conn.commit()
    conn.close()
    return path


class TestImportMlflow:
    def test_file_store(self, workspace: str, file_store: Path) -> None:
        """Experiments, runs, params, tags, metrics and statuses come across from mlruns/."""
        report = import_mlflow(file_store)
        assert report.experiments == ["My_Exp"]
        assert (report.runs, report.metric_points, report.skipped_points) == (2, 2, 1)
        run = mk.get_run(RUN)
        assert (run.name, run.status, run.experiment) == ("first", "FINISHED", "My_Exp")
        assert run.params == {"lr": "0.01", "nested/p": "x"}
        assert run.record().user == "alice"
        assert run.duration == pytest.approx(60.0)
        assert run.metric_history("loss")["value"].tolist() == [0.5, 0.25]
        child = mk.get_run(CHILD)
        assert (child.status, child.tags["mlflow.status"]) == ("KILLED", "RUNNING")
        assert child.parent_id == RUN

    def test_import_is_idempotent(self, workspace: str, file_store: Path) -> None:
        """Importing the same store again skips the runs already there."""
        import_mlflow(f"file://{file_store}")
        again = import_mlflow(file_store)
        assert (again.runs, again.skipped_runs) == (0, 2)

    def test_sqlite_store(self, workspace: str, sqlite_store: Path) -> None:
        """A SQLite store imports with its statuses; deleted runs are left out."""
        report = import_mlflow(f"sqlite:///{sqlite_store}", experiment_prefix="mlflow-")
        assert (report.runs, report.experiments) == (1, ["mlflow-Default"])
        run = mk.get_run("aaaa1111aaaa1111aaaa1111aaaa1111")
        assert (run.status, run.params, run.tags["team"]) == ("FAILED", {"depth": "4"}, "x")
        assert run.metric_history("acc")["value"].tolist() == [0.5, 0.75]
        with pytest.raises(NotFoundError):
            mk.get_run("dddd1111dddd1111dddd1111dddd1111")
        assert import_mlflow(sqlite_store, include_deleted=True).runs == 1

    def test_missing_source(self, workspace: str, tmp_path: Path) -> None:
        """A path that is neither a store directory nor a database is NotFoundError."""
        with pytest.raises(NotFoundError):
            import_mlflow(tmp_path / "nothing")


class TestUntrustedSource:
    """An MLflow store is input from elsewhere: validated, never followed out of itself."""

    def test_run_id_that_escapes_is_refused_on_the_object_store_backend(
        self, tmp_path: Path, file_store: Path
    ) -> None:
        """A run id like '../../x' is reported and skipped; nothing is written outside tracking/."""
        from mlopskit.tracking import ObjectStoreBackend, Tracker

        meta = file_store / "1" / RUN / "meta.yaml"
        meta.write_text(meta.read_text().replace(f"run_id: {RUN}", "run_id: ../../../escaped"))
        ws = tmp_path / "ws"
        tracker = Tracker(str(ws), ObjectStoreBackend(ws))
        with pytest.warns(RuntimeWarning, match="invalid run id"):
            report = import_mlflow(file_store, tracker=tracker)
        assert report.invalid_runs == 1
        assert report.runs == 1  # the child run still comes in
        assert not list(tmp_path.rglob("escaped*"))

    def test_symlinked_param_file_is_not_followed(
        self, workspace: str, tmp_path: Path, file_store: Path
    ) -> None:
        """A param file that is a link to a private file is reported, its content not imported."""
        secret = tmp_path / "id_rsa"
        secret.write_text("PRIVATE KEY")
        (file_store / "1" / RUN / "params" / "key").symlink_to(secret)
        (file_store / "1" / RUN / "params" / "dir").symlink_to(tmp_path, target_is_directory=True)
        with pytest.warns(RuntimeWarning, match="symbolic link"):
            report = import_mlflow(file_store)
        params = mk.get_run(RUN).params
        assert "key" not in params
        assert "PRIVATE KEY" not in params.values()
        assert params["lr"] == "0.01"
        assert sum("symbolic link" in p for p in report.problems) == 2

    def test_mlflow_length_limits_apply(self, workspace: str, file_store: Path) -> None:
        """A param over MLflow's 6000 characters (or a tag over 8000) is skipped and reported."""
        (file_store / "1" / RUN / "params" / "long").write_text("x" * 6001)
        (file_store / "1" / RUN / "tags" / "long").write_text("y" * 8001)
        with pytest.warns(RuntimeWarning, match="limit"):
            report = import_mlflow(file_store)
        run = mk.get_run(RUN)
        assert "long" not in run.params
        assert "long" not in run.tags
        assert {"param:long", "tag:long"} <= set(report.skipped_keys)

    def test_malformed_metric_line_is_reported_and_the_import_goes_on(
        self, workspace: str, file_store: Path
    ) -> None:
        """A metric line that does not parse is counted and named; every other point comes in."""
        (file_store / "1" / RUN / "metrics" / "acc").write_text(
            "1700000001000 0.5 0\nnot a line at all\n1700000002000 abc 1\n1700000003000 0.75 2\n"
        )
        with pytest.warns(RuntimeWarning, match="malformed metric line"):
            report = import_mlflow(file_store)
        assert report.malformed_lines == 2
        assert any("acc:2" in p for p in report.problems)
        assert mk.get_run(RUN).metric_history("acc")["value"].tolist() == [0.5, 0.75]

    def test_unknown_status_is_not_imported_as_a_status(
        self, workspace: str, file_store: Path
    ) -> None:
        """A status MLflow does not define arrives as KILLED, the raw value kept as a tag."""
        meta = file_store / "1" / RUN / "meta.yaml"
        meta.write_text(meta.read_text().replace("status: 3", "status: '<b>x</b>'"))
        import_mlflow(file_store)
        run = mk.get_run(RUN)
        assert run.status == "KILLED"
        assert run.tags["mlflow.status"] == "UNKNOWN"

    def test_damaged_sqlite_source_is_an_input_error(self, workspace: str, tmp_path: Path) -> None:
        """A file that is not an MLflow SQLite store raises InvalidInputError, nothing imported."""
        from mlopskit.errors import InvalidInputError

        bad = tmp_path / "mlflow.db"
        bad.write_bytes(b"garbage" * 100)
        with pytest.raises(InvalidInputError, match="not a readable MLflow SQLite store"):
            import_mlflow(bad)
