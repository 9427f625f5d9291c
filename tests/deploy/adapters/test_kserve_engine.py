"""KServe's own python ModelServer (package ``kserve``, nox -s kserve; skipped without it)
serves a bundle through mlopskit's V2 model class, answering as Predictor does."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from _proc import free_port, post, start
from adapter_data import mixed_frame

from mlopskit.deploy import Predictor
from mlopskit.deploy._codec import encode_v2_request
from mlopskit.deploy._targets import write_bundle

pytest.importorskip("kserve")
pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.mark.slow
def test_kserve_model_server_answers_like_predictor(mixed_package: Any, tmp_path: Path) -> None:
    """V2 /infer and V1 :predict on KServe's ModelServer (bound to 127.0.0.1) equal
    Predictor.predict; a missing column is a 4xx, not a 500."""
    model_dir = write_bundle(mixed_package, tmp_path / "mnt-models")
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "mlopskit.deploy.kserve",
        "--model_name",
        "mixed",
        "--model_dir",
        str(model_dir),
        "--http_port",
        str(port),
    ]
    url = f"http://127.0.0.1:{port}"
    rows = mixed_frame(40, seed=5)
    want = Predictor(mixed_package).predict(rows).tolist()
    with start(cmd, tmp_path / "kserve.log", ready="/v2/health/ready", url=url, timeout=120) as srv:
        status, got = post(f"{srv.url}/v2/models/mixed/infer", encode_v2_request(rows, id="r1"))
        assert status == 200, got
        assert got["id"] == "r1"
        assert got["outputs"][0]["data"] == want
        records = json.loads(rows.to_json(orient="records"))
        status, v1 = post(
            f"{srv.url}/v1/models/mixed:predict", json.dumps({"instances": records}).encode()
        )
        assert status == 200, v1
        assert v1["predictions"] == want
        status, err = post(
            f"{srv.url}/v2/models/mixed/infer", encode_v2_request(rows.drop(columns="city"))
        )
        assert 400 <= status < 500, err
        assert "city" in json.dumps(err)
