"""An Airflow DAG that retrains churn when a monitor left a trigger, gates and promotes.

Put this file and ``pipeline.py`` in the DAGs folder; set ``MLOPSKIT_HOME`` for the
workers. ``python airflow_dag.py`` runs it once in-process with ``dag.test()``.
Works with Airflow 2 (``airflow.decorators``) and 3 (``airflow.sdk``).
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

try:  # Airflow 3
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

import pipeline


@dag(
    dag_id="churn_retraining",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["mlopskit"],
)
def churn_retraining() -> None:
    """Poll triggers → train → gate and promote → acknowledge the triggers."""

    @task
    def pending() -> list[str]:
        # Retrain on evidence (a drift or performance trigger); an empty list skips the rest.
        return [t.id for t in pipeline.pending_retraining()]

    @task.short_circuit
    def any_pending(ids: list[str]) -> bool:
        return bool(ids)

    @task
    def train() -> str:
        return pipeline.train(seed=int(datetime.now().timestamp()) % 1000)

    @task
    def gate_and_promote(candidate: str) -> bool:
        if not pipeline.promote(candidate):
            raise RuntimeError(f"{candidate} failed its gates; churn@champion is unchanged")
        return True

    @task
    def acknowledge(ids: list[str], promoted: bool) -> None:
        import mlopskit as mk

        for trigger_id in ids:
            mk.checks.ack_trigger(trigger_id, by="airflow:churn_retraining")

    ids = pending()
    gate = any_pending(ids)
    candidate = train()
    gate >> candidate
    acknowledge(ids, gate_and_promote(candidate))


dag_object = churn_retraining()

if __name__ == "__main__":
    import mlopskit as mk

    mk.checks.fire_trigger("manual", "churn@champion", reason="airflow_dag.py run by hand")
    dag_object.test()
