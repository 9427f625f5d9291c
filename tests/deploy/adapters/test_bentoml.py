"""BentoML 1.4: the service directory is well formed, and `bentoml build` / `bentoml serve`
on 127.0.0.1 (nox -s bentoml; skipped without it) answer as Predictor does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _proc import free_port, post, start
from adapter_data import mixed_frame

from mlopskit.deploy import Predictor, bentoml
from mlopskit.errors import InvalidInputError


def test_service_directory(mixed_package: Any, tmp_path: Path) -> None:
    """service.py defines the named service class; bentofile.yaml points at it and
    includes the bundle."""
    yaml = pytest.importorskip("yaml")
    out = bentoml.export(mixed_package, tmp_path / "svc", name="churn-model")
    assert "class ChurnModel:" in (out / "service.py").read_text()
    spec = yaml.safe_load((out / "bentofile.yaml").read_text())
    assert spec["service"] == "service:ChurnModel"
    assert "model/*" in spec["include"]
    assert (out / "model" / "package.json").is_file()
    compile((out / "service.py").read_text(), "service.py", "exec")
    with pytest.raises(InvalidInputError, match="not an empty directory"):
        bentoml.export(mixed_package, out)


@pytest.mark.slow
def test_bentoml_build_and_serve(mixed_package: Any, tmp_path: Path) -> None:
    """`bentoml build` succeeds and `bentoml serve` on 127.0.0.1 answers /predict as
    Predictor does, and a missing column with 400."""
    pytest.importorskip("bentoml")
    out = bentoml.export(mixed_package, tmp_path / "svc", name="mixed")
    exe = shutil.which("bentoml", path=str(Path(sys.executable).parent)) or "bentoml"
    env = {
        "BENTOML_HOME": str(tmp_path / "bentoml-home"),
        "BENTOML_DO_NOT_TRACK": "true",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    built = subprocess.run(
        [exe, "build", str(out)],
        cwd=out,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    port = free_port()
    rows = mixed_frame(25, seed=8)
    records = json.loads(rows.to_json(orient="records"))
    cmd = [exe, "serve", "service:Mixed", "--host", "127.0.0.1", "--port", str(port)]
    with start(
        cmd,
        tmp_path / "bento.log",
        ready="/readyz",
        url=f"http://127.0.0.1:{port}",
        timeout=180,
        env=env,
        cwd=out,
    ) as srv:
        status, got = post(f"{srv.url}/predict", json.dumps({"rows": records}).encode())
        assert status == 200, got
        assert got == Predictor(mixed_package).predict(rows).tolist()
        bad = [{k: v for k, v in r.items() if k != "x"} for r in records]
        status, err = post(f"{srv.url}/predict", json.dumps({"rows": bad}).encode())
        assert status == 400, err
