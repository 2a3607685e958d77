"""The two learning DAGs import cleanly and run for real with ``dag.test()``.

Real Airflow (SQLite metadata DB migrated once per session), real PostgreSQL
app DB, real MLflow store, real GX.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

DAGS = Path(__file__).resolve().parents[2] / "dags"


def _dag(file_name: str, dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / file_name))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_dag_files_import_cleanly_and_are_scheduled_right():
    export = _dag("ml_feature_export.py", "ml_feature_export")
    retrain = _dag("ml_retrain.py", "ml_retrain")
    assert [o.name for o in export.get_task("publish").outlets] == ["autopr_review_feedback_dataset"]
    assert type(retrain.timetable).__name__ == "AssetOrTimeSchedule"
    assert set(retrain.task_ids) == {"enough_new_rows", "train", "promote"}


@pytest.fixture()
def ingested(db, project):
    from include.db.session import session_scope
    from ml.ingest import ingest_advisories, load_advisories

    frame = load_advisories().sample(frac=1.0, random_state=3).groupby("severity").head(30)
    with session_scope() as s:
        ingest_advisories(s, project, frame.sort_values("published"))
    return frame


def test_export_then_retrain_dags_run_and_gate_skips_without_new_rows(airflow_db, ml_env, ingested, db):
    from mlflow import MlflowClient

    from ml.export import FeedbackDataset
    from ml.registry import CHAMPION, MODEL_NAME

    run = _dag("ml_feature_export.py", "ml_feature_export").test()
    assert str(run.state) == "success", _states(run)
    assert FeedbackDataset(ml_env.dataset_dir).latest().total_rows == len(ingested)

    retrain = _dag("ml_retrain.py", "ml_retrain")
    run = retrain.test()
    assert str(run.state) == "success", _states(run)
    champion = MlflowClient(ml_env.mlflow_tracking_uri).get_model_version_by_alias(MODEL_NAME, CHAMPION)
    assert champion.tags["airflow.run_id"] == run.run_id

    # nothing new since that training: the short-circuit gate skips train and promote
    run = retrain.test()
    states = _states(run)
    assert states["train"] == "skipped" and states["promote"] == "skipped", states


def test_export_dag_refuses_corrupted_data(airflow_db, ml_env, ingested, db):
    from ml.export import FeedbackDataset

    with db.begin() as conn:  # a broken upstream writer: empty messages
        conn.execute(text("UPDATE review_issues SET message = '' WHERE id % 3 = 0"))
    run = _dag("ml_feature_export.py", "ml_feature_export").test()
    states = _states(run)
    assert str(run.state) == "failed" and states["validate"] == "failed", states
    assert states["publish"] == "upstream_failed"
    dataset = FeedbackDataset(ml_env.dataset_dir)
    assert dataset.latest() is None  # nothing published, nothing to train on
    reports = list((dataset.root / "reports").glob("*.gx.json"))
    assert reports and '"success": false' in reports[0].read_text()
