"""System metrics of a run: CPU, memory, disk, network and GPU, sampled in a thread.

``start_run(..., log_system_metrics=True)`` (or ``MLOPSKIT_LOG_SYSTEM_METRICS=1``) starts a
:class:`SystemMetricsMonitor`: a daemon thread that every ``interval`` seconds logs
``system/*`` metrics (the names MLflow uses) on the run and stops when the run ends.
Needs psutil (extra ``system``); GPUs are read through pynvml when it finds one.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from mlopskit._log import get_logger
from mlopskit._optional import import_optional

if TYPE_CHECKING:
    from mlopskit.tracking._run import Run

__all__ = ["DEFAULT_INTERVAL", "SystemMetricsMonitor", "sample_system"]

_log = get_logger("mlopskit.tracking")

#: Seconds between samples (MLflow's default too).
DEFAULT_INTERVAL = 10.0
#: How often the thread checks whether its run has ended (seconds).
_POLL = 0.5
_MB = 1024 * 1024


class _Gpus:
    """NVIDIA GPUs through pynvml, or none (no pynvml, no driver, no device)."""

    def __init__(self) -> None:
        self.nvml: Any = None
        self.handles: list[Any] = []
        try:
            import pynvml  # type: ignore[import-not-found,unused-ignore]

            pynvml.nvmlInit()
            self.handles = [
                pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())
            ]
            self.nvml = pynvml
        except Exception:  # ImportError, NVMLError: no GPU metrics
            self.handles = []

    def sample(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for i, handle in enumerate(self.handles):
            try:
                util = self.nvml.nvmlDeviceGetUtilizationRates(handle)
                mem = self.nvml.nvmlDeviceGetMemoryInfo(handle)
            except Exception:  # a device that went away: skip it this time
                continue
            out[f"system/gpu_{i}_utilization_percentage"] = float(util.gpu)
            out[f"system/gpu_{i}_memory_usage_megabytes"] = mem.used / _MB
            out[f"system/gpu_{i}_memory_usage_percentage"] = 100.0 * mem.used / max(mem.total, 1)
        return out


def sample_system(
    psutil: Any, disk_path: str, start_io: tuple[Any, Any] | None = None
) -> dict[str, float]:
    """One sample of the machine's CPU, memory, disk and network (MLflow's metric names).

    Disk and network I/O counters count from ``start_io`` (the counters when the run
    started) when given.
    """
    mem = psutil.virtual_memory()
    disk = psutil.disk_usage(disk_path)
    out = {
        "system/cpu_utilization_percentage": float(psutil.cpu_percent(interval=None)),
        "system/system_memory_usage_megabytes": (mem.total - mem.available) / _MB,
        "system/system_memory_usage_percentage": float(mem.percent),
        "system/disk_usage_percentage": float(disk.percent),
        "system/disk_usage_megabytes": disk.used / _MB,
        "system/disk_available_megabytes": disk.free / _MB,
    }
    io, net = _io_counters(psutil)
    base_io, base_net = start_io if start_io is not None else (None, None)
    if io is not None:
        out["system/disk_read_megabytes"] = (
            io.read_bytes - getattr(base_io, "read_bytes", 0)
        ) / _MB
        out["system/disk_write_megabytes"] = (
            io.write_bytes - getattr(base_io, "write_bytes", 0)
        ) / _MB
    if net is not None:
        out["system/network_receive_megabytes"] = (
            net.bytes_recv - getattr(base_net, "bytes_recv", 0)
        ) / _MB
        out["system/network_transmit_megabytes"] = (
            net.bytes_sent - getattr(base_net, "bytes_sent", 0)
        ) / _MB
    return out


def _io_counters(psutil: Any) -> tuple[Any, Any]:
    try:
        io = psutil.disk_io_counters()
    except Exception:  # containers without /proc/diskstats
        io = None
    try:
        net = psutil.net_io_counters()
    except Exception:
        net = None
    return io, net


class SystemMetricsMonitor:
    """Samples the machine into ``system/*`` metrics of ``run`` until the run ends.

    Args:
        run: a live run.
        interval: seconds between samples (default :data:`DEFAULT_INTERVAL`, or
            ``MLOPSKIT_SYSTEM_METRICS_INTERVAL``).
    """

    def __init__(self, run: Run, interval: float | None = None) -> None:
        from mlopskit import _config

        self.psutil = import_optional("psutil", "system", purpose="system metrics")
        self.run = run
        self.interval = float(
            _config.setting(
                "system_metrics_interval", interval, default=DEFAULT_INTERVAL, parse=float
            )
        )
        if not self.interval > 0:
            from mlopskit.errors import ConfigError

            raise ConfigError(
                f"system metrics interval must be > 0 seconds, found {self.interval}",
                found=self.interval,
            )
        self.disk_path = os.path.abspath(os.sep)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"mlopskit-system-{run.run_id[:8]}", daemon=True
        )
        self.samples = 0

    def start(self) -> SystemMetricsMonitor:
        """Start sampling (the first sample is taken after one interval)."""
        self.psutil.cpu_percent(interval=None)  # primes the CPU counter
        self._start_io = _io_counters(self.psutil)
        self._gpus = _Gpus()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling and wait for the thread (also happens when the run ends)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()

    @property
    def running(self) -> bool:
        """Whether the sampling thread is alive."""
        return self._thread.is_alive()

    def _ended(self) -> bool:
        return bool(getattr(self.run, "_ended", False))

    def _loop(self) -> None:
        waited = 0.0
        while not self._stop.is_set() and not self._ended():
            step = min(_POLL, self.interval - waited)
            self._stop.wait(step)
            waited += step
            if waited + 1e-9 < self.interval:
                continue
            waited = 0.0
            if self._stop.is_set() or self._ended():
                break
            try:
                values = sample_system(self.psutil, self.disk_path, self._start_io)
                values.update(self._gpus.sample())
                self.run.log_metrics(values, step=self.samples)
                self.samples += 1
            except Exception as exc:  # never break the user's run for a metric
                if self._ended():
                    break
                _log.warning("system metrics of run %s: %r", self.run.run_id, exc)
