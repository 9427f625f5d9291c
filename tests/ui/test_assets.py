"""The vendored chart library and the UI's static files ship with the package."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import mlopskit.ui
from mlopskit import _charts

ROOT = Path(__file__).resolve().parents[2]
STATIC = ("index.html", "app.js", "app.css", "mkcharts.js")
VENDOR = ("uPlot.iife.min.js", "uPlot.min.css", "LICENSE", "VERSION.txt")


class TestAssets:
    def test_uplot_is_vendored_with_its_licence(self) -> None:
        """uPlot's minified JS and CSS sit beside its MIT licence, at the recorded version."""
        vendor = _charts.STATIC_DIR / "vendor" / "uplot"
        assert all((vendor / name).is_file() for name in VENDOR)
        assert "MIT License" in (vendor / "LICENSE").read_text()
        version = re.search(r"uPlot (\d+\.\d+\.\d+)", (vendor / "VERSION.txt").read_text())
        assert version is not None
        assert f"(v{version.group(1)})" in _charts.asset("vendor/uplot/uPlot.iife.min.js")[:200]

    def test_pages_load_nothing_from_elsewhere(self) -> None:
        """The HTML shell and scripts name no other origin: the UI works offline."""
        for name in STATIC:
            text = _charts.asset(name)
            assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), name
            assert "cdn" not in text.lower(), name

    @pytest.mark.parametrize("name", ["app.js", "mkcharts.js", "vendor/uplot/uPlot.iife.min.js"])
    def test_scripts_never_parse_data_as_markup(self, name: str) -> None:
        """No script (ours or uPlot) uses innerHTML, outerHTML, insertAdjacentHTML,
        document.write or eval: stored text can only ever become text."""
        code = _charts.asset(name)
        code = re.sub(r"/\*.*?\*/", "", code, flags=re.S)  # comments may name them
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in code, (name, sink)

    def test_assets_outside_the_static_dir_are_refused(self) -> None:
        """asset() reads only files under the UI's static directory."""
        with pytest.raises(ValueError, match="outside"):
            _charts.asset("../_app.py")

    def test_public_surface_is_lazy(self) -> None:
        """mlopskit.ui exports its sorted __all__ and imports no web stack until used."""
        assert mlopskit.ui.__all__ == sorted(mlopskit.ui.__all__)
        code = (
            "import mlopskit.ui, sys; print('starlette' in sys.modules, 'uvicorn' in sys.modules)"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.stdout.split() == ["False", "False"]
        for name in mlopskit.ui.__all__:
            assert getattr(mlopskit.ui, name) is not None

    @pytest.mark.slow
    def test_wheel_contains_the_static_files(self, tmp_path: Path) -> None:
        """The built wheel carries the vendored uPlot and every static file."""
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                str(ROOT),
                "--no-deps",
                "-q",
                "-w",
                str(tmp_path),
            ],
            check=True,
            capture_output=True,
        )
        (wheel,) = tmp_path.glob("*.whl")
        names = set(zipfile.ZipFile(wheel).namelist())
        assert {f"mlopskit/ui/static/{n}" for n in STATIC} <= names
        assert {f"mlopskit/ui/static/vendor/uplot/{n}" for n in VENDOR} <= names
