"""Adapter test helpers: this directory on sys.path (``_proc``) and packages of the three
kinds of model (regression, binary, multi-class) over mixed column types."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


from adapter_data import mixed_frame, mixed_model  # noqa: E402 - re-exported


@pytest.fixture
def store(tmp_path: Path) -> Any:
    """A fresh local store under tmp_path."""
    from mlopskit.store import ArtifactStore

    return ArtifactStore(tmp_path / "store")


@pytest.fixture
def mixed_package(store: Any) -> Any:
    """A binary classifier over mixed columns, packaged with a 5-row example."""
    from mlopskit.deploy import ModelPackage

    return ModelPackage.from_model(
        mixed_model("binary"), name="mixed", input_example=mixed_frame(5, seed=2), store=store
    )
