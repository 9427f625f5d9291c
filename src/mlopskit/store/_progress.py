"""Progress bars for long transfers: tqdm.auto when installed and wanted, else nothing."""

from __future__ import annotations

import sys
from typing import Any

from mlopskit import _config


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int | None, desc: str, enabled: bool | None, unit: str = "B") -> Any:
    """A progress bar, or a no-op. ``enabled=None`` means: only when stderr is a TTY."""
    enabled = _config.flag("progress", enabled, default=None)
    if enabled is None:
        enabled = bool(getattr(sys.stderr, "isatty", lambda: False)())
    if not enabled:
        return _NoProgress()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoProgress()
    scale = unit == "B"
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=scale,
        unit_divisor=1024 if scale else 1000,
        leave=False,
    )
