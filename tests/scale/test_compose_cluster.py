"""The compose file's Celery cluster, started on this host, does the platform's work on both workers.

``docker-compose.yaml`` is the source of truth: tests/support/compose.py starts
each platform service's command with that service's environment and probes it
with its healthcheck (service names mapped to 127.0.0.1, ports to free ones).
PostgreSQL holds the app, Airflow and MLflow databases; Redis is the broker and
the event stream.  Pull-request reviews of the Basic Quality Check template and
the learning loop (``ml_feature_export`` -> Asset -> ``ml_retrain``) must run to
success, with tasks executed by both named workers.
"""

from __future__ import annotations

import os

import pytest

from tests.support.compose import ClusterApi, executed_on, fresh_cluster, new_secrets
from tests.support.github_standin import GitHubStandIn

pytestmark = pytest.mark.integration

REDIS_DB = 11
SECRETS = new_secrets()
WORKERS = ("airflow-worker-1", "airflow-worker-2")


@pytest.fixture(scope="module")
def cluster(redis_url):
    with fresh_cluster(REDIS_DB, SECRETS, keep=bool(os.environ.get("AUTOPR_TEST_KEEP_CLUSTER"))) as running:
        yield running


def test_reviews_and_learning_loop_run_on_both_workers(cluster, git_repo):
    api = ClusterApi(cluster, SECRETS["AUTOPR_ADMIN_PASSWORD"])
    health = api.client.get("/api/v2/monitor/health").json()
    assert all(health[c]["status"] == "healthy" for c in ("metadatabase", "scheduler", "triggerer", "dag_processor"))

    with GitHubStandIn() as github:
        dag_id, event = api.review_workflow(github, git_repo)
        runs = api.start_runs("demo", "bqc", event, count=4)  # several at once, so both workers take tasks
        states = api.wait_finished(dag_id, runs, timeout=600)
        for run_id, state in states.items():
            assert state == "success", api.task_states(dag_id, run_id)
        assert github.calls("POST", "/repos/acme/app/issues/7/comments"), "no review reached the pull request"

    from include.db.session import session_scope
    from ml.ingest import ingest_advisories, load_advisories

    frame = load_advisories().sample(frac=1.0, random_state=3).groupby("severity").head(30)
    with session_scope(cluster.env("airflow-apiserver")["AUTOPR_DATABASE_URL"]) as session:
        ingest_advisories(session, "demo", frame.sort_values("published"))
    for dag in ("ml_feature_export", "ml_retrain"):
        api.wait(lambda d=dag: api.client.get(f"/api/v2/dags/{d}").status_code == 200, 120, f"{dag} parsed")
        api.client.patch(f"/api/v2/dags/{dag}", json={"is_paused": False}).raise_for_status()
    export = api.client.post("/api/v2/dags/ml_feature_export/dagRuns", json={"logical_date": None})
    assert export.status_code == 200, export.text
    export_id = export.json()["dag_run_id"]
    assert api.wait_finished("ml_feature_export", [export_id], 420)[export_id] == "success", \
        api.task_states("ml_feature_export", export_id)

    def retrained():
        items = api.client.get("/api/v2/dags/ml_retrain/dagRuns").json()["dag_runs"]
        done = [r for r in items if r["run_type"] == "asset_triggered" and r["state"] in ("success", "failed")]
        return done[0] if done else None

    run = api.wait(retrained, 600, "ml_retrain started by the export's Asset")
    assert run["state"] == "success", api.task_states("ml_retrain", run["dag_run_id"])
    from mlflow import MlflowClient

    from ml.registry import CHALLENGER, MODEL_NAME

    registered = MlflowClient(cluster.url("mlflow", 5000)).get_model_version_by_alias(MODEL_NAME, CHALLENGER)
    assert registered.source.startswith(("mlflow-artifacts:", "models:/")), registered.source

    executed = {worker: executed_on(cluster, worker) for worker in WORKERS}
    assert all(executed.values()), f"tasks per worker: {executed}"
    print(f"\ncluster healthy in {cluster.started_in:.0f}s; tasks per worker {executed}")
