"""examples/ci: the GitHub Actions workflow's commands in order, the pipeline the Airflow DAG
and Prefect flow call, and the Grafana dashboard against what a real server exports."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "examples" / "ci"


def _steps() -> list[str]:
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
    steps = workflow["jobs"]["model"]["steps"]
    return [s["run"] for s in steps if "run" in s and not s["run"].startswith("pip install")]


def _env(tmp_path: Path) -> dict[str, str]:
    """The job's environment: a workspace and a step summary under tmp_path; `mlopskit` on
    PATH (the console script when installed, else a shim over `python -m mlopskit.checks`)."""
    env = dict(os.environ)
    env.update(
        MLOPSKIT_HOME=str(tmp_path / "ws"),
        MLOPSKIT_CACHE_DIR=str(tmp_path / "cache"),
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
    )
    installed = Path(sys.executable).with_name("mlopskit")
    if not installed.exists():
        shim = tmp_path / "bin" / "mlopskit"
        shim.parent.mkdir()
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mlopskit.checks "$@"\n')
        shim.chmod(0o755)
        env["PATH"] = f"{shim.parent}{os.pathsep}{env['PATH']}"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def _run(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_workflow_commands_run_in_order(tmp_path: Path) -> None:
    """The workflow's steps pass on a fresh workspace (first promotion), a bad model is
    stopped with exit 1 and the alias kept, and a good retrain is promoted."""
    from mlopskit.workspace import Workspace

    pytest.importorskip("sklearn")
    env = _env(tmp_path)
    steps = _steps()
    assert any(s.startswith("mlopskit check") for s in steps)
    for command in steps:
        out = _run(command, env)
        assert out.returncode == 0, f"{command}\n{out.stdout}\n{out.stderr}"
    summary = (tmp_path / "summary.md").read_text()
    assert "promote.yaml`: passed" in summary and "Promoted **churn/1**" in summary
    with Workspace(tmp_path / "ws") as ws:
        assert ws.registry.aliases("churn")["champion"] == 1

    bad = _run("python examples/ci/train.py --seed 1 --bad", env)
    assert bad.returncode == 0, bad.stderr
    refused = _run("mlopskit check examples/ci/promote.yaml", env)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "refused" in refused.stdout
    good = _run(
        "python examples/ci/train.py --seed 2 && mlopskit check examples/ci/promote.yaml", env
    )
    assert good.returncode == 0, good.stdout + good.stderr
    with Workspace(tmp_path / "ws") as ws:
        assert ws.registry.aliases("churn")["champion"] == 3
        last = ws.registry.history("churn", "champion")[-1]
        assert [g.gate for g in last.gates] == ["model", "latency", "signature", "environment"]


def _pipeline() -> Any:
    spec = importlib.util.spec_from_file_location("ci_pipeline", CI / "pipeline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pipeline_tasks_in_order(ws: Any) -> None:
    """The task bodies the DAG and the flow call: a trigger is pending, train, gate and
    promote, acknowledge — and a bad model is refused."""
    pytest.importorskip("sklearn")
    import mlopskit as mk

    pipeline = _pipeline()
    mk.checks.fire_trigger("drift", "churn@champion", reason="test")
    pending = pipeline.pending_retraining()
    assert len(pending) == 1
    candidate = pipeline.train(seed=0)
    assert pipeline.promote(candidate)
    pipeline.acknowledge(pending, by="test")
    assert pipeline.pending_retraining() == []
    assert not pipeline.promote(pipeline.train(seed=1, bad=True))
    assert mk.registry.aliases("churn")["champion"] == 1


def test_orchestrator_files_import_when_installed() -> None:
    """The Airflow DAG and the Prefect flow import (each only where its package is installed)."""
    ran = 0
    for module, name in (("airflow", "airflow_dag.py"), ("prefect", "prefect_flow.py")):
        if importlib.util.find_spec(module) is None:
            continue
        spec = importlib.util.spec_from_file_location(name[:-3], CI / name)
        assert spec is not None and spec.loader is not None
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        ran += 1
    if not ran:
        pytest.skip("neither airflow nor prefect is installed (nox -s airflow / prefect)")


# -- the Grafana dashboard -----------------------------------------------------------------

_METRIC = re.compile(r"\bmlopskit_[a-z_]+\b")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*\"([^\"]*)\"")
_BY = re.compile(r"\bby\s*\(([^)]*)\)")


def _scrape(tmp_path: Path) -> dict[str, dict[str, set[str]]]:
    """Serve a registered model in a subprocess, answer one request, scrape /metrics:
    sample name → label → values seen."""
    pytest.importorskip("prometheus_client")
    pytest.importorskip("uvicorn")
    import numpy as np
    from prometheus_client.parser import text_string_to_metric_families

    from mlopskit.workspace import Workspace

    spec_ = importlib.util.spec_from_file_location(
        "deploy_servers", ROOT / "tests/deploy/_servers.py"
    )
    assert spec_ is not None and spec_.loader is not None
    servers = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(servers)
    root = tmp_path / "ws"
    with Workspace(root) as ws:
        ws.registry.register("m", np.array([1.0, 2.0]))
        ws.registry.set_alias("m", "champion", 1)
    server = servers.start_server(
        {"workspace": str(root), "target": {"uri": "m@champion"}}, tmp_path / "server.log"
    )
    try:
        body = json.dumps({"inputs": [[1.0, 2.0]]}).encode()
        req = urllib.request.Request(
            f"{server.url}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        urllib.request.urlopen(req, timeout=30).close()
        text = urllib.request.urlopen(f"{server.url}/metrics", timeout=30).read().decode()
    finally:
        server.stop()
    seen: dict[str, dict[str, set[str]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = seen.setdefault(sample.name, {})
            for k, v in sample.labels.items():
                labels.setdefault(k, set()).add(v)
    return seen


@pytest.mark.slow
def test_dashboard_queries_name_exported_metrics_and_labels(tmp_path: Path) -> None:
    """Every metric, label, label value and legend label the dashboard queries is one a
    real server's /metrics exports."""
    exported = _scrape(tmp_path)
    dashboard = json.loads((CI / "grafana-dashboard.json").read_text())
    exprs = [
        (t["expr"], t.get("legendFormat", "")) for p in dashboard["panels"] for t in p["targets"]
    ]
    exprs.append((dashboard["templating"]["list"][1]["definition"], ""))
    assert len(exprs) >= 10
    for expr, legend in exprs:
        names = _METRIC.findall(expr)
        assert names, expr
        labels: set[str] = set()
        for name in names:
            assert name in exported, f"{name} is not exported; exported: {sorted(exported)}"
            labels |= set(exported[name])
        for label, op, value in _MATCHER.findall(expr):
            assert label in labels, f"{expr}: label {label!r} not on {names}"
            if op in ("=", "!=") and not value.startswith("$"):
                assert value in exported[names[0]].get(label, set()), (expr, value)
        grouped = {x.strip() for by in _BY.findall(expr) for x in by.split(",") if x.strip()}
        assert grouped <= labels, f"{expr}: by {grouped - labels}"
        for used in re.findall(r"\{\{(\w+)\}\}", legend):
            assert used in grouped, f"legend {legend!r} uses {used!r}, not grouped by"
