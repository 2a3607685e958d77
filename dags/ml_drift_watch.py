"""Watch the served severity champion for drift; on drift, start ml_retrain (an Asset) and notify.

check (the champion's recent serving windows against its training reference:
report stored, MLflow metrics on the version's run; ``ml.drift_watch``) →
drifted? (short-circuit: only a ``drift`` status goes on) → announce (the
drift Asset event, which ``ml_retrain`` is scheduled on) → notify (the live
dashboard of every project the version served, and Slack when
``AUTOPR_DRIFT_NOTIFY_CONNECTION`` names a webhook connection).  Logic lives
in ``ml.drift_watch`` / ``ml.drift``; this file only wires it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, dag, get_current_context, task

from ml.assets import DRIFT_WATCH_SCHEDULE, MODEL_DRIFT_ASSET

model_drift = Asset(MODEL_DRIFT_ASSET)


@dag(
    dag_id="ml_drift_watch",
    schedule=DRIFT_WATCH_SCHEDULE,
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2)},
    tags=["autopr", "ml"],
    doc_md=__doc__,
)
def ml_drift_watch():
    @task
    def check() -> dict:
        """The champion's drift report (stored in the app DB and logged to MLflow)."""
        from ml.drift_watch import check_drift, summary

        report = check_drift()
        print(summary(report))
        return report

    @task.short_circuit
    def drifted(report: dict) -> bool:
        """False (skip announce and notify) unless the report's status is drift."""
        return report["status"] == "drift"

    @task(outlets=[model_drift])
    def announce(report: dict, *, outlet_events=None) -> dict:
        """The drift Asset event: ml_retrain is scheduled on it."""
        outlet_events[model_drift].extra = {k: report[k] for k in ("model_name", "model_version", "max_psi",
                                                                   "worst_feature", "predictions", "computed_at")}
        return report

    @task
    def notify(report: dict) -> list[dict]:
        """A warning on the dashboard of each project the version served (and Slack when configured)."""
        from include.actions.context import RunContext
        from include.actions.notification import notification
        from include.db.session import session_scope
        from include.events.schema import DEFAULT_PROJECT
        from include.settings import get_settings
        from ml.drift_watch import projects_served, summary

        settings = get_settings()
        since = datetime.fromisoformat(report["computed_at"]) - timedelta(hours=settings.drift_window_hours)
        with session_scope() as session:
            projects = projects_served(session, report["model_name"], report["model_version"], since)
        run_id = get_current_context()["run_id"]
        text = "Model drift: " + summary(report)
        sent = []
        for project in projects or [DEFAULT_PROJECT]:
            ctx = RunContext(project=project, workflow_id="ml_drift_watch", workflow_version=0,
                             dag_id="ml_drift_watch", run_id=run_id)
            sent.append(notification(f"drift:{project}", {"channel": "dashboard", "level": "warning", "message": text,
                                                "title": "Model drift"}, ctx))
        if settings.drift_notify_connection:
            ctx = RunContext(project=DEFAULT_PROJECT, workflow_id="ml_drift_watch", workflow_version=0,
                             dag_id="ml_drift_watch", run_id=run_id)
            sent.append(notification("notify", {"channel": "slack", "message": text,
                                                "connection_id": settings.drift_notify_connection}, ctx))
        return sent

    report = check()
    gate = drifted(report)
    announced = announce(report)
    gate >> announced
    notify(announced)


ml_drift_watch()
