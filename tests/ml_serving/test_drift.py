"""Drift watched in production: the served model's inputs and answers against its training reference.

The profile and comparison maths (``ml.drift``) on plain records; then the
whole path for real — predictions through the platform API into the drift
window (PostgreSQL), the watch against a reference stored on the model
version's MLflow run, the report in the API and as MLflow metrics — and the
DAG: parses, is wired to the Asset ``ml_retrain`` listens to, and on drift
emits that Asset event and a dashboard notification.
"""

from __future__ import annotations

import functools
import random
from pathlib import Path

import pytest

from tests.ml_serving.conftest import RULES, auth, train_severity_model

DAGS = Path(__file__).resolve().parents[2] / "dags"


@functools.cache
def model_a():
    """The serving tests' model A, fitted once for this module (it is what the registry serves as model A)."""
    return train_severity_model()


def in_distribution(n: int, seed: int = 0) -> list[dict]:
    """Issues like the serving tests' models were trained on (bandit findings on Python files)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        rule = rng.choice(list(RULES))
        out.append({"message": f"{RULES[rule][0]} variant {rng.randrange(4)}", "rule": rule, "analyzer": "bandit",
                    "file_path": f"src/pkg{rng.randrange(3)}/mod{rng.randrange(4)}.py"})
    return out


def shifted(n: int, seed: int = 1) -> list[dict]:
    """Another analyser on another ecosystem: what a model trained on Python findings never saw."""
    rng = random.Random(seed)
    words = ["prototype", "pollution", "regular", "expression", "denial", "of", "service", "in", "lodash", "merge"]
    return [{"message": " ".join(rng.choices(words, k=rng.randrange(8, 30))), "rule": "vulnerable-dependency/npm",
             "analyzer": "npm-audit", "file_path": "package-lock.json"} for _ in range(n)]


def test_compare_tells_a_shifted_stream_from_one_like_the_reference():
    from ml.drift import compare, profile_records

    model = model_a()

    def profile(records):
        from ml.features import issues_frame

        proba = model.predict_proba(issues_frame(records))
        answers = [(str(model.classes_[i]), float(proba[k, i])) for k, i in enumerate(proba.argmax(axis=1))]
        return profile_records(records, answers)

    reference = profile(in_distribution(400, seed=10))
    same = compare(reference, profile(in_distribution(300, seed=11)), threshold=0.25, min_predictions=100)
    moved = compare(reference, profile(shifted(300)), threshold=0.25, min_predictions=100)
    assert same["status"] == "ok", same
    assert same["max_psi"] < 0.1
    assert moved["status"] == "drift", moved
    assert {"analyzer", "rule", "file_type", "text_tokens"} <= set(moved["drifted_features"])
    assert {c["bin"] for c in moved["features"]["analyzer"]["changes"]} == {"(other)", "bandit"}
    assert moved["features"]["analyzer"]["new_values"] == [{"value": "npm-audit", "observed": 1.0}]
    assert "changes" not in moved["features"]["text_tokens"]  # hashed bins are not shown as values
    few = compare(reference, profile(shifted(20)), threshold=0.25, min_predictions=100)
    assert few["status"] == "insufficient_data" and few["max_psi"] > 0.25


def test_bad_profile_input_is_refused_with_what_is_wrong():
    from ml.drift import DriftInputError, compare, profile_records

    with pytest.raises(DriftInputError, match="confidence"):
        profile_records(in_distribution(1), [("high", 1.5)])
    with pytest.raises(DriftInputError, match="2 predictions for 1 records"):
        profile_records(in_distribution(1), [("high", 0.5), ("low", 0.5)])
    good = profile_records(in_distribution(3))
    with pytest.raises(DriftInputError, match="observed"):
        compare(good, {"features": {}}, threshold=0.25, min_predictions=1)
    with pytest.raises(DriftInputError, match="threshold"):
        compare(good, good, threshold=0, min_predictions=1)


def _champion_with_reference(registry, model_name: str) -> str:
    """Model A as the champion of ``model_name``, its reference (built on unseen in-distribution rows) on its run."""
    from mlflow import MlflowClient

    from ml.drift import build_reference
    from ml.drift_watch import log_reference
    from ml.features import issues_frame

    version = registry.register(model_name, alias="champion")
    client = MlflowClient(registry.uri, registry.uri)
    mv = client.get_model_version(model_name, version)
    log_reference(client, mv.run_id, build_reference(model_a(), issues_frame(in_distribution(300, 5))))
    return version


def _champion_from_a_training_run(registry, model_name: str, tmp_path: Path) -> str:
    """Model A logged and registered as a version trained before the retrain logged references: its training
    run holds the holdout but no reference, so the watch builds one."""
    import mlflow

    from ml.features import issues_frame

    holdout = tmp_path / "holdout.parquet"
    issues_frame(in_distribution(300, 5)).to_parquet(holdout, index=False)
    mlflow.set_tracking_uri(registry.uri)
    mlflow.set_registry_uri(registry.uri)
    with mlflow.start_run(experiment_id=registry.experiment_id) as run:
        mlflow.log_artifact(str(holdout), artifact_path="holdout")
        info = mlflow.sklearn.log_model(model_a(), name="model", serialization_format="cloudpickle",
                                        pip_requirements=["scikit-learn"])
    version = str(mlflow.register_model(info.model_uri, model_name, tags={"training.run_id": run.info.run_id}).version)
    registry.set_alias(model_name, "champion", version)
    return version


def _serve(client, records: list[dict]) -> None:
    answer = client.post("/api/v1/projects/acme/predictions/severity/batch", headers=auth(),
                         json={"repository": "org/r1", "issues": records})
    assert answer.status_code == 200, answer.text


def test_a_shifted_stream_through_the_api_is_reported_as_drift_in_the_api_and_mlflow(
        registry, serving, model_name, project, client, monkeypatch):
    from mlflow import MlflowClient

    from ml.drift_watch import check_drift
    from ml.serving.drift_window import get_window

    serving(drift_min_predictions=100)
    version = _champion_with_reference(registry, model_name)

    _serve(client, in_distribution(200, seed=3))
    assert get_window().flush() == 200
    calm = check_drift()
    assert calm["status"] == "ok" and calm["model_version"] == version, calm

    _serve(client, shifted(400))  # now most of the window is the shifted stream
    get_window().flush()
    report = check_drift()
    assert report["status"] == "drift" and report["predictions"] == 600, report
    assert report["max_psi"] >= 0.25

    shown = client.get("/api/v1/predictions/drift", headers=auth()).json()
    assert shown["model_name"] == model_name
    assert shown["latest"]["status"] == "drift" and [r["status"] for r in shown["reports"]] == ["drift", "ok"]
    assert client.get("/api/v1/predictions/drift").status_code == 401

    mlflow = MlflowClient(registry.uri, registry.uri)
    run_id = mlflow.get_model_version(model_name, version).run_id
    history = mlflow.get_metric_history(run_id, "drift_max_psi")
    assert [round(m.value, 6) for m in history][-2:] == [calm["max_psi"], report["max_psi"]]
    assert mlflow.get_model_version(model_name, version).tags["drift.status"] == "drift"


def test_predictions_made_by_review_actions_count_towards_drift(registry, serving, model_name, project):
    """The code_review action calls the serving library directly, not the API: its predictions count too."""
    from ml.serving.drift_window import get_window
    from ml.serving.service import predict_issues

    serving(drift_min_predictions=100)
    _champion_with_reference(registry, model_name)
    get_window().flush()
    predict_issues(in_distribution(30, seed=4), "org/r1")
    assert get_window().flush() == 30


def test_a_window_that_could_not_be_written_leaks_nothing_into_the_next_database(serving, project, monkeypatch,
                                                                                  tmp_path):
    """A test's database goes away with its window unwritten: a reset starts over, instead of writing it here."""
    from include.settings import get_settings
    from ml.serving import reset_service
    from ml.serving.drift_window import get_window

    old = get_window()
    old.observe("m", "1", in_distribution(4, seed=5), [("high", 0.9)] * 4)
    with monkeypatch.context() as gone:
        gone.setenv("AUTOPR_DATABASE_URL", f"sqlite:///{tmp_path}/no/such/dir/app.db")
        get_settings.cache_clear()
        with pytest.raises(Exception):
            old.flush()
    get_settings.cache_clear()
    reset_service()
    fresh = get_window()
    assert fresh is not old
    fresh.observe("m", "1", in_distribution(3, seed=6), [("high", 0.9)] * 3)
    assert fresh.flush() == 3


def test_the_drift_dag_is_wired_to_ml_retrain_and_on_drift_emits_the_asset_and_notifies(
        airflow_db, registry, serving, model_name, project, client, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    from ml.assets import MODEL_DRIFT_ASSET
    from ml.drift_watch import reference_for
    from ml.serving.drift_window import get_window

    bag = DagBag(dag_folder=str(DAGS / "ml_drift_watch.py"))
    assert not bag.import_errors, bag.import_errors
    watch = bag.dags["ml_drift_watch"]
    assert [o.name for o in watch.get_task("announce").outlets] == [MODEL_DRIFT_ASSET]
    retrain = DagBag(dag_folder=str(DAGS / "ml_retrain.py")).dags["ml_retrain"]
    assert {a.name for a in retrain.timetable.asset_condition.objects} == {"autopr_review_feedback_dataset",
                                                                         MODEL_DRIFT_ASSET}

    service = serving(drift_min_predictions=100)
    version = _champion_from_a_training_run(registry, model_name, tmp_path)
    _serve(client, shifted(300))
    get_window().flush()
    service.log.flush()  # the prediction log says which projects the version served
    run = watch.test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states == {"check": "success", "drifted": "success", "announce": "success", "notify": "success"}, states
    notes = run.get_task_instance("notify").xcom_pull(task_ids="notify")
    assert [n["channel"] for n in notes] == ["dashboard"] and "Model drift" in notes[0]["message"]
    assert "|drift:acme|" in notes[0]["event_key"]  # to the one project it served (acme)

    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.scalars(select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                                 .where(AssetModel.name == MODEL_DRIFT_ASSET,
                                        AssetEvent.source_run_id == run.run_id)).all()
        assert len(events) == 1 and events[0].extra["model_name"] == model_name

    # the watch built the version's reference from its training run's holdout and stored it next to the model
    from mlflow import MlflowClient

    mv = MlflowClient(registry.uri, registry.uri).get_model_version(model_name, version)
    reference = reference_for(mv)
    assert reference["predictions"] == 300 and reference["source"].startswith("holdout of training run")
