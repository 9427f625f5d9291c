"""KServe: an ``InferenceService`` (v1beta1, Open Inference Protocol v2) and its runtime.

:func:`manifest` writes the InferenceService that points KServe at a package bundle
(``storageUri``: where :func:`mlopskit.deploy.sagemaker.package`'s tarball, or a bundle
directory, was uploaded), with ``canaryTrafficPercent`` and a request/response
``logger``. :func:`serving_runtime` is the ``ClusterServingRuntime`` that serves the
``mlopskit`` model format: an image whose command is ``python -m mlopskit.deploy.kserve``,
which runs KServe's own python ``ModelServer`` over :func:`model_class` (so the KServe
package is needed in that image, never by mlopskit itself).
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlopskit.deploy._targets import dump_yaml, load_bundle, record_export
from mlopskit.deploy.k8s import k8s_name
from mlopskit.errors import InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mlopskit.deploy._package import ModelPackage

__all__ = ["main", "manifest", "model_class", "serving_runtime", "write"]

MODEL_FORMAT = "mlopskit"
_STORAGE = re.compile(r"^(s3|gs|pvc|oci|https?|hdfs|webhdfs|hf)://\S+$")


def manifest(
    package: ModelPackage,
    *,
    storage_uri: str,
    name: str | None = None,
    namespace: str | None = None,
    canary_percent: int | None = None,
    runtime: str = "mlopskit",
    logger_url: str | None = None,
    logger_mode: str = "all",
    min_replicas: int | None = None,
    max_replicas: int | None = None,
    resources: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``InferenceService`` for ``package`` stored at ``storage_uri``.

    Args:
        package: the package (its digest is recorded as an annotation).
        storage_uri: where the bundle is (``s3://…``, ``gs://…``, ``pvc://…``, ``oci://…``).
        name: the service name (default: the package name as a DNS label).
        namespace: its namespace (default: kubectl's current one).
        canary_percent: 0-100: the share of traffic the new revision gets (KServe
            keeps the rest on the last ready one); None rolls out fully.
        runtime: the ServingRuntime name (see :func:`serving_runtime`).
        logger_url: a CloudEvents sink receiving requests/responses (``logger_mode``:
            ``all``, ``request`` or ``response``).
        min_replicas: max_replicas: autoscaling bounds. resources: requests/limits.

    Raises:
        InvalidInputError: a bad storage URI, canary percentage, logger mode or name.
    """
    if not isinstance(storage_uri, str) or not _STORAGE.match(storage_uri):
        raise InvalidInputError(
            "storage_uri must be a URL KServe's storage initializer reads",
            expected="s3:// gs:// pvc:// oci:// https:// ...",
            found=repr(storage_uri)[:80],
        )
    if canary_percent is not None and (
        not isinstance(canary_percent, int) or not 0 <= canary_percent <= 100
    ):
        raise InvalidInputError(
            "canary_percent is a whole percentage 0-100", found=repr(canary_percent)
        )
    if logger_mode not in ("all", "request", "response"):
        raise InvalidInputError(
            "logger_mode is 'all', 'request' or 'response'",
            expected=["all", "request", "response"],
            found=logger_mode,
        )
    meta: dict[str, Any] = {
        "name": k8s_name(name or package.name),
        "annotations": {"mlopskit.dev/package": package.digest},
        "labels": {"app.kubernetes.io/managed-by": "mlopskit"},
    }
    if namespace:
        meta["namespace"] = k8s_name(namespace)
    model: dict[str, Any] = {
        "modelFormat": {"name": MODEL_FORMAT, "version": "1"},
        "protocolVersion": "v2",
        "runtime": runtime,
        "storageUri": storage_uri,
    }
    if resources:
        model["resources"] = resources
    predictor: dict[str, Any] = {"model": model}
    if min_replicas is not None:
        predictor["minReplicas"] = int(min_replicas)
    if max_replicas is not None:
        predictor["maxReplicas"] = int(max_replicas)
    if canary_percent is not None:
        predictor["canaryTrafficPercent"] = canary_percent
    if logger_url is not None:
        predictor["logger"] = {"mode": logger_mode, "url": logger_url}
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": meta,
        "spec": {"predictor": predictor},
    }


def serving_runtime(image: str, *, name: str = "mlopskit") -> dict[str, Any]:
    """The ``ClusterServingRuntime`` serving the ``mlopskit`` format with ``image``
    (an image with mlopskit and kserve installed)."""
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ClusterServingRuntime",
        "metadata": {"name": k8s_name(name)},
        "spec": {
            "supportedModelFormats": [{"name": MODEL_FORMAT, "version": "1", "autoSelect": True}],
            "protocolVersions": ["v2", "v1"],
            "containers": [
                {
                    "name": "kserve-container",
                    "image": image,
                    "command": ["python", "-m", "mlopskit.deploy.kserve"],
                    "args": [
                        "--model_name={{.Name}}",
                        "--model_dir=/mnt/models",
                        "--http_port=8080",
                    ],
                    "env": [{"name": "MLOPSKIT_HOST", "value": "0.0.0.0"}],
                }
            ],
        },
    }


def write(
    package: ModelPackage,
    path: str | os.PathLike[str],
    *,
    image: str | None = None,
    **options: Any,
) -> Path:
    """Write the InferenceService (and, given ``image``, its ServingRuntime first) as
    YAML; ``path`` is the file or a directory for ``inferenceservice.yaml``."""
    docs = [serving_runtime(image)] if image else []
    docs.append(manifest(package, **options))
    out = Path(path)
    if out.is_dir():
        out = out / "inferenceservice.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dump_yaml(docs))
    record_export(package, "kserve", out, storage_uri=options.get("storage_uri"))
    return out


# -- the runtime: KServe's ModelServer over a bundle -------------------------------------------


def model_class() -> type:
    """A ``kserve.Model`` subclass serving a bundle directory (V1 and V2 protocols).

    ``cls(name, model_dir, trusted=None)``; ``load()`` reads the bundle (digest
    checked). Needs the ``kserve`` package (installed in the serving image only).
    """
    from mlopskit._optional import import_optional

    kserve = import_optional("kserve", "kserve", purpose="serving with KServe's ModelServer")
    from kserve.errors import InvalidInput
    from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

    from mlopskit.deploy._codec import encode_mlflow, encode_v2

    class MlopskitModel(kserve.Model):  # type: ignore[misc, name-defined]
        """Predictions of an mlopskit bundle, answered in the protocol asked."""

        def __init__(self, name: str, model_dir: str, trusted: bool | None = None) -> None:
            super().__init__(name)
            self.model_dir = model_dir
            self.trusted = trusted
            self.predictor: Any = None

        def load(self) -> bool:
            self.predictor = load_bundle(self.model_dir, trusted=self.trusted)
            self.ready = True
            return True

        async def predict(
            self, payload: Any, headers: Any = None, response_headers: Any = None
        ) -> Any:
            v2 = isinstance(payload, InferRequest)
            body = payload.to_rest()[0] if v2 else payload
            try:
                out = self.predictor.predict(body)
            except InvalidInputError as exc:
                raise InvalidInput(str(exc)) from None
            if not v2:
                return encode_mlflow(out)
            enc = encode_v2(out, model_name=self.name, id=payload.id)
            outputs = [
                InferOutput(
                    name=t["name"], shape=t["shape"], datatype=t["datatype"], data=t["data"]
                )
                for t in enc["outputs"]
            ]
            return InferResponse(
                response_id=payload.id or "", model_name=self.name, infer_outputs=outputs
            )

    return MlopskitModel


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m mlopskit.deploy.kserve --model_name M --model_dir D --http_port P``:
    KServe's ModelServer over the bundle in ``D`` (``--host``/``$MLOPSKIT_HOST``
    binds; 127.0.0.1 unless told)."""
    parser = argparse.ArgumentParser(prog="python -m mlopskit.deploy.kserve")
    parser.add_argument("--model_name", default="model")
    parser.add_argument("--model_dir", default="/mnt/models")
    parser.add_argument("--http_port", type=int, default=8080)
    parser.add_argument("--host", default=os.environ.get("MLOPSKIT_HOST", "127.0.0.1"))
    parser.add_argument("--trusted", action="store_true")
    args, _ = parser.parse_known_args(argv)
    from mlopskit._optional import import_optional

    kserve = import_optional("kserve", "kserve", purpose="serving with KServe's ModelServer")
    import kserve.model_server as ms

    host = args.host

    class _Bound(ms.RESTServer):  # type: ignore[misc]
        """KServe's REST server on the host asked for (KServe itself binds 0.0.0.0)."""

        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            self.config.host = host

    ms.RESTServer = _Bound
    model = model_class()(args.model_name, args.model_dir, True if args.trusted else None)
    model.load()
    kserve.ModelServer(http_port=args.http_port, enable_grpc=False).start([model])


if __name__ == "__main__":  # pragma: no cover - run as a module
    main()
