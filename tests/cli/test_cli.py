"""The ``mlopskit`` command line against a real workspace under tmp_path."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mlopskit.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, cli

Invoke = Callable[..., Result]

COMMANDS = [
    ("runs", "ls"),
    ("runs", "show"),
    ("runs", "delete"),
    ("runs", "restore"),
    ("experiments", "ls"),
    ("experiments", "delete"),
    ("experiments", "restore"),
    ("datasets", "ls"),
    ("datasets", "show"),
    ("datasets", "diff"),
    ("datasets", "delete"),
    ("datasets", "restore"),
    ("models", "ls"),
    ("models", "show"),
    ("models", "alias"),
    ("models", "rollback"),
    ("models", "history"),
    ("models", "delete"),
    ("models", "restore"),
    ("gc",),
    ("store", "verify"),
    ("store", "gc"),
    ("store", "du"),
    ("lineage",),
    ("drift",),
    ("push",),
    ("pull",),
    ("ui",),
    ("serve",),
    ("completion",),
]


def as_json(result: Result) -> Any:
    assert result.exit_code == EXIT_OK, result.output
    return json.loads(result.stdout)


def one_line_error(result: Result) -> str:
    """The error text: exactly one line on stderr, starting with 'error:', no traceback."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


class TestHelp:
    @pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
    def test_every_command_has_help_with_an_example(self, path: tuple[str, ...]) -> None:
        """Each command's --help works and shows an example invocation."""
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == EXIT_OK
        assert "Example:" in result.output
        assert "mlopskit" in result.output.split("Example:")[1]

    def test_root_help_lists_exit_codes_and_commands(self) -> None:
        """The root help names the exit codes and every top-level command."""
        result = CliRunner().invoke(cli, ["--help"])
        assert result.exit_code == EXIT_OK
        assert "Exit codes" in result.output
        for name in {c[0] for c in COMMANDS}:
            assert name in result.output

    def test_unknown_command_is_a_usage_error(self) -> None:
        """A typo in a command exits 2 (click's usage error)."""
        assert CliRunner().invoke(cli, ["rnus"]).exit_code == EXIT_USAGE


class TestWorkspace:
    def test_missing_workspace_exits_2_with_one_line(self, tmp_path: Path) -> None:
        """A workspace path that does not exist is an error naming it, not a new empty one."""
        missing = tmp_path / "nope"
        result = CliRunner().invoke(cli, ["--workspace", str(missing), "runs", "ls"])
        assert result.exit_code == EXIT_USAGE
        assert str(missing) in one_line_error(result)
        assert not missing.exists()

    def test_mlopskit_home_is_the_default(
        self, populated: dict[str, Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without --workspace, MLOPSKIT_HOME decides."""
        monkeypatch.setenv("MLOPSKIT_HOME", str(populated["root"]))
        rows = as_json(CliRunner().invoke(cli, ["runs", "ls", "--json"]))
        assert len(rows) == 4

    def test_unexpected_errors_are_one_line_unless_debugging(
        self, mk_cli: Invoke, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A bug surfaces as one line and exit 1; MLOPSKIT_DEBUG=1 shows the traceback."""
        from mlopskit.cli import _tracking

        def boom(*args: Any, **kwargs: Any) -> None:
            raise ZeroDivisionError("boom")

        monkeypatch.setattr(_tracking, "columns_table", boom)  # every runs ls table
        result = mk_cli("runs", "ls")
        assert result.exit_code == EXIT_FAILED
        assert "MLOPSKIT_DEBUG=1" in one_line_error(result)
        monkeypatch.setenv("MLOPSKIT_DEBUG", "1")
        assert isinstance(mk_cli("runs", "ls").exception, ZeroDivisionError)


class TestRuns:
    def test_ls_lists_every_run_newest_first(
        self, mk_cli: Invoke, populated: dict[str, Any]
    ) -> None:
        """runs ls --json has one object per run, newest first, with params and metrics."""
        rows = as_json(mk_cli("runs", "ls", "--json"))
        assert [r["run_id"] for r in rows] == populated["runs"][::-1]
        first = rows[-1]
        assert first["params"] == {"lr": "0.1"}
        assert first["metrics"] == {"acc": 0.5}
        assert first["status"] == "FINISHED"

    def test_ls_table_shows_requested_columns(self, mk_cli: Invoke) -> None:
        """--columns adds metric and param columns to the table."""
        result = mk_cli("runs", "ls", "-e", "mnist", "--columns", "metrics.acc,params.lr")
        assert result.exit_code == EXIT_OK
        header, *lines = result.stdout.strip().splitlines()
        assert "METRICS.ACC" in header and "PARAMS.LR" in header
        assert len(lines) == 3
        assert "0.001" in lines[0] and "0.9" in lines[0]

    def test_filters_narrow_the_rows(self, mk_cli: Invoke) -> None:
        """--experiment, --filter, --order-by and --limit select and order runs."""
        assert {
            r["experiment"] for r in as_json(mk_cli("runs", "ls", "-e", "other", "--json"))
        } == {"other"}
        rows = as_json(
            mk_cli("runs", "ls", "-f", "metrics.acc > 0.6", "-o", "metrics.acc DESC", "--json")
        )
        assert [r["metrics"]["acc"] for r in rows] == [0.9, 0.7]
        assert len(as_json(mk_cli("runs", "ls", "-n", "2", "--json"))) == 2
        assert as_json(mk_cli("runs", "ls", "-s", "failed", "--json")) == []

    def test_bad_filter_exits_2_pointing_at_the_token(self, mk_cli: Invoke) -> None:
        """A filter that does not parse is a one-line usage error."""
        result = mk_cli("runs", "ls", "-f", "metrics.acc >> 1")
        assert result.exit_code == EXIT_USAGE
        assert "FilterSyntaxError" in one_line_error(result)

    def test_show_has_params_artifacts_and_inputs(
        self, mk_cli: Invoke, populated: dict[str, Any]
    ) -> None:
        """runs show --json carries the run's artifacts and the dataset it used."""
        run = as_json(mk_cli("runs", "show", populated["runs"][0], "--json"))
        assert run["params"] == {"lr": "0.1"}
        assert "weights.json" in run["artifacts"]
        assert run["inputs"][0]["digest"] == populated["datasets"][1].digest
        text = mk_cli("runs", "show", populated["runs"][0]).stdout
        assert "weights.json" in text and "iris@2" in text

    def test_show_lists_the_run_info_columns_of_search_runs(
        self, mk_cli: Invoke, populated: dict[str, Any]
    ) -> None:
        """runs show heads with the run-info fields search_runs has as columns, in the same
        order (mlopskit.tracking.RUN_INFO_COLUMNS), then the run's lifecycle."""
        import mlopskit as mk
        from mlopskit.tracking import RUN_INFO_COLUMNS

        text = mk_cli("runs", "show", populated["runs"][0]).stdout
        head = [line.split(":", 1)[0] for line in text.split("\n\n", 1)[0].splitlines()]
        assert head == [*RUN_INFO_COLUMNS, "lifecycle"]
        with mk.Workspace(populated["root"]):
            frame = mk.search_runs(limit=1)
        assert tuple(frame.columns[: len(RUN_INFO_COLUMNS)]) == RUN_INFO_COLUMNS

    def test_show_unknown_run_exits_2(self, mk_cli: Invoke) -> None:
        """An unknown run id is 'not found': exit 2, one line."""
        result = mk_cli("runs", "show", "0" * 32)
        assert result.exit_code == EXIT_USAGE
        assert "NotFoundError" in one_line_error(result)

    def test_experiments_ls_counts_runs(self, mk_cli: Invoke) -> None:
        """experiments ls lists each experiment with its number of runs."""
        rows = as_json(mk_cli("experiments", "ls", "--json"))
        assert {r["experiment"]: r["runs"] for r in rows} == {"mnist": 3, "other": 1}


class TestDatasets:
    def test_ls_and_show(self, mk_cli: Invoke) -> None:
        """datasets ls names the latest version; show prints its schema and summary."""
        rows = as_json(mk_cli("datasets", "ls", "--json"))
        assert [(r["name"], r["latest"], r["rows"]) for r in rows] == [("iris", 2, 4)]
        v1 = as_json(mk_cli("datasets", "show", "iris/1", "--json"))
        assert v1["number"] == 1 and [c["name"] for c in v1["schema"]] == ["id", "x"]
        assert "summary" in mk_cli("datasets", "show", "iris").stdout

    def test_show_unknown_version_exits_2(self, mk_cli: Invoke) -> None:
        """An unknown version is 'not found'."""
        result = mk_cli("datasets", "show", "iris/9")
        assert result.exit_code == EXIT_USAGE
        assert "no version 9" in one_line_error(result)

    def test_diff_reports_schema_stats_and_rows(self, mk_cli: Invoke) -> None:
        """datasets diff --json has the added column and, with --key, the row counts."""
        diff = as_json(mk_cli("datasets", "diff", "iris/1", "2", "--key", "id", "--json"))
        assert diff["added_columns"] == ["y"]
        assert (diff["rows_added"], diff["rows_removed"], diff["rows_changed"]) == (1, 0, 1)
        assert diff["empty"] is False

    def test_diff_exit_code(self, mk_cli: Invoke) -> None:
        """--exit-code exits 1 when the versions differ and 0 when they do not."""
        assert mk_cli("datasets", "diff", "iris/1", "iris/2", "--exit-code").exit_code == 1
        same = mk_cli("datasets", "diff", "iris/2", "iris@2", "--exit-code")
        assert same.exit_code == EXIT_OK
        assert "no differences" in same.stdout


class TestModels:
    def test_ls_and_show(self, mk_cli: Invoke) -> None:
        """models ls shows the latest version and aliases; show resolves an alias."""
        rows = as_json(mk_cli("models", "ls", "--json"))
        assert rows[0]["name"] == "clf" and rows[0]["latest"] == 3
        assert rows[0]["aliases"] == {"champion": 2}
        shown = as_json(mk_cli("models", "show", "clf@champion", "--json"))
        assert shown["number"] == 2 and shown["aliases"] == ["champion"]

    def test_alias_then_rollback(self, mk_cli: Invoke) -> None:
        """alias moves the alias; rollback moves it back; history records both."""
        assert as_json(mk_cli("models", "alias", "clf", "champion", "3", "--json"))["version"] == 3
        assert as_json(mk_cli("models", "show", "clf@champion", "--json"))["number"] == 3
        back = as_json(mk_cli("models", "rollback", "clf", "champion", "-m", "oops", "--json"))
        assert back["version"] == 2
        events = as_json(mk_cli("models", "history", "clf", "--alias", "champion", "--json"))
        assert [e["action"] for e in events] == ["set_alias"] * 3 + ["rollback"]
        assert events[-1]["message"] == "oops"

    def test_unknown_alias_and_version_exit_2(self, mk_cli: Invoke) -> None:
        """Unknown aliases and versions are 'not found' and change nothing."""
        for args in (("show", "clf@nope"), ("alias", "clf", "champion", "9")):
            result = mk_cli("models", *args)
            assert result.exit_code == EXIT_USAGE
            one_line_error(result)
        assert as_json(mk_cli("models", "show", "clf@champion", "--json"))["number"] == 2

    def test_rollback_without_history_exits_2(self, mk_cli: Invoke) -> None:
        """Rolling back an alias with no earlier target is bad input (exit 2)."""
        mk_cli("models", "alias", "clf", "staging", "1")
        result = mk_cli("models", "rollback", "clf", "staging")
        assert result.exit_code == EXIT_USAGE
        assert "no earlier target" in one_line_error(result)


class TestStore:
    def test_verify_ok_then_damaged(self, mk_cli: Invoke, populated: dict[str, Any]) -> None:
        """verify exits 0 on a sound store and 1, naming the object, once a byte changes."""
        report = as_json(mk_cli("store", "verify", "--json"))
        assert report["ok"] is True and report["checked"] > 0
        objects = sorted(p for p in (populated["root"] / "objects").rglob("*") if p.is_file())
        victim = objects[0]
        victim.write_bytes(victim.read_bytes() + b"!")
        result = mk_cli("store", "verify", "--json")
        assert result.exit_code == EXIT_FAILED
        damaged = json.loads(result.stdout)
        assert damaged["ok"] is False
        assert damaged["corrupt"][0]["path"].endswith(victim.name)

    def test_gc_is_a_dry_run_by_default(self, mk_cli: Invoke, populated: dict[str, Any]) -> None:
        """gc without --apply deletes nothing, and everything refs reach survives --apply."""
        import mlopskit as mk

        store = mk.ArtifactStore(populated["root"])
        junk = store.put_bytes(b"unreferenced")
        dry = as_json(mk_cli("store", "gc", "--grace", "0s", "--json"))
        assert dry["dry_run"] is True and junk.digest in dry["removed"]
        assert store.exists(junk)
        done = as_json(mk_cli("store", "gc", "--apply", "--grace", "0s", "--json"))
        assert done["removed"] == [junk.digest]
        assert as_json(mk_cli("store", "verify", "--json"))["ok"] is True
        assert as_json(mk_cli("models", "show", "clf/1", "--json"))["number"] == 1

    def test_gc_bad_grace_is_a_usage_error(self, mk_cli: Invoke) -> None:
        """A grace that is not a duration is rejected before anything runs."""
        result = mk_cli("store", "gc", "--grace", "soon")
        assert result.exit_code == EXIT_USAGE
        assert "30s, 15m, 1h or 2d" in result.stderr

    def test_du_counts_bytes_by_area(self, mk_cli: Invoke, populated: dict[str, Any]) -> None:
        """du's areas add up to the total and match the files on disk."""
        du = as_json(mk_cli("store", "du", "--json"))
        areas = {a["area"]: a for a in du["areas"]}
        assert {"objects", "refs", "tracking.sqlite"} <= set(areas)
        on_disk = sum(p.stat().st_size for p in populated["root"].rglob("*") if p.is_file())
        assert du["total"]["bytes"] == on_disk
        assert du["total"]["files"] == sum(a["files"] for a in du["areas"])


class TestLineage:
    def test_model_lineage_reaches_its_run_and_dataset(
        self, mk_cli: Invoke, populated: dict[str, Any]
    ) -> None:
        """lineage of a model alias goes up to the run that made it and the dataset it read."""
        graph = as_json(mk_cli("lineage", "clf@champion", "--direction", "up", "--json"))
        kinds = {(r["source"]["kind"], r["relation"]) for r in graph["records"]}
        assert ("run", "registered") in kinds and ("dataset", "used") in kinds
        assert graph["root"]["kind"] == "model"

    def test_run_lineage_uses_the_workspace_tracker(
        self, mk_cli: Invoke, populated: dict[str, Any]
    ) -> None:
        """run:<id> finds the run in the --workspace given: its input, model and artifacts."""
        run = populated["runs"][0]
        graph = as_json(mk_cli("lineage", f"run:{run}", "--json"))
        relations = {(r["relation"], r["target"]["kind"]) for r in graph["records"]}
        assert ("registered", "model") in relations and ("logged", "artifact") in relations
        assert any(r["source"]["kind"] == "dataset" for r in graph["records"])

    @pytest.mark.parametrize(("fmt", "start"), [("mermaid", "graph"), ("dot", "digraph")])
    def test_graph_formats(self, mk_cli: Invoke, fmt: str, start: str) -> None:
        """--format mermaid / dot print a graph a renderer accepts."""
        result = mk_cli("lineage", "model:clf/1", "--format", fmt)
        assert result.exit_code == EXIT_OK
        assert result.stdout.lstrip().startswith(start)

    def test_unknown_uri_exits_2(self, mk_cli: Invoke) -> None:
        """A URI that names nothing is 'not found'."""
        result = mk_cli("lineage", "nothing/3")
        assert result.exit_code == EXIT_USAGE
        one_line_error(result)


@pytest.fixture
def frames(tmp_path: Path) -> dict[str, Path]:
    """A reference CSV, a drifted Parquet file and an identical copy of the reference."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    ref = pd.DataFrame({"a": rng.normal(size=3000), "c": rng.choice(list("xyz"), 3000)})
    cur = pd.DataFrame({"a": rng.normal(1.0, 1.0, size=3000), "c": rng.choice(list("xyz"), 3000)})
    out = {
        "ref": tmp_path / "ref.csv",
        "cur": tmp_path / "cur.parquet",
        "same": tmp_path / "same.csv",
    }
    ref.to_csv(out["ref"], index=False)
    ref.to_csv(out["same"], index=False)
    cur.to_parquet(out["cur"])
    return out


class TestDrift:
    def test_drifted_files_exit_1_and_write_html(
        self, mk_cli: Invoke, frames: dict[str, Path], tmp_path: Path
    ) -> None:
        """A shifted column is reported, the verdict exits 1, and --html writes the report."""
        html = tmp_path / "out" / "drift.html"
        html.parent.mkdir()
        result = mk_cli(
            "drift", str(frames["ref"]), str(frames["cur"]), "--html", str(html), "--json"
        )
        assert result.exit_code == EXIT_FAILED
        report = json.loads(result.stdout)
        assert report["drifted"] is True
        assert {c["column"]: c["drifted"] for c in report["columns"]} == {"a": True, "c": False}
        assert "<html" in html.read_text(encoding="utf-8").lower()

    def test_same_data_exits_0(self, mk_cli: Invoke, frames: dict[str, Path]) -> None:
        """Identical samples are not drift: exit 0 and a 'no drift' verdict."""
        result = mk_cli("drift", str(frames["ref"]), str(frames["same"]))
        assert result.exit_code == EXIT_OK
        assert "no drift" in result.stdout

    def test_dataset_uris_work_as_inputs(self, mk_cli: Invoke) -> None:
        """REF and CUR can be dataset versions of the workspace."""
        report = as_json(mk_cli("drift", "iris/1", "dataset:iris@2", "--columns", "x", "--json"))
        assert [c["column"] for c in report["columns"]] == ["x"]

    @pytest.mark.parametrize("name", ["bad.parquet", "bad.csv"])
    def test_unreadable_file_exits_2(
        self, mk_cli: Invoke, frames: dict[str, Path], name: str
    ) -> None:
        """A file that is not what its suffix says is a one-line error naming it, exit 2."""
        bad = frames["ref"].parent / name
        bad.write_bytes(b"\x00\x01 not a table \xff")
        result = mk_cli("drift", str(bad), str(frames["ref"]))
        assert result.exit_code == EXIT_USAGE
        assert "could not be read" in one_line_error(result)

    def test_missing_inputs_exit_2(self, mk_cli: Invoke, frames: dict[str, Path]) -> None:
        """A missing file or unknown dataset is a one-line 'not found'."""
        for args in ((str(frames["ref"]), "missing.csv"), ("nothing", str(frames["ref"]))):
            result = mk_cli("drift", *args)
            assert result.exit_code == EXIT_USAGE
            one_line_error(result)


class TestPushPull:
    def test_push_then_pull_into_a_new_workspace(
        self, mk_cli: Invoke, populated: dict[str, Any], tmp_path: Path
    ) -> None:
        """push copies everything to a remote; pull brings it into a fresh workspace."""
        remote, clone = tmp_path / "remote", tmp_path / "clone"
        dry = as_json(mk_cli("push", str(remote), "--dry-run", "--json"))
        assert dry["objects_missing"] > 0 and dry["objects_copied"] == 0
        assert not remote.exists()
        pushed = as_json(mk_cli("push", str(remote), "--json"))
        assert pushed["objects_copied"] == dry["objects_missing"]
        again = as_json(mk_cli("push", str(remote), "--json"))
        assert again["objects_copied"] == 0 and again["refs"] == []
        pulled = as_json(mk_cli("pull", str(remote), "--json", workspace=clone))
        assert pulled["objects_copied"] == pushed["objects_copied"]
        assert (
            as_json(mk_cli("models", "show", "clf@champion", "--json", workspace=clone))["number"]
            == 2
        )
        assert as_json(mk_cli("store", "verify", "--json", workspace=clone))["ok"] is True
        assert pushed["runs_copied"] == pulled["runs_copied"] == 4
        runs = as_json(mk_cli("runs", "ls", "--json", workspace=clone))
        assert [r["run_id"] for r in runs] == populated["runs"][::-1]
        shown = as_json(mk_cli("runs", "show", populated["runs"][0], "--json", workspace=clone))
        assert "weights.json" in shown["artifacts"] and shown["inputs"]

    def test_pull_trust_carries_trust_marks_only_when_asked(
        self, mk_cli: Invoke, populated: dict[str, Any], tmp_path: Path
    ) -> None:
        """A pickled model pulled with --trust loads without trusted=True; without it, not."""
        import mlopskit as mk
        from mlopskit.errors import UntrustedObjectError

        with mk.Workspace(populated["root"]):
            mk.registry.register("pickled", {"a", "set"})  # no safe codec: cloudpickle
        remote, plain, trusting = tmp_path / "remote", tmp_path / "plain", tmp_path / "trusting"
        assert mk_cli("push", str(remote), "--trust").exit_code == EXIT_OK
        assert mk_cli("pull", str(remote), workspace=plain).exit_code == EXIT_OK
        pulled = as_json(mk_cli("pull", str(remote), "--trust", "--json", workspace=trusting))
        assert pulled["trust_marks_copied"] >= 1
        with mk.Workspace(plain), pytest.raises(UntrustedObjectError):
            mk.registry.load("pickled/1")
        with mk.Workspace(trusting):
            assert mk.registry.load("pickled/1") == {"a", "set"}

    def test_diverged_alias_is_refused_with_exit_1(
        self, mk_cli: Invoke, populated: dict[str, Any], tmp_path: Path
    ) -> None:
        """An alias moved differently on both sides is refused: exit 1, remote unchanged."""
        remote, other = tmp_path / "remote", tmp_path / "other"
        mk_cli("push", str(remote))
        mk_cli("pull", str(remote), workspace=other)
        mk_cli("models", "alias", "clf", "champion", "3", workspace=other)
        assert mk_cli("push", str(remote), workspace=other).exit_code == EXIT_OK
        mk_cli("models", "alias", "clf", "champion", "1")
        result = mk_cli("push", str(remote), "--json")
        assert result.exit_code == EXIT_FAILED
        assert "RefConflictError" in one_line_error(result)
        refused = json.loads(result.stdout)
        assert [r["name"] for r in refused["refs"] if r["action"] == "conflict"] == [
            "models/clf/aliases/champion"
        ]
        assert (
            as_json(mk_cli("models", "show", "clf@champion", "--json", workspace=remote))["number"]
            == 3
        )

    def test_long_ref_lists_are_cut_unless_verbose(
        self, mk_cli: Invoke, populated: dict[str, Any], tmp_path: Path
    ) -> None:
        """A first push lists 20 refs and says how many more; --verbose lists them all."""
        import mlopskit as mk

        store = mk.ArtifactStore(populated["root"])
        for i in range(25):
            store.refs.set(f"extra/{i}", store.put_bytes(b"%d" % i))
        short = mk_cli("push", str(tmp_path / "r"), "--dry-run")
        assert short.exit_code == EXIT_OK
        assert "more refs (--verbose or --json lists all)" in short.stdout
        full = mk_cli("push", str(tmp_path / "r"), "--dry-run", "--verbose")
        total = len(as_json(mk_cli("push", str(tmp_path / "r"), "--dry-run", "--json"))["refs"])
        assert total > 20
        assert sum(" create " in line for line in full.stdout.splitlines()) == total


class TestServeAndUi:
    def test_missing_modules_exit_2(self, mk_cli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without the UI or deploy module installed, ui and serve say so and exit 2."""
        monkeypatch.setitem(sys.modules, "mlopskit.ui", None)
        monkeypatch.setitem(sys.modules, "mlopskit.deploy", None)
        for args in (("ui",), ("serve", "clf@champion")):
            result = mk_cli(*args)
            assert result.exit_code == EXIT_USAGE
            assert "is not part of this installation" in one_line_error(result)

    def test_ui_passes_workspace_host_and_port(
        self, mk_cli: Invoke, populated: dict[str, Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """ui hands the workspace URI, host and port to mlopskit.ui.serve_ui."""
        calls: list[tuple[str, str, int]] = []
        fake = types.ModuleType("mlopskit.ui")
        fake.serve_ui = lambda uri, host, port: calls.append((uri, host, port))  # type: ignore[attr-defined]
        fake.__spec__ = types.SimpleNamespace(name="mlopskit.ui")  # type: ignore[assignment]
        monkeypatch.setitem(sys.modules, "mlopskit.ui", fake)
        assert mk_cli("ui", "--port", "8765").exit_code == EXIT_OK
        ((uri, host, port),) = calls
        assert (Path(uri), host, port) == (populated["root"], "127.0.0.1", 8765)

    def test_serve_packages_the_registry_uri(
        self, mk_cli: Invoke, populated: dict[str, Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """serve packages NAME@ALIAS from the workspace's store and serves it on host:port."""
        calls: list[tuple[str, Any, str, int]] = []

        class Package:
            @classmethod
            def from_registry(cls, uri: str, *, store: Any) -> tuple[str, Any]:
                return (uri, store)

        fake = types.ModuleType("mlopskit.deploy")
        fake.ModelPackage = Package  # type: ignore[attr-defined]
        fake.serve = lambda pkg, host, port: calls.append((*pkg, host, port))  # type: ignore[attr-defined]
        fake.__spec__ = types.SimpleNamespace(name="mlopskit.deploy")  # type: ignore[assignment]
        monkeypatch.setitem(sys.modules, "mlopskit.deploy", fake)
        result = mk_cli("serve", "model:clf@champion", "--host", "0.0.0.0", "--port", "9000")
        assert result.exit_code == EXIT_OK, result.output
        ((uri, store, host, port),) = calls
        assert (uri, host, port) == ("clf@champion", "0.0.0.0", 9000)
        assert Path(store.url) == populated["root"]


class TestCompletion:
    @pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
    def test_completion_script(self, shell: str) -> None:
        """completion prints click's script for the shell, keyed on _MLOPSKIT_COMPLETE."""
        result = CliRunner().invoke(cli, ["completion", shell])
        assert result.exit_code == EXIT_OK
        assert "_MLOPSKIT_COMPLETE" in result.stdout

    @staticmethod
    def complete(words: str) -> list[str]:
        argv = words.split()
        result = CliRunner().invoke(
            cli,
            [],
            prog_name="mlopskit",
            env={
                "_MLOPSKIT_COMPLETE": "bash_complete",
                "COMP_WORDS": words,
                "COMP_CWORD": str(len(argv) - (0 if words.endswith(" ") else 1)),
            },
        )
        return [line.split(",", 1)[1] for line in result.stdout.splitlines() if "," in line]

    def test_completes_names_from_the_workspace(self, populated: dict[str, Any]) -> None:
        """Model URIs, dataset versions and run ids complete from the workspace named."""
        root = populated["root"]
        assert self.complete(f"mlopskit -w {root} models show clf@") == ["clf@champion"]
        assert "clf/3" in self.complete(f"mlopskit -w {root} models show c")
        assert self.complete(f"mlopskit -w {root} models rollback ") == ["clf"]
        assert self.complete(f"mlopskit -w {root} datasets diff iris/1 ir") == [
            "iris",
            "iris/1",
            "iris/2",
        ]
        run = populated["runs"][0]
        assert self.complete(f"mlopskit -w {root} runs show {run[:6]}") == [run]

    def test_deleted_dataset_versions_are_not_offered(self, populated: dict[str, Any]) -> None:
        """A dataset whose every version is deleted drops out of completion; the others stay."""
        import pandas as pd

        import mlopskit as mk

        root = populated["root"]
        with mk.Workspace(root):
            mk.datasets.commit("gone", pd.DataFrame({"a": [1]}))
            mk.datasets.delete("gone", 1)
            mk.datasets.delete("iris", 1)
        assert self.complete(f"mlopskit -w {root} datasets show ") == ["iris", "iris/2"]

    def test_completion_in_a_missing_workspace_offers_nothing(self, tmp_path: Path) -> None:
        """Completing against a workspace that does not exist offers nothing and creates nothing."""
        assert self.complete(f"mlopskit -w {tmp_path / 'none'} models show ") == []
        assert not (tmp_path / "none").exists()

    def test_completes_subcommands(self) -> None:
        """The completion protocol offers the commands that match what was typed."""
        result = CliRunner().invoke(
            cli,
            [],
            prog_name="mlopskit",
            env={
                "_MLOPSKIT_COMPLETE": "bash_complete",
                "COMP_WORDS": "mlopskit mo",
                "COMP_CWORD": "1",
            },
        )
        assert "models" in result.stdout
        assert "runs" not in result.stdout


@pytest.mark.s3
class TestS3Workspace:
    def test_commands_work_on_an_s3_workspace(self, mk_cli: Invoke, s3_url: str) -> None:
        """push to s3://, then read the remote with --workspace s3://… like a local one."""
        assert mk_cli("push", s3_url).exit_code == EXIT_OK

        def on_s3(*args: str) -> Result:
            return CliRunner().invoke(cli, ["--workspace", s3_url, *args])

        assert as_json(on_s3("models", "show", "clf@champion", "--json"))["number"] == 2
        assert [r["name"] for r in as_json(on_s3("datasets", "ls", "--json"))] == ["iris"]
        assert as_json(on_s3("store", "verify", "--json"))["ok"] is True
        areas = {a["area"] for a in as_json(on_s3("store", "du", "--json"))["areas"]}
        assert {"refs"} <= areas and areas & {"objects", "packs"}
        local = {r["run_id"]: r for r in as_json(mk_cli("runs", "ls", "--json"))}
        remote = {r["run_id"]: r for r in as_json(on_s3("runs", "ls", "--json"))}
        assert remote.keys() == local.keys()
        for run_id, row in remote.items():
            for key in ("params", "metrics", "start_time", "name", "experiment"):
                assert row[key] == local[run_id][key]

    def test_runs_compact_writes_an_index_that_searches_agree_with(
        self, mk_cli: Invoke, s3_url: str
    ) -> None:
        """`runs compact` on an s3:// workspace writes index objects; `runs ls` is unchanged."""
        assert mk_cli("push", s3_url).exit_code == EXIT_OK

        def on_s3(*args: str) -> Result:
            return CliRunner().invoke(cli, ["--workspace", s3_url, *args])

        before = as_json(on_s3("runs", "ls", "--json"))
        created = as_json(on_s3("runs", "compact", "--json"))["created"]
        assert created and all(p.endswith(".parquet") for p in created)
        assert as_json(on_s3("runs", "ls", "--json")) == before
        unknown = on_s3("runs", "compact", "no-such-experiment")
        assert (
            unknown.exit_code == 2 and "no experiment named 'no-such-experiment'" in unknown.output
        )

    def test_runs_compact_on_a_local_workspace_does_nothing(self, mk_cli: Invoke) -> None:
        """A local (SQLite) workspace has no index to write: `runs compact` says 0."""
        res = mk_cli("runs", "compact")
        assert res.exit_code == EXIT_OK and "0 index object(s) written" in res.output

    def test_copied_runs_keep_their_status_on_s3(self, mk_cli: Invoke, s3_url: str) -> None:
        """Runs pushed to an s3:// workspace read back FINISHED, as they are locally."""
        assert mk_cli("push", s3_url).exit_code == EXIT_OK
        rows = as_json(CliRunner().invoke(cli, ["--workspace", s3_url, "runs", "ls", "--json"]))
        assert {r["status"] for r in rows} == {"FINISHED"}
