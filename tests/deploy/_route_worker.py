"""A routing worker for the stickiness test: ``python _route_worker.py``.

Reads JSON lines ``{"variants": {...weights}, "salt": str, "keys": [...]}`` on stdin and
answers one JSON line per request: the variant each key is routed to. The parent runs
two of these with different ``PYTHONHASHSEED`` values and compares their answers.
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


def main() -> None:
    from mlopskit.deploy._router import Router

    for line in sys.stdin:
        job = json.loads(line)
        weights = job["variants"]
        router = Router({n: Named(n) for n in weights}, weights, salt=job["salt"])
        print(json.dumps([router.route(k)[0] for k in job["keys"]]), flush=True)


if __name__ == "__main__":
    main()
