"""Deploying a model with mlopskit: package, serve with a canary, watch, roll back.

    pip install 'pymlopskit[serve,sklearn]'
    python examples/deploy.py

In a temporary workspace, on 127.0.0.1 only:

1. two scikit-learn versions of a churn model are registered; each is packaged with the
   training data's drift profile;
2. the champion is served with a 10% canary (sticky by customer id) over real HTTP,
   every prediction logged; ``/metrics`` counts the answers per variant;
3. the canary is promoted (the registry alias moves, it takes all traffic);
4. traffic with a shifted feature arrives; the deployment loop finds the drift in the
   logged traffic and rolls the alias back; the router follows the registry.
"""

from __future__ import annotations

import json
import tempfile
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import mlopskit as mk
from mlopskit.deploy import (
    DeploymentLoop,
    ModelPackage,
    PredictionLogger,
    RollbackPolicy,
    Router,
    serve,
)


def customers(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Synthetic customers; ``shift`` moves the spend distribution (production drift)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.integers(1, 60, n).astype(float),
            "spend": rng.gamma(2.0, 20.0, n) + shift,
            "calls": rng.poisson(1.0, n).astype(float),
        }
    )


def post(url: str, frame: pd.DataFrame, key: str) -> tuple[list[int], str]:
    """Score ``frame`` through MLflow's /invocations contract; the answer and its variant."""
    body = json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split", index=False))})
    request = urllib.request.Request(
        f"{url}/invocations",
        data=body.encode(),
        headers={"Content-Type": "application/json", "X-Mlopskit-Key": key},
    )
    with urllib.request.urlopen(request) as r:
        return json.load(r)["predictions"], r.headers["X-Mlopskit-Variant"]


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="mlopskit-deploy-"))
    workspace = mk.set_workspace(root / "workspace")
    print(f"workspace: {workspace.uri}\n")

    # 1. Two versions, each packaged with the training data's drift profile.
    train = customers(4_000, seed=0)
    churned = (train["calls"] * 10 - train["spend"] * 0.2 + train["tenure"] * 0.1 > 0).astype(int)
    for c in (0.05, 1.0):
        model = LogisticRegression(C=c, max_iter=500).fit(train, churned)
        mv = mk.registry.register("churn", model, input_example=train.head(5))
        ModelPackage.from_registry(mv.uri, reference=train)
    mk.registry.set_alias("churn", "champion", 1, message="first release")
    mk.registry.set_alias("churn", "canary", 2, message="candidate")
    print("1. registered churn/1 (champion) and churn/2 (canary), packaged with a profile")

    # 2. Serve the champion with a 10% canary, sticky by customer id, every call logged.
    router = Router(
        {"champion": "churn@champion", "canary": "churn@canary"},
        {"champion": 0.9, "canary": 0.1},
    )
    plog = PredictionLogger(name="churn")
    traffic = customers(300, seed=1)
    with serve(router, background=True, logger=plog) as server:
        answered = Counter()
        for i in range(len(traffic)):
            _, variant = post(server.url, traffic.iloc[[i]], key=f"customer-{i}")
            answered[variant] += 1
        again = post(server.url, traffic.iloc[[7]], key="customer-7")[1]
        metrics = urllib.request.urlopen(f"{server.url}/metrics").read().decode()
        ok = [line for line in metrics.splitlines() if line.startswith("mlopskit_requests_total")]
        print(f"2. served {server.url}: {dict(answered)}; customer-7 always meets {again}")
        print("   " + "\n   ".join(ok))

        # 3. The canary looks fine: promote it (the alias moves; it takes all traffic).
        promoted = router.promote("canary", message="canary healthy for 300 requests")
        print(f"3. promoted: churn@champion -> {promoted.uri}; split {router.split}")

        # 4. Production shifts: spend is 80 higher for everyone.
        shifted = customers(400, seed=2, shift=80.0)
        for i in range(0, len(shifted), 50):
            post(server.url, shifted.iloc[i : i + 50], key=f"batch-{i}")
    # Leaving the block stopped the server and flushed every logged prediction.

    # One drifted column in three is enough here (drift.compare's drift_share).
    loop = DeploymentLoop(
        "churn", "champion", log=plog, policy=RollbackPolicy(min_rows=100), drift_share=0.3
    )
    check = loop.check()
    assert check.rolled_back_to is not None, check
    print(f"4. loop: {check.reason}")
    print(
        f"   champion is {mk.registry.get('churn@champion').uri} again; router: {router.refresh()}"
    )
    for event in mk.registry.history("churn", "champion"):
        print(f"   {event.action:<9} {event.from_version} -> {event.to_version}  {event.message}")
    logged = plog.read()
    print(
        f"   {len(logged)} predictions logged, by variant: {logged['variant'].value_counts().to_dict()}"
    )


if __name__ == "__main__":
    main()
