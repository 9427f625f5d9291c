"""Version data and models end to end, in a temporary workspace.

    python examples/versioning.py

Commits a dataset, runs a @versioned feature step (twice: the second call is a hit),
trains and registers two models, moves the champion alias, rolls it back, and prints
the audit log and the lineage of the champion.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
import pandas as pd

import mlopskit as mk


class MeanClassifier:
    """Predicts 1 when a row's feature is above the training mean (plus a margin)."""

    def __init__(self, mean: float, margin: float) -> None:
        self.mean = mean
        self.margin = margin

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (X["x_std"] > self.mean + self.margin).to_numpy().astype(int)


@mk.versioned
def standardize(df: pd.DataFrame) -> pd.DataFrame:
    """Feature step: stored by content, reused when code and input are unchanged."""
    time.sleep(0.2)  # stands in for real work
    return df.assign(x_std=(df["x"] - df["x"].mean()) / df["x"].std())


@mk.versioned
def fit(features: pd.DataFrame, margin: float) -> MeanClassifier:
    """Training step: the model it returns carries its lineage into the registry."""
    return MeanClassifier(float(features["x_std"].mean()), margin)


def main() -> None:
    with tempfile.TemporaryDirectory() as root, mk.Workspace(f"{root}/.mlopskit"):
        rng = np.random.default_rng(0)
        raw = pd.DataFrame({"id": np.arange(500), "x": rng.normal(size=500)})
        data = mk.datasets.commit("events", raw, message="nightly export")
        print(f"dataset {data.uri}: {data.rows} rows, digest {data.digest[:19]}…")

        start = time.perf_counter()
        features = standardize(mk.datasets.load("events"))
        miss = time.perf_counter() - start
        start = time.perf_counter()
        standardize(mk.datasets.load("events"))
        hit = time.perf_counter() - start
        print(f"@versioned standardize: miss {miss * 1e3:.0f} ms, hit {hit * 1e3:.0f} ms")

        baseline = mk.registry.register(
            "clf",
            fit(features, 0.0),
            input_example=features.head(3),
            inputs=[data],
            metrics={"acc": 0.71},
            message="baseline",
        )
        better = mk.registry.register(
            "clf",
            fit(features, 0.5),
            metrics={"acc": 0.78},
            message="with margin",
        )
        mk.registry.set_alias("clf", "champion", baseline.number, message="first release")
        mk.registry.set_alias("clf", "champion", better.number, message="better accuracy")
        print("champion ->", mk.registry.get("clf@champion").uri)

        restored = mk.registry.rollback("clf", "champion", message="regression in prod")
        print("rolled back, champion ->", restored.uri)
        champion = mk.registry.load("clf@champion")
        print("champion predicts", champion.predict(features.head(5)).tolist())

        print("\naudit log of clf:")
        for e in mk.registry.history("clf"):
            print(
                f"  {e.action:<10} {e.alias or '':<9} {e.from_version} -> {e.to_version}  {e.message}"
            )

        print("\nlineage of the features step's output:")
        for record in mk.lineage(standardize.versions()[0]):
            print(" ", record)
        print("\nlineage of the champion (upstream):")
        print(mk.lineage("clf@champion", direction="up").to_mermaid())


if __name__ == "__main__":
    main()
