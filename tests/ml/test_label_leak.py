"""Nothing equal to the label reaches what a severity model sees.

The exported dataset carries the label several times over: ``label`` itself,
``issue_severity`` (the analyser's severity, which a confirming feedback turns
into the label), ``corrected_severity``, and the review's ``stats.by_severity``
counts.  None is a model input today; these tests fail the day one becomes one —
through the input contract (``ml.features.ISSUE_COLUMNS``), the record → frame
path (``issues_frame``), the export (real PostgreSQL) or the training frame.
"""

from __future__ import annotations

import pandas as pd
import pytest

#: Names under which the label, or a count of it, travels next to an issue.
LABEL_EQUAL = ("label", "severity", "issue_severity", "corrected_severity", "by_severity", "stats")


def test_no_label_equal_name_is_a_model_input_or_a_derived_feature():
    from ml.features import ISSUE_COLUMNS, DeriveFeatures

    assert not set(LABEL_EQUAL) & set(ISSUE_COLUMNS)
    assert not set(LABEL_EQUAL) & set(DeriveFeatures().get_feature_names_out())


def _record(**extra):
    base = {"message": "Denial of service in the parser", "rule": "vulnerable-dependency/npm", "analyzer": "npm-audit",
            "file_path": "package-lock.json", "repository": "left-pad", "created_at": "2024-01-02T12:00:00Z"}
    return {**base, **extra}


@pytest.mark.parametrize("severity", ["low", "critical"])
def test_label_equal_fields_of_a_record_never_reach_the_feature_frame(severity):
    from ml.features import issues_frame

    leaky = _record(severity=severity, label=severity, issue_severity=severity, corrected_severity=severity,
                    stats={"by_severity": {severity: 1}},
                    context={"severity": severity, "corrected_severity": severity, "by_severity": {severity: 1}})
    pd.testing.assert_frame_equal(issues_frame([leaky]), issues_frame([_record()]))


def test_the_exported_model_input_does_not_change_with_the_label(db, project, ml_env):
    """Two reviews of the same finding, graded differently: what the model sees is the same row twice."""
    from include.db.session import session_scope
    from include.reviews.feedback import FeedbackIn, record_feedback
    from include.reviews.store import record_review
    from ml.export import FeedbackDataset, export_once
    from ml.features import ISSUE_COLUMNS

    grades = [("low", "medium"), ("critical", "high")]  # (analyser's severity, reviewer's correction)
    with session_scope() as s:
        for severity, corrected in grades:
            issue = {k: v for k, v in _record(severity=severity).items() if k not in ("repository", "created_at")}
            review = record_review(s, project, "acme/app", [{**issue, "line": 3, "context": {"pr_size": 40}}],
                                   stats={"pr_size": 40})
            assert review.stats["by_severity"][severity] == 1
            record_feedback(s, review.issues[0], "ed", FeedbackIn(feedback_type="helpful", corrected_severity=corrected))
    export_once(db, ml_env.dataset_dir)
    rows = FeedbackDataset(ml_env.dataset_dir).read().sort_values("issue_id").reset_index(drop=True)
    assert rows["label"].tolist() == ["medium", "high"] and rows["issue_severity"].tolist() == ["low", "critical"]
    model_input = rows.loc[:, list(ISSUE_COLUMNS)].drop(columns="created_at")  # created_at: when each was stored
    pd.testing.assert_frame_equal(model_input.iloc[[0]].reset_index(drop=True),
                                  model_input.iloc[[1]].reset_index(drop=True))


def test_a_trained_candidate_reads_only_the_input_columns(monkeypatch):
    """Training frames carry the label columns; scrambling them changes nothing a fitted model computes."""
    from ml.training import PARAM_GRIDS, train_candidates
    from tests.ml.advisory_dataset import advisory_sample, dataset_rows

    monkeypatch.setitem(PARAM_GRIDS, "linear", [{}])
    rows = dataset_rows(advisory_sample(per_class=25)).sort_values("created_at").reset_index(drop=True)
    train, test = rows.iloc[:80], rows.iloc[80:]
    scrambled = test.assign(**{c: test[c].sample(frac=1.0, random_state=0).to_numpy()
                               for c in ("label", "issue_severity", "corrected_severity")})
    assert (scrambled["label"] != test["label"]).any()
    for candidate in train_candidates(train, test, ["linear"]):
        # the whole dataset frame goes in, label columns included: a step reading one would change its answer
        pd.testing.assert_frame_equal(pd.DataFrame(candidate.pipeline.predict_proba(scrambled)),
                                      pd.DataFrame(candidate.pipeline.predict_proba(test)), obj=candidate.name)
