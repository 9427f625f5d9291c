"""MLflow pyfunc directories, written without importing mlflow — and read back.

:func:`export` writes what ``mlflow.pyfunc.load_model`` and ``mlflow models serve``
consume (``MLmodel`` with both ``conda`` and ``virtualenv`` env entries and the
signature as MLflow serialises it, ``python_env.yaml``, ``conda.yaml``,
``requirements.txt``, ``input_example.json``, ``serving_input_example.json``, a loader
module in ``code/`` and the package bundle in ``data/``). The loader predicts with
mlopskit's :class:`~mlopskit.deploy.Predictor`, so MLflow answers exactly what
``Predictor.predict`` answers; ``mlopskit`` is therefore one of the requirements.

:func:`load` goes the other way: an MLflow-written scikit-learn model directory
becomes a :class:`~mlopskit.deploy.ModelPackage` (skops payloads load under the
skops trust rule; pickle payloads only with ``trusted=True``).
"""

from __future__ import annotations

import json
import os
import platform
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlopskit.deploy._targets import (
    bundle_requirements,
    load_bundle,
    mlopskit_requirement,
    record_export,
    write_bundle,
)
from mlopskit.errors import InvalidInputError, NotFoundError, UntrustedObjectError
from mlopskit.serialize import SKOPS_MEDIA_TYPE, decode

if TYPE_CHECKING:
    from mlopskit.deploy._package import ModelPackage
    from mlopskit.registry import ColumnSpec, ModelSignature, Schema
    from mlopskit.store import ArtifactStore

__all__ = ["export", "load", "mlflow_signature"]

LOADER_MODULE = "mlopskit_pyfunc"
_LOADER = '''"""MLflow pyfunc loader written by mlopskit.deploy.mlflow.export: predicts with
mlopskit's Predictor over the package bundle in data/."""


def _load_pyfunc(data_path):
    from mlopskit.deploy.mlflow import _load_pyfunc as load

    return load(data_path)
'''
# mlopskit logical type -> MLflow DataType name
_MLFLOW_TYPE = {
    "boolean": "boolean",
    "integer": "integer",
    "long": "long",
    "float": "float",
    "double": "double",
    "string": "string",
    "binary": "binary",
    "datetime": "datetime",
}
_FROM_MLFLOW = {
    "boolean": ("boolean", "bool"),
    "integer": ("integer", "int32"),
    "long": ("long", "int64"),
    "float": ("float", "float32"),
    "double": ("double", "float64"),
    "string": ("string", "object"),
    "binary": ("binary", "object"),
    "datetime": ("datetime", "datetime64[ns]"),
}


class _PyfuncModel:
    """What ``mlflow.pyfunc.load_model`` wraps: ``predict(model_input, params=None)``."""

    def __init__(self, data_path: str) -> None:
        trusted = os.environ.get("MLOPSKIT_TRUSTED", "").lower() in ("1", "true", "yes")
        self.predictor = load_bundle(data_path, trusted=trusted or None)

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        """``Predictor.predict`` of the input (``params["method"]`` picks the method)."""
        method = (params or {}).get("method")
        return self.predictor.predict(model_input, method=method)


def _load_pyfunc(data_path: str) -> _PyfuncModel:
    """MLflow's loader hook (called through the shim in ``code/``)."""
    return _PyfuncModel(data_path)


# -- the signature as MLflow serialises it ---------------------------------------------------


def _column(spec: ColumnSpec) -> dict[str, Any]:
    kind = spec.type
    if kind == "category":
        cats = spec.categories or []
        numeric = cats and all(
            isinstance(c, (int, float)) and not isinstance(c, bool) for c in cats
        )
        kind = (
            ("long" if all(isinstance(c, int) for c in cats) else "double") if numeric else "string"
        )
    if kind in ("integer", "long") and spec.nullable:
        kind = "double"  # MLflow refuses nulls in integer columns; JSON nulls arrive as NaN
    if kind not in _MLFLOW_TYPE:
        raise InvalidInputError(
            f"column {spec.name!r} has type {spec.type!r}, which an MLflow signature cannot "
            f"express; MLflow column types are {sorted(_MLFLOW_TYPE)}",
            key=spec.name,
            expected=sorted(_MLFLOW_TYPE),
            found=spec.type,
        )
    out: dict[str, Any] = {"type": _MLFLOW_TYPE[kind]}
    if spec.name is not None:
        out["name"] = str(spec.name)
    out["required"] = not spec.nullable
    return out


def _schema(schema: Schema | None) -> str | None:
    if schema is None:
        return None
    if schema.tensor is not None:
        body: list[dict[str, Any]] = [
            {
                "type": "tensor",
                "tensor-spec": {"dtype": schema.tensor.dtype, "shape": list(schema.tensor.shape)},
            }
        ]
    else:
        body = [_column(c) for c in schema.columns or []]
    return json.dumps(body)


def mlflow_signature(signature: ModelSignature | None) -> dict[str, Any] | None:
    """The ``signature`` block of ``MLmodel``: ``inputs``/``outputs`` as JSON strings."""
    if signature is None:
        return None
    return {
        "inputs": _schema(signature.inputs),
        "outputs": _schema(signature.outputs),
        "params": None,
    }


def _yaml(doc: dict[str, Any]) -> str:
    from mlopskit.deploy._targets import dump_yaml

    return dump_yaml([doc])


def export(
    package: ModelPackage,
    path: str | os.PathLike[str],
    *,
    mlflow_requirement: str = "mlflow",
    extra_requirements: list[str] | None = None,
) -> Path:
    """Write ``package`` as an MLflow pyfunc model directory at ``path``; returns it.

    Args:
        package: the package to export.
        path: a directory that does not exist yet (or is empty).
        mlflow_requirement: the ``mlflow`` line of ``requirements.txt`` (e.g. ``mlflow==3.1``).
        extra_requirements: more requirement lines (e.g. how to install mlopskit).

    Raises:
        InvalidInputError: ``path`` is a non-empty directory or a file; a column type MLflow
            cannot express.

    Example:
        >>> import numpy as np, tempfile, mlopskit as mk
        >>> store = mk.store.ArtifactStore("memory://mlflow-doctest")
        >>> pkg = mk.deploy.ModelPackage.from_model(np.array([1.0]), name="w", store=store)
        >>> out = mk.deploy.mlflow.export(pkg, tempfile.mkdtemp() + "/m")
        >>> sorted(p.name for p in out.iterdir())[:3]
        ['MLmodel', 'code', 'conda.yaml']
    """
    out = Path(path)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInputError(
            f"{out} exists and is not an empty directory; MLflow model directories are "
            "written fresh: pick a new path or remove it",
            path=str(out),
        )
    sig = mlflow_signature(package.signature)  # before writing: may refuse a column type
    write_bundle(package, out / "data")
    code = out / "code"
    code.mkdir()
    (code / f"{LOADER_MODULE}.py").write_text(_LOADER)
    python = package.python_version or platform.python_version()
    reqs = [
        mlflow_requirement,
        mlopskit_requirement("sklearn" if package.format == "skops" else "serve"),
        *bundle_requirements(package),
        *(extra_requirements or []),
    ]
    (out / "requirements.txt").write_text("\n".join(reqs) + "\n")
    (out / "python_env.yaml").write_text(
        _yaml(
            {
                "python": python,
                "build_dependencies": ["pip", "setuptools", "wheel"],
                "dependencies": ["-r requirements.txt"],
            }
        )
    )
    (out / "conda.yaml").write_text(
        _yaml(
            {
                "name": "mlflow-env",
                "channels": ["conda-forge"],
                "dependencies": [f"python={python}", "pip", {"pip": reqs}],
            }
        )
    )
    mlmodel: dict[str, Any] = {
        "flavors": {
            "python_function": {
                "loader_module": LOADER_MODULE,
                "code": "code",
                "data": "data",
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                "python_version": python,
            }
        },
        "model_uuid": uuid.uuid5(uuid.NAMESPACE_URL, package.uri).hex,
        "utc_time_created": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "metadata": {"mlopskit_package": package.digest, "mlopskit_name": package.name},
    }
    bundled = out / "data" / "input_example.json"  # written by write_bundle: decode once
    example = json.loads(bundled.read_text()) if bundled.is_file() else None
    if example is not None:
        (out / "input_example.json").write_text(json.dumps(example, allow_nan=False))
        (out / "serving_input_example.json").write_text(
            json.dumps({"dataframe_split": example}, allow_nan=False, indent=2)
        )
        mlmodel["saved_input_example_info"] = {
            "artifact_path": "input_example.json",
            "serving_input_path": "serving_input_example.json",
            "type": "dataframe",
            "pandas_orient": "split",
        }
    if sig is not None:
        mlmodel["signature"] = sig
    (out / "MLmodel").write_text(_yaml(mlmodel))
    record_export(package, "mlflow", out)
    return out


# -- MLflow-written model directories -> a package --------------------------------------------


def _read_mlmodel(root: Path) -> dict[str, Any]:
    from mlopskit._optional import import_optional

    yaml = import_optional("yaml", "mlflow", purpose="reading MLflow MLmodel files")
    meta = root / "MLmodel"
    if not meta.is_file():
        raise NotFoundError(
            f"{root} is not an MLflow model directory: no MLmodel file", path=str(root)
        )
    try:
        doc = yaml.safe_load(meta.read_text())
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{meta} is not valid YAML: {exc}", path=str(meta)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("flavors"), dict):
        raise InvalidInputError(f"{meta} has no flavors mapping", path=str(meta))
    return doc


def _inside(root: Path, name: Any) -> Path:
    """``root / name`` for a name read from ``MLmodel``, refused if it leaves ``root``."""
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"MLmodel names no file ({name!r})", found=repr(name)[:80])
    target = (root / name).resolve()
    if root.resolve() not in target.parents and target != root.resolve():
        raise InvalidInputError(
            f"MLmodel names {name[:80]!r}, outside the model directory", found=name[:80]
        )
    return target


def _signature_from(doc: dict[str, Any]) -> ModelSignature | None:
    from mlopskit.registry import ColumnSpec, ModelSignature, Schema

    sig = doc.get("signature")
    if not isinstance(sig, dict) or not isinstance(sig.get("inputs"), str):
        return None
    cols = []
    for c in json.loads(sig["inputs"]):
        if c.get("type") not in _FROM_MLFLOW:
            return None  # tensors and objects: infer from the example instead
        kind, dtype = _FROM_MLFLOW[c["type"]]
        cols.append(
            ColumnSpec(
                name=c.get("name"), type=kind, dtype=dtype, nullable=not c.get("required", True)
            )
        )
    return ModelSignature(inputs=Schema(columns=cols))


def load(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    trusted: bool = False,
    store: ArtifactStore | None = None,
) -> ModelPackage:
    """Turn an MLflow scikit-learn model directory (``mlflow.sklearn.save_model``) into a package.

    Args:
        path: the MLflow model directory (with ``MLmodel``).
        name: the package name (default: the directory's name).
        trusted: allow a pickle/cloudpickle payload (loading one runs its code), or skops
            types beyond scikit-learn's.
        store: where to store the package (default: the current workspace's).

    Raises:
        NotFoundError: no ``MLmodel``. InvalidInputError: not a scikit-learn model.
        UntrustedObjectError: a pickle payload (or unsafe skops types) without ``trusted``.
        MissingExtraError: PyYAML (``pymlopskit[mlflow]``) or skops (``pymlopskit[sklearn]``).
    """
    import pandas as pd

    from mlopskit.deploy._package import ModelPackage

    root = Path(path)
    doc = _read_mlmodel(root)
    flavor = doc["flavors"].get("sklearn")
    if not isinstance(flavor, dict):
        raise InvalidInputError(
            f"{root} is not a scikit-learn MLflow model (flavors: {sorted(doc['flavors'])}); "
            "mlopskit reads sklearn-flavor directories",
            expected="sklearn",
            found=sorted(doc["flavors"]),
        )
    payload = _inside(root, flavor.get("pickled_model"))
    fmt = str(flavor.get("serialization_format", "cloudpickle"))
    data = payload.read_bytes()
    if fmt == "skops":  # the store's skops codec: one trust rule for every skops load
        model = decode(data, SKOPS_MEDIA_TYPE, trusted=trusted, name=str(payload))
    elif fmt in ("pickle", "cloudpickle"):
        if not trusted:
            raise UntrustedObjectError(
                f"{payload} is a {fmt} file: loading it runs code it contains. Pass "
                "trusted=True if you trust where it came from",
                media_type=f"application/x-{fmt}",
            )
        import cloudpickle

        model = cloudpickle.loads(data)
    else:
        raise InvalidInputError(
            f"unknown MLflow sklearn serialization_format {fmt!r}",
            expected=["skops", "cloudpickle", "pickle"],
            found=fmt,
        )
    example = None
    info = doc.get("saved_input_example_info")
    if isinstance(info, dict) and info.get("artifact_path"):
        ex = json.loads(_inside(root, info["artifact_path"]).read_text())
        if isinstance(ex, dict) and "columns" in ex and "data" in ex:
            example = pd.DataFrame(ex["data"], columns=ex["columns"])
    return ModelPackage.from_model(
        model,
        name=name or root.resolve().name,
        signature=_signature_from(doc),
        input_example=example,
        store=store,
    )
