"""Worker processes for the race tests: ``python _workers.py <command> <store url> ...``.

Each worker imports what it needs, says it is ready (a file in the barrier directory,
the last argument) and polls for the parent's ``go`` file, so the processes really
overlap however long their imports take on a loaded machine.
"""

from __future__ import annotations

import json
import sys
import time


def _wait(barrier: str) -> None:
    """Signal readiness, then poll (under a deadline) until the parent says go."""
    import os

    with open(os.path.join(barrier, f"ready-{os.getpid()}"), "w"):
        pass
    go = os.path.join(barrier, "go")
    deadline = time.monotonic() + 120
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            raise SystemExit("the race tests' start signal never came")
        time.sleep(0.002)


def versioned_worker(url: str, barrier: str) -> None:
    from mlopskit.versioning import versioned

    @versioned(store=url)
    def slow_square(x: int) -> int:
        time.sleep(0.3)
        return x * x

    _wait(barrier)
    print(json.dumps({"value": slow_square(7)}))


def commit_worker(url: str, name: str, count: str, barrier: str) -> None:
    import numpy as np

    from mlopskit.store import ArtifactStore
    from mlopskit.versioning import Datasets

    ds = Datasets(ArtifactStore(url))
    rng = np.random.default_rng()
    _wait(barrier)
    numbers = [ds.commit(name, rng.random(4)).number for _ in range(int(count))]
    print(json.dumps({"numbers": numbers}))


def alias_worker(url: str, model: str, alias: str, versions: str, barrier: str) -> None:
    from mlopskit.registry import Registry
    from mlopskit.store import ArtifactStore

    reg = Registry(ArtifactStore(url))
    _wait(barrier)
    moves = [int(v) for v in versions.split(",")]
    for v in moves:
        reg.set_alias(model, alias, v)
    print(json.dumps({"moves": moves}))


def register_worker(url: str, model: str, count: str, barrier: str) -> None:
    from mlopskit.registry import Registry
    from mlopskit.store import ArtifactStore

    reg = Registry(ArtifactStore(url))
    _wait(barrier)
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
