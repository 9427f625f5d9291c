"""Checks test helpers: a workspace under tmp_path made current, held-out data, and
small registered models (a threshold rule whose quality we choose)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from checks_models import Threshold, make_frame  # noqa: E402 - make_frame re-exported


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Any]:
    """A fresh local workspace under tmp_path, current for the test."""
    from mlopskit.workspace import Workspace

    with Workspace(tmp_path / "ws") as w:
        yield w


@pytest.fixture
def holdout(ws: Any) -> str:
    """A held-out dataset committed twice (holdout/1, holdout/2 from the same process)."""
    ws.datasets.commit("holdout", make_frame(seed=1))
    ws.datasets.commit("holdout", make_frame(seed=2))
    return "holdout/2"


@pytest.fixture
def models(ws: Any) -> dict[str, str]:
    """churn/1 (good, the champion), churn/2 (bad), churn/3 (as good as 1), all with
    signatures and input examples."""
    import mlopskit as mk

    frame = make_frame(seed=3).drop(columns=["y"])
    sig = mk.infer_signature(frame)
    reg = ws.registry
    out = {}
    for label, t in (("good", 0.0), ("bad", 1.5), ("same", 0.0)):
        mv = reg.register("churn", Threshold("f0", t), signature=sig, input_example=frame.head(5))
        out[label] = mv.uri
    reg.set_alias("churn", "champion", 1)
    return out
