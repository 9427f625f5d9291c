"""The public surface of mlopskit.drift and what importing it costs."""

from __future__ import annotations

import json
import subprocess
import sys

import mlopskit
from mlopskit import drift


class TestSurface:
    def test_all_is_sorted_and_equals_the_public_names(self) -> None:
        """__all__ is sorted and lists exactly the public, non-module names."""
        assert drift.__all__ == sorted(drift.__all__)
        public = {n for n in vars(drift) if not n.startswith("_") and n != "annotations"}
        assert public == set(drift.__all__)

    def test_reached_lazily_from_the_facade(self) -> None:
        """mk.drift is the subpackage, and it is in mlopskit.__all__."""
        assert mlopskit.drift is drift
        assert "drift" in mlopskit.__all__


class TestImportCost:
    def test_importing_drift_does_not_import_scipy(self) -> None:
        """scipy (~0.8 s) loads on the first statistic, not on import; dask never does."""
        code = (
            "import sys, json, mlopskit.drift; "
            "print(json.dumps([m for m in ('scipy', 'scipy.stats', 'dask') if m in sys.modules]))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert json.loads(out.stdout) == []
