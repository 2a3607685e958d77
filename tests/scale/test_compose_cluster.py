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
import secrets
import time
import uuid

import pytest
import redis
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL
from tests.support.compose import ClusterApi, OneHost, executed_on, remove, start_cluster
from tests.support.github_standin import GitHubStandIn

pytestmark = pytest.mark.integration

REDIS_DB = 11
SECRETS = {
    "AUTOPR_JWT_SECRET": secrets.token_urlsafe(48),
    "AUTOPR_ADMIN_PASSWORD": secrets.token_urlsafe(12),
    "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
    "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(16),
}
WORKERS = ("airflow-worker-1", "airflow-worker-2")


def _admin(sql: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, redis_url):
    run_dir = tmp_path_factory.mktemp("compose")
    suffix = uuid.uuid4().hex[:8]
    databases = {name: f"autopr_cc_{suffix}_{name}" for name in ("autopr", "airflow", "mlflow")}
    for name in databases.values():
        _admin(f'CREATE DATABASE "{name}"')
    broker = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    broker.flushdb()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOPR_", "AIRFLOW", "MLFLOW_"))}
    started = time.monotonic()
    running = start_cluster(OneHost(run_dir, databases, REDIS_DB), SECRETS, base_env, timeout=600)
    running.started_in = time.monotonic() - started
    try:
        yield running
    finally:
        running.stop()
        broker.flushdb()
        for name in databases.values():
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not os.environ.get("AUTOPR_TEST_KEEP_CLUSTER"):  # keep logs and state to look at a failure
            remove(run_dir)


def test_reviews_and_learning_loop_run_on_both_workers(cluster, git_repo):
    api = ClusterApi(cluster, SECRETS["AUTOPR_ADMIN_PASSWORD"])
    health = api.client.get("/api/v2/monitor/health").json()
    assert all(health[c]["status"] == "healthy" for c in ("metadatabase", "scheduler", "triggerer", "dag_processor"))

    with GitHubStandIn() as github:
        github.add_repo("acme/app")
        github.add_pull("acme/app", 7, git_repo.bad_sha)
        api.use_github(github)
        dag_id = api.workflow_from_template("Basic Quality Check", "demo", "bqc")
        event = {"kind": "pr_opened", "repository": "acme/app", "clone_url": git_repo.url, "sha": git_repo.bad_sha,
                 "ref": "feature", "base_ref": "main", "pr_number": 7, "author": "octocat"}
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
