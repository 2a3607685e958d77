"""Retrain the severity model and promote it only if it beats the champion.

Runs when the export publishes a new dataset version (the review-feedback
Asset) or weekly.  gate (short-circuit: skip unless at least
``settings.retrain_min_new_rows`` new labelled rows) → train (re-validate the
dataset with GX, freeze the newest rows as the holdout, fit the plain baseline,
linear and XGBoost Pipelines, log them to MLflow, register the one best on the
time-ordered validation slice as ``challenger``, its probabilities moved to the
recent class priors when the label mix moved and that does not lower validation
macro-F1, its drift reference stored on its run) → promote (challenger vs
champion on the same holdout; alias ``champion`` moves only if macro-F1 gains
enough and no class F1 falls past the floor; the task output and the MLflow
run say why).  Logic lives in ``ml.retrain`` / ``ml.registry``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, dag, get_current_context, task

from ml.assets import MODEL_DRIFT_ASSET, REVIEW_FEEDBACK_ASSET, WEEKLY_RETRAIN_CRON


@dag(
    dag_id="ml_retrain",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(WEEKLY_RETRAIN_CRON, timezone="UTC"),
        assets=Asset(REVIEW_FEEDBACK_ASSET) | Asset(MODEL_DRIFT_ASSET),  # new data, or the served model drifted
    ),
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["autopr", "ml"],
    doc_md=__doc__,
)
def ml_retrain():
    @task.short_circuit
    def enough_new_rows() -> bool:
        """False (skip the rest) when fewer than retrain_min_new_rows new labelled rows arrived."""
        from ml.retrain import new_labelled_rows

        counts = new_labelled_rows()
        print(f"new labelled rows: {counts}")
        return counts["new_labelled_rows"] >= counts["min_new_rows"] and counts["new_labelled_rows"] > 0

    @task
    def train() -> dict:
        """Fit the candidates, log them to MLflow, register the best as challenger."""
        from ml.retrain import retrain

        summary = retrain(airflow_run_id=get_current_context()["run_id"])
        print(f"registered challenger v{summary['version']} ({summary['candidate']}): "
              f"macro-F1 {summary['macro_f1']:.3f}, accuracy {summary['accuracy']:.3f}")
        return summary

    @task
    def promote(summary: dict) -> dict:
        """Challenger vs champion on the frozen holdout; the returned dict says why."""
        from ml.registry import promote_challenger

        outcome = promote_challenger(summary["holdout_path"], airflow_run_id=get_current_context()["run_id"])
        print(outcome.get("message", outcome))
        return outcome

    gate = enough_new_rows()
    trained = train()
    gate >> trained
    promote(trained)


ml_retrain()
