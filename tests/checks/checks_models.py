"""Tiny models for the checks tests (importable, so pickles of them load anywhere)."""

from __future__ import annotations

from typing import Any

import numpy as np


class Threshold:
    """Predicts 1 where ``column`` exceeds ``t``; a model whose quality a test chooses."""

    def __init__(self, column: str, t: float) -> None:
        self.column = column
        self.t = t

    def predict(self, frame: Any) -> Any:
        return (np.asarray(frame[self.column], dtype=float) > self.t).astype(int)
