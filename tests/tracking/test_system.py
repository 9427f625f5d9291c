"""System metrics: sampled into ``system/*`` metrics while a run is live, stopped with it."""

from __future__ import annotations

import threading
import time

import pytest

import mlopskit as mk
from mlopskit.errors import ConfigError
from mlopskit.tracking._system import SystemMetricsMonitor, sample_system

psutil = pytest.importorskip("psutil")


def _monitor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("mlopskit-system-")]


def _wait_for(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_one_sample_has_cpu_memory_disk_network() -> None:
    """A sample reports CPU, memory, disk and network under MLflow's metric names."""
    psutil.cpu_percent(interval=None)
    values = sample_system(psutil, "/")
    for key in (
        "system/cpu_utilization_percentage",
        "system/system_memory_usage_megabytes",
        "system/system_memory_usage_percentage",
        "system/disk_usage_percentage",
        "system/disk_available_megabytes",
    ):
        assert key in values
    assert 0 <= values["system/system_memory_usage_percentage"] <= 100
    assert values["system/system_memory_usage_megabytes"] > 0
    assert all(isinstance(v, float) for v in values.values())


def test_run_logs_system_metrics_until_it_ends(
    workspace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """log_system_metrics=True samples while the run lives; ending it stops the thread."""
    monkeypatch.setenv("MLOPSKIT_SYSTEM_METRICS_INTERVAL", "0.1")
    tracker = mk.tracking.current_tracker()
    with tracker.start_run("sys", log_system_metrics=True, capture_env=False) as run:
        assert len(_monitor_threads()) == 1

        def sampled() -> bool:
            run.flush()
            return len(run.metric_history("system/cpu_utilization_percentage")) >= 2

        _wait_for(sampled)
    for thread in _monitor_threads():
        thread.join(timeout=10)
    assert not _monitor_threads()
    points = len(run.metric_history("system/cpu_utilization_percentage"))
    time.sleep(0.3)
    assert len(mk.get_run(run.run_id).metric_history("system/cpu_utilization_percentage")) == points
    assert "system/system_memory_usage_megabytes" in run.metrics


def test_environment_variable_turns_it_on(workspace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLOPSKIT_LOG_SYSTEM_METRICS=1 turns system metrics on for mk.start_run."""
    monkeypatch.setenv("MLOPSKIT_LOG_SYSTEM_METRICS", "1")
    monkeypatch.setenv("MLOPSKIT_SYSTEM_METRICS_INTERVAL", "0.1")
    with mk.start_run("sys-env", capture_env=False) as run:
        assert len(_monitor_threads()) == 1
        _wait_for(lambda: run.record().metrics.get("system/cpu_utilization_percentage") is not None)
    monkeypatch.setenv("MLOPSKIT_LOG_SYSTEM_METRICS", "0")
    with mk.start_run("sys-env", capture_env=False):
        for thread in _monitor_threads():
            thread.join(timeout=10)
        assert not _monitor_threads()


def test_bad_interval_is_a_config_error(workspace: str) -> None:
    """A non-positive interval is refused with a ConfigError naming the value."""
    with (
        mk.start_run("sys-bad", capture_env=False) as run,
        pytest.raises(ConfigError, match="> 0"),
    ):
        SystemMetricsMonitor(run, interval=0)


def test_the_fluent_start_run_takes_the_flag(
    workspace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mk.start_run(log_system_metrics=True) starts the sampler like the tracker's method."""
    monkeypatch.setenv("MLOPSKIT_SYSTEM_METRICS_INTERVAL", "0.1")
    with mk.start_run("sys", log_system_metrics=True, capture_env=False):
        assert len(_monitor_threads()) == 1
    for thread in _monitor_threads():
        thread.join(timeout=10)
    assert not _monitor_threads()
