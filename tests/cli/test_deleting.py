"""``mlopskit runs delete|restore``, ``experiments delete|restore`` and ``mlopskit gc``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mlopskit.cli import EXIT_OK, EXIT_USAGE, cli

Invoke = Callable[..., Result]


def as_json(result: Result) -> Any:
    assert result.exit_code == EXIT_OK, result.output
    return json.loads(result.stdout)


def ids(mk_cli: Invoke, *args: str) -> list[str]:
    return [r["run_id"] for r in as_json(mk_cli("runs", "ls", "--json", *args))]


COMMANDS = [
    ("runs", "delete"),
    ("runs", "restore"),
    ("experiments", "delete"),
    ("experiments", "restore"),
    ("datasets", "delete"),
    ("datasets", "restore"),
    ("models", "delete"),
    ("models", "restore"),
    ("gc",),
]


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    """Each deleting command's --help works and shows an example invocation."""
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == EXIT_OK
    assert "mlopskit" in result.output.split("Example:")[1]


class TestRuns:
    def test_delete_hides_and_restore_brings_back(
        self, mk_cli: Invoke, populated: dict[str, Any]
    ) -> None:
        """A deleted run leaves runs ls (and filtered ls), shows under --view deleted with
        who and why, and returns after restore."""
        target = populated["runs"][0]
        rows = as_json(mk_cli("runs", "delete", target, "--reason", "bad labels", "--json"))
        assert rows[0]["changed"] and rows[0]["event"]["reason"] == "bad labels"
        assert target not in ids(mk_cli)
        assert target not in ids(mk_cli, "--filter", "params.lr > 0")
        deleted = as_json(mk_cli("runs", "ls", "--view", "deleted", "--json"))
        assert [r["run_id"] for r in deleted] == [target]
        assert deleted[0]["lifecycle"] == "deleted"
        assert deleted[0]["deletion"]["reason"] == "bad labels"
        assert len(ids(mk_cli, "--view", "all")) == len(populated["runs"])
        shown = mk_cli("runs", "show", target)
        assert "lifecycle:  deleted" in shown.stdout and "bad labels" in shown.stdout
        again = as_json(mk_cli("runs", "delete", target, "--json"))
        assert again[0]["changed"] is False
        assert as_json(mk_cli("runs", "restore", target, "--json"))[0]["changed"]
        assert target in ids(mk_cli)

    def test_an_unknown_id_exits_2_and_deletes_nothing(
        self, mk_cli: Invoke, populated: dict[str, Any]
    ) -> None:
        """One bad id among good ones: exit 2, one line naming it, no run deleted."""
        result = mk_cli("runs", "delete", populated["runs"][0], "0" * 32)
        assert result.exit_code == EXIT_USAGE
        assert "NotFoundError" in result.stderr and "0" * 32 in result.stderr
        assert len(ids(mk_cli)) == len(populated["runs"])

    def test_delete_needs_a_run_id(self, mk_cli: Invoke) -> None:
        """runs delete without an id is a usage error."""
        assert mk_cli("runs", "delete").exit_code == EXIT_USAGE


class TestExperiments:
    def test_delete_and_restore(self, mk_cli: Invoke, populated: dict[str, Any]) -> None:
        """An experiment deleted leaves experiments ls and takes its runs; --all shows it;
        restore brings back the experiment and its runs."""
        row = as_json(mk_cli("experiments", "delete", "mnist", "--reason", "old", "--json"))
        assert row["changed"] and row["lifecycle"] == "deleted"
        names = {r["experiment"] for r in as_json(mk_cli("experiments", "ls", "--json"))}
        assert names == {"other"}
        every = as_json(mk_cli("experiments", "ls", "--all", "--json"))
        mnist = next(r for r in every if r["experiment"] == "mnist")
        assert (mnist["lifecycle"], mnist["runs"], mnist["deleted_runs"]) == ("deleted", 0, 3)
        assert ids(mk_cli) == [populated["runs"][3]]
        mk_cli("experiments", "restore", "mnist")
        assert set(ids(mk_cli)) == set(populated["runs"])

    def test_unknown_experiment_suggests_a_name(self, mk_cli: Invoke) -> None:
        """A misspelt experiment exits 2 with 'did you mean'."""
        result = mk_cli("experiments", "delete", "mnits")
        assert result.exit_code == EXIT_USAGE
        assert "did you mean 'mnist'" in result.stderr


class TestGc:
    def test_gc_keeps_young_deletions_and_is_a_dry_run_by_default(
        self, mk_cli: Invoke, populated: dict[str, Any]
    ) -> None:
        """gc without --apply purges nothing; with --older-than 0s --apply the deleted run
        is gone for good while the model versions registered inside it still load."""
        target = populated["runs"][0]
        mk_cli("runs", "delete", target)
        young = as_json(mk_cli("gc", "--apply", "--json"))
        assert young["runs"]["kept_young"] == [target] and young["runs"]["purged_runs"] == []
        dry = as_json(mk_cli("gc", "--older-than", "0s", "--json"))
        assert dry["dry_run"] and dry["runs"]["purged_runs"] == [target]
        assert target in ids(mk_cli, "--view", "deleted")
        done = as_json(mk_cli("gc", "--older-than", "0s", "--grace", "0s", "--apply", "--json"))
        assert done["runs"]["purged_runs"] == [target]
        assert target not in ids(mk_cli, "--view", "all")
        assert mk_cli("runs", "show", target).exit_code == EXIT_USAGE
        shown = as_json(mk_cli("models", "show", "clf/1", "--json"))
        assert shown["number"] == 1
        assert mk_cli("store", "verify").exit_code == EXIT_OK

    @pytest.mark.parametrize("flag", ["--older-than", "--grace"])
    def test_bad_durations_are_usage_errors(self, mk_cli: Invoke, flag: str) -> None:
        """A duration that does not parse exits 2."""
        assert mk_cli("gc", flag, "soon").exit_code == EXIT_USAGE


class TestVersions:
    def test_dataset_delete_and_restore(self, mk_cli: Invoke) -> None:
        """datasets delete hides a version from ls and show (exit 2 naming who and why);
        restore brings it back; a spec without a version is a usage error."""
        row = as_json(mk_cli("datasets", "delete", "iris/2", "--reason", "pii", "--json"))
        assert row["changed"] and row["lifecycle"] == "deleted" and row["user"]
        assert [r["latest"] for r in as_json(mk_cli("datasets", "ls", "--json"))] == [1]
        shown = mk_cli("datasets", "show", "iris/2")
        assert shown.exit_code == EXIT_USAGE and "was deleted" in shown.stderr
        assert "pii" in shown.stderr
        assert mk_cli("datasets", "delete", "iris").exit_code == EXIT_USAGE
        assert as_json(mk_cli("datasets", "restore", "iris/2", "--json"))["changed"]
        assert [r["latest"] for r in as_json(mk_cli("datasets", "ls", "--json"))] == [2]

    def test_model_delete_is_refused_while_an_alias_points_at_it(self, mk_cli: Invoke) -> None:
        """models delete of the @champion version exits 2 naming the alias; another version
        is deleted (latest in ls moves back) and restored."""
        refused = mk_cli("models", "delete", "clf/2")
        assert refused.exit_code == EXIT_USAGE and "clf@champion" in refused.stderr
        row = as_json(mk_cli("models", "delete", "clf/3", "--reason", "leak", "--json"))
        assert row["changed"]
        assert as_json(mk_cli("models", "ls", "--json"))[0]["latest"] == 2
        assert mk_cli("models", "show", "clf/3").exit_code == EXIT_USAGE
        mk_cli("models", "restore", "clf/3")
        assert as_json(mk_cli("models", "ls", "--json"))[0]["latest"] == 3
