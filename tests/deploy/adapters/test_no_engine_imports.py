"""Adapters never import their engines: exporting to every target leaves mlflow, boto3,
kserve, mlserver and bentoml unimported (they are not mlopskit dependencies)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys, numpy as np
from mlopskit.store import ArtifactStore
from mlopskit.deploy import ModelPackage
from mlopskit.deploy import bentoml, docker, k8s, kserve, mlflow, mlserver, sagemaker
out = sys.argv[1]
pkg = ModelPackage.from_model(np.array([1.0, 2.0]), name="w", store=ArtifactStore(out + "/s"))
mlflow.export(pkg, out + "/mlflow")
sagemaker.package(pkg, out + "/sm.tar.gz")
sagemaker.endpoint_config({"a": "m"}, {"a": 1}, name="c")
kserve.write(pkg, out + "/isvc.yaml", storage_uri="s3://b/k", image="i:1")
k8s.write(pkg, out + "/dep.yaml", image="i:1")
docker.context(pkg, out + "/ctx")
mlserver.export(pkg, out + "/repo")
bentoml.export(pkg, out + "/bento")
loaded = [m for m in ("mlflow", "boto3", "botocore", "kserve", "mlserver", "bentoml") if m in sys.modules]
assert not loaded, loaded
"""


def test_exports_import_no_engine(tmp_path: Path) -> None:
    """Every adapter writes its output in a process where no engine module gets imported."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "mlflow" / "MLmodel").is_file() and (
        tmp_path / "bento" / "service.py"
    ).is_file()
