"""BentoML 1.4: a service module and ``bentofile.yaml`` serving a package.

:func:`export` writes ``service.py`` (a ``@bentoml.service`` class, the 1.4 service
API, with one ``@bentoml.api`` method ``predict`` taking ``rows``: a list of records),
``bentofile.yaml``, ``requirements.txt`` and the package bundle in ``model/``. Then::

    cd <path> && bentoml serve service:<Name>      # or: bentoml build

The service predicts with :class:`~mlopskit.deploy.Predictor`; bad input is a 400.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlopskit.deploy._targets import (
    bundle_requirements,
    dump_yaml,
    load_bundle,
    mlopskit_requirement,
    record_export,
    write_bundle,
)
from mlopskit.errors import InvalidInputError

if TYPE_CHECKING:
    from mlopskit.deploy._package import ModelPackage
    from mlopskit.deploy._predictor import Predictor

__all__ = ["export", "load", "service_name"]

_SERVICE = '''"""BentoML service written by mlopskit.deploy.bentoml.export: serves ./model."""

from pathlib import Path
from typing import Any

import bentoml

from mlopskit.deploy.bentoml import load
from mlopskit.errors import InvalidInputError

HERE = Path(__file__).resolve().parent


@bentoml.service(traffic={{"timeout": 60}})
class {name}:
    def __init__(self) -> None:
        self.predictor = load(HERE / "model")

    @bentoml.api
    def predict(self, rows: list[dict[str, Any]]) -> list[Any]:
        from mlopskit.deploy._codec import encode_mlflow

        try:
            out = self.predictor.predict(rows)
        except InvalidInputError as exc:
            raise bentoml.exceptions.InvalidArgument(str(exc)) from None
        return encode_mlflow(out)["predictions"]
'''


def service_name(name: str) -> str:
    """``name`` as a Python class name (``churn-model`` → ``ChurnModel``)."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", name) if p]
    out = "".join(p[:1].upper() + p[1:] for p in parts)
    if not out or not out[0].isalpha():
        out = f"Model{out}"
    return out


def load(path: str | os.PathLike[str], *, trusted: bool | None = None) -> Predictor:
    """The Predictor over the bundle at ``path`` (what the generated service calls)."""
    return load_bundle(path, trusted=trusted)


def export(
    package: ModelPackage,
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    extra_requirements: list[str] | None = None,
) -> Path:
    """Write a BentoML service directory for ``package`` at ``path``; returns it.

    Args:
        package: the package.
        path: a new (or empty) directory.
        name: the service class name (default: from the package name).
        extra_requirements: more requirement lines.

    Raises:
        InvalidInputError: ``path`` is not an empty directory.
    """
    out = Path(path)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInputError(
            f"{out} exists and is not an empty directory; pick a new path", path=str(out)
        )
    cls = service_name(name or package.name)
    write_bundle(package, out / "model")
    (out / "service.py").write_text(_SERVICE.format(name=cls))
    extras = "serve,sklearn" if package.format == "skops" else "serve"
    reqs = [
        mlopskit_requirement(extras),
        *bundle_requirements(package),
        *(extra_requirements or []),
    ]
    (out / "requirements.txt").write_text("\n".join(reqs) + "\n")
    bentofile: dict[str, Any] = {
        "service": f"service:{cls}",
        "include": ["service.py", "model/*"],
        "python": {"requirements_txt": "requirements.txt", "lock_packages": False},
        "docker": {"python_version": ".".join(package.python_version.split(".")[:2])},
    }
    (out / "bentofile.yaml").write_text(dump_yaml([bentofile]))
    record_export(package, "bentoml", out)
    return out
