"""The promotion holdout: the newest rows by time (default) or a stable hash, frozen per dataset version.

Real MLflow (a SQLite store per test, ``ml_env``) and a dataset version published on disk.
"""

from __future__ import annotations

import pandas as pd
import pytest

from tests.ml.advisory_dataset import advisory_sample, dataset_rows, publish


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return dataset_rows(advisory_sample(per_class=30))


def test_time_holdout_is_the_newest_rows_and_hash_mixes_old_and_new(rows):
    from ml.evaluation import holdout_split, in_holdout

    shuffled = rows.sample(frac=1.0, random_state=3).reset_index(drop=True)
    train, holdout = holdout_split(shuffled, 20, "time")
    assert len(holdout) == round(len(rows) * 0.2) and len(train) + len(holdout) == len(rows)
    assert holdout["created_at"].min() >= train["created_at"].max()
    assert set(holdout["issue_id"]) == set(rows.sort_values(["created_at", "issue_id"])["issue_id"].iloc[-len(holdout):])
    # the row order of the input does not matter
    assert set(holdout_split(rows, 20, "time")[1]["issue_id"]) == set(holdout["issue_id"])

    hash_train, hash_holdout = holdout_split(shuffled, 20, "hash")
    assert set(hash_holdout["issue_id"]) == set(shuffled.loc[in_holdout(shuffled["project"], shuffled["issue_id"], 20),
                                                             "issue_id"])
    assert hash_holdout["created_at"].min() < hash_train["created_at"].max()  # old and new mixed
    with pytest.raises(ValueError, match="strategy"):
        holdout_split(rows, 20, "random")


def test_the_holdout_of_a_dataset_version_is_frozen_in_its_file(tmp_path, rows):
    from include.settings import Settings
    from ml.export import FeedbackDataset
    from ml.retrain import frozen_holdout

    dataset = FeedbackDataset(tmp_path / "datasets")
    settings = Settings(ml_holdout_strategy="time", ml_holdout_percent=20)
    train, holdout, path = frozen_holdout(dataset, "v000001", rows, settings)
    assert path.exists() and set(pd.read_parquet(path)["issue_id"]) == set(holdout["issue_id"])
    # re-split the same version after the rows' times moved: the file, not a new split, decides
    moved = rows.assign(created_at=rows["created_at"].iloc[::-1].to_numpy())
    train_again, holdout_again, path_again = frozen_holdout(dataset, "v000001", moved, settings)
    assert path_again == path and set(holdout_again["issue_id"]) == set(holdout["issue_id"])
    assert set(train_again["issue_id"]) == set(train["issue_id"])
    # another version, or the hash strategy, is split afresh into its own file
    _, holdout_v2, path_v2 = frozen_holdout(dataset, "v000002", moved, settings)
    assert path_v2 != path and set(holdout_v2["issue_id"]) != set(holdout["issue_id"])
    hashed = Settings(ml_holdout_strategy="hash", ml_holdout_percent=20)
    _, holdout_hash_split, path_hash = frozen_holdout(dataset, "v000001", rows, hashed)
    assert path_hash != path and "hash" in path_hash.name


def test_retrain_judges_on_the_newest_rows_and_promotion_uses_that_file(ml_env, rows):
    from mlflow import MlflowClient

    from ml.evaluation import holdout_hash
    from ml.registry import CHAMPION, MODEL_NAME, promote_challenger
    from ml.retrain import retrain

    assert ml_env.ml_holdout_strategy == "time"  # the default
    publish(ml_env.dataset_dir, rows)
    summary = retrain(airflow_run_id="manual__time", candidates=["plain"])
    holdout = pd.read_parquet(summary["holdout_path"])
    newest = rows.sort_values(["created_at", "issue_id"])["issue_id"].iloc[-len(holdout):]
    assert len(holdout) == round(len(rows) * ml_env.ml_holdout_percent / 100)
    assert set(holdout["issue_id"]) == set(newest) and holdout_hash(holdout) == summary["holdout_hash"]
    client = MlflowClient(ml_env.mlflow_tracking_uri)
    params = client.get_run(summary["run_id"]).data.params
    assert params["holdout.strategy"] == "time" and params["holdout.hash"] == summary["holdout_hash"]
    # per-segment quality and calibration on that holdout, in the candidate's run
    metrics = client.get_run(summary["candidates"]["plain"]["run_id"]).data.metrics
    sources = {k.split(".")[2] for k in metrics if k.startswith("segment.source.")}
    assert sources and sources <= set(holdout["analyzer"])
    assert any(k.startswith("segment.age.") and k.endswith(".ece") for k in metrics)

    outcome = promote_challenger(summary["holdout_path"], airflow_run_id="manual__time")
    assert outcome["promoted"] is True and outcome["holdout_hash"] == summary["holdout_hash"]
    assert str(client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version) == summary["version"]
