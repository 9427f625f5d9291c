"""Artifacts a run logs: kept alive for gc at a cost linear in their number."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from mlopskit.tracking import SQLiteBackend, Tracker

ROOT = str(Path(__file__).parents[2] / "src")


def _bytes_on_disk(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if not name.startswith("tracking.sqlite"):  # the run records, not the store
                total += os.path.getsize(os.path.join(dirpath, name))
    return total


def _log_artifacts(root: Path, n: int) -> Tracker:
    tracker = Tracker(str(root), SQLiteBackend(root / "tracking.sqlite"))
    with tracker.start_run("exp", capture_env=False, run_id="art") as run:
        for i in range(n):
            run.log_artifact(f"artifact number {i:06d}".encode(), name=f"files/a{i:06d}.bin")
    return tracker


def test_store_bytes_grow_linearly_with_the_number_of_artifacts(tmp_path: Path) -> None:
    """Logging 2n artifacts writes about twice the bytes of n (no record rewritten per artifact)."""
    _log_artifacts(tmp_path / "n20", 20)
    _log_artifacts(tmp_path / "n40", 40)
    small, large = _bytes_on_disk(tmp_path / "n20"), _bytes_on_disk(tmp_path / "n40")
    assert large - small <= 1.25 * small, (small, large)


def test_every_logged_artifact_survives_gc(tmp_path: Path) -> None:
    """gc keeps each logged artifact, and a re-logged name keeps its newest content."""
    tracker = _log_artifacts(tmp_path, 5)
    with tracker.start_run(run_id="art", resume=True, capture_env=False) as run:
        newer = run.log_artifact(b"replaced", name="files/a000000.bin")
    store = tracker.store
    store.gc(dry_run=False, grace=timedelta(0))
    run = tracker.get_run("art")
    assert run.load_artifact("files/a000000.bin") == b"replaced"
    assert store.get_bytes(newer) == b"replaced"
    for i in range(1, 5):
        assert run.load_artifact(f"files/a{i:06d}.bin") == f"artifact number {i:06d}".encode()


def test_no_process_hook_is_registered_at_import(tmp_path: Path) -> None:
    """Importing tracking installs no SIGTERM handler or exit hook; the first run does."""
    code = (
        "import signal, mlopskit as mk, mlopskit.tracking as t\n"
        "from mlopskit.tracking import _lifecycle\n"
        "assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL\n"
        "assert not _lifecycle._state['atexit']\n"
        f"with mk.Workspace({str(tmp_path)!r}), mk.start_run('e', capture_env=False):\n"
        "    assert signal.getsignal(signal.SIGTERM) is _lifecycle._on_sigterm\n"
        "    assert _lifecycle._state['atexit']\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ROOT},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
