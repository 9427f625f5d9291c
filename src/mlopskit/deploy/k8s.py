"""Plain Kubernetes manifests: a Deployment and a Service for an image serving a package.

The image is what :func:`mlopskit.deploy.docker.context` builds (its entrypoint serves
the bundled package on port 8080). Probes use the Open Inference Protocol health paths:
readiness on ``/v2/health/ready`` (ready only once the model loaded), liveness on
``/v2/health/live``. The pod runs as non-root with a read-only root filesystem.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlopskit.deploy._targets import dump_yaml, record_export
from mlopskit.errors import InvalidInputError

if TYPE_CHECKING:
    from mlopskit.deploy._package import ModelPackage

__all__ = ["k8s_name", "manifests", "write"]

_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def k8s_name(name: str) -> str:
    """``name`` as a DNS-1035 label (lowercase letters, digits, ``-``; starts with a letter).

    Raises:
        InvalidInputError: nothing usable is left, or the result is longer than 63.
    """
    out = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    if out and not out[0].isalpha():
        out = f"m-{out}"
    if not _LABEL.match(out):
        raise InvalidInputError(
            f"{name!r} cannot be a Kubernetes name (DNS-1035 label: a-z, 0-9, '-', "
            "at most 63 characters, starting with a letter); pass name=",
            found=name[:80],
        )
    return out


def manifests(
    package: ModelPackage,
    *,
    image: str,
    name: str | None = None,
    namespace: str | None = None,
    replicas: int = 1,
    port: int = 8080,
    resources: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """A Deployment and a Service (``ClusterIP`` on port 80) for ``image`` serving ``package``.

    Args:
        package: the package the image serves (its digest is recorded as an annotation).
        image: the container image (e.g. built from :func:`mlopskit.deploy.docker.context`).
        name: the resource name (default: the package name as a DNS label).
        namespace: the namespace (default: none, i.e. kubectl's current one).
        replicas: pod count. port: the container port.
        resources: the container's ``resources`` (requests/limits).

    Raises:
        InvalidInputError: a bad name, image, replica count or port.
    """
    app = k8s_name(name or package.name)
    if not isinstance(image, str) or not image or any(c.isspace() for c in image):
        raise InvalidInputError("image must be an image reference", found=repr(image)[:80])
    if not isinstance(replicas, int) or replicas < 0:
        raise InvalidInputError("replicas is a whole number >= 0", found=repr(replicas))
    if not isinstance(port, int) or not 0 < port < 65536:
        raise InvalidInputError("port is 1-65535", found=repr(port))
    labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/managed-by": "mlopskit"}
    meta: dict[str, Any] = {
        "name": app,
        "labels": labels,
        "annotations": {"mlopskit.dev/package": package.digest},
    }
    if namespace:
        meta["namespace"] = k8s_name(namespace)

    def probe(path: str, delay: int) -> dict[str, Any]:
        return {
            "httpGet": {"path": path, "port": "http"},
            "initialDelaySeconds": delay,
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        }

    container: dict[str, Any] = {
        "name": "model",
        "image": image,
        "args": ["serve"],
        "env": [
            {"name": "MLOPSKIT_HOST", "value": "0.0.0.0"},
            {"name": "SAGEMAKER_BIND_TO_PORT", "value": str(port)},
        ],
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "readinessProbe": probe("/v2/health/ready", 5),
        "livenessProbe": probe("/v2/health/live", 15),
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if resources:
        container["resources"] = resources
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [container],
                    "terminationGracePeriodSeconds": 40,
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {k: v for k, v in meta.items() if k != "annotations"},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app.kubernetes.io/name": app},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    return [deployment, service]


def write(package: ModelPackage, path: str | os.PathLike[str], **options: Any) -> Path:
    """Write :func:`manifests` as one multi-document YAML file; returns its path.

    ``path`` is the file, or a directory to write ``deployment.yaml`` into; ``options``
    are those of :func:`manifests` (``image=`` is required).
    """
    docs = manifests(package, **options)
    out = Path(path)
    if out.is_dir():
        out = out / "deployment.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dump_yaml(docs))
    record_export(package, "k8s", out, image=options.get("image"))
    return out
