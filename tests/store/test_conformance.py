"""The store conformance suite, on every backend: local, memory and the S3 server."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from mlopskit.store import ArtifactStore
from mlopskit.testing import StoreConformance


class TestLocalStore(StoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> ArtifactStore:
        return ArtifactStore(tmp_path / "store")


class TestFileUrlStore(StoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> ArtifactStore:
        return ArtifactStore(f"file://{tmp_path}/store")


class TestMemoryStore(StoreConformance):
    @pytest.fixture
    def store(self) -> ArtifactStore:
        return ArtifactStore(f"memory://conformance-{uuid.uuid4().hex}")


@pytest.mark.s3
class TestS3Store(StoreConformance):
    @pytest.fixture
    def store(self, s3_url: str, tmp_path: Path) -> ArtifactStore:
        return ArtifactStore(s3_url, cache=tmp_path / "cache")
