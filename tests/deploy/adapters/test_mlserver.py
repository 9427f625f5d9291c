"""MLServer: the exported repository entry is well formed, and `mlserver start` (nox -s
mlserver; skipped without it) serves it through mlopskit's Runtime as Predictor does."""

from __future__ import annotations

import json
import shutil
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from _proc import free_port, post, start
from adapter_data import mixed_frame

from mlopskit.deploy import Predictor, mlserver
from mlopskit.deploy._codec import encode_v2_request
from mlopskit.errors import InvalidInputError


def test_model_settings_describe_the_package(mixed_package: Any, tmp_path: Path) -> None:
    """model-settings.json names the mlopskit Runtime, a relative uri to the bundle and one
    input tensor per signature column."""
    folder = mlserver.export(mixed_package, tmp_path / "repo")
    settings = json.loads((folder / "model-settings.json").read_text())
    assert settings["implementation"] == "mlopskit.deploy.mlserver.Runtime"
    assert (folder / settings["parameters"]["uri"] / "package.json").is_file()
    assert [t["name"] for t in settings["inputs"]] == ["x", "color", "count", "city"]
    assert {t["name"]: t["datatype"] for t in settings["inputs"]}["x"] == "FP64"
    with pytest.raises(InvalidInputError, match="not empty"):
        mlserver.export(mixed_package, tmp_path / "repo")


@pytest.mark.slow
def test_mlserver_start_serves_the_repository(mixed_package: Any, tmp_path: Path) -> None:
    """`mlserver start` on 127.0.0.1 is ready, lists the inputs at /v2/models/{m}, answers
    /infer as Predictor does, and a missing column with 400 (not MLServer's usual 500)."""
    pytest.importorskip("mlserver")
    repo = tmp_path / "repo"
    mlserver.export(mixed_package, repo, name="mixed")
    port = free_port()
    (repo / "settings.json").write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "http_port": port,
                "grpc_port": free_port(),
                "metrics_port": free_port(),
                "parallel_workers": 0,
            }
        )
    )
    exe = shutil.which("mlserver", path=str(Path(sys.executable).parent)) or "mlserver"
    url = f"http://127.0.0.1:{port}"
    rows = mixed_frame(30, seed=6)
    with start(
        [exe, "start", str(repo)],
        tmp_path / "mlserver.log",
        ready="/v2/health/ready",
        url=url,
        timeout=180,
    ) as srv:
        with urllib.request.urlopen(f"{srv.url}/v2/models/mixed", timeout=10) as r:
            meta = json.loads(r.read())
        assert [t["name"] for t in meta["inputs"]] == ["x", "color", "count", "city"]
        status, got = post(f"{srv.url}/v2/models/mixed/infer", encode_v2_request(rows, id="q"))
        assert status == 200, got
        assert got["outputs"][0]["data"] == Predictor(mixed_package).predict(rows).tolist()
        status, err = post(
            f"{srv.url}/v2/models/mixed/infer", encode_v2_request(rows.drop(columns="x"))
        )
        assert status == 400, err
        assert "x" in json.dumps(err)
