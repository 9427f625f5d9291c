"""import_mlflow reads MLflow's file and SQLite stores (built here as MLflow lays them out)."""

from __future__ import annotations

import math
import sqlite3
import warnings
from pathlib import Path

import pytest

import mlopskit as mk
from mlopskit.errors import NotFoundError
from mlopskit.tracking import ObjectStoreBackend, Tracker, import_mlflow

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
        assert (report.runs, report.metric_points, report.skipped_points) == (2, 3, 0)
        run = mk.get_run(RUN)
        assert (run.name, run.status, run.experiment) == ("first", "FINISHED", "My_Exp")
        assert run.params == {"lr": "0.01", "nested/p": "x"}
        assert run.record().user == "alice"
        assert run.duration == pytest.approx(60.0)
        assert repr(run.metric_history("loss")["value"].tolist()) == "[0.5, 0.25, nan]"
        assert math.isnan(run.metrics["loss"])  # MLflow's latest, kept
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
        assert repr(run.metric_history("acc")["value"].tolist()) == "[0.5, 0.75, nan]"
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


LOGGED = "c" * 32
GONE = "d" * 32
MODEL_ID = "m-" + "e" * 32


def _everything(root: Path) -> None:
    """Add to a file store what MLflow 3.17 leaves beside runs, laid out as it writes them."""
    exp = root / "1"
    _write(exp / "tags" / "project", "demo")
    run = exp / RUN
    _write(run / "artifacts" / "notes.txt", "hello")
    _write(run / "artifacts" / "sub" / "notes.txt", "hello")
    # two points at one step and time: MLflow reads the larger; a NaN at the last step
    _write(run / "metrics" / "dup", "1700000000000 2.0 0\n1700000000000 1.0 0\n")
    _write(run / "metrics" / "nanm", "1700000000000 1.0 0\n1700000001000 nan 1\n")
    # MLflow 3 writes the dataset a metric was computed on; its reader takes step 0
    _write(run / "metrics" / "train_acc", "1700000000000 0.9 4 train-df eb058162\n")
    _write(
        exp / "datasets" / "ds1" / "meta.yaml",
        "digest: eb058162\nname: train-df\nprofile: '{\"num_rows\": 20}'\n"
        "schema: '{}'\nsource: '{}'\nsource_type: code\n",
    )
    _write(
        run / "inputs" / "in1" / "meta.yaml",
        "destination_id: ds1\ndestination_type: RUN\nsource_id: ds1\nsource_type: DATASET\n"
        "tags:\n  mlflow.data.context: training\n",
    )
    logged = exp / LOGGED
    _write(
        logged / "meta.yaml",
        f"run_id: {LOGGED}\nrun_name: logged\nstatus: 3\nstart_time: 1700000100000\n"
        "end_time: 1700000200000\nuser_id: alice\nlifecycle_stage: active\n",
    )
    model = exp / "models" / MODEL_ID
    _write(
        model / "meta.yaml",
        f"model_id: {MODEL_ID}\nname: model\nsource_run_id: {LOGGED}\nstatus: 2\n",
    )
    _write(model / "artifacts" / "MLmodel", "flavors: {}\n")
    _write(model / "artifacts" / "model.skops", "weights")
    _write(
        exp / GONE / "meta.yaml",
        f"run_id: {GONE}\nrun_name: gone\nstatus: 3\nstart_time: 1700000000000\n"
        "end_time: 1700000001000\nuser_id: alice\nlifecycle_stage: deleted\n",
    )
    reg = root / "models" / "clf"
    _write(reg / "meta.yaml", "name: clf\naliases:\n  champion: '1'\n")
    _write(reg / "tags" / "owner", "ann")
    _write(
        reg / "version-1" / "meta.yaml",
        f"name: clf\nversion: 1\nrun_id: {LOGGED}\nsource: models:/{MODEL_ID}\n"
        f"storage_location: file://{model / 'artifacts'}\ncurrent_stage: None\n",
    )


class TestEverythingMlflowLeaves:
    """Artifacts, inputs, logged and registered models, tags, markers: nothing left behind."""

    def test_runs_bring_their_artifacts_inputs_and_experiment_tags(
        self, workspace: str, file_store: Path
    ) -> None:
        """Artifacts land in the store (equal bytes once), dataset inputs and experiment tags
        on the run."""
        _everything(file_store)
        with mk.Workspace(workspace) as ws:
            report = import_mlflow(file_store, registry=ws.registry)
            run = mk.get_run(RUN)
            arts = run.artifacts
            assert set(arts) == {"notes.txt", "sub"}  # MLflow's top-level entries
            assert arts["sub"].kind == "tree"
            assert ws.store.get_bytes(arts["notes.txt"]) == b"hello"
            # the same bytes under sub/ are the same object
            assert arts["notes.txt"].digest in ws.store.get_bytes(arts["sub"]).decode()
            assert run.tags["mlflow.experimentTag.project"] == "demo"
            assert report.experiment_tags == {"My_Exp": {"project": "demo"}}
            (entry,) = run.inputs
            assert (entry.name, entry.context) == ("train-df", "training")
            described = ws.store.get_bytes(entry.digest)
            assert b'"digest": "eb058162"' in described
            assert report.inputs == 1

    def test_latest_values_read_as_mlflow_reads_them(
        self, workspace: str, file_store: Path
    ) -> None:
        """Equal step and time: the larger value is the latest; a NaN latest stays NaN."""
        _everything(file_store)
        report = import_mlflow(file_store, registry=mk.registry)
        run = mk.get_run(RUN)
        assert run.metrics["dup"] == 2.0
        assert run.metrics["train_acc"] == 0.9
        assert run.metric_history("train_acc")["step"].tolist() == [0]
        assert math.isnan(run.metrics["nanm"]) and math.isnan(run.metrics["loss"])
        assert not hasattr(report, "nan_latest")  # nothing is left behind to list
        assert report.malformed_lines == 0

    def test_never_ended_run_keeps_no_end_time(self, workspace: str, file_store: Path) -> None:
        """A run MLflow never ended reads KILLED with no end time and no duration."""
        import_mlflow(file_store)
        child = mk.get_run(CHILD)
        assert child.status == "KILLED"
        assert child.record().end_time is None
        assert child.duration is None

    def test_never_ended_run_keeps_no_end_time_on_object_stores(
        self, tmp_path: Path, file_store: Path
    ) -> None:
        """On the object-store backend too, a run MLflow never ended has no end time (it
        does not take its start time as its end)."""
        root = str(tmp_path / "objws")
        tracker = Tracker(root, ObjectStoreBackend(root))
        import_mlflow(file_store, tracker=tracker)
        child = tracker.get_run(CHILD).record()
        assert (child.status, child.end_time, child.duration) == ("KILLED", None, None)
        assert tracker.get_run(RUN).record().end_time is not None

    def test_logged_and_registered_models_come_into_the_registry(
        self, workspace: str, file_store: Path
    ) -> None:
        """An MLflow 3 logged model becomes a run artifact; its registered version, alias and
        tags come into the registry, linked to the run, its bytes stored once."""
        _everything(file_store)
        with mk.Workspace(workspace) as ws:
            report = import_mlflow(file_store, registry=ws.registry)
            assert (report.logged_models, report.model_versions) == (1, 1)
            artifact = mk.get_run(LOGGED).artifacts["model"]
            (version,) = ws.registry.versions("clf")
            assert version.run_id == LOGGED
            assert version.digest == artifact.digest
            assert version.tags["mlflow.version"] == "1"
            assert ws.registry.aliases("clf") == {"champion": version.number}
            assert ws.registry.tags("clf")["owner"] == "ann"

            again = import_mlflow(file_store, registry=ws.registry)
            assert (again.runs, again.model_versions, again.skipped_model_versions) == (0, 0, 1)
            assert len(ws.registry.versions("clf")) == 1

    def test_models_come_into_the_workspace_registry_by_default(
        self, workspace: str, file_store: Path
    ) -> None:
        """Without registry=, registered models arrive in the current workspace's registry
        with their alias and tags (MLflow keeps runs and models in one store)."""
        _everything(file_store)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nothing to report: no warning at all
            report = import_mlflow(file_store)
        assert (report.model_versions, report.skipped_model_versions) == (1, 0)
        (version,) = mk.registry.versions("clf")
        assert version.run_id == LOGGED
        assert mk.registry.aliases("clf") == {"champion": version.number}

    def test_registry_false_imports_runs_only(self, workspace: str, file_store: Path) -> None:
        """registry=False imports the runs (and logged models as run artifacts) but no
        registered model: they are counted as skipped, without a warning."""
        _everything(file_store)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            report = import_mlflow(file_store, registry=False)
        assert (report.runs, report.model_versions, report.skipped_model_versions) == (3, 0, 1)
        assert "model" in mk.get_run(LOGGED).artifacts
        assert mk.registry.names() == []

    def test_deleted_run_carries_the_marker(self, workspace: str, file_store: Path) -> None:
        """With include_deleted, a run MLflow deleted arrives soft-deleted (hidden from search,
        restorable) and tagged mlflow.lifecycle_stage=deleted; the others stay active."""
        _everything(file_store)
        import_mlflow(file_store, include_deleted=True, registry=mk.registry)
        gone = mk.get_run(GONE)
        assert gone.tags["mlflow.lifecycle_stage"] == "deleted"
        assert gone.record().lifecycle == "deleted"
        assert gone.record().deletion is not None
        assert gone.record().deletion.reason == "deleted in MLflow"
        assert "mlflow.lifecycle_stage" not in mk.get_run(RUN).tags
        assert mk.get_run(RUN).record().lifecycle == "active"
        hidden = mk.search_runs(gone.record().experiment)
        assert GONE not in set(hidden["run_id"])
        shown = mk.search_runs(gone.record().experiment, run_view="deleted")
        assert set(shown["run_id"]) == {GONE}
        mk.restore_run(GONE)
        assert mk.get_run(GONE).record().lifecycle == "active"

    def test_artifacts_outside_the_store_are_not_read(
        self, workspace: str, tmp_path: Path, sqlite_store: Path
    ) -> None:
        """An artifact_uri pointing outside the store's directory imports nothing from there."""
        secret = tmp_path.parent / f"{tmp_path.name}-private"
        _write(secret / "id_rsa", "PRIVATE KEY")
        conn = sqlite3.connect(sqlite_store)
        conn.execute("UPDATE runs SET artifact_uri = ?", (f"file://{secret}",))
        conn.commit()
        conn.close()
        with pytest.warns(RuntimeWarning, match="outside"):
            report = import_mlflow(sqlite_store)
        assert mk.get_run("aaaa1111aaaa1111aaaa1111aaaa1111").artifacts == {}
        assert report.artifacts == 0


@pytest.fixture
def sqlite_everything(sqlite_store: Path, tmp_path: Path) -> Path:
    """The SQLite store with MLflow 3.17's tables for what runs leave beside them."""
    model_dir = tmp_path / "mlruns" / "0" / "models" / "m-1" / "artifacts"
    _write(model_dir / "MLmodel", "flavors: {}\n")
    art = tmp_path / "mlruns" / "0" / "aaaa1111aaaa1111aaaa1111aaaa1111" / "artifacts"
    _write(art / "plot.png", "png")
    conn = sqlite3.connect(sqlite_store)
    run = "aaaa1111aaaa1111aaaa1111aaaa1111"
    conn.executescript(
        f"""
        CREATE TABLE experiment_tags (key VARCHAR(250), value VARCHAR(5000), experiment_id INT);
        CREATE TABLE latest_metrics (key VARCHAR(250), value FLOAT, timestamp BIGINT,
            step BIGINT, is_nan BOOLEAN, run_uuid VARCHAR(32));
        CREATE TABLE datasets (dataset_uuid VARCHAR(36), experiment_id INT, name VARCHAR(500),
            digest VARCHAR(36), dataset_source_type VARCHAR(36), dataset_source TEXT,
            dataset_schema TEXT, dataset_profile TEXT);
        CREATE TABLE inputs (input_uuid VARCHAR(36), source_type VARCHAR(36),
            source_id VARCHAR(36), destination_type VARCHAR(36), destination_id VARCHAR(36),
            step BIGINT);
        CREATE TABLE input_tags (input_uuid VARCHAR(36), name VARCHAR(255), value VARCHAR(500));
        CREATE TABLE logged_models (model_id VARCHAR(36), experiment_id INT, name VARCHAR(500),
            artifact_location VARCHAR(1000), creation_timestamp_ms BIGINT,
            last_updated_timestamp_ms BIGINT, status INT, lifecycle_stage VARCHAR(32),
            model_type VARCHAR(500), source_run_id VARCHAR(32), status_message VARCHAR(1000));
        CREATE TABLE registered_models (name VARCHAR(256), creation_time BIGINT,
            last_updated_time BIGINT, description VARCHAR(5000), workspace VARCHAR(63));
        CREATE TABLE model_versions (name VARCHAR(256), version INT, creation_time BIGINT,
            last_updated_time BIGINT, description VARCHAR(5000), user_id VARCHAR(256),
            current_stage VARCHAR(20), source VARCHAR(500), run_id VARCHAR(32),
            status VARCHAR(20), status_message VARCHAR(500), run_link VARCHAR(500),
            storage_location VARCHAR(500), workspace VARCHAR(63));
        CREATE TABLE registered_model_aliases (alias VARCHAR(256), version INT,
            name VARCHAR(256), workspace VARCHAR(63));
        CREATE TABLE registered_model_tags (key VARCHAR(250), value VARCHAR(5000),
            name VARCHAR(256), workspace VARCHAR(63));
        INSERT INTO experiment_tags VALUES ('project', 'demo', 0);
        INSERT INTO latest_metrics VALUES ('acc', 0, 1700000003000, 2, 1, '{run}');
        INSERT INTO metrics VALUES ('dup', 2.0, 1700000001000, '{run}', 0, 0);
        INSERT INTO metrics VALUES ('dup', 1.0, 1700000001000, '{run}', 0, 0);
        INSERT INTO latest_metrics VALUES ('dup', 2.0, 1700000001000, 0, 0, '{run}');
        INSERT INTO datasets VALUES ('ds1', 0, 'train-df', 'eb058162', 'code', '{{}}', '{{}}',
            '{{}}');
        INSERT INTO inputs VALUES ('in1', 'DATASET', 'ds1', 'RUN', '{run}', 0);
        INSERT INTO input_tags VALUES ('in1', 'mlflow.data.context', 'training');
        INSERT INTO logged_models VALUES ('m-1', 0, 'model', '{model_dir}', 0, 0, 2, 'active',
            NULL, '{run}', NULL);
        INSERT INTO registered_models VALUES ('clf', 0, 0, NULL, 'default');
        INSERT INTO model_versions VALUES ('clf', 1, 0, 0, NULL, NULL, 'None', 'models:/m-1',
            '{run}', 'READY', NULL, NULL, '{model_dir}', 'default');
        INSERT INTO registered_model_aliases VALUES ('champion', 1, 'clf', 'default');
        INSERT INTO registered_model_tags VALUES ('owner', 'ann', 'clf', 'default');
        UPDATE runs SET artifact_uri = '{art}';
        """
    )
    conn.commit()
    conn.close()
    return sqlite_store


def test_sqlite_store_brings_everything(workspace: str, sqlite_everything: Path) -> None:
    """The SQLite store's artifacts, inputs, experiment tags, logged and registered models,
    MLflow's latest values (from its latest_metrics) all come across; a re-import adds none."""
    run_id = "aaaa1111aaaa1111aaaa1111aaaa1111"
    with mk.Workspace(workspace) as ws:
        import_mlflow(sqlite_everything, registry=ws.registry)
        run = mk.get_run(run_id)
        assert set(run.artifacts) == {"plot.png", "model"}
        assert run.tags["mlflow.experimentTag.project"] == "demo"
        assert [(i.name, i.context) for i in run.inputs] == [("train-df", "training")]
        assert run.metrics["dup"] == 2.0
        assert math.isnan(run.metrics["acc"])  # latest_metrics says is_nan
        (version,) = ws.registry.versions("clf")
        assert (version.run_id, version.digest) == (run_id, run.artifacts["model"].digest)
        assert ws.registry.aliases("clf") == {"champion": version.number}
        again = import_mlflow(sqlite_everything, registry=ws.registry)
        assert (again.runs, again.model_versions) == (0, 0)


def test_everything_on_the_object_store_backend(tmp_path: Path, file_store: Path) -> None:
    """The object-store backend takes the same import: artifacts, inputs, models (into the
    destination tracker's workspace by default, not the current one), once."""
    from mlopskit.registry import Registry
    from mlopskit.tracking import ObjectStoreBackend, Tracker

    _everything(file_store)
    ws = tmp_path / "ws"
    tracker = Tracker(str(ws), ObjectStoreBackend(ws))
    registry = Registry(tracker.store)
    report = import_mlflow(file_store, tracker=tracker)  # models go to the tracker's workspace
    assert (report.runs, report.logged_models, report.model_versions) == (3, 1, 1)
    run = tracker.get_run(RUN)
    assert run.metrics["dup"] == 2.0
    assert [(i.name, i.context) for i in run.inputs] == [("train-df", "training")]
    (version,) = registry.versions("clf")
    assert version.digest == tracker.get_run(LOGGED).artifacts["model"].digest
    assert tracker.get_run(CHILD).status == "KILLED"
    again = import_mlflow(file_store, tracker=tracker)
    assert (again.runs, again.model_versions) == (0, 0)


def test_mlflow2_version_from_a_runs_uri(workspace: str, file_store: Path) -> None:
    """A version whose source is 'runs:/<id>/model' (MLflow 2) registers the run's model
    directory; a source that climbs out of the run's artifacts is not read."""
    _write(file_store / "1" / RUN / "artifacts" / "model" / "MLmodel", "flavors: {}\n")
    reg = file_store / "models" / "old"
    _write(reg / "meta.yaml", "name: old\n")
    _write(
        reg / "version-1" / "meta.yaml",
        f"name: old\nversion: 1\nrun_id: {RUN}\nsource: runs:/{RUN}/model\n",
    )
    _write(
        reg / "version-2" / "meta.yaml",
        f"name: old\nversion: 2\nrun_id: {RUN}\nsource: runs:/{RUN}/../../../..\n",
    )
    with mk.Workspace(workspace) as ws:
        with pytest.warns(RuntimeWarning, match="version 2"):
            report = import_mlflow(file_store, registry=ws.registry)
        (version,) = ws.registry.versions("old")
        assert (version.kind, version.run_id) == ("directory", RUN)
        assert version.digest == mk.get_run(RUN).artifacts["model"].digest
        assert (report.model_versions, report.skipped_model_versions) == (1, 1)


def test_link_out_of_a_model_directory_is_not_followed(
    workspace: str, tmp_path: Path, file_store: Path
) -> None:
    """A logged model whose directory links to a private file is reported, not imported."""
    _everything(file_store)
    secret = tmp_path / "id_rsa"
    secret.write_text("PRIVATE KEY")
    (file_store / "1" / "models" / MODEL_ID / "artifacts" / "key").symlink_to(secret)
    with mk.Workspace(workspace) as ws:
        with pytest.warns(RuntimeWarning, match="symbolic link|not imported"):
            report = import_mlflow(file_store, registry=ws.registry)
        assert any("symbolic link" in p for p in report.problems)
        assert report.logged_models == 0
        assert "model" not in mk.get_run(LOGGED).artifacts
        assert "clf" not in ws.registry.names()
        assert not any(
            b"PRIVATE KEY" in p.read_bytes() for p in Path(workspace).rglob("*") if p.is_file()
        )


def test_mlflow3_version_from_a_models_uri(workspace: str, file_store: Path) -> None:
    """A version with only 'models:/<id>' as its source registers that logged model."""
    _everything(file_store)
    meta = file_store / "models" / "clf" / "version-1" / "meta.yaml"
    meta.write_text("\n".join(x for x in meta.read_text().splitlines() if "storage_" not in x))
    with mk.Workspace(workspace) as ws:
        report = import_mlflow(file_store, registry=ws.registry)
        (version,) = ws.registry.versions("clf")
        assert version.digest == mk.get_run(LOGGED).artifacts["model"].digest
        assert report.model_versions == 1


def test_models_reach_an_s3_workspace_registry_by_default(s3_bucket: str, file_store: Path) -> None:
    """Imported into an s3:// workspace (moto server), registered models land in that
    workspace's registry without registry=, with their alias and their run's bytes."""
    _everything(file_store)
    with mk.Workspace(f"s3://{s3_bucket}/ws") as ws:
        report = import_mlflow(file_store)
        assert (report.runs, report.model_versions) == (3, 1)
        (version,) = ws.registry.versions("clf")
        assert version.digest == mk.get_run(LOGGED).artifacts["model"].digest
        assert ws.registry.aliases("clf") == {"champion": version.number}
