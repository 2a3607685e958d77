"""Class-prior re-estimation: when the newest labels' mix moved, the challenger's probabilities follow it.

Synthetic rows, deterministic: half are clear findings (their text says their
severity), half are the same vague finding whose label the reviewers' practice
decides — mostly ``low`` in the older rows, mostly ``high`` in the newer ones
when the mix moves, the same share throughout when it does not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ROWS = 400
#: The first rows are "older"; from here on the vague finding is mostly ``high`` when the mix moves.
MOVE_AT = 240


def synthetic_rows(moved: bool) -> pd.DataFrame:
    """Export-shaped rows (``ml.validation.DATASET_COLUMNS``), one a day, oldest first."""
    from ml.features import issues_frame
    from ml.validation import DATASET_COLUMNS

    records, labels = [], []
    start = pd.Timestamp("2023-01-01", tz="UTC")
    for i in range(ROWS):
        if i % 2 == 0:  # clear: the words say the severity
            label = "high" if i % 4 == 0 else "low"
            message = "sql injection allows remote code execution" if label == "high" else "unused import in module"
        else:  # vague: 17 of every 20 get the period's usual label
            usual = "high" if moved and i >= MOVE_AT else "low"
            label = usual if (i // 2) % 20 < 17 else ("low" if usual == "high" else "high")
            message = f"possible problem in handler {i % 7}"
        records.append({"message": message, "rule": "R1", "analyzer": "tool", "file_path": f"src/m{i % 5}.py",
                        "created_at": (start + pd.Timedelta(days=i)).to_pydatetime()})
        labels.append(label)
    frame = issues_frame(records)
    ids = np.arange(1, ROWS + 1)
    frame = frame.assign(issue_id=ids, project="synthetic", review_id=ids, issue_severity=labels, feedback_id=ids,
                         feedback_type="helpful", corrected_severity=labels,
                         feedback_at=pd.Timestamp("2026-01-01", tz="UTC"), label=labels, helpful=1.0)
    return frame.loc[:, list(DATASET_COLUMNS)]


def _split(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    from ml.evaluation import newest_split

    return newest_split(rows, 20)


def test_a_moved_label_mix_moves_the_chosen_models_probabilities_and_it_compiles():
    from ml.evaluation import evaluate_model
    from ml.fast_predict import compile_model
    from ml.priors import PriorAdjusted
    from ml.training import train_candidates

    train, holdout = _split(synthetic_rows(moved=True))
    plain_only = train_candidates(train, holdout, ["plain"], prior_shift_threshold=None)[0]
    chosen = train_candidates(train, holdout, ["plain"], prior_shift_threshold=0.1)[0]
    check = chosen.priors
    assert check.applied, check.reason
    assert check.shift >= 0.1 and check.macro_f1_with >= check.macro_f1_without
    high = check.classes.index("high")
    assert check.recent_priors[high] > check.train_priors[high]
    # inside the ONE Pipeline: the fitted featuriser and classifier, the classifier wrapped
    model = chosen.pipeline.named_steps["model"]
    assert isinstance(model, PriorAdjusted) and np.allclose(model.weights, check.weights)
    # on the holdout (newer still, never looked at by the check) the adjusted model is better here
    assert chosen.metrics.macro_f1 > plain_only.metrics.macro_f1
    assert chosen.metrics.macro_f1 == evaluate_model(chosen.pipeline, holdout).macro_f1
    # the fast serving path compiles it exactly (inner classifier + the same adjustment)
    records = holdout.loc[:, ["message", "rule", "analyzer", "file_path"]].head(20).to_dict("records")
    fast = compile_model(chosen.pipeline, records)
    assert fast is not None
    from ml.features import issues_frame

    assert np.allclose(fast.predict_proba(records), chosen.pipeline.predict_proba(issues_frame(records)), atol=1e-9)


def test_an_unmoved_label_mix_leaves_the_model_alone():
    from sklearn.linear_model import LogisticRegression

    from ml.training import train_candidates

    train, holdout = _split(synthetic_rows(moved=False))
    chosen = train_candidates(train, holdout, ["plain"], prior_shift_threshold=0.1)[0]
    assert not chosen.priors.applied and chosen.priors.shift < 0.1
    assert type(chosen.pipeline.named_steps["model"]) is LogisticRegression


def test_retrain_logs_the_prior_check_and_registers_the_adjusted_pipeline(ml_env):
    from mlflow import MlflowClient

    from ml.priors import PriorAdjusted
    from ml.registry import CHALLENGER, load_alias
    from ml.retrain import retrain
    from tests.ml.advisory_dataset import publish

    publish(ml_env.dataset_dir, synthetic_rows(moved=True))
    summary = retrain(airflow_run_id="manual__priors", candidates=["plain"])
    assert summary["priors"]["plain"]["applied"] is True
    client = MlflowClient(ml_env.mlflow_tracking_uri)
    run = client.get_run(summary["candidates"]["plain"]["run_id"])
    metrics = run.data.metrics
    assert metrics["priors.applied"] == 1.0 and run.data.params["priors.applied"] == "True"
    assert metrics["priors.validation_macro_f1_with"] >= metrics["priors.validation_macro_f1_without"]
    assert {"priors.train.low", "priors.train.high", "priors.recent.low", "priors.recent.high",
            "priors.shift"} <= set(metrics)
    assert "metrics/priors.json" in [a.path for a in client.list_artifacts(run.info.run_id, "metrics")]
    assert isinstance(load_alias(CHALLENGER).named_steps["model"], PriorAdjusted)


def test_a_threshold_of_one_turns_it_off():
    from ml.training import train_candidates

    train, holdout = _split(synthetic_rows(moved=True))
    chosen = train_candidates(train, holdout, ["plain"], prior_shift_threshold=1.0)[0]
    assert not chosen.priors.applied and "under the threshold" in chosen.priors.reason


def test_a_class_first_seen_in_the_validation_slice_is_handled():
    """The model the check judges (fit before the slice) knows fewer classes than the one that ships."""
    from ml.features import ISSUE_COLUMNS
    from ml.training import train_candidates

    rows = synthetic_rows(moved=True)
    train, holdout = _split(rows)
    newest = train.index[-30::4]  # a few of the newest training rows: a class nothing older had
    train.loc[newest, ["label", "message"]] = ["critical", "heap overflow gives code execution"]
    chosen = train_candidates(train, holdout, ["plain"], prior_shift_threshold=0.1)[0]
    classes = [str(c) for c in chosen.pipeline.classes_]
    assert set(classes) == {"low", "high", "critical"}
    assert chosen.priors.classes == classes and len(chosen.priors.weights) == 3
    proba = chosen.pipeline.predict_proba(holdout.loc[:, list(ISSUE_COLUMNS)])
    assert proba.shape == (len(holdout), 3) and np.allclose(proba.sum(axis=1), 1.0)
