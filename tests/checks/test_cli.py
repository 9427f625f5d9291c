"""The `mlopskit check` and `mlopskit triggers` commands, through click's CliRunner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click
import pytest
from click.testing import CliRunner

from mlopskit.checks import fire_trigger, list_triggers
from mlopskit.checks._cli import COMMANDS, check, triggers

GOOD = """\
candidate: churn/3
checks:
  - data: {current: holdout/2, reference: holdout/1}
  - model: {data: holdout/2, target: y, metrics: {accuracy: 0.0}}
  - signature: {}
"""


def _spec(tmp_path: Path, text: str, name: str = "gate.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


class TestCheck:
    def test_passing_spec_exits_0(
        self, runner: CliRunner, ws: Any, holdout: str, models: Any, tmp_path: Path
    ) -> None:
        """Every check passing: exit 0, a readable summary per check, PASSED last."""
        res = runner.invoke(check, [_spec(tmp_path, GOOD), "-w", ws.uri])
        assert res.exit_code == 0, res.output + res.stderr
        assert "data check of holdout/2: PASS" in res.output
        assert res.output.strip().endswith("PASSED")

    def test_failing_spec_exits_1_with_json(
        self, runner: CliRunner, ws: Any, holdout: str, models: Any, tmp_path: Path
    ) -> None:
        """A failing check: exit 1; --json gives every result with its findings."""
        spec = _spec(tmp_path, GOOD.replace("churn/3", "churn/2"))
        res = runner.invoke(check, [spec, "--json", "-w", ws.uri])
        assert res.exit_code == 1
        doc = json.loads(res.output)
        assert doc["passed"] is False
        assert [r["check"] for r in doc["results"]] == ["data", "model", "signature"]
        assert [r["passed"] for r in doc["results"]] == [True, False, True]

    def test_github_step_summary(
        self,
        runner: CliRunner,
        ws: Any,
        holdout: str,
        models: Any,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """With GITHUB_STEP_SUMMARY set, a markdown table per check is appended there."""
        summary = tmp_path / "summary.md"
        summary.write_text("previous step\n")
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
        res = runner.invoke(
            check, [_spec(tmp_path, GOOD.replace("churn/3", "churn/2")), "-w", ws.uri]
        )
        assert res.exit_code == 1
        text = summary.read_text()
        assert text.startswith("previous step\n") and "FAILED" in text
        assert "| metric[accuracy] | **FAIL** |" in text

    def test_promote_spec(
        self, runner: CliRunner, ws: Any, holdout: str, models: Any, tmp_path: Path
    ) -> None:
        """promote: moves the alias when the gates pass, and refuses (exit 1) when not."""
        bad = _spec(tmp_path, GOOD.replace("churn/3", "churn/2") + "promote: {to: champion}\n")
        res = runner.invoke(check, [bad, "-w", ws.uri])
        assert res.exit_code == 1 and "refused" in res.output
        assert ws.registry.aliases("churn")["champion"] == 1
        good = _spec(tmp_path, GOOD + "promote: {to: champion}\n", "ok.yaml")
        res = runner.invoke(check, [good, "-w", ws.uri])
        assert res.exit_code == 0, res.output + res.stderr
        assert ws.registry.aliases("churn")["champion"] == 3
        gates = ws.registry.history("churn", "champion")[-1].gates
        assert [g.gate for g in gates] == ["data", "model", "signature"]

    def test_toml_spec(
        self, runner: CliRunner, ws: Any, holdout: str, models: Any, tmp_path: Path
    ) -> None:
        """A TOML spec works like the YAML one."""
        toml = (
            'candidate = "churn/3"\n[[checks]]\nmodel = {data = "holdout/2", target = "y"}\n'
            '[[checks]]\nlatency = {data = "holdout/2", target = "y", p95_ms = 10000, requests = 5}\n'
        )
        res = runner.invoke(check, [_spec(tmp_path, toml, "gate.toml"), "-w", ws.uri])
        assert res.exit_code == 0, res.output + res.stderr

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("checks: [{data: {}}]\nextra: 1\n", "unknown key"),
            ("candidate: churn/3\nchecks: [{accuracy: {}}]\n", "unknown check"),
            ("candidate: churn/3\nchecks: [{model: {dataset: x}}]\n", "unknown option"),
            ("checks: [{model: {data: holdout/2, target: y}}]\n", "candidate"),
            ("checks: [\n", "not valid YAML"),
            ("checks: []\n", "non-empty list"),
            ("candidate: churn/404\nchecks: [{signature: {}}]\n", "no version 404"),
        ],
    )
    def test_bad_spec_exits_2(
        self,
        runner: CliRunner,
        ws: Any,
        holdout: str,
        models: Any,
        tmp_path: Path,
        text: str,
        message: str,
    ) -> None:
        """A bad spec is one error line on stderr and exit 2; no check runs."""
        res = runner.invoke(check, [_spec(tmp_path, text), "-w", ws.uri])
        assert res.exit_code == 2, res.output
        assert res.stderr.startswith("error: ") and message in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1

    def test_inline_spec(self, runner: CliRunner, ws: Any, holdout: str, models: Any) -> None:
        """--inline runs a one-line YAML spec; neither or both of SPEC and --inline is exit 2."""
        inline = "{candidate: churn/2, checks: [{model: {data: holdout/2, target: y}}]}"
        res = runner.invoke(check, ["--inline", inline, "-w", ws.uri])
        assert res.exit_code == 1 and "metric[accuracy]" in res.output
        res = runner.invoke(check, ["-w", ws.uri])
        assert res.exit_code == 2 and "exactly one" in res.stderr

    def test_spec_must_be_yaml_or_toml(self, runner: CliRunner, tmp_path: Path) -> None:
        """A spec with another suffix is refused (exit 2)."""
        res = runner.invoke(check, [_spec(tmp_path, "{}", "gate.json")])
        assert res.exit_code == 2 and ".toml" in res.stderr

    def test_spec_workspace_is_relative_to_the_spec(
        self, runner: CliRunner, ws: Any, holdout: str, models: Any, tmp_path: Path
    ) -> None:
        """workspace: in the spec is resolved next to the spec file."""
        spec = _spec(tmp_path, GOOD + "workspace: ws\n")
        res = runner.invoke(check, [spec], env={"MLOPSKIT_HOME": ""})
        assert res.exit_code == 0, res.output + res.stderr


class TestTriggers:
    def test_ls_pending_and_ack(self, runner: CliRunner, ws: Any) -> None:
        """ls --pending lists what fired; ack takes it out; a second ack exits 2."""
        t = fire_trigger("drift", "churn@champion", reason="f0 drifted")
        res = runner.invoke(triggers, ["ls", "--pending", "-w", ws.uri])
        assert res.exit_code == 0 and t.id in res.output and "f0 drifted" in res.output
        res = runner.invoke(triggers, ["ack", t.id, "--by", "ci", "-w", ws.uri])
        assert res.exit_code == 0 and list_triggers(pending=True) == []
        res = runner.invoke(triggers, ["ls", "--pending", "-w", ws.uri])
        assert res.output.strip() == "no pending triggers"
        res = runner.invoke(triggers, ["ack", t.id, "-w", ws.uri])
        assert res.exit_code == 2 and "acknowledged already" in res.stderr

    def test_fire_and_json(self, runner: CliRunner, ws: Any) -> None:
        """fire writes a trigger; ls --json prints records a scheduler can parse."""
        res = runner.invoke(triggers, ["fire", "performance", "m@champion", "-w", ws.uri])
        assert res.exit_code == 0
        res = runner.invoke(triggers, ["ls", "--json", "-w", ws.uri])
        (doc,) = json.loads(res.output)
        assert doc["id"] == list_triggers()[0].id and doc["status"] == "pending"

    def test_bad_id_exits_2(self, runner: CliRunner, ws: Any) -> None:
        """A malformed trigger id is refused with exit 2."""
        res = runner.invoke(triggers, ["ack", "../x", "-w", ws.uri])
        assert res.exit_code == 2 and "not a trigger id" in res.stderr


def test_commands_register_on_a_group_and_use_its_workspace(ws: Any, tmp_path: Path) -> None:
    """Added to a group whose ctx.obj has .uri (as the mlopskit group does), the commands
    use that workspace."""

    @click.group()
    @click.option("-w", "--workspace")
    @click.pass_context
    def group(ctx: click.Context, workspace: str | None) -> None:
        ctx.obj = SimpleNamespace(uri=workspace)

    for command in COMMANDS:
        group.add_command(command)
    fire_trigger("drift", "m")
    res = CliRunner().invoke(group, ["-w", ws.uri, "triggers", "ls", "--pending"])
    assert res.exit_code == 0 and " m " in res.output
    assert sorted(group.commands) == ["check", "triggers"]


def test_public_surface_is_sorted_and_complete() -> None:
    """mk.checks exports exactly its lazy names, sorted (constants first, as ruff sorts),
    each resolving to an object, and mk.checks is the package."""
    import mlopskit as mk
    import mlopskit.checks as checks

    assert checks.__all__ == sorted(checks._LAZY, key=lambda n: (not n.isupper(), n))
    for name in checks.__all__:
        assert getattr(checks, name) is not None
    assert mk.checks is checks


def test_commands_import_light() -> None:
    """Importing the commands (what the mlopskit group does at startup) loads neither
    numpy nor pandas."""
    code = (
        "import sys, mlopskit.checks._cli; "
        "print(sorted(m for m in ('numpy', 'pandas', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
