"""The learning loop end to end: real PostgreSQL, a real MLflow store, real GX, real training.

ingest (advisories through record_review + feedback) → export (GX gate,
versioned Parquet) → retrain (XGBoost + linear Pipelines, MLflow, challenger)
→ promote (first model becomes champion) → a deliberately worse challenger is
refused → corrected severities on a slice move the retrained model there.
Training uses a small subsample of the advisories to fit the time budget.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def sample():
    from ml.ingest import load_advisories

    frame = load_advisories()
    # a class-stratified subsample, oldest first (kept small: tests train real models)
    picked = frame.sample(frac=1.0, random_state=1).groupby("severity").head(45)
    return picked.sort_values("published").reset_index(drop=True)


def _ingest(project, frame, **kw):
    from include.db.session import session_scope
    from ml.ingest import ingest_advisories

    with session_scope() as s:
        return ingest_advisories(s, project, frame, **kw)


def test_loop_ingest_export_retrain_register_promote_and_refuse_worse(db, project, ml_env, sample):
    from mlflow import MlflowClient

    from ml.evaluation import holdout_hash
    from ml.export import FeedbackDataset, export_once
    from ml.registry import CHALLENGER, CHAMPION, MODEL_NAME, load_alias, log_candidates, promote_challenger
    from ml.retrain import new_labelled_rows, retrain
    from ml.training import TrainedCandidate

    _ingest(project, sample)
    version = export_once(db, ml_env.dataset_dir)
    assert version.labelled_rows == len(sample)
    assert new_labelled_rows()["new_labelled_rows"] == len(sample)

    summary = retrain(airflow_run_id="manual__test")
    client = MlflowClient(ml_env.mlflow_tracking_uri)
    assert set(summary["candidates"]) == {"plain", "linear", "xgboost"}  # the plain baseline always competes
    challenger = client.get_model_version_by_alias(MODEL_NAME, CHALLENGER)
    assert str(challenger.version) == summary["version"]
    for key in ("dataset.version", "dataset.hash", "holdout.hash", "git.sha", "airflow.run_id"):
        assert challenger.tags[key], key
    assert challenger.tags["dataset.hash"] == version.hash
    run = client.get_run(summary["candidates"]["xgboost"]["run_id"])
    assert {"accuracy", "macro_f1"} <= set(run.data.metrics) and any(k.startswith("f1_") for k in run.data.metrics)
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "plots")]
    assert "plots/confusion_matrix.png" in artifacts
    assert new_labelled_rows()["new_labelled_rows"] == 0  # the gate now has nothing new

    # first model: no champion → promoted
    first = promote_challenger(summary["holdout_path"], airflow_run_id="manual__test")
    assert first["promoted"] is True and "no champion" in first["reasons"][0]
    assert str(client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version) == summary["version"]

    # served contract: issues_frame → labels + probabilities
    from ml.features import issues_frame

    model = load_alias(CHAMPION)
    frame = issues_frame([{"message": "Remote code execution via crafted YAML", "rule": "vulnerable-dependency/npm",
                           "analyzer": "npm-audit", "file_path": "package-lock.json"}])
    assert model.predict(frame)[0] in {"info", "low", "medium", "high", "critical"}
    assert model.predict_proba(frame).shape == (1, len(model.classes_))

    # a deliberately worse challenger (always the majority class) is refused, with reasons
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline

    from ml.evaluation import evaluate_model
    from ml.features import ISSUE_COLUMNS, build_featurizer

    dataset = FeedbackDataset(ml_env.dataset_dir)
    holdout = pd.read_parquet(summary["holdout_path"])
    assert holdout_hash(holdout) == summary["holdout_hash"]
    labelled = dataset.read()
    worse = Pipeline([("features", build_featurizer()), ("model", DummyClassifier(strategy="most_frequent"))])
    worse.fit(labelled.loc[:, list(ISSUE_COLUMNS)], labelled["label"].to_numpy(dtype=object))
    log_candidates([TrainedCandidate("majority", worse, evaluate_model(worse, holdout), 0.0)],
                   train_rows=len(labelled), holdout=holdout, holdout_hash=summary["holdout_hash"],
                   holdout_path=summary["holdout_path"],
                   dataset={"version": version.version, "hash": version.hash, "labelled_rows": version.labelled_rows},
                   airflow_run_id="manual__worse")
    bad_version = client.get_model_version_by_alias(MODEL_NAME, CHALLENGER).version
    outcome = promote_challenger(summary["holdout_path"], airflow_run_id="manual__worse")
    assert outcome["promoted"] is False
    assert "not enough" in outcome["reasons"][0]
    assert str(client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version) == summary["version"]
    tags = client.get_model_version(MODEL_NAME, bad_version).tags
    assert tags["promotion.decision"] == "rejected" and "macro-F1" in tags["promotion.reasons"]


def test_corrected_severities_move_predictions_on_the_slice(db, project, ml_env, sample):
    """Reviewers re-grade every npm advisory as 'low'; the retrained model follows them there."""
    from include.db.models import ReviewIssue
    from include.db.session import session_scope
    from include.enums import FeedbackType
    from include.reviews.feedback import FeedbackIn, record_feedback
    from ml.export import export_once
    from ml.features import ISSUE_COLUMNS
    from ml.registry import CHALLENGER, load_alias
    from ml.retrain import retrain

    _ingest(project, sample)
    export_once(db, ml_env.dataset_dir)
    retrain(airflow_run_id="manual__before", candidates=["linear"])
    before_model = load_alias(CHALLENGER)

    with session_scope() as s:
        npm = s.query(ReviewIssue).filter(ReviewIssue.analyzer == "npm-audit").all()
        assert len(npm) >= 40
        for issue in npm:
            record_feedback(s, issue, "lead", FeedbackIn(feedback_type=FeedbackType.not_helpful,
                                                        corrected_severity="low", comment="dev-only dependency"))
    v2 = export_once(db, ml_env.dataset_dir)
    assert v2.rows == len(npm)  # only the re-graded issues are new rows
    retrain(airflow_run_id="manual__after", candidates=["linear"])
    after_model = load_alias(CHALLENGER)

    from ml.export import FeedbackDataset

    rows = FeedbackDataset(ml_env.dataset_dir).read()
    slice_ = rows[rows["analyzer"] == "npm-audit"].loc[:, list(ISSUE_COLUMNS)]
    low_before = float(np.mean(before_model.predict(slice_) == "low"))
    low_after = float(np.mean(after_model.predict(slice_) == "low"))
    assert low_after >= 0.8 and low_after > low_before + 0.5, (low_before, low_after)
    # issues outside the slice are not all dragged to 'low'
    others = rows[rows["analyzer"] != "npm-audit"].loc[:, list(ISSUE_COLUMNS)]
    assert float(np.mean(after_model.predict(others) == "low")) < 0.5
