"""A Prefect flow: train, gate, promote — each a task calling mlopskit.

``python prefect_flow.py`` runs it once; deploy it with ``flow.serve()`` or a work pool,
with ``MLOPSKIT_HOME`` set for the workers.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pipeline
from prefect import flow, task


@task
def pending() -> list[str]:
    return [t.id for t in pipeline.pending_retraining()]


@task
def train(seed: int) -> str:
    return pipeline.train(seed)


@task
def gate_and_promote(candidate: str) -> bool:
    return pipeline.promote(candidate)


@flow(name="churn-retraining")
def churn_retraining(seed: int = 0, force: bool = False) -> bool:
    """Retrain when a trigger is pending (or ``force``); promote only through the gates."""
    ids = pending()
    if not ids and not force:
        return False
    promoted = gate_and_promote(train(seed))
    if promoted:
        import mlopskit as mk

        for trigger_id in ids:
            mk.checks.ack_trigger(trigger_id, by="prefect:churn-retraining")
    return promoted


if __name__ == "__main__":
    print(churn_retraining(force=True))
