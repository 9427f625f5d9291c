"""Tiny models for the checks tests (importable, so pickles of them load anywhere)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


class Threshold:
    """Predicts 1 where ``column`` exceeds ``t``; a model whose quality a test chooses."""

    def __init__(self, column: str, t: float) -> None:
        self.column = column
        self.t = t

    def predict(self, frame: Any) -> Any:
        return (np.asarray(frame[self.column], dtype=float) > self.t).astype(int)


def make_frame(rows: int = 300, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """Features f0, f1 (float), city (category-like strings) and the label y = f0 > 0."""
    rng = np.random.default_rng(seed)
    f0 = rng.normal(loc=shift, size=rows)
    return pd.DataFrame(
        {
            "f0": f0,
            "f1": rng.normal(size=rows),
            "city": rng.choice(["paris", "lyon", "nice"], size=rows),
            "y": (f0 > 0).astype(int),
        }
    )
