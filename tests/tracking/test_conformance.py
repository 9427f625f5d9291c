"""Every tracking backend passes the same conformance suite."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from mlopskit.testing import TrackerConformance
from mlopskit.tracking import ObjectStoreBackend, SQLiteBackend, Tracker


class TestSQLite(TrackerConformance):
    """The SQLite backend of a local workspace."""

    @pytest.fixture
    def tracker_factory(self, tmp_path: Path) -> Callable[[], Tracker]:
        root = str(tmp_path / "ws")
        return lambda: Tracker(root, SQLiteBackend(f"{root}/tracking.sqlite"))


class TestObjectStoreMemory(TrackerConformance):
    """The object-store backend over memory://."""

    @pytest.fixture
    def tracker_factory(self) -> Callable[[], Tracker]:
        root = f"memory://tracking-{uuid.uuid4().hex[:8]}"
        return lambda: Tracker(root, ObjectStoreBackend(root))


class TestObjectStoreLocal(TrackerConformance):
    """The object-store backend over a local directory."""

    @pytest.fixture
    def tracker_factory(self, tmp_path: Path) -> Callable[[], Tracker]:
        root = str(tmp_path / "ws")
        return lambda: Tracker(root, ObjectStoreBackend(root))


@pytest.mark.s3
class TestObjectStoreS3(TrackerConformance):
    """The object-store backend on the local S3 server."""

    @pytest.fixture
    def tracker_factory(self, s3_url: str) -> Callable[[], Tracker]:
        return lambda: Tracker(s3_url, ObjectStoreBackend(s3_url))
