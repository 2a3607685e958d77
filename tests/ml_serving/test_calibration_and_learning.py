"""Calibrated helpfulness (trained, registered, served) and learning metrics per model version and A/B arm."""

from __future__ import annotations

import numpy as np
import pytest

from ml import ab
from tests.ml_serving.conftest import auth, issue


@pytest.fixture(scope="module")
def trained_helpfulness():
    from ml.calibration import synthetic_feedback, train_helpfulness

    frame = synthetic_feedback(2500, seed=3)
    return frame, train_helpfulness(frame, refit_on_all=False)


def test_calibrated_helpfulness_beats_fixed_multipliers(trained_helpfulness):
    from ml.calibration import calibration_report

    frame, trained = trained_helpfulness
    assert trained.holdout.brier < trained.baseline.brier
    assert trained.holdout.ece < 0.08 < trained.baseline.ece
    # within reach of the generator's own probabilities on the same rows (2,000 training rows for
    # 60 rules x 12 repositories leave some interactions unlearnt; bench_calibration uses 20,000)
    oracle = calibration_report(frame["label"].iloc[-trained.n_holdout:], frame["true_p"].iloc[-trained.n_holdout:])
    assert trained.holdout.brier < oracle.brier + 0.05


def test_ece_definition():
    from ml.calibration import expected_calibration_error

    y = np.array([1, 0, 1, 0])
    assert expected_calibration_error(y, np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.array([0.9, 0.9, 0.9, 0.9])) == pytest.approx(0.4)


def test_served_predictions_carry_calibrated_helpfulness_and_hide_low_ones(
        client, project, registry, serving, model_name, trained_helpfulness, tmp_path):
    from ml.calibration import register_helpfulness

    frame, trained = trained_helpfulness
    serving(confidence_threshold=0.5)
    registry.register(model_name, alias="champion")
    hv = register_helpfulness(trained, frame["label"].iloc[-trained.n_holdout:], tracking_uri=registry.uri,
                              model_name=f"{model_name}-helpfulness", experiment=f"help-{model_name}",
                              artifact_location=(tmp_path / "a").as_uri())
    issues = [{"message": row.message, "rule": row.rule, "analyzer": row.analyzer, "file_path": row.file_path,
               "severity": row.severity} for row in frame.tail(40).itertuples()]
    r = client.post("/api/v1/projects/acme/predictions/severity/batch",
                    json={"repository": "org/repo-1", "issues": issues}, headers=auth())
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert all(p["helpfulness_model_version"] == hv for p in preds)
    assert all(p["hidden"] == (p["helpfulness"] < 0.5) for p in preds)
    assert any(p["hidden"] for p in preds) and not all(p["hidden"] for p in preds)

    # issue-type recommendations use the same calibrated model
    _store_reviews(project, [("R001", "ruff", "helpful")] * 3 + [("R002", "bandit", "false_positive")] * 3)
    r = client.post("/api/v1/projects/acme/recommendations/issue-types",
                    json={"repository": "org/repo-1", "files": ["src/a.py", "tests/test_a.py"]}, headers=auth())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["method"] == "calibrated_model" and body["model_version"] == hv
    assert {t["rule"] for t in body["issue_types"]} == {"R001", "R002"}
    scores = [t["score"] for t in body["issue_types"]]
    assert scores == sorted(scores, reverse=True)
    assert all(t["surface"] == (t["score"] >= 0.5) for t in body["issue_types"])


def _store_reviews(project_id: int, items, repository: str = "org/web") -> list[int]:
    """(rule, analyzer, feedback_type[, severity, corrected]) → stored issues with feedback; returns issue ids."""
    from include.db.models import MLFeedback, ReviewIssue, ReviewSession
    from include.db.session import session_scope
    from include.enums import FeedbackType, Severity

    ids = []
    with session_scope() as s:
        session = ReviewSession(project_id=project_id, repository=repository, source="test")
        s.add(session)
        s.flush()
        for item in items:
            rule, analyzer, ftype, *rest = item
            severity = rest[0] if rest else "high"
            corrected = rest[1] if len(rest) > 1 else None
            row = ReviewIssue(session_id=session.id, file_path="src/a.py", rule=rule, analyzer=analyzer,
                              severity=Severity(severity), message=f"{rule} message")
            s.add(row)
            s.flush()
            s.add(MLFeedback(issue_id=row.id, feedback_type=FeedbackType(ftype), username="erin",
                             corrected_severity=Severity(corrected) if corrected else None))
            ids.append(row.id)
    return ids


def test_issue_type_recommendations_without_model_use_feedback_rates(client, project, serving):
    _store_reviews(project, [("E501", "ruff", "not_helpful")] * 4 + [("B602", "bandit", "helpful")] * 4
                   + [("C901", "radon", "helpful"), ("C901", "radon", "false_positive")])
    r = client.post("/api/v1/projects/acme/recommendations/issue-types",
                    json={"repository": "org/web", "files": ["src/a.py"]}, headers=auth())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["method"] == "feedback_rate"
    assert [t["rule"] for t in body["issue_types"]] == ["B602", "C901", "E501"]
    assert body["issue_types"][0]["feedback"] == {"helpful": 4, "not_helpful": 0}
    r = client.post("/api/v1/projects/acme/recommendations/issue-types",
                    json={"repository": "org/web", "files": []}, headers=auth())
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/files"


def test_learning_metrics_compare_model_versions_and_arms(client, project, registry, serving, model_name):
    from mlflow import MlflowClient

    serving(ab_challenger_share=0.5)
    v1 = registry.register(model_name, alias="champion")
    v2 = registry.register(model_name, flipped=True, alias="challenger")
    repos = [f"org/r{i}" for i in range(50)]
    champ_repo = next(r for r in repos if ab.arm_for(r, 0.5, salt=model_name) == "champion")
    chall_repo = next(r for r in repos if ab.arm_for(r, 0.5, salt=model_name) == "challenger")
    # B602 is "critical" for model A (champion) and "info" for model B (challenger)
    champ_ids = _store_reviews(project, [("B602", "bandit", "helpful", "critical")] * 3
                               + [("B602", "bandit", "false_positive", "critical")], repository=champ_repo)
    chall_ids = _store_reviews(project, [("B602", "bandit", "helpful", "critical")] * 2
                               + [("B602", "bandit", "not_helpful", "critical", "high")] * 2, repository=chall_repo)
    for repo, ids in ((champ_repo, champ_ids), (chall_repo, chall_ids)):
        r = client.post("/api/v1/projects/acme/predictions/severity/batch", headers=auth(),
                        json={"repository": repo, "issues": [issue("B602", issue_id=i) for i in ids]})
        assert r.status_code == 200, r.text
    from ml.serving import get_service

    get_service().log.flush()

    r = client.get("/api/v1/projects/acme/learning/metrics", headers=auth())
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["feedback"] == 8
    assert m["feedback_counts"] == {"false_positive": 1, "helpful": 5, "not_helpful": 2}
    assert m["precision"] == pytest.approx(5 / 6, abs=1e-6)
    arms = m["ab"]["arms"]
    assert arms["champion"]["predictions"] == 4 and arms["challenger"]["predictions"] == 4
    assert arms["champion"]["precision"] == pytest.approx(0.75)
    assert arms["champion"]["severity_accuracy"] == 1.0  # predicted critical, reviewers kept critical
    assert arms["challenger"]["severity_accuracy"] == 0.0  # predicted info: wrong against critical and high
    assert m["ab"]["challenger_minus_champion"]["severity_accuracy"] == -1.0
    versions = {v["model"]: v for v in m["per_model_version"]}
    assert versions[f"{model_name}/{v1}"]["feedback"] == 4
    assert versions[f"{model_name}/{v1}"]["severity_judged"] == 3  # a false positive gives no severity verdict
    assert versions[f"{model_name}/{v2}"]["per_severity_accuracy"]["high"] == {"accuracy": 0.0, "n": 2}
    assert m["top_issue_types"][0]["rule"] == "B602"

    r = client.post("/api/v1/projects/acme/learning/metrics/mlflow", headers=auth("erin"))
    assert r.status_code == 201, r.text
    run = MlflowClient(registry.uri).get_run(r.json()["run_id"])
    assert run.data.metrics["precision"] == pytest.approx(5 / 6, abs=1e-6)
    assert "ab.arms.challenger.severity_accuracy" in run.data.metrics
    assert client.post("/api/v1/projects/acme/learning/metrics/mlflow", headers=auth("alice")).status_code == 403

