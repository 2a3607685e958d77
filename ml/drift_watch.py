"""The drift watch: the served champion's recent windows against its training reference (the drift DAG's library).

Why this module exists: the ``ml_drift_watch`` DAG's tasks are one call each,
and the same calls run in the tests and the bench without Airflow.

* :func:`reference_for` — the reference profile of a model version
  (:func:`ml.drift.build_reference`), kept as the MLflow artifact
  :data:`REFERENCE_ARTIFACT` of the version's own run, next to the model.  The
  retrain logs it when it registers a challenger (:func:`log_reference`); a
  version registered before that gets it the first time it is watched, built
  from the holdout its training run logged (rows it did not fit on).
* :func:`check_drift` — sums the ``ml_drift_windows`` rows the serving side
  wrote for the version over ``settings.drift_window_hours``, compares them
  with the reference (:func:`ml.drift.compare`), stores the report in
  ``ml_drift_reports`` and logs it as MLflow metrics on the version's run
  (``drift_max_psi``, ``drift_psi_<feature>``, ``drift_predictions``; the step
  is the check's Unix time) and as tags on the model version.
* :func:`latest_reports` — the newest reports, for the API and the dashboard.
* :func:`projects_served` — the projects the version answered in the window,
  the ones a drift notification goes to.
"""

from __future__ import annotations

import json
import logging
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from include.db.models import MLDriftReport, MLDriftWindow, MLPrediction, Project
from include.db.session import session_scope
from include.settings import Settings, get_settings
from ml.drift import REFERENCE_ARTIFACT, build_reference, check_profile, compare, log_reference, merge_profiles

log = logging.getLogger(__name__)

#: Window rows older than this are deleted by the check (a window never reaches that far back).
WINDOW_RETENTION = timedelta(days=30)


def _client(settings: Settings):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)



def _download(client: Any, run_id: str, path: str, settings: Settings, into: str) -> Path:
    import mlflow.artifacts

    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=into,
                                                    tracking_uri=settings.mlflow_tracking_uri))


def _has_artifact(client: Any, run_id: str, path: str) -> bool:
    folder, _, _ = path.rpartition("/")
    return any(a.path == path for a in client.list_artifacts(run_id, folder or None))


def _holdout_of(client: Any, version: Any, settings: Settings, into: str):
    """The holdout the version's training run logged (``holdout/*.parquet`` of the ``training.run_id`` tag)."""
    import pandas as pd

    training_run = (version.tags or {}).get("training.run_id")
    if not training_run:
        raise LookupError(f"{version.name} v{version.version} has no 'training.run_id' tag, so no holdout to build "
                          f"its drift reference from; log one with ml.drift.log_reference")
    files = [a.path for a in client.list_artifacts(training_run, "holdout") if a.path.endswith(".parquet")]
    if not files:
        raise LookupError(f"training run {training_run} of {version.name} v{version.version} logged no holdout "
                          f"Parquet under 'holdout/'")
    return pd.read_parquet(_download(client, training_run, files[0], settings, into))


def reference_for(version: Any, settings: Settings | None = None) -> dict[str, Any]:
    """The reference profile of a registered model version: its stored artifact, else built from its holdout and stored."""
    settings = settings or get_settings()
    client = _client(settings)
    with tempfile.TemporaryDirectory(prefix="autopr-drift-") as tmp:
        if _has_artifact(client, version.run_id, REFERENCE_ARTIFACT):
            reference = json.loads(_download(client, version.run_id, REFERENCE_ARTIFACT, settings, tmp).read_text())
            check_profile(reference, f"{REFERENCE_ARTIFACT} of run {version.run_id}")
            return reference
        import mlflow.artifacts
        import mlflow.sklearn

        holdout = _holdout_of(client, version, settings, tmp)
        # through this client's tracking URI, as the serving cache loads a version
        uri = client.get_model_version_download_uri(version.name, version.version)
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=f"{tmp}/model",
                                                    tracking_uri=settings.mlflow_tracking_uri)
        model = mlflow.sklearn.load_model(local)
    reference = build_reference(model, holdout, source=f"holdout of training run {version.tags['training.run_id']}")
    log_reference(client, version.run_id, reference)
    log.info("built the drift reference of %s v%s from %d holdout rows", version.name, version.version, len(holdout))
    return reference


def observed_since(session: Session, model_name: str, model_version: str, since: datetime
                   ) -> tuple[dict[str, Any], datetime | None, datetime | None]:
    """The summed profile of the version's windows that ended at or after ``since``, with their first and last time."""
    rows = session.execute(
        select(MLDriftWindow.predictions, MLDriftWindow.counts, MLDriftWindow.started_at, MLDriftWindow.ended_at)
        .where(MLDriftWindow.model_name == model_name, MLDriftWindow.model_version == model_version,
               MLDriftWindow.ended_at >= since)
    ).all()
    profile = merge_profiles({"predictions": r.predictions, "features": r.counts} for r in rows)
    return profile, min((r.started_at for r in rows), default=None), max((r.ended_at for r in rows), default=None)


def check_drift(*, alias: str = "champion", settings: Settings | None = None, now: datetime | None = None,
                log_to_mlflow: bool = True) -> dict[str, Any]:
    """Judge the version behind ``alias`` on its recent windows; store, log and return the report.

    Without a model behind the alias the report's status is ``no_model`` and
    nothing is stored.  The report is JSON-ready (what the DAG passes on).
    """
    from mlflow.exceptions import MlflowException

    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    name = settings.severity_model_name
    client = _client(settings)
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        return {"status": "no_model", "model_name": name, "alias": alias, "computed_at": now.isoformat(),
                "detail": f"no version of {name!r} has the alias {alias!r} ({exc.error_code})"}
    reference = reference_for(version, settings)
    since = now - timedelta(hours=settings.drift_window_hours)
    with session_scope() as session:
        observed, first, last = observed_since(session, name, str(version.version), since)
        report = compare(reference, observed, threshold=settings.drift_psi_threshold,
                         min_predictions=settings.drift_min_predictions)
        report.update({
            "model_name": name, "model_version": str(version.version), "alias": alias, "run_id": version.run_id,
            "computed_at": now.isoformat(), "window_hours": settings.drift_window_hours,
            "window_start": first.isoformat() if first else None, "window_end": last.isoformat() if last else None,
            "reference_source": reference.get("source"),
        })
        session.add(MLDriftReport(model_name=name, model_version=str(version.version), computed_at=now,
                                  status=report["status"], max_psi=report["max_psi"], report=report))
        session.execute(delete(MLDriftWindow).where(MLDriftWindow.ended_at < now - WINDOW_RETENTION))
    if log_to_mlflow:
        _log_metrics(client, version, report, now)
    log.info("drift of %s v%s: %s (max PSI %s on %s, %d predictions)", name, version.version, report["status"],
             report["max_psi"], report["worst_feature"], report["predictions"])
    return report


def _log_metrics(client: Any, version: Any, report: dict[str, Any], now: datetime) -> None:
    from mlflow.entities import Metric

    ms, step = int(now.timestamp() * 1000), int(now.timestamp())
    values = {"drift_predictions": float(report["predictions"])}
    if report["max_psi"] is not None:
        values["drift_max_psi"] = report["max_psi"]
    for feature, scores in report["features"].items():
        if scores["psi"] is not None:
            values[f"drift_psi_{feature}"] = scores["psi"]
    client.log_batch(version.run_id, metrics=[Metric(k, float(v), ms, step) for k, v in values.items()])
    for key, value in {"drift.status": report["status"], "drift.max_psi": str(report["max_psi"]),
                       "drift.worst_feature": str(report["worst_feature"]),
                       "drift.computed_at": report["computed_at"]}.items():
        client.set_model_version_tag(version.name, version.version, key, value)


def latest_reports(session: Session, model_name: str, limit: int = 24) -> list[dict[str, Any]]:
    """The model's newest drift reports, newest first (each the stored report plus its id)."""
    rows = session.scalars(select(MLDriftReport).where(MLDriftReport.model_name == model_name)
                           .order_by(MLDriftReport.computed_at.desc(), MLDriftReport.id.desc()).limit(limit)).all()
    return [{"id": r.id, **r.report} for r in rows]


def projects_served(session: Session, model_name: str, model_version: str, since: datetime) -> list[str]:
    """Slugs of the projects the version answered predictions for since ``since`` (the prediction log's rows)."""
    return list(session.scalars(
        select(Project.slug).join(MLPrediction, MLPrediction.project_id == Project.id)
        .where(MLPrediction.model_name == model_name, MLPrediction.model_version == model_version,
               MLPrediction.created_at >= since).distinct().order_by(Project.slug)
    ).all())


def summary(report: dict[str, Any]) -> str:
    """One line saying what a report found (the notification's text)."""
    if report.get("status") == "no_model":
        return report.get("detail", "no model to watch")
    worst = report.get("worst_feature")
    return (f"{report['model_name']} v{report['model_version']}: {report['status']} — max PSI "
            f"{report['max_psi']} on {worst} (threshold {report['threshold']}), drifted: "
            f"{', '.join(report['drifted_features']) or 'none'}; {report['predictions']} predictions since "
            f"{report.get('window_start') or '-'}")
