"""The command line as a user runs it: a whole process, through both entry points."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("pandas", "scipy", "pyarrow", "numpy", "fsspec.implementations.local", "pydantic")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MLOPSKIT_HOME"}
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=120, cwd=cwd, env=env, check=False
    )


def test_python_dash_m_help() -> None:
    """`python -m mlopskit --help` exits 0 and lists the commands."""
    out = run(sys.executable, "-m", "mlopskit", "--help")
    assert out.returncode == 0, out.stderr
    assert "runs" in out.stdout and "push" in out.stdout


def test_console_script_help_and_version() -> None:
    """The installed `mlopskit` script runs the same CLI."""
    script = shutil.which("mlopskit", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the console script is not installed in this environment (pip install -e .)")
    assert run(script, "--help").returncode == 0
    version = run(script, "--version")
    assert version.returncode == 0
    import mlopskit

    assert mlopskit.__version__ in version.stdout


def test_error_in_a_process_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A failing command prints one 'error:' line on stderr (no traceback) and exits 2."""
    out = run(
        sys.executable, "-m", "mlopskit", "-w", str(tmp_path / "none"), "runs", "ls", cwd=tmp_path
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: ")
    assert "Traceback" not in out.stderr


def test_cli_import_leaves_heavy_modules_out() -> None:
    """Loading the CLI (what --help costs) imports no pandas, scipy, numpy or pydantic."""
    code = (
        "import sys, json, mlopskit.cli; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = run(sys.executable, "-c", code)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


ROOT = Path(__file__).resolve().parents[2]


def test_packaging_names_and_license() -> None:
    """The distribution is pymlopskit (PyPI's mlopskit is someone else's), it installs the
    `mlopskit` script, and the MIT LICENSE pyproject promises is there."""
    import importlib

    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '\nname = "pymlopskit"\n' in text
    assert 'mlopskit = "mlopskit.cli:main"' in text
    assert 'license = "MIT"' in text
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    module, _, attr = "mlopskit.cli:main".partition(":")
    assert callable(getattr(importlib.import_module(module), attr))


def test_install_hints_name_the_distribution() -> None:
    """Every missing-extra hint says `pip install 'pymlopskit[...]'`, never the squatted name."""
    from mlopskit._optional import DISTRIBUTION, install_hint

    assert DISTRIBUTION == "pymlopskit"
    assert install_hint("s3") == "pip install 'pymlopskit[s3]'"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install pymlopskit" in readme
    assert "pip install mlopskit" not in readme.replace("`pip install mlopskit` installs", "")
