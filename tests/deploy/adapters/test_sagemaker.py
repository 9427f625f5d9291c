"""SageMaker: the model.tar.gz is deterministic and serves SageMaker's container contract
from an extracted copy; the request dicts are accepted by boto3 against moto on 127.0.0.1."""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _proc import post, start
from adapter_data import mixed_frame

import mlopskit as mk
from mlopskit.deploy import Predictor, sagemaker
from mlopskit.errors import IntegrityError, InvalidInputError


def test_two_builds_of_one_package_are_byte_identical(mixed_package: Any, tmp_path: Path) -> None:
    """The same package gives the same tarball bytes (so the same digest), entries sorted,
    dated 0 and owned by uid/gid 0."""
    a = sagemaker.package(mixed_package, tmp_path / "a" / "model.tar.gz")
    b = sagemaker.package(mixed_package, tmp_path / "b" / "model.tar.gz")
    assert a.read_bytes() == b.read_bytes()
    with tarfile.open(a, "r:gz") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert {"package.json", "model.skops", "input_example.json", "serve"} <= set(names)
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in members)


def test_extracted_tarball_serves_ping_and_invocations(mixed_package: Any, tmp_path: Path) -> None:
    """Extracted as /opt/ml/model and started with ``serve``, the model answers /ping and
    /invocations (JSON and CSV) exactly as Predictor.predict does."""
    tgz = sagemaker.package(mixed_package, tmp_path)
    model_dir = tmp_path / "opt-ml-model"
    with tarfile.open(tgz, "r:gz") as tar:
        tar.extractall(model_dir, filter="data")
    rows = mixed_frame(50, seed=9)
    want = Predictor(mixed_package).predict(rows).tolist()
    cmd = [sys.executable, str(model_dir / "serve"), "--port", "0"]
    with start(cmd, tmp_path / "sm.log", ready="/ping", timeout=90) as srv:
        body = mk.deploy._codec.encode_mlflow_request(rows)
        status, got = post(f"{srv.url}/invocations", body)
        assert status == 200, got
        assert got["predictions"] == want
        csv = rows.to_csv(index=False).encode()
        status, got_csv = post(f"{srv.url}/invocations", csv, "text/csv")
        assert status == 200, got_csv
        assert got_csv["predictions"] == want
        status, err = post(
            f"{srv.url}/invocations",
            rows.drop(columns="x").to_csv(index=False).encode(),
            "text/csv",
        )
        assert status == 400
        assert "x" in json.dumps(err)


def test_a_changed_payload_byte_is_refused(mixed_package: Any, tmp_path: Path) -> None:
    """A bundle whose model file was altered fails to load with IntegrityError naming it."""
    tgz = sagemaker.package(mixed_package, tmp_path)
    d = tmp_path / "x"
    with tarfile.open(tgz, "r:gz") as tar:
        tar.extractall(d, filter="data")
    blob = bytearray((d / "model.skops").read_bytes())
    blob[len(blob) // 2] ^= 1
    (d / "model.skops").write_bytes(bytes(blob))
    from mlopskit.deploy._targets import load_bundle

    with pytest.raises(IntegrityError, match=r"model\.skops"):
        load_bundle(d)


def test_endpoint_config_refuses_bad_weights() -> None:
    """Weights must name exactly the variants, be >= 0 and not all zero; one shadow at most."""
    v = {"champion": "m1", "challenger": "m2"}
    with pytest.raises(InvalidInputError, match="exactly the variants"):
        sagemaker.endpoint_config(v, {"champion": 1}, name="c")
    with pytest.raises(InvalidInputError, match=">= 0"):
        sagemaker.endpoint_config(v, {"champion": 1, "challenger": -1}, name="c")
    with pytest.raises(InvalidInputError, match="weight > 0"):
        sagemaker.endpoint_config(v, {"champion": 0, "challenger": 0}, name="c")
    with pytest.raises(InvalidInputError, match="one shadow"):
        sagemaker.endpoint_config(
            v, {"champion": 1, "challenger": 1}, shadow={"a": "x", "b": "y"}, name="c"
        )
    with pytest.raises(InvalidInputError, match="s3://"):
        sagemaker.endpoint_config(
            v, {"champion": 1, "challenger": 1}, data_capture={"destination": "/tmp"}, name="c"
        )


@pytest.mark.s3
def test_boto3_accepts_the_requests_against_moto(
    s3_endpoint: str, tmp_path: Path, mixed_package: Any
) -> None:
    """create_model, create_endpoint_config (90/10, shadow, capture) and
    update_endpoint_weights_and_capacities succeed against moto, weights as asked."""
    boto3 = pytest.importorskip("boto3")
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    sm = boto3.client("sagemaker", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket="models")
    tgz = sagemaker.package(mixed_package, tmp_path)
    s3.upload_file(str(tgz), "models", "mixed/model.tar.gz")
    role = "arn:aws:iam::123456789012:role/sm"
    for m in ("mixed-v1", "mixed-v2"):
        sm.create_model(
            **sagemaker.model_request(
                m,
                image="123.dkr.ecr.us-east-1.amazonaws.com/mlopskit:1",
                model_data_url="s3://models/mixed/model.tar.gz",
                role_arn=role,
                environment={"MLOPSKIT_HOST": "0.0.0.0"},
            )
        )
    cfg = sagemaker.endpoint_config(
        {"champion": "mixed-v1", "challenger": "mixed-v2"},
        {"champion": 90, "challenger": 10},
        data_capture={"destination": "s3://models/capture", "sampling": 20},
        name="mixed-cfg",
    )
    sm.create_endpoint_config(**cfg)
    sm.create_endpoint(EndpointName="mixed", EndpointConfigName="mixed-cfg")
    got = sm.describe_endpoint_config(EndpointConfigName="mixed-cfg")
    assert [v["InitialVariantWeight"] for v in got["ProductionVariants"]] == [90.0, 10.0]
    sm.update_endpoint_weights_and_capacities(
        **sagemaker.update_weights("mixed", {"champion": 50, "challenger": 50})
    )
    desc = sm.describe_endpoint(EndpointName="mixed")
    weights = {v["VariantName"]: v["CurrentWeight"] for v in desc["ProductionVariants"]}
    assert weights == {"champion": 50.0, "challenger": 50.0}


def test_export_is_recorded_in_lineage(mixed_package: Any, tmp_path: Path) -> None:
    """Exporting records an edge package -> deployment target in the package's store."""
    from mlopskit.versioning import edges_from

    sagemaker.package(mixed_package, tmp_path)
    edges = edges_from(mixed_package.store, mixed_package.digest)
    assert any(
        e.output is not None
        and e.output.kind == "deployment"
        and e.output.label == f"sagemaker-{mixed_package.name}"
        for e in edges
    )


def test_to_names_the_targets_on_a_typo(mixed_package: Any, tmp_path: Path) -> None:
    """ModelPackage.to with an unknown target says which targets exist and writes nothing."""
    with pytest.raises(InvalidInputError, match="sagemaker"):
        mixed_package.to("sagemker", tmp_path / "x")
    assert not (tmp_path / "x").exists()
    out = mixed_package.to("sagemaker", tmp_path)
    assert out.name == "model.tar.gz" and np.isfinite(out.stat().st_size)
