"""What every deployment adapter shares: the bundle, the export record, the target table.

A **bundle** is a package written out of the store as plain files, so a serving engine
(MLflow, SageMaker, a container, KServe...) can read it without the store::

    package.json         {"format": "mlopskit.bundle", "digest": ..., "manifest": {...},
                          "payload": "model.skops"}
    model.<ext>          the payload, byte for byte (copied or streamed from the store)
    input_example.json   the input example, pandas ``split`` orient (tabular packages)

:func:`load_bundle` reads one back as a :class:`~mlopskit.deploy.Predictor`: the manifest
is validated, the payload's digest checked against the manifest (a changed byte is an
IntegrityError naming the file), and the format's trust rule applies (a pickle payload
needs ``trusted=True``: a file on disk is not something this store wrote).

Adapters are looked up by :data:`TARGETS` (``ModelPackage.to(target, path)``), imported
only when used; none imports its serving engine.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlopskit._log import get_logger
from mlopskit._optional import DISTRIBUTION
from mlopskit.errors import IntegrityError, InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from mlopskit.deploy._package import ModelPackage
    from mlopskit.deploy._predictor import Predictor

__all__ = [
    "BUNDLE_FORMAT",
    "TARGETS",
    "bundle_requirements",
    "dump_yaml",
    "export",
    "load_bundle",
    "record_export",
    "write_bundle",
]

log = get_logger("mlopskit.deploy")

BUNDLE_FORMAT = "mlopskit.bundle"
_EXT = {"skops": "skops", "npy": "npy", "onnx": "onnx", "pickle": "pkl"}

# target -> "module:function" (each writes a dir/archive/manifest and returns its path)
TARGETS: dict[str, str] = {
    "bentoml": "mlopskit.deploy.bentoml:export",
    "docker": "mlopskit.deploy.docker:context",
    "k8s": "mlopskit.deploy.k8s:write",
    "kserve": "mlopskit.deploy.kserve:write",
    "mlflow": "mlopskit.deploy.mlflow:export",
    "mlserver": "mlopskit.deploy.mlserver:export",
    "sagemaker": "mlopskit.deploy.sagemaker:package",
}


def export(
    package: ModelPackage, target: str, path: str | os.PathLike[str], **options: Any
) -> Path:
    """Hand ``package`` to the adapter for ``target``; returns what it wrote.

    Raises:
        InvalidInputError: ``target`` is not one of :data:`TARGETS`.
    """
    spec = TARGETS.get(target) if isinstance(target, str) else None
    if spec is None:
        raise InvalidInputError(
            f"unknown deployment target {target!r}; pick one of {sorted(TARGETS)}",
            expected=sorted(TARGETS),
            found=str(target),
        )
    module, func = spec.split(":")
    writer = getattr(importlib.import_module(module), func)
    out: Path = writer(package, path, **options)
    return out


# -- the bundle ------------------------------------------------------------------------------


def _copy_payload(package: ModelPackage, dest: Path) -> None:
    """The payload at ``dest``: a plain file copy from a local store's loose object
    (``copy_file_range``/``sendfile`` under ``shutil``), else streamed and verified."""
    store = package.store
    ref = package.manifest.model
    info = store.stat(ref)
    protocol = getattr(store.fs, "protocol", ())
    local = "file" in (protocol if isinstance(protocol, (tuple, list)) else (protocol,))
    if info.location == "loose" and local and os.path.isfile(info.path):
        # Not a hard link: store objects are writable files, and an edit of the export
        # must never reach the store. load_bundle checks the digest of the copy.
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}")
        shutil.copyfile(info.path, tmp)
        os.replace(tmp, dest)
        return
    store.get_file(ref, dest)


def write_bundle(package: ModelPackage, path: str | os.PathLike[str]) -> Path:
    """Write ``package`` as a bundle into directory ``path`` (created); returns it."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    payload = f"model.{_EXT[package.format]}"
    _copy_payload(package, out / payload)
    example = example_split(package)
    if example is not None:
        (out / "input_example.json").write_text(json.dumps(example, allow_nan=False))
    record = {
        "format": BUNDLE_FORMAT,
        "version": 1,
        "digest": package.digest,
        "payload": payload,
        "manifest": package.manifest.model_dump(mode="json"),
    }
    (out / "package.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return out


def example_split(package: ModelPackage) -> dict[str, Any] | None:
    """The package's input example as pandas ``split`` JSON (``columns``/``data``), or None."""
    import pandas as pd

    from mlopskit.deploy._codec import encode_mlflow_request

    example = package.input_example()
    if example is None:
        return None
    if not isinstance(example, pd.DataFrame):
        try:
            import numpy as np

            arr = np.asarray(example)
            example = pd.DataFrame(arr if arr.ndim == 2 else arr.reshape(len(arr), -1))
            example.columns = [str(c) for c in example.columns]
        except (TypeError, ValueError):
            return None
    split: dict[str, Any] = json.loads(encode_mlflow_request(example))["dataframe_split"]
    return split


def load_bundle(
    path: str | os.PathLike[str], *, trusted: bool | None = None, method: str = "predict"
) -> Predictor:
    """A :class:`~mlopskit.deploy.Predictor` over the bundle in directory ``path``.

    Raises:
        NotFoundError: ``path`` holds no ``package.json``.
        IntegrityError: ``package.json`` is damaged, or the payload's bytes do not match
            the digest the manifest records.
        UntrustedObjectError: a pickle payload without ``trusted=True``.
    """
    from mlopskit.deploy._package import ModelPackage, PackageManifest
    from mlopskit.deploy._predictor import Predictor
    from mlopskit.hashing import digester_for
    from mlopskit.store import ArtifactStore

    root = Path(path)
    meta = root / "package.json"
    if not meta.is_file():
        raise NotFoundError(
            f"{root} is not an mlopskit bundle: it has no package.json (write one with "
            "mlopskit.deploy adapters, e.g. mk.deploy.sagemaker.package)",
            path=str(root),
        )
    try:
        record = json.loads(meta.read_text())
        if not isinstance(record, dict) or record.get("format") != BUNDLE_FORMAT:
            raise ValueError("not a bundle record")
        manifest = PackageManifest.model_validate(record["manifest"])
        digest = str(record["digest"])
        payload = str(record["payload"])
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(
            f"{meta} is damaged ({type(exc).__name__}); export the package again",
            path=str(meta),
        ) from None
    if payload != f"model.{_EXT[manifest.format]}":  # a name read from disk: never a path
        raise IntegrityError(
            f"{meta} names payload {payload[:80]!r}, expected model.{_EXT[manifest.format]}",
            path=str(meta),
            found=payload[:80],
        )
    data = (root / payload).read_bytes()
    h = digester_for(manifest.model.digest)
    h.update(data)
    if h.digest() != manifest.model.digest:
        raise IntegrityError(
            f"{root / payload} does not match the digest its package records "
            f"({manifest.model.digest[:19]}…): the file was changed or damaged; export again",
            digest=manifest.model.digest,
            path=str(root / payload),
        )
    store = ArtifactStore(f"memory://mlopskit-bundle-{uuid.uuid4().hex}")
    ref = store.put_bytes(data, media_type=manifest.model.media_type)
    if ref.digest != manifest.model.digest:  # another hash algorithm than this process's
        raise IntegrityError(
            f"{root / payload}: digest algorithm of {manifest.model.digest[:19]}… differs "
            "from this process's default",
            digest=manifest.model.digest,
        )
    pkg = ModelPackage(manifest, digest, store)
    return Predictor(pkg, method=method, trusted=trusted)


# -- helpers the adapters share ---------------------------------------------------------------


def bundle_requirements(package: ModelPackage, *, extra: dict[str, str] | None = None) -> list[str]:
    """``dist==version`` lines: the package's pins (plus ``extra``), sorted by name."""
    pins = dict(package.requirements)
    pins.update(extra or {})
    return [f"{d}=={v}" if v else d for d, v in sorted(pins.items(), key=lambda kv: kv[0].lower())]


def mlopskit_requirement(extras: str = "serve") -> str:
    """The requirement line that installs this mlopskit (``pymlopskit[serve]==x.y``: the
    distribution's name, not the import name, which PyPI gives to another project)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{DISTRIBUTION}[{extras}]=={version(DISTRIBUTION)}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return f"{DISTRIBUTION}[{extras}]"


def dump_yaml(docs: list[dict[str, Any]]) -> str:
    """YAML text of ``docs`` (PyYAML when installed; JSON otherwise, which is YAML too)."""
    try:
        import yaml
    except ImportError:
        return "\n---\n".join(json.dumps(d, indent=2) for d in docs) + "\n"
    return "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs)


def record_export(
    package: ModelPackage, target: str, path: str | os.PathLike[str], **details: Any
) -> None:
    """Record that ``package`` was exported to ``target`` at ``path``.

    Lineage gets the edge package → ``deployment:<target>-<name>`` (once: the same export
    again adds nothing). Each export is one durable write, who and when included: on the
    registry version the package was made from (an ``export`` event of
    :meth:`Registry.history <mlopskit.registry.Registry.history>`), else in the package's
    own export log (ref ``deploy/exports/<name>/<digest>``).
    """
    from mlopskit.deploy._package import _package_ref
    from mlopskit.registry import Registry
    from mlopskit.versioning import Endpoint, LineageEdge, record_edge

    store = package.store
    src = package.manifest.source
    record_edge(
        store,
        LineageEdge(
            relation="deployed",
            inputs={"package": package.__mlopskit_node__},
            output=Endpoint(kind="deployment", label=f"{target}-{package.name}"),
            function=f"mlopskit.deploy.{target}",
            run_id=src.run_id if src else None,
        ),
    )
    extra = {k: str(v) for k, v in details.items() if v is not None}
    stored = store.refs.record(_package_ref(package.name, package.digest))
    pkg_ref = stored.target if stored is not None and stored.target is not None else None
    if pkg_ref is None:  # a package that lives outside this store (read from a bundle)
        pkg_ref = store.put_record(package.manifest.model_dump(mode="json"))
    if src is not None:
        try:
            Registry(store).record_export(
                src.name,
                src.number,
                target=target,
                path=str(path),
                package=pkg_ref,
                details=extra,
            )
        except NotFoundError:  # the version was made in another store
            log.info("export_not_on_registry", name=src.name, number=src.number)
            src = None
    if src is None:
        store.refs.set(
            f"deploy/exports/{package.name}/{package.digest.replace(':', '-')}",
            pkg_ref,
            message=f"export {package.name} → {target} at {path}",
            meta={**extra, "op": "export", "target": target, "path": str(path)},
        )
    log.info("exported", target=target, package=package.digest, path=str(path))
