"""A canary ramp over real HTTP: raised step by step on live traffic, promoted or rolled back.

    pip install 'pymlopskit[serve,sklearn]'
    python examples/canary_ramp.py

In a temporary workspace, on 127.0.0.1 only:

1. churn/1 is the champion and churn/2 the canary of a router whose split is durable
   (``deployment="churn"``): every server process would route with it;
2. the router is served, every prediction logged, and a ``Ramp`` runs on a background
   thread: each step raises the canary's share once its logged traffic passes the gate
   (error rate, latency p99, drift); at 100% it promotes churn/2 to champion;
3. churn/3 becomes the next canary, but its traffic has drifted: the ramp rolls it
   back at its first step, the reason in the registry history.
"""

from __future__ import annotations

import json
import tempfile
import time
import urllib.request

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import mlopskit as mk
from mlopskit.deploy import ModelPackage, PredictionLogger, Ramp, RampGate, Router, serve


def customers(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.integers(1, 60, n).astype(float) + shift,
            "spend": rng.gamma(2.0, 20.0, n) + shift,
            "calls": rng.poisson(1.0, n).astype(float),
        }
    )


def send(url: str, frame: pd.DataFrame, key: str) -> str:
    body = json.dumps({"dataframe_records": frame.to_dict(orient="records")}).encode()
    req = urllib.request.Request(
        f"{url}/invocations",
        data=body,
        headers={"Content-Type": "application/json", "X-Mlopskit-Key": key},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return str(r.headers["X-Mlopskit-Variant"])


def drive(url: str, ramp: Ramp, seed: int, shift: float = 0.0) -> None:
    """Send keyed requests until the ramp promotes or rolls back."""
    rng = np.random.default_rng(seed)
    i = 0
    while not (ramp.history and ramp.history[-1].finished):
        send(url, customers(3, int(rng.integers(1 << 30)), shift), key=f"c-{seed}-{i}")
        i += 1
        if i > 5000:
            raise SystemExit("the ramp did not finish")
    ramp.stop()


def main() -> None:
    with tempfile.TemporaryDirectory() as root, mk.Workspace(root):
        X = customers(600, seed=0)
        y = (X["spend"] > 40).astype(int)
        for c in (1.0, 0.5, 0.2):
            mv = mk.registry.register(
                "churn", LogisticRegression(C=c).fit(X, y), input_example=X.head(3)
            )
            ModelPackage.from_registry(mv, reference=X)  # the drift reference
        mk.registry.set_alias("churn", "champion", 1)
        mk.registry.set_alias("churn", "canary", 2)

        router = Router(
            {"champion": "churn@champion", "canary": "churn@canary"},
            {"champion": 1.0, "canary": 0.0},
            deployment="churn",
            sync_interval=0.2,
        )
        plog = PredictionLogger(name="churn", flush_every=0.2)
        gate = RampGate(max_error_rate=0.01, max_p99_ms=500, max_drift_share=0.5, min_requests=25)
        ramp = Ramp(router, steps=[0.25, 1.0], gate=gate, interval=0, log=plog, poll=0.2)
        with serve(router, background=True, logger=plog) as server:
            print("1. serving", server.url, "with", router.split)
            t0 = time.perf_counter()
            ramp.start()
            drive(server.url, ramp, seed=1)
            print(f"2. ramp of churn/2 in {time.perf_counter() - t0:.1f} s:")
            for step in ramp.history:
                if step.action != "wait":
                    print(f"   {step.action:8} {step.reason}")
            last = mk.registry.history("churn", "champion")[-1]
            assert last.action == "promote" and mk.registry.get("churn@champion").number == 2
            print("   champion alias:", last.action, last.from_version, "->", last.to_version)
            print("   gates:", [g.gate for g in last.gates])

            mk.registry.set_alias("churn", "canary", 3, message="next candidate")
            router.refresh()
            ramp.reset()
            ramp.history.clear()
            ramp.start()
            drive(server.url, ramp, seed=2, shift=40.0)
            rollback = ramp.history[-1]
            assert rollback.action == "rollback", rollback
            print("3. churn/3:", rollback.reason)
            print("   canary alias:", mk.registry.history("churn", "canary")[-1].message)
            assert router.split["canary"] == 0.0
            assert {send(server.url, customers(1, i), f"k{i}") for i in range(20)} == {"champion"}
        print("   split history:", [h["op"] for h in router.split_history()])


if __name__ == "__main__":
    main()
