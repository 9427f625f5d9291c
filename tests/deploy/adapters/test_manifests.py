"""Kubernetes and KServe manifests: core kinds pass kubernetes-validate --strict; the
InferenceService validates against KServe's vendored CRD schema with unknown fields
refused."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from mlopskit.deploy import k8s, kserve
from mlopskit.errors import InvalidInputError

DATA = Path(__file__).parent / "data"


def _strict(schema: Any) -> Any:
    """The schema with ``additionalProperties: false`` wherever it lists properties."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@pytest.fixture(scope="module")
def isvc_validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    with gzip.open(DATA / "kserve-inferenceservice-v1beta1.schema.json.gz") as f:
        schema = _strict(json.load(f))
    return jsonschema.Draft7Validator(schema)


def test_inference_service_fits_the_crd_schema(mixed_package: Any, isvc_validator: Any) -> None:
    """The InferenceService (v2 protocol, storageUri, canary, logger, replicas) is valid
    against KServe's v1beta1 openAPIV3Schema, strict."""
    doc = kserve.manifest(
        mixed_package,
        storage_uri="s3://models/mixed/",
        canary_percent=10,
        logger_url="http://sink.default",
        min_replicas=1,
        max_replicas=3,
        resources={"requests": {"cpu": "500m", "memory": "512Mi"}},
    )
    errors = [e.message for e in isvc_validator.iter_errors(doc)]
    assert errors == []
    model = doc["spec"]["predictor"]["model"]
    assert model["protocolVersion"] == "v2" and model["storageUri"] == "s3://models/mixed/"
    assert doc["spec"]["predictor"]["canaryTrafficPercent"] == 10


def test_the_strict_schema_catches_a_typo(mixed_package: Any, isvc_validator: Any) -> None:
    """The check can fail: a misspelt field or a wrong type is reported."""
    doc = kserve.manifest(mixed_package, storage_uri="s3://models/mixed/")
    typo = copy.deepcopy(doc)
    typo["spec"]["predictor"]["model"]["storageURI"] = typo["spec"]["predictor"]["model"].pop(
        "storageUri"
    )
    assert any("storageURI" in e.message for e in isvc_validator.iter_errors(typo))
    wrong = copy.deepcopy(doc)
    wrong["spec"]["predictor"]["canaryTrafficPercent"] = "ten"
    assert list(isvc_validator.iter_errors(wrong))


def test_deployment_and_service_pass_kubernetes_validate_strict(mixed_package: Any) -> None:
    """The Deployment and Service are valid Kubernetes 1.30 objects (strict), with probes on
    the V2 health paths and a non-root pod."""
    kv = pytest.importorskip("kubernetes_validate")
    docs = k8s.manifests(mixed_package, image="registry.example/mixed:1", replicas=2)
    for doc in docs:
        kv.validate(doc, "1.30.0", strict=True)
    container = docs[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["securityContext"]["runAsNonRoot"] is True
    bad = copy.deepcopy(docs[0])
    bad["spec"]["replica"] = bad["spec"].pop("replicas")
    with pytest.raises(kv.ValidationError):
        kv.validate(bad, "1.30.0", strict=True)


def test_manifest_arguments_are_checked(mixed_package: Any) -> None:
    """A bad storage URI, canary share or name is refused with what was expected."""
    with pytest.raises(InvalidInputError, match="storage_uri"):
        kserve.manifest(mixed_package, storage_uri="/local/path")
    with pytest.raises(InvalidInputError, match="0-100"):
        kserve.manifest(mixed_package, storage_uri="s3://b/k", canary_percent=150)
    with pytest.raises(InvalidInputError, match="DNS-1035"):
        k8s.manifests(mixed_package, image="x:1", name="---")
    assert k8s.k8s_name("Churn_Model.v2") == "churn-model-v2"


def test_written_yaml_reads_back_as_the_documents(mixed_package: Any, tmp_path: Path) -> None:
    """The YAML files hold exactly the manifests (ServingRuntime first when an image is
    given), and the export is recorded in lineage."""
    yaml = pytest.importorskip("yaml")
    from mlopskit.versioning import edges_from

    out = mixed_package.to("kserve", tmp_path, storage_uri="gs://b/m", image="img:1")
    docs = list(yaml.safe_load_all(out.read_text()))
    assert [d["kind"] for d in docs] == ["ClusterServingRuntime", "InferenceService"]
    assert docs[1] == kserve.manifest(mixed_package, storage_uri="gs://b/m")
    dep = mixed_package.to("k8s", tmp_path, image="img:1")
    assert list(yaml.safe_load_all(dep.read_text())) == k8s.manifests(mixed_package, image="img:1")
    labels = {
        e.output.label for e in edges_from(mixed_package.store, mixed_package.digest) if e.output
    }
    name = mixed_package.name
    assert {f"kserve-{name}", f"k8s-{name}"} <= labels
