"""A Docker build context serving a package: ``docker build`` it, run it anywhere.

:func:`context` writes::

    Dockerfile         python:<recorded version>-slim, non-root user, HEALTHCHECK on
                       /v2/health/ready, exec-form ENTRYPOINT (the ``serve`` argument
                       SageMaker passes is accepted)
    requirements.txt   pymlopskit[serve] and the package's pins
    entrypoint.py      serves ./model on $SAGEMAKER_BIND_TO_PORT (8080)
    model/             the package bundle
    .dockerignore

The image answers mlopskit's whole serving surface (OIP V2, MLflow/SageMaker
``/invocations`` and ``/ping``, ``/metrics``), so the same image fits SageMaker, a
Kubernetes Deployment (:mod:`mlopskit.deploy.k8s`) or ``docker run -p 8080:8080``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlopskit.deploy._targets import (
    bundle_requirements,
    mlopskit_requirement,
    record_export,
    write_bundle,
)
from mlopskit.errors import InvalidInputError

if TYPE_CHECKING:
    from mlopskit.deploy._package import ModelPackage

__all__ = ["ENTRYPOINT", "context", "dockerfile", "parse_dockerfile"]

UID = 10001
ENTRYPOINT = '''"""Container entrypoint written by mlopskit.deploy.docker.context: serves ./model.

Run as ``python entrypoint.py serve [--port N] [--host H]`` (SageMaker passes ``serve``).
"""

import os
import sys

from mlopskit.deploy.sagemaker import main

HERE = os.path.dirname(os.path.abspath(__file__))
args = sys.argv[1:] or ["serve"]
main([args[0], "--model-dir", os.path.join(HERE, "model"), *args[1:]])
'''


def dockerfile(python_version: str, *, port: int = 8080, base: str | None = None) -> str:
    """The Dockerfile text for a context made for ``python_version`` (``3.11.7``)."""
    image = base or f"python:{python_version}-slim"
    health = (
        "import urllib.request; "
        f"urllib.request.urlopen('http://127.0.0.1:{port}/v2/health/ready', timeout=4)"
    )
    lines = [
        "# syntax=docker/dockerfile:1",
        "# Written by mlopskit.deploy.docker.context.",
        f"FROM {image}",
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \\",
        f"    MLOPSKIT_HOST=0.0.0.0 SAGEMAKER_BIND_TO_PORT={port}",
        f"RUN useradd --create-home --uid {UID} --user-group model",
        "WORKDIR /opt/ml",
        "COPY requirements.txt ./requirements.txt",
        "RUN pip install --no-cache-dir -r requirements.txt",
        "COPY --chown=root:root entrypoint.py ./entrypoint.py",
        "COPY --chown=root:root model/ ./model/",
        f"USER {UID}:{UID}",
        f"EXPOSE {port}",
        "HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \\",
        f"    CMD {json.dumps(['python', '-c', health])}",
        f"ENTRYPOINT {json.dumps(['python', '/opt/ml/entrypoint.py'])}",
        f"CMD {json.dumps(['serve'])}",
    ]
    return "\n".join(lines) + "\n"


def context(
    package: ModelPackage,
    path: str | os.PathLike[str],
    *,
    port: int = 8080,
    base: str | None = None,
    mlopskit_requirement_line: str | None = None,
    extra_requirements: list[str] | None = None,
) -> Path:
    """Write a Docker build context for ``package`` into directory ``path``; returns it.

    Args:
        package: the package the image serves.
        path: a new (or empty) directory.
        port: the port the server listens on in the container.
        base: the base image (default ``python:<the package's Python>-slim``).
        mlopskit_requirement_line: how ``requirements.txt`` installs mlopskit (default
            ``pymlopskit[serve]==<this version>``; e.g. a wheel path you ``COPY``).
        extra_requirements: more requirement lines.

    Raises:
        InvalidInputError: ``path`` is not an empty directory; a bad port.
    """
    out = Path(path)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInputError(
            f"{out} exists and is not an empty directory; a build context is written fresh",
            path=str(out),
        )
    if not isinstance(port, int) or not 0 < port < 65536:
        raise InvalidInputError("port is 1-65535", found=repr(port))
    write_bundle(package, out / "model")
    extras = "serve,sklearn" if package.format == "skops" else "serve"
    reqs = [
        mlopskit_requirement_line or mlopskit_requirement(extras),
        *bundle_requirements(package),
        *(extra_requirements or []),
    ]
    (out / "requirements.txt").write_text("\n".join(reqs) + "\n")
    (out / "entrypoint.py").write_text(ENTRYPOINT)
    (out / "Dockerfile").write_text(dockerfile(package.python_version, port=port, base=base))
    (out / ".dockerignore").write_text("**/__pycache__\n**/*.pyc\n")
    record_export(package, "docker", out)
    return out


def _instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of a Dockerfile, continuation lines joined (for tests
    and users checking a context)."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            buf += line[:-1].rstrip() + " "
            continue
        buf += line
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def parse_dockerfile(text: str) -> list[tuple[str, Any]]:
    """``(INSTRUCTION, arguments)`` pairs; exec-form arguments (JSON arrays) parsed."""
    parsed: list[tuple[str, Any]] = []
    for word, rest in _instructions(text):
        value: Any = rest
        if rest.startswith("["):
            try:
                value = json.loads(rest)
            except ValueError:
                value = rest
        parsed.append((word, value))
    return parsed
