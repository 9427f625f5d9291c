"""Router subprocesses for the cross-process tests.

``python _route_worker.py`` reads JSON lines ``{"variants": {...weights}, "salt": str,
"keys": [...]}`` on stdin and answers one JSON line per request: the variant each key is
routed to. The parent runs two of these with different ``PYTHONHASHSEED`` values and
compares their answers.

``python _route_worker.py race <workspace> <rounds> <seed>`` promotes and rolls back
``m@champion`` at random against the other race workers, and prints how many of its
moves succeeded and how many lost a compare-and-swap.
"""

from __future__ import annotations

import json
import sys


class Named:
    """The smallest predictor: it answers with its own name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.version = None

    def predict(self, data: object) -> str:
        return self.name


def race(workspace: str, rounds: int, seed: int) -> None:
    import random

    import mlopskit as mk
    from mlopskit.deploy import Router
    from mlopskit.errors import InvalidInputError, RefConflictError

    rng = random.Random(seed)
    with mk.Workspace(workspace) as ws:
        router = Router(
            {"champion": "m@champion", "challenger": "m@challenger"},
            {"champion": 0.9, "challenger": 0.1},
            store=ws.store,
        ).load()
        print("ready", flush=True)
        sys.stdin.readline()  # every worker starts at once
        done = {"promote": 0, "rollback": 0, "conflict": 0, "nothing": 0}
        for _ in range(rounds):
            try:
                if rng.random() < 0.5:
                    router.promote("challenger", message=f"race {seed}")
                    done["promote"] += 1
                else:
                    router.rollback(message=f"race {seed}")
                    done["rollback"] += 1
            except RefConflictError:
                done["conflict"] += 1
            except InvalidInputError:
                done["nothing"] += 1
        print(json.dumps(done), flush=True)


def main() -> None:
    from mlopskit.deploy._router import Router

    for line in sys.stdin:
        job = json.loads(line)
        weights = job["variants"]
        router = Router({n: Named(n) for n in weights}, weights, salt=job["salt"])
        print(json.dumps([router.route(k)[0] for k in job["keys"]]), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["race"]:
        race(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
