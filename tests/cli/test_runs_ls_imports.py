"""`mlopskit runs ls` loads only what a listing needs (its start-up is most of its time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mlopskit as mk
import mlopskit.tracking as tracking

#: Modules a plain listing never needs: autologging, the MLflow importer, the object-store
#: backend, the report and the search frame (and with them pandas, NumPy and pyarrow); of
#: well-formed runs, not the records either (and with them pydantic), nor the filter parser.
NOT_NEEDED = (
    "pydantic",
    "mlopskit.tracking._model",
    "mlopskit.tracking._query",
    "mlopskit.tracking._tracker",
    "mlopskit.tracking._autolog",
    "mlopskit.tracking._mlflow_import",
    "mlopskit.tracking._objectstore",
    "mlopskit.tracking._report",
    "mlopskit.tracking._search",
    "pandas",
    "numpy",
    "pyarrow",
)


def _listing_modules(workspace: Path, *args: str) -> tuple[str, list[str]]:
    """Run ``mlopskit -w workspace runs ls *args`` in a fresh process; its output and the
    modules of NOT_NEEDED it imported."""
    code = (
        "import json, runpy, sys\n"
        f"sys.argv = ['mlopskit', '-w', {str(workspace)!r}, 'runs', 'ls', *{list(args)!r}]\n"
        "try:\n"
        "    runpy.run_module('mlopskit', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"sys.stderr.write(json.dumps([m for m in {NOT_NEEDED!r} if m in sys.modules]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MLOPSKIT_HOME"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout, json.loads(out.stderr.strip().splitlines()[-1])


def test_runs_ls_imports_no_search_report_or_object_store_code(tmp_path: Path) -> None:
    """A listing (table or --json) of a local workspace loads neither pandas nor pydantic,
    the records, the tracker, the object-store, autolog, MLflow-import or report modules,
    and still lists every run."""
    with mk.Workspace(tmp_path / "ws"):
        ids = []
        for lr in (0.1, 0.2):
            with mk.start_run("exp", params={"lr": lr}) as run:
                run.log_metric("acc", lr)
                ids.append(run.run_id)
    table, loaded = _listing_modules(tmp_path / "ws")
    assert loaded == []
    assert all(i in table for i in ids)
    as_json, loaded = _listing_modules(tmp_path / "ws", "--json")
    assert loaded == []
    assert sorted(r["run_id"] for r in json.loads(as_json)) == sorted(ids)


def test_tracking_lazy_names_resolve() -> None:
    """Every public name of mlopskit.tracking loads from its lazy map, and the map is
    exactly __all__ (a name added to one and not the other would fail here)."""
    assert set(tracking._LAZY) == set(tracking.__all__)
    for name in tracking.__all__:
        assert getattr(tracking, name) is not None
    assert set(tracking.__all__) <= set(dir(tracking))
    assert tracking.RunRecord is mk.tracking.RunRecord


def test_tracking_unknown_name_is_an_attribute_error() -> None:
    """A misspelt name is an AttributeError naming it (what `from ... import` reports)."""
    with pytest.raises(AttributeError, match="serach_runs"):
        tracking.serach_runs  # noqa: B018
