"""Amazon SageMaker: a deterministic ``model.tar.gz`` and boto3-ready request dicts.

:func:`package` writes the package bundle as SageMaker extracts it into
``/opt/ml/model`` (``package.json``, ``model.<ext>``, ``input_example.json``, and a
``serve`` script), as a tarball with sorted entries, mtime 0 and uid/gid 0 — the same
package gives the same bytes, so the same digest. A container whose entrypoint runs
``python -m mlopskit.deploy.sagemaker serve`` answers SageMaker's contract (``GET /ping``,
``POST /invocations`` in JSON or CSV) on port 8080 (``SAGEMAKER_BIND_TO_PORT``).

The request builders (:func:`model_request`, :func:`endpoint_config`,
:func:`update_weights`) return plain dicts for ``boto3.client("sagemaker")``; nothing
here imports boto3.
"""

from __future__ import annotations

import argparse
import gzip
import os
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlopskit.deploy._targets import load_bundle, record_export, write_bundle
from mlopskit.errors import InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mlopskit.deploy._package import ModelPackage

__all__ = ["endpoint_config", "main", "model_request", "package", "update_weights"]

MODEL_DIR = "/opt/ml/model"
_SERVE = """#!/usr/bin/env python3
# SageMaker entrypoint written by mlopskit.deploy.sagemaker.package: serves this directory.
import os, sys
from mlopskit.deploy.sagemaker import main
main(["serve", "--model-dir", os.path.dirname(os.path.abspath(__file__)), *sys.argv[1:]])
"""


def package(package: ModelPackage, path: str | os.PathLike[str], *, compresslevel: int = 6) -> Path:
    """Write ``model.tar.gz`` for ``package``; returns its path.

    Args:
        package: the package.
        path: the tarball path, or a directory to write ``model.tar.gz`` into.
        compresslevel: gzip level (1 fastest, 9 smallest); the bytes depend on it.
    """
    out = Path(path)
    if out.is_dir():
        out = out / "model.tar.gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".mlopskit-sm-") as tmp:
        bundle = write_bundle(package, Path(tmp) / "model")
        (bundle / "serve").write_text(_SERVE)
        part = out.with_name(f".{out.name}.part")
        # filename="" and mtime=0: no name or time in the gzip header either
        with (
            open(part, "wb") as raw,
            gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=compresslevel
            ) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for f in sorted(bundle.rglob("*")):
                _add(tar, bundle, f)
        os.replace(part, out)
    record_export(package, "sagemaker", out)
    return out


def _add(tar: tarfile.TarFile, root: Path, f: Path) -> None:
    """Add ``f`` as root-relative, dated 0, owned by 0:0, with a fixed mode."""
    rel = f.relative_to(root).as_posix()
    info = tarfile.TarInfo(rel)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if f.is_dir():
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
        return
    info.size = f.stat().st_size
    info.mode = 0o755 if rel == "serve" else 0o644
    with open(f, "rb") as fh:
        tar.addfile(info, fh)


# -- boto3 request dicts ----------------------------------------------------------------------


def model_request(
    model_name: str,
    *,
    image: str,
    model_data_url: str,
    role_arn: str,
    environment: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``create_model`` request: ``image`` serving ``model_data_url`` (``s3://…/model.tar.gz``)."""
    if not model_data_url.startswith("s3://"):
        raise InvalidInputError(
            "model_data_url must be the s3:// URL of the uploaded model.tar.gz",
            expected="s3://bucket/key/model.tar.gz",
            found=model_data_url[:80],
        )
    return {
        "ModelName": model_name,
        "ExecutionRoleArn": role_arn,
        "PrimaryContainer": {
            "Image": image,
            "ModelDataUrl": model_data_url,
            "Mode": "SingleModel",
            "Environment": dict(environment or {}),
        },
    }


def _weight(name: str, value: Any) -> float:
    try:
        w = float(value)
    except (TypeError, ValueError):
        w = -1.0
    if not w >= 0:
        raise InvalidInputError(
            f"weight of variant {name!r} must be a number >= 0", found=repr(value)[:40]
        )
    return w


def endpoint_config(
    variants: Mapping[str, str],
    weights: Mapping[str, float],
    shadow: Mapping[str, str] | None = None,
    data_capture: Mapping[str, Any] | None = None,
    *,
    name: str,
    instance_type: str = "ml.m5.large",
    instance_count: int = 1,
) -> dict[str, Any]:
    """The ``create_endpoint_config`` request: weighted variants, an optional shadow, capture.

    Args:
        variants: variant name → SageMaker model name.
        weights: variant name → relative weight (``{"champion": 90, "challenger": 10}``).
        shadow: at most one ``{variant name: model name}`` that gets a copy of the
            traffic; its answers are discarded.
        data_capture: ``{"destination": "s3://…", "sampling": 0-100, "capture":
            ["Input", "Output"]}`` (SageMaker writes JSON Lines there).
        name: the endpoint config name.
        instance_type: instance type of every variant. instance_count: per variant.

    Raises:
        InvalidInputError: weights that do not name exactly the variants, a negative or
            all-zero weight, more than one shadow, or a bad capture spec.
    """
    if not variants or set(weights) != set(variants):
        raise InvalidInputError(
            "weights must name exactly the variants",
            expected=sorted(variants),
            found=sorted(weights),
        )
    ws = {k: _weight(k, weights[k]) for k in variants}
    if not any(ws.values()):
        raise InvalidInputError("at least one variant needs a weight > 0", found=ws)

    def variant(vname: str, model: str, weight: float) -> dict[str, Any]:
        return {
            "VariantName": vname,
            "ModelName": model,
            "InitialInstanceCount": int(instance_count),
            "InstanceType": instance_type,
            "InitialVariantWeight": weight,
        }

    body: dict[str, Any] = {
        "EndpointConfigName": name,
        "ProductionVariants": [variant(k, m, ws[k]) for k, m in variants.items()],
    }
    if shadow:
        if len(shadow) != 1:
            raise InvalidInputError(
                "SageMaker takes one shadow variant", expected=1, found=len(shadow)
            )
        ((sname, smodel),) = shadow.items()
        if sname in variants:
            raise InvalidInputError(
                f"shadow variant {sname!r} is also a production variant; name it apart",
                found=sname,
            )
        body["ShadowProductionVariants"] = [variant(sname, smodel, 1.0)]
    if data_capture is not None:
        body["DataCaptureConfig"] = _capture(data_capture)
    return body


def _capture(spec: Mapping[str, Any]) -> dict[str, Any]:
    dest = spec.get("destination")
    sampling = spec.get("sampling", 100)
    modes: Sequence[str] = spec.get("capture", ("Input", "Output"))
    if not isinstance(dest, str) or not dest.startswith("s3://"):
        raise InvalidInputError(
            "data_capture['destination'] must be an s3:// URL", found=repr(dest)[:80]
        )
    if not isinstance(sampling, int) or not 0 <= sampling <= 100:
        raise InvalidInputError(
            "data_capture['sampling'] is a whole percentage 0-100", found=repr(sampling)
        )
    if not modes or any(m not in ("Input", "Output") for m in modes):
        raise InvalidInputError(
            "data_capture['capture'] lists 'Input' and/or 'Output'",
            expected=["Input", "Output"],
            found=list(modes),
        )
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": sampling,
        "DestinationS3Uri": dest,
        "CaptureOptions": [{"CaptureMode": m} for m in modes],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json"],
        },
    }


def update_weights(endpoint_name: str, weights: Mapping[str, float]) -> dict[str, Any]:
    """The ``update_endpoint_weights_and_capacities`` request for new relative weights."""
    if not weights:
        raise InvalidInputError("give at least one variant weight", found={})
    return {
        "EndpointName": endpoint_name,
        "DesiredWeightsAndCapacities": [
            {"VariantName": k, "DesiredWeight": _weight(k, v)} for k, v in weights.items()
        ],
    }


# -- the container entrypoint -----------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m mlopskit.deploy.sagemaker serve``: serve ``/opt/ml/model`` on port 8080.

    Options: ``--model-dir``, ``--host`` (default ``$MLOPSKIT_HOST`` or 127.0.0.1; a
    container sets ``0.0.0.0``), ``--port`` (default ``$SAGEMAKER_BIND_TO_PORT`` or
    8080; 0 picks a free one), ``--trusted`` (allow a pickle payload). Prints
    ``URL <url>`` once listening.
    """
    from mlopskit.deploy import serve

    parser = argparse.ArgumentParser(prog="python -m mlopskit.deploy.sagemaker")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", MODEL_DIR))
    parser.add_argument("--host", default=os.environ.get("MLOPSKIT_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    )
    parser.add_argument("--trusted", action="store_true")
    args = parser.parse_args(argv)
    predictor = load_bundle(args.model_dir, trusted=True if args.trusted else None)
    serve(
        predictor,
        host=args.host,
        port=args.port,
        on_start=lambda url: print("URL", url, flush=True),
    )


if __name__ == "__main__":  # pragma: no cover - run as a module
    main()
