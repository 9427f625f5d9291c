"""Deploy test helpers: this directory on sys.path (``deploy_strategies``, ``_servers``) and
small models and stores shared by the deploy tests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture
def file_store(tmp_path: Path) -> Any:
    """A fresh local store under tmp_path."""
    from mlopskit.store import ArtifactStore

    return ArtifactStore(tmp_path / "store")


@pytest.fixture(scope="session")
def churn_data() -> tuple[pd.DataFrame, np.ndarray]:
    """A small tabular classification problem: 4 float features, 400 rows, binary labels."""
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(400, 4)), columns=["f0", "f1", "f2", "f3"])
    y = (X["f0"] + 0.5 * X["f1"] - X["f2"] > 0).astype(int).to_numpy()
    return X, y


@pytest.fixture(scope="session")
def sk_model(churn_data: tuple[pd.DataFrame, np.ndarray]) -> Any:
    """A fitted scikit-learn LogisticRegression (skipped when scikit-learn is absent)."""
    pytest.importorskip("sklearn")
    pytest.importorskip("skops")
    from sklearn.linear_model import LogisticRegression

    X, y = churn_data
    return LogisticRegression().fit(X, y)
