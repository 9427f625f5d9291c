"""A small workspace for the UI tests: runs (one of them deleted), artifacts, datasets, a
model.

Some stored text is hostile on purpose (``EVIL``): the UI must show it as text.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import mlopskit as mk
from mlopskit.registry import Registry

#: Markup that would set ``window.__pwned`` if any page rendered it as HTML.
EVIL = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def png_bytes(width: int = 96, height: int = 64) -> bytes:
    """A valid RGB PNG: a red-to-blue gradient (no imaging library needed)."""
    rows = b"".join(
        b"\x00" + b"".join(bytes((255 * x // width, 80, 255 * y // height)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def build_workspace(root: Path, *, long_series: int = 5000) -> dict[str, Any]:
    """Write the sample into ``root``; return its path and the ids the tests look for."""
    root.mkdir(parents=True, exist_ok=True)
    files = root.parent / "files"
    files.mkdir(exist_ok=True)
    (files / "sample.png").write_bytes(png_bytes())
    (files / "model_dir" / "weights").mkdir(parents=True, exist_ok=True)
    (files / "model_dir" / "config.yaml").write_text("layers: 3\n")
    (files / "model_dir" / "weights" / "w.bin").write_bytes(bytes(range(256)))
    pd.DataFrame({"label": ["cat", "dog", EVIL], "score": [0.9, 0.8, 0.1]}).to_csv(
        files / "predictions.csv", index=False
    )
    runs: dict[str, str] = {}
    ws = mk.Workspace(root)
    with ws:
        tracker = ws.tracker
        for i, lr in enumerate([0.1, 0.03, 0.01, 0.003]):
            with tracker.start_run(
                "mnist",
                name=f"lr-{lr}",
                params={"lr": lr, "layers": 2 + i},
                tags={"team": "vision" if i % 2 else "ocr"},
                capture_env=False,
            ) as run:
                for step in range(60):
                    run.log_metric("loss", math.exp(-step * lr * 2) + 0.05 * i, step=step)
                run.log_metric("acc", 0.7 + 0.07 * i, step=59)
                runs[f"lr-{lr}"] = run.run_id
        dv1 = mk.datasets.commit(
            "iris",
            pd.DataFrame({"x": np.linspace(0, 1, 200), "kind": ["a", "b"] * 100}),
            message=EVIL,
        )
        rng = np.random.default_rng(0)
        mk.datasets.commit(
            "iris",
            pd.DataFrame(
                {"x": rng.normal(0.8, 0.3, 240), "kind": ["a", "b", "c"] * 80, "new": 1.0}
            ),
            message="second version",
        )
        with tracker.start_run(
            "mnist",
            name=EVIL,
            params={"lr": 0.5, "note": EVIL, "batch size": 32},
            tags={"team": EVIL},
            capture_env=False,
        ) as run:
            run.log_input(dv1)
            for step in range(max(long_series, 30)):
                run.log_metric("loss", 1 / (step + 1), step=step)
            run.log_metric("acc", 0.5, step=1)
            run.log_artifact(files / "sample.png", name="plots/sample.png")
            run.log_artifact(files / "predictions.csv")
            run.log_artifact(files / "model_dir")
            run.log_text(EVIL, "notes.txt")
            run.log_dict({"a": 1, "b": [1, 2]}, "config.json")
            runs["evil"] = run.run_id
        with tracker.start_run(
            "mnist", name="gone-" + EVIL, params={"lr": 0.2}, capture_env=False
        ) as run:
            run.log_metric("acc", 0.99, step=0)
            run.log_metric("loss", 0.01, step=0)
        tracker.delete_run(run.run_id, reason=EVIL)
        deleted = run.run_id
        registry = Registry(ws.store)
        registry.register("clf", {"w": [1.0, 2.0]}, run=runs["evil"], message=EVIL)
        registry.register("clf", {"w": [1.5, 2.5]}, run=runs["evil"], message="v2")
        registry.set_alias("clf", "champion", 1)
        registry.set_alias("clf", "champion", 2)
    return {
        "root": str(root),
        "runs": runs,  # the active runs
        "deleted": deleted,  # a deleted run, named with markup
        "dataset": "iris",
        "model": "clf",
    }
