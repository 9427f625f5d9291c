"""The steps of a gated model pipeline, as plain functions over mlopskit.

The GitHub Actions workflow runs them through ``train.py`` and ``mlopskit check``; the
Airflow DAG and the Prefect flow call them as tasks. Every step reads and writes the
workspace that ``MLOPSKIT_HOME`` names (a directory, or ``s3://bucket/prefix`` on a team).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import mlopskit as mk
from mlopskit.checks import Gate

FEATURES = ["tenure", "monthly_spend", "support_calls", "plan"]
TARGET = "churned"


def make_customers(rows: int, seed: int) -> pd.DataFrame:
    """Synthetic customers: three numeric features, a plan, and whether they churned."""
    rng = np.random.default_rng(seed)
    tenure = rng.gamma(2.0, 12.0, rows)
    spend = rng.normal(60, 15, rows)
    calls = rng.poisson(1.5, rows)
    plan = rng.choice(["basic", "plus", "pro"], rows, p=[0.5, 0.3, 0.2])
    logit = 2.0 * calls - 0.15 * tenure + 0.05 * (spend - 60) + (plan == "basic") * 1.0
    churned = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "tenure": tenure,
            "monthly_spend": spend,
            "support_calls": calls.astype(float),
            "plan": plan,
            TARGET: churned,
        }
    )


def train(seed: int = 0, *, bad: bool = False) -> str:
    """Commit this week's data, fit a model, register it; return its URI (``churn/N``).

    ``bad=True`` fits on shuffled labels: a model the gates must stop.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    data = make_customers(1300, seed)
    mk.datasets.commit("train", data.iloc[:1000].reset_index(drop=True), message=f"seed {seed}")
    mk.datasets.commit("holdout", data.iloc[1000:].reset_index(drop=True), message=f"seed {seed}")
    with mk.start_run(experiment="churn", params={"seed": seed, "bad": bad}) as run:
        frame = mk.datasets.load("train")
        X, y = frame[FEATURES], frame[TARGET].to_numpy()
        if bad:
            y = np.random.default_rng(seed).permutation(y)
        model = make_pipeline(
            ColumnTransformer(
                [("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"])],
                remainder="passthrough",
            ),
            LogisticRegression(max_iter=500),
        ).fit(X, y)
        run.log_metric("train_accuracy", float(model.score(X, y)))
        mv = mk.registry.register(
            "churn",
            model,
            run=run,
            signature=mk.infer_signature(X),
            input_example=X.head(5),
        )
    return mv.uri


def gates() -> list[Gate]:
    """The gates a candidate passes to become ``churn@champion`` (the same as promote.yaml)."""
    return [
        Gate("data", current="holdout", reference="train", max_row_change=None),
        Gate("model", data="holdout", target=TARGET, metrics={"accuracy": 0.05}, bootstrap=200),
        Gate("latency", data="holdout", target=TARGET, p95_ms=250, requests=50),
        Gate("signature"),
        Gate("environment"),
    ]


def promote(candidate: str) -> bool:
    """Promote ``candidate`` to champion if every gate passes; True when it moved."""
    mv = mk.registry.get(candidate)
    try:
        mk.registry.promote(mv.name, mv.number, to="champion", require=gates())
    except mk.registry.PromotionRefusedError as exc:
        for result in exc.results:
            print(result.summary())
        return False
    return True


def pending_retraining() -> list[Any]:
    """The pending retraining triggers about the champion (a sensor polls this)."""
    return mk.checks.list_triggers(pending=True, subject="churn@champion")


def acknowledge(triggers: list[Any], by: str) -> None:
    """Mark the triggers this run answers as taken."""
    for trig in triggers:
        mk.checks.ack_trigger(trig.id, by=by)
