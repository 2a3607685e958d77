"""The plain TF-IDF + logistic-regression baseline is always a candidate, and the challenger is the
candidate best on the time-ordered validation slice (the newest training rows), never on the holdout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.ml.advisory_dataset import advisory_sample, dataset_rows, publish


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return dataset_rows(advisory_sample(per_class=30))


def _constant(label: str):
    """A candidate factory that always answers ``label`` (the plain featuriser in front, as every candidate has)."""
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline

    from ml.training import plain_pipeline

    def factory() -> Pipeline:
        return Pipeline([("features", plain_pipeline().named_steps["features"]),
                         ("model", DummyClassifier(strategy="constant", constant=label))])

    return factory


def test_plain_is_always_trained_and_the_choice_is_made_on_validation_not_on_the_holdout(rows, monkeypatch):
    from ml import training

    assert training.BASELINE == "plain" and "plain" in training.CANDIDATES
    # two candidates whose order the validation slice and the holdout disagree on
    monkeypatch.setitem(training.CANDIDATES, "always-high", (_constant("high"), False))
    monkeypatch.setitem(training.CANDIDATES, "always-low", (_constant("low"), False))
    ordered = rows.sort_values(["created_at", "issue_id"]).reset_index(drop=True)
    train = ordered.iloc[:100].copy()
    train.loc[80:, "label"] = ["high"] * 19 + ["low"]  # validation slice: the newest 20 % of train
    holdout = ordered.iloc[100:].copy()
    holdout["label"] = ["low"] * (len(holdout) - 1) + ["high"]

    trained = training.train_candidates(train, holdout, ["always-low", "always-high"], tune=False)
    names = [c.name for c in trained]
    assert set(names) == {"plain", "always-low", "always-high"}
    assert names.index("always-high") < names.index("always-low")  # validation order ...
    low, high = (next(c for c in trained if c.name == n) for n in ("always-low", "always-high"))
    assert low.metrics.macro_f1 > high.metrics.macro_f1  # ... although the holdout says the opposite
    assert [c.validation.macro_f1 for c in trained] == sorted((c.validation.macro_f1 for c in trained), reverse=True)
    assert names[0] != "always-low"


def test_a_tie_on_validation_goes_to_the_plain_baseline(rows, monkeypatch):
    from ml import training

    monkeypatch.setitem(training.CANDIDATES, "plain-again", (training.plain_pipeline, False))
    train = rows.iloc[:100]
    trained = training.train_candidates(train, rows.iloc[100:], ["plain-again"])
    assert trained[0].validation.macro_f1 == trained[1].validation.macro_f1
    assert trained[0].name == "plain"


#: Two settings are enough to show a choice is made (the real grids cost more fits than a test needs).
SMALL_GRID = [{"C": 0.3, "keywords": True}, {"C": 1.0, "keywords": False}]


def test_tuning_looks_only_at_the_rows_it_is_given(rows, monkeypatch):
    from ml.training import PARAM_GRIDS, inner_cuts, tune_candidate

    monkeypatch.setitem(PARAM_GRIDS, "linear", SMALL_GRID)
    window = rows.sort_values(["created_at", "issue_id"]).iloc[:100]
    cuts = inner_cuts(window, 2, 15)
    assert len(cuts) == 2
    for older, newer in cuts:
        assert older["created_at"].max() <= newer["created_at"].min()
        assert set(newer["issue_id"]) <= set(window["issue_id"])
    tuning = tune_candidate("linear", window)
    assert tuning.params in PARAM_GRIDS["linear"] and len(tuning.scores) == len(PARAM_GRIDS["linear"])
    # the same window gives the same choice, whatever comes after it
    assert tune_candidate("linear", window).params == tuning.params


def test_retrain_registers_the_validation_winner_with_plain_among_the_candidates(ml_env, rows, monkeypatch):
    from mlflow import MlflowClient

    from ml.registry import CHALLENGER, MODEL_NAME
    from ml.retrain import retrain
    from ml.training import PARAM_GRIDS

    monkeypatch.setitem(PARAM_GRIDS, "linear", SMALL_GRID)
    publish(ml_env.dataset_dir, rows)
    summary = retrain(airflow_run_id="manual__plain", candidates=["linear"])
    assert set(summary["candidates"]) == {"plain", "linear"}
    validation = {name: c["validation_macro_f1"] for name, c in summary["candidates"].items()}
    best = max(validation.values())
    winner = "plain" if validation["plain"] == best else max(validation, key=validation.get)
    assert summary["candidate"] == winner
    client = MlflowClient(ml_env.mlflow_tracking_uri)
    version = client.get_model_version_by_alias(MODEL_NAME, CHALLENGER)
    assert version.tags["candidate"] == winner and "chosen on validation" in version.description
    for name, candidate in summary["candidates"].items():
        run = client.get_run(candidate["run_id"])
        assert np.isclose(run.data.metrics["validation_macro_f1"], validation[name])
        assert {"macro_f1", "validation_macro_f1", "validation_rows"} <= set(run.data.metrics)
        if name == "linear":
            assert {"tuned.C", "tuned.keywords"} <= set(run.data.params)
