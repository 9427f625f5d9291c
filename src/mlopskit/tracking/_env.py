"""What a run records about where it ran: git, Python, packages, host, user, command."""

from __future__ import annotations

import getpass
import hashlib
import os
import platform
import shlex
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["Environment", "capture", "clear_cache", "describe", "whoami"]

#: Packages whose versions are recorded when installed.
KEY_PACKAGES = (
    "pymlopskit",  # this library (its distribution name; the import name is mlopskit)
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "torch",
    "tensorflow",
    "jax",
    "xgboost",
    "lightgbm",
    "catboost",
    "transformers",
    "pyarrow",
)
_GIT_TTL = 5.0
_cache: dict[str, Any] = {}


@dataclass(frozen=True)
class Environment:
    """Tags describing the environment, and the working-tree diff when dirty."""

    tags: dict[str, str]
    diff: bytes | None = None


def whoami() -> tuple[str, str]:
    """(user, host)."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return user, socket.gethostname()


def _packages() -> dict[str, str]:
    cached: dict[str, str] | None = _cache.get("packages")
    if cached is None:
        from importlib import metadata

        cached = {}
        for name in KEY_PACKAGES:
            try:
                cached[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
        _cache["packages"] = cached
    return cached


def _git(args: list[str], cwd: str) -> bytes | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def _git_state(cwd: str) -> tuple[dict[str, str], bytes | None]:
    key = f"git:{cwd}"
    hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < _GIT_TTL:
        return hit[1], hit[2]
    tags: dict[str, str] = {}
    diff: bytes | None = None
    commit = _git(["rev-parse", "HEAD"], cwd)
    if commit is not None:
        tags["mlopskit.git.commit"] = commit.decode().strip()
        branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], cwd)
        if branch is not None:
            tags["mlopskit.git.branch"] = branch.decode().strip()
        status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
        dirty = bool(status and status.strip())
        tags["mlopskit.git.dirty"] = str(dirty).lower()
        if dirty:
            diff = _git(["diff", "HEAD", "--binary"], cwd)
            if diff:
                tags["mlopskit.git.diff"] = "sha256:" + hashlib.sha256(diff).hexdigest()
    _cache[key] = (time.monotonic(), tags, diff)
    return tags, diff


def capture(*, git: bool = True) -> Environment:
    """The environment of this process now (git state cached for a few seconds)."""
    user, host = whoami()
    tags = {
        "mlopskit.user": user,
        "mlopskit.host": host,
        "mlopskit.python": platform.python_version(),
        "mlopskit.platform": platform.platform(terse=True),
        "mlopskit.command": shlex.join(sys.argv) if sys.argv and sys.argv[0] else "",
        "mlopskit.pid": str(os.getpid()),
    }
    for name, version in _packages().items():
        tags[f"mlopskit.package.{name}"] = version
    diff = None
    if git:
        git_tags, diff = _git_state(os.getcwd())
        tags.update(git_tags)
    return Environment(tags, diff)


def clear_cache() -> None:
    """Forget cached package versions and git state."""
    _cache.clear()


def describe(value: Any, limit: int = 200) -> str:
    """A short, stable description of a value that is not a plain scalar.

    Arrays and frames become their type, shape and a content digest; anything else a
    repr cut to ``limit`` characters.
    """
    if "numpy" in sys.modules:
        import numpy as np

        if isinstance(value, np.ndarray):
            h = hashlib.sha256(f"{value.dtype.str}{value.shape}".encode())
            if value.dtype.hasobject:
                h.update(repr(value.tolist()).encode())
            else:
                h.update(np.ascontiguousarray(value).tobytes())
            return f"ndarray(shape={value.shape}, dtype={value.dtype}) sha256:{h.hexdigest()}"
        if isinstance(value, np.floating):  # numpy's shortest text for its own precision:
            return str(value)  # float32 0.1 is "0.1", not float64's 0.10000000149011612
        if isinstance(value, np.generic):
            return str(value.item())
    if "pandas" in sys.modules:
        import pandas as pd

        if isinstance(value, (pd.DataFrame, pd.Series)):
            labels = list(value.columns) if isinstance(value, pd.DataFrame) else [value.name]
            h = hashlib.sha256(repr(labels).encode())
            h.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
            kind = type(value).__name__
            return f"{kind}(shape={value.shape}) sha256:{h.hexdigest()}"
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        text = repr(value)
    else:
        try:
            text = repr(value)
        except Exception:  # a broken __repr__ must not fail the run
            text = f"<{type(value).__qualname__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"
