"""Shared fixtures: a real S3-compatible server (moto, on 127.0.0.1) and store URLs.

Hypothesis profiles: ``ci`` (the default: a bounded number of examples, no deadline,
so a loaded 2-core runner never flakes) and ``fuzz`` (many more examples, for the
``fuzz``-marked parser tests: ``HYPOTHESIS_PROFILE=fuzz pytest -m fuzz``, or
``nox -s fuzz``). Tests that pin ``max_examples`` themselves keep their own budget.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "fuzz",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """Start moto's S3-compatible server on an ephemeral 127.0.0.1 port; stop it by pid.

    The endpoint and test credentials are put in the environment for the session, so
    plain ``s3://`` URLs (and subprocesses) reach it through botocore's
    ``AWS_ENDPOINT_URL``.
    """
    pytest.importorskip("s3fs")
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = Path(__file__).with_name("_s3server.py")  # moto's app, atomic per request
    proc = subprocess.Popen(
        [sys.executable, str(server), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the moto S3 server did not start") from None
            time.sleep(0.1)
    saved = {k: os.environ.get(k) for k in [*S3_ENV, "AWS_ENDPOINT_URL"]}
    os.environ.update(S3_ENV, AWS_ENDPOINT_URL=endpoint)
    try:
        yield endpoint
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        os.kill(proc.pid, 15)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A fresh, empty bucket on the local S3 server."""
    import s3fs

    name = f"test-{uuid.uuid4().hex[:12]}"
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint})
    fs.mkdir(name)
    return name


@pytest.fixture
def s3_url(s3_bucket: str) -> str:
    """A store URL in a fresh bucket: ``s3://<bucket>/store``."""
    return f"s3://{s3_bucket}/store"


@pytest.fixture
def store_options(s3_endpoint: str) -> dict[str, Any]:
    """storage_options that point s3fs at the local server explicitly."""
    return {"client_kwargs": {"endpoint_url": s3_endpoint}}


@pytest.fixture(params=["memory", "local", pytest.param("s3", marks=pytest.mark.s3)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A fresh store on each backend: memory://, a local directory, the S3 server."""
    from mlopskit.store import ArtifactStore

    if request.param == "memory":
        return ArtifactStore(f"memory://test-{uuid.uuid4().hex}")
    if request.param == "local":
        return ArtifactStore(tmp_path / "store")
    return ArtifactStore(request.getfixturevalue("s3_url"), cache=tmp_path / "cache")


@pytest.fixture
def local_store(tmp_path: Path) -> Any:
    """A store in a fresh local directory."""
    from mlopskit.store import ArtifactStore

    return ArtifactStore(tmp_path / "store")


@pytest.fixture
def memory_store() -> Any:
    """A fresh in-memory store."""
    from mlopskit.store import ArtifactStore

    return ArtifactStore(f"memory://test-{uuid.uuid4().hex}")


@pytest.fixture(autouse=True)
def _checkout_stays_clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that creates ./.mlopskit in the checkout (tests write under tmp_path)."""
    marker = Path(str(request.config.rootpath)) / ".mlopskit"
    existed = marker.exists()
    yield
    if not existed and marker.exists():
        pytest.fail(
            f"{request.node.nodeid} created {marker}: a test must write only under tmp_path "
            "(set MLOPSKIT_HOME or pass a store)",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _own_user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test has its own per-user cache (read cache, stat cache): nothing in ~/.cache."""
    monkeypatch.setenv("MLOPSKIT_CACHE_DIR", str(tmp_path / "user-cache"))
