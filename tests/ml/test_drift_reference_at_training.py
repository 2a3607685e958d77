"""The retrain stores the registered challenger's drift reference itself, so the drift watch only reads it.

Real MLflow (a SQLite store per test, ``ml_env``) and a dataset version published on disk.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tests.ml.advisory_dataset import advisory_sample, dataset_rows, publish


def test_retrain_logs_the_challengers_drift_reference_on_its_run(ml_env, tmp_path):
    import mlflow.sklearn
    from mlflow import MlflowClient

    from ml.drift import build_reference
    from ml.drift_watch import REFERENCE_ARTIFACT, reference_for
    from ml.registry import CHALLENGER, MODEL_NAME
    from ml.retrain import retrain

    publish(ml_env.dataset_dir, dataset_rows(advisory_sample(per_class=25)))
    summary = retrain(airflow_run_id="manual__reference", candidates=["plain"])
    client = MlflowClient(ml_env.mlflow_tracking_uri)
    version = client.get_model_version_by_alias(MODEL_NAME, CHALLENGER)

    # on the version's own run (where the watch looks), written before any watch ran
    assert version.run_id == summary["candidates"][summary["candidate"]]["run_id"]
    assert REFERENCE_ARTIFACT in [a.path for a in client.list_artifacts(version.run_id, "drift")]
    stored = json.loads(Path(client.download_artifacts(version.run_id, REFERENCE_ARTIFACT, str(tmp_path))).read_text())
    assert stored["source"] == f"holdout of training run {summary['run_id']}"

    # the watch reads it instead of building one (a built one would have a new created_at)
    assert reference_for(version, ml_env) == stored
    # and it is what the watch's lazy path would have built: the model's answers on the frozen holdout
    holdout = pd.read_parquet(summary["holdout_path"])
    model = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}/{version.version}")
    rebuilt = build_reference(model, holdout)
    assert stored["predictions"] == len(holdout) == rebuilt["predictions"]
    assert stored["features"] == rebuilt["features"]
