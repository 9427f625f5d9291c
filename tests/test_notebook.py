"""examples/quickstart.ipynb runs in a real Jupyter kernel and shows rich HTML views;
the ``_repr_html_`` views it relies on escape what they display."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


def _this_python_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the ``python3`` kernelspec run this interpreter (the venv under test),
    whatever kernelspecs the machine has."""
    from ipykernel.kernelspec import install

    prefix = tmp_path / "jupyter"
    install(kernel_name="python3", prefix=str(prefix))
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    spec = prefix / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"
    assert json.loads(spec.read_text())["argv"][0] == sys.executable


def _html_outputs(cell: dict) -> list[str]:
    return [
        "".join(out["data"]["text/html"])
        for out in cell.get("outputs", [])
        if out.get("output_type") in ("execute_result", "display_data")
        and "text/html" in out.get("data", {})
    ]


@pytest.mark.slow
def test_quickstart_notebook_runs_with_rich_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every cell of the quickstart notebook runs in a fresh kernel, and the run, runs
    report, model version, drift report and lineage cells display HTML."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("uvicorn")
    pytest.importorskip("sklearn")
    monkeypatch.setenv("MLOPSKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's temporary workspace
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    monkeypatch.delenv("MLOPSKIT_HOME", raising=False)
    _this_python_kernel(tmp_path, monkeypatch)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start

    errors = [
        out
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert errors == []
    views = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        last = cell.source.strip().splitlines()[-1]
        for page in _html_outputs(cell):
            views[last] = page
    assert "<table class='mlopskit-run'>" in views["run"]
    assert "logreg-C" in views['mk.runs_report("churn")']
    assert "<table class='mlopskit-model-version'>" in views["version"]
    assert "churn/1" in views["version"]
    assert "usage" in views["report"] and "<html" not in views["report"].lower()[:200]
    assert "<svg" in views["graph"] and "dataset" in views["graph"]
    assert "<html" not in views["graph"]
    assert not list(tmp_path.glob(".mlopskit"))  # nothing written to the working directory
    print(f"notebook executed in {elapsed:.1f} s")


def test_model_version_html_escapes_stored_text(tmp_path: Path) -> None:
    """A model version's notebook view escapes its tags and message (stored data)."""
    import mlopskit as mk

    with mk.Workspace(tmp_path / "ws"):
        version = mk.registry.register(
            "m", {"w": 1}, tags={"note": "<script>alert(1)</script>"}, message="a & b"
        )
    page = version._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "a &amp; b" in page and "m/1" in page


def test_lineage_html_is_a_fragment(tmp_path: Path) -> None:
    """A lineage graph shows in a notebook as a fragment (no page, no global style),
    with the escaped graph of :meth:`Lineage.to_html`."""
    import mlopskit as mk

    with mk.Workspace(tmp_path / "ws"):
        data = mk.datasets.commit("d", __import__("numpy").arange(3))
        mk.registry.register("m", {"w": 1}, inputs=[data], message="<b>")
        graph = mk.lineage("m/1", direction="up")
    fragment = graph._repr_html_()
    assert fragment.startswith("<div") and fragment.endswith("</div>")
    assert "<svg" in fragment and "<html" not in fragment and "<style" not in fragment
    assert "d/1" in fragment
