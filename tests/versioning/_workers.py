"""Worker processes for the race tests: ``python _workers.py <command> <store url> ...``.

Each worker sleeps until a shared start time so that the processes really overlap.
"""

from __future__ import annotations

import json
import sys
import time


def _wait(start_at: str) -> None:
    delay = float(start_at) - time.time()
    if delay > 0:
        time.sleep(delay)


def versioned_worker(url: str, start_at: str) -> None:
    from mlopskit.versioning import versioned

    @versioned(store=url)
    def slow_square(x: int) -> int:
        time.sleep(0.3)
        return x * x

    _wait(start_at)
    print(json.dumps({"value": slow_square(7)}))


def commit_worker(url: str, name: str, count: str, start_at: str) -> None:
    import numpy as np

    from mlopskit.store import ArtifactStore
    from mlopskit.versioning import Datasets

    ds = Datasets(ArtifactStore(url))
    rng = np.random.default_rng()
    _wait(start_at)
    numbers = [ds.commit(name, rng.random(4)).number for _ in range(int(count))]
    print(json.dumps({"numbers": numbers}))


def alias_worker(url: str, model: str, alias: str, versions: str, start_at: str) -> None:
    from mlopskit.registry import Registry
    from mlopskit.store import ArtifactStore

    reg = Registry(ArtifactStore(url))
    _wait(start_at)
    moves = [int(v) for v in versions.split(",")]
    for v in moves:
        reg.set_alias(model, alias, v)
    print(json.dumps({"moves": moves}))


def register_worker(url: str, model: str, count: str, start_at: str) -> None:
    from mlopskit.registry import Registry
    from mlopskit.store import ArtifactStore

    reg = Registry(ArtifactStore(url))
    _wait(start_at)
    numbers = [reg.register(model, {"w": i, "t": time.time()}).number for i in range(int(count))]
    print(json.dumps({"numbers": numbers}))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {
        "versioned": versioned_worker,
        "commit": commit_worker,
        "alias": alias_worker,
        "register": register_worker,
    }[command](*args)
