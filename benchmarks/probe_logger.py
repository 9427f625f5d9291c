"""CPU a logged one-row request costs the prediction logger, in process (not a bench: no
anchor, no ratio; the figure docs/performance.md quotes beside the HTTP logger rows).

    python benchmarks/probe_logger.py [--requests 30000] [--writer auto|inline|thread]

Frames are decoded by the server's codec from one MLflow ``dataframe_split`` body (each
has its own ``Index``, as under traffic); every one goes through ``log_request`` with
default ``max_rows``, so its segments are written (inline on this local store, unless
``--writer thread``); the process's CPU time (every thread) is divided by the requests. The first pass runs before ``prepare()`` has
been called; the next two after a warm segment (steady state). The frames are made
first and frozen out of the garbage collector (``serve()`` freezes what it loaded; a
request's frame dies with the request).
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time

import numpy as np


def main() -> None:
    from mlopskit.deploy import PredictionLogger, _codec

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=30_000)
    ap.add_argument("--writer", choices=PredictionLogger.WRITERS, default="auto")
    args = ap.parse_args()
    n, writer = args.requests, args.writer

    from mlopskit.deploy._server import _new_request_id
    from mlopskit.store import ArtifactStore

    cols = [f"f{i}" for i in range(20)]
    row = list(np.random.default_rng(0).normal(size=20))
    body = json.dumps({"dataframe_split": {"columns": cols, "data": [row]}}).encode()
    frames = [_codec.decode_mlflow(body, "application/json").frame for _ in range(n)]
    # Under traffic a request's frame dies with the request; here all of them live, and
    # full collections scanning them would be counted as the logger's: freeze them.
    gc.collect()
    gc.freeze()
    out = np.array([1])
    model = "sha256:" + "a" * 64

    def run(warm: bool) -> None:
        plog = PredictionLogger(ArtifactStore(tempfile.mkdtemp()), name="probe", writer=writer)
        if warm:
            plog.prepare()
            for f in frames[:10_000]:
                plog.log_request(f, out, model=model, variant="v", request_id=_new_request_id())
            plog.flush()
        c0 = time.process_time()
        for f in frames:
            plog.log_request(
                f, out, model=model, variant="v", latency_ms=0.2, request_id=_new_request_id()
            )
        plog._drain()
        cpu = time.process_time() - c0
        print(
            f"{'steady' if warm else 'first '}: {cpu / n * 1e6:.2f} us CPU per logged request "
            f"({n} requests, {plog.segments_written} segments)",
            flush=True,
        )
        plog.close()

    run(False)
    run(True)
    run(True)


if __name__ == "__main__":
    main()
