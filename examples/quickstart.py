"""mlopskit end to end: one store under data, runs, models and monitoring, with lineage.

    python examples/quickstart.py

Runs as is with only the core dependencies (no network; a server on 127.0.0.1 only
if the ``serve`` extra is installed), in a temporary workspace whose path it prints:

1. the artifact store: objects, a directory, verification, a ref with history;
2. a dataset committed as a version;
3. a ``@versioned`` feature step (the second call is a cache hit);
4. training tracked with ``@track`` (params, metrics per epoch, the model as an artifact);
5. the model registered, the ``champion`` alias moved and rolled back;
6. drift of a production batch against a stored reference profile, as an HTML report;
7. the lineage of the champion, and a final check of the whole store;
8. deployment: the champion served with a 10% canary (over HTTP on 127.0.0.1 when
   ``pymlopskit[serve]`` is installed, routed in-process otherwise), every prediction
   logged; the canary promoted; traffic with a shifted feature; the deployment loop
   finds the drift in the logged traffic and rolls the alias back;
9. the audit trail of a served prediction, from the request id its response carried:
   prediction -> package -> model version -> run -> ``@versioned`` step -> dataset,
   in sentences.
"""

from __future__ import annotations

import json
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

import mlopskit as mk


class LogisticModel:
    """A tiny logistic-regression model (numpy only)."""

    def __init__(self, weights: np.ndarray, bias: float, columns: list[str]) -> None:
        self.weights = weights
        self.bias = bias
        self.columns = columns

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        z = frame[self.columns].to_numpy() @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(frame) > 0.5).astype(int)


def make_customers(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Synthetic churn data; ``shift`` moves the usage distribution (production drift)."""
    rng = np.random.default_rng(seed)
    usage = rng.gamma(2.0 + shift, 10.0, n)
    tenure = rng.integers(1, 60, n).astype(float)
    support = rng.poisson(1.0 + shift, n).astype(float)
    logit = 1.5 - 0.08 * usage - 0.03 * tenure + 0.6 * support
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {"usage": usage, "tenure": tenure, "support_calls": support, "churned": churned}
    )


@mk.versioned
def make_features(raw: pd.DataFrame) -> pd.DataFrame:
    """Standardize the inputs. Stored by content: same code + same data = a cache hit."""
    time.sleep(0.3)  # stands in for an expensive feature pipeline
    features = raw.drop(columns="churned")
    features = (features - features.mean()) / features.std()
    return features.assign(churned=raw["churned"])


@mk.track(experiment="churn")
def train(features: pd.DataFrame, lr: float = 0.5, epochs: int = 60) -> dict[str, float]:
    """Gradient descent on the log loss; every epoch's loss is a metric."""
    columns = [c for c in features.columns if c != "churned"]
    x, y = features[columns].to_numpy(), features["churned"].to_numpy()
    w, b = np.zeros(len(columns)), 0.0
    for epoch in range(epochs):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        w -= lr * x.T @ (p - y) / len(y)
        b -= lr * float(np.mean(p - y))
        loss = float(-np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)))
        mk.log_metric("loss", loss, step=epoch)
    model = LogisticModel(w, b, columns)
    accuracy = float(np.mean(model.predict(features) == y))
    mk.log_artifact(model, name="model")
    return {"accuracy": accuracy, "final_loss": loss}


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="mlopskit-quickstart-"))
    workspace = mk.set_workspace(root / "workspace")
    store = workspace.store
    print(f"workspace: {workspace.uri}\n")

    # 1. The store: content-addressed, deduplicated, verified.
    config = store.put({"lr": 0.5, "epochs": 60})
    assert store.put({"epochs": 60, "lr": 0.5}) == config  # same content, same object
    docs = root / "notes"
    docs.mkdir()
    (docs / "README.txt").write_text("churn model notes\n")
    tree = store.put_dir(docs)
    store.refs.set("notes/latest", tree, message="initial notes")
    print(
        f"1. stored config {config.digest[:19]}…, notes tree {tree.digest[:19]}…; "
        f"verify ok={store.verify().ok}"
    )

    # 2. A dataset version.
    raw = make_customers(5_000, seed=0)
    data = mk.datasets.commit("customers", raw, message="monthly export")
    print(f"2. dataset {data.uri}: {data.rows} rows")

    # 3. A versioned feature step: the second call loads the stored output.
    t0 = time.perf_counter()
    features = make_features(mk.datasets.load("customers"))
    t1 = time.perf_counter()
    make_features(mk.datasets.load("customers"))
    t2 = time.perf_counter()
    print(f"3. features: first call {1e3 * (t1 - t0):.0f} ms, cached call {1e3 * (t2 - t1):.0f} ms")

    # 4. Tracked training runs (a small sweep under one parent run).
    with mk.start_run("churn", name="lr-sweep") as sweep:
        mk.log_input(data)
        for lr in (0.05, 0.5):
            train(features, lr=lr)
    runs = mk.search_runs(
        "churn", filter=f"parent_id = '{sweep.run_id}'", order_by=["metrics.accuracy DESC"]
    )
    best = runs.iloc[0]
    print(
        f"4. best of {len(runs)} runs: lr={best['params.lr']} "
        f"accuracy={best['metrics.accuracy']:.3f}"
    )

    # 5. Register, promote, roll back.
    best_run = mk.get_run(best["run_id"])
    model = store.get(best_run.artifacts["model"])
    v1 = mk.registry.register(
        "churn",
        model,
        run=best_run.run_id,
        inputs=[data],
        metrics={"accuracy": float(best["metrics.accuracy"])},
        input_example=features.drop(columns="churned").head(3),
    )
    mk.registry.set_alias("churn", "champion", v1.number, message="first release")
    tweaked = LogisticModel(model.weights * 0.5, model.bias, model.columns)
    v2 = mk.registry.register("churn", tweaked, message="experimental shrinkage")
    mk.registry.set_alias("churn", "champion", v2.number, message="try v2")
    mk.registry.rollback("churn", "champion", message="v2 underperformed")
    champion = mk.registry.load("churn@champion")
    print(
        f"5. champion is {mk.registry.get('churn@champion').uri} after rollback; "
        f"predicts {champion.predict(features.head(5)).tolist()}"
    )

    # 6. Drift: compare production against a stored reference profile.
    profile_ref = store.put(mk.drift.profile(raw.drop(columns="churned")))
    profile = store.get(profile_ref)
    production = make_customers(2_000, seed=1, shift=1.0).drop(columns="churned")
    report = mk.drift.compare(profile, production)
    page = report.to_html(root / "drift.html")
    drifted = ", ".join(report.drifted_columns) or "none"
    print(
        f"6. drift: {report.n_drifted}/{len(report.columns)} columns drifted ({drifted}); "
        f"report {root / 'drift.html'} ({len(page) // 1024} KiB)"
    )

    # 7. Lineage and a final integrity check of everything stored.
    print("7. lineage of churn@champion:")
    print(mk.lineage("churn@champion", direction="up").to_mermaid())
    check = store.verify()
    print(f"   store verified: {check.checked} objects, ok={check.ok}")
    assert check.ok

    # 8. Deploy: the champion with a 10% canary, then drifted traffic and a rollback.
    request_id = deploy_step(features.drop(columns="churned"), v2.number)

    # 9. Where did a served prediction come from? Walk up from the request id it answered with.
    print("9. " + mk.lineage(request_id, direction="up").explain())


def score(url: str, frame: pd.DataFrame, key: str) -> tuple[str, str]:
    """POST rows to the server's /invocations (MLflow's contract): the variant that answered
    and the request id the response carries (the handle of its audit trail)."""
    body = json.dumps({"dataframe_records": frame.to_dict(orient="records")}).encode()
    request = urllib.request.Request(
        f"{url}/invocations",
        data=body,
        headers={"Content-Type": "application/json", "X-Mlopskit-Key": key},
    )
    with urllib.request.urlopen(request) as r:
        return str(r.headers["X-Mlopskit-Variant"]), str(r.headers["X-Request-Id"])


def deploy_step(inputs: pd.DataFrame, canary: int) -> str:
    """Serve churn@champion with a 10% canary, promote it, send drifted traffic, roll back;
    returns the request id of one served prediction."""
    from mlopskit._optional import is_available
    from mlopskit.deploy import (
        DeploymentLoop,
        ModelPackage,
        PredictionLogger,
        PredictionRecord,
        RollbackPolicy,
        Router,
        serve,
    )

    for version in (1, canary):  # each package keeps the training inputs' drift profile
        ModelPackage.from_registry(f"churn/{version}", reference=inputs)
    mk.registry.set_alias("churn", "canary", canary)
    router = Router(
        {"champion": "churn@champion", "canary": "churn@canary"},
        {"champion": 0.9, "canary": 0.1},
    )
    plog = PredictionLogger(name="churn")
    traffic = inputs.sample(200, random_state=3)
    shifted = traffic.assign(usage=traffic["usage"] + 2.0)  # production moved
    answered: Counter[str] = Counter()
    if is_available("uvicorn") and is_available("starlette"):
        with serve(router, background=True, logger=plog) as server:
            for i in range(len(traffic)):
                variant, request_id = score(server.url, traffic.iloc[[i]], key=f"customer-{i}")
                answered[variant] += 1
            router.promote("canary", message="canary healthy")
            for i in range(0, len(shifted), 20):
                score(server.url, shifted.iloc[i : i + 20], key=f"batch-{i}")
        where = f"served on {server.url}"
    else:  # the same router, in-process
        for i in range(len(traffic)):
            row = traffic.iloc[[i]]
            routed = router.predict(row, key=f"customer-{i}")
            request_id = f"request-{i}"
            plog.log(
                PredictionRecord(
                    row,
                    routed.outputs,
                    routed.predictor.digest,
                    routed.variant,
                    request_id=request_id,
                )
            )
            answered[routed.variant] += 1
        router.promote("canary", message="canary healthy")
        routed = router.predict(shifted)
        plog.log(PredictionRecord(shifted, routed.outputs, routed.predictor.digest, routed.variant))
        plog.close()
        where = "routed in-process"
    loop = DeploymentLoop(
        "churn", "champion", log=plog, policy=RollbackPolicy(min_rows=100), drift_share=0.3
    )
    check = loop.check()
    router.refresh()
    print(
        f"8. deploy: {where}: {dict(answered)}; promoted churn/{canary}; "
        f"loop: {check.reason or 'no drift'}; champion is {mk.registry.get('churn@champion').uri}"
    )

    return request_id


if __name__ == "__main__":
    main()
