"""Docker build context: no Docker engine here, so the Dockerfile is checked by parsing,
and the entrypoint is run from the context in a fresh venv holding only its requirements."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _proc import post, start
from adapter_data import mixed_frame

from mlopskit.deploy import Predictor, docker
from mlopskit.deploy._codec import encode_mlflow_request
from mlopskit.errors import InvalidInputError

ROOT = Path(__file__).resolve().parents[3]


def test_dockerfile_matches_the_package(mixed_package: Any, tmp_path: Path) -> None:
    """Base image is slim Python of the recorded version, the user is not root, the health
    check probes /v2/health/ready, the entrypoint is exec-form and every pin is required."""
    ctx = docker.context(mixed_package, tmp_path / "ctx")
    steps = docker.parse_dockerfile((ctx / "Dockerfile").read_text())
    words = [w for w, _ in steps]
    args = dict(steps)
    assert args["FROM"] == f"python:{mixed_package.python_version}-slim"
    user = args["USER"].split(":")[0]
    assert user not in ("root", "0") and words.index("USER") > words.index("RUN")
    assert "/v2/health/ready" in args["HEALTHCHECK"]
    assert isinstance(args["ENTRYPOINT"], list) and args["ENTRYPOINT"][0] == "python"
    assert args["CMD"] == ["serve"]
    reqs = (ctx / "requirements.txt").read_text().splitlines()
    assert reqs[0].startswith("pymlopskit[serve,sklearn]")
    for dist, version in mixed_package.requirements.items():
        assert f"{dist}=={version}" in reqs
    assert (ctx / "model" / "package.json").is_file()
    with pytest.raises(InvalidInputError, match="not an empty directory"):
        docker.context(mixed_package, ctx)


def test_parser_reads_continuations_and_exec_form() -> None:
    """The Dockerfile parser joins continuation lines and decodes JSON exec form."""
    steps = docker.parse_dockerfile('FROM a\n# c\nENV A=1 \\\n  B=2\nENTRYPOINT ["x", "y"]\n')
    assert steps == [("FROM", "a"), ("ENV", "A=1 B=2"), ("ENTRYPOINT", ["x", "y"])]


@pytest.mark.slow
def test_entrypoint_serves_from_a_fresh_venv(mixed_package: Any, tmp_path: Path) -> None:
    """In a new venv with only requirements.txt installed (mlopskit from this checkout), the
    context's entrypoint answers /ping and /invocations as Predictor does."""
    ctx = docker.context(mixed_package, tmp_path / "ctx")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # no .pyc compiled at install (the entrypoint compiles what it imports): faster, same venv
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile"]
    subprocess.run([*pip, f"{ROOT}[serve,sklearn]"], check=True, timeout=900)
    subprocess.run([*pip, "-r", str(ctx / "requirements.txt")], check=True, timeout=900)
    cmd = [str(venv / "bin" / "python"), "entrypoint.py", "serve", "--port", "0"]
    rows = mixed_frame(20, seed=4)
    with start(cmd, tmp_path / "ctx.log", ready="/ping", cwd=ctx, timeout=120) as srv:
        status, got = post(f"{srv.url}/invocations", encode_mlflow_request(rows))
        assert status == 200, got
        assert got["predictions"] == Predictor(mixed_package).predict(rows).tolist()
        assert (
            json.loads((ctx / "model" / "package.json").read_text())["digest"]
            == mixed_package.digest
        )
