"""The compose file's Celery cluster, started on this host, does the platform's work on both workers.

``docker-compose.yaml`` is the source of truth: tests/support/compose.py starts
each platform service's command with that service's environment and probes it
with its healthcheck (service names mapped to 127.0.0.1, ports to free ones).
PostgreSQL holds the app, Airflow and MLflow databases; Redis is the broker and
the event stream.  Pull-request reviews of the Basic Quality Check template and
the learning loop (``ml_feature_export`` -> Asset -> ``ml_retrain``) must run to
success, with tasks executed by both named workers, and the model registered on
the MLflow server.  The cluster runs the FAB auth manager, as the compose file
configures a deployment: Airflow's own REST API shows and runs each project's
workflow DAGs only for that project's members.
"""

from __future__ import annotations

import os

import httpx
import pytest

from tests.scale.test_fab_isolation import workflow
from tests.support.compose import ClusterApi, executed_on, fresh_cluster, new_secrets
from tests.support.github_standin import GitHubStandIn
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

WORKERS = ("airflow-worker-1", "airflow-worker-2")
REDIS_DB = 11


@pytest.fixture(scope="module")
def compose_cluster(redis_url):
    """docker-compose.yaml's services on this host, shared by this module's tests and stopped after them."""
    env_secrets = new_secrets()
    with fresh_cluster(REDIS_DB, env_secrets, keep=bool(os.environ.get("AUTOPR_TEST_KEEP_CLUSTER"))) as cluster:
        yield cluster, ClusterApi(cluster, env_secrets["AUTOPR_ADMIN_PASSWORD"])


def test_reviews_and_learning_loop_run_on_both_workers(compose_cluster, git_repo):
    cluster, api = compose_cluster
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

    def retrain_runs(run_type: str | None = None) -> list[dict]:
        items = api.client.get("/api/v2/dags/ml_retrain/dagRuns").json()["dag_runs"]
        return [r for r in items if run_type in (None, r["run_type"]) and r["state"] in ("success", "failed")]

    # Unpausing also starts the weekly schedule's catch-up run: whichever retrain run comes first trains, and a
    # later one finds no new rows and skips by design. The export's Asset must start one, and one must train.
    asset_run = api.wait(lambda: retrain_runs("asset_triggered"), 600, "ml_retrain started by the export's Asset")[0]
    assert asset_run["state"] == "success", api.task_states("ml_retrain", asset_run["dag_run_id"])
    trained = [r for r in retrain_runs() if api.task_states("ml_retrain", r["dag_run_id"]).get("train") == "success"]
    assert trained, {r["dag_run_id"]: api.task_states("ml_retrain", r["dag_run_id"]) for r in retrain_runs()}
    from mlflow import MlflowClient

    from ml.registry import CHALLENGER, MODEL_NAME

    server = cluster.url("mlflow", 5000)  # the registry too: a registry URI set elsewhere in this process would win
    registered = MlflowClient(tracking_uri=server, registry_uri=server).get_model_version_by_alias(MODEL_NAME, CHALLENGER)
    assert registered.source.startswith(("mlflow-artifacts:", "models:/")), registered.source

    executed = {worker: executed_on(cluster, worker) for worker in WORKERS}
    assert all(executed.values()), f"tasks per worker: {executed}"
    print(f"\ncluster healthy in {cluster.started_in:.0f}s; tasks per worker {executed}")


PASSWORD = "fab-isolation-Pa55!"


def test_airflow_shows_and_runs_a_workflow_dag_only_for_its_project_members(compose_cluster):
    """Projects isolated in Airflow itself (FAB auth manager, as the compose file configures it)."""
    cluster, stack = compose_cluster
    assert cluster.env("airflow-apiserver")["AUTOPR_AIRFLOW_AUTH_MANAGER"] == "fab"
    from include.auth.airflow_roles import BASE_ROLE
    from include.auth.tokens import verify_token

    admin = stack.api()
    platform = httpx.Client(base_url=stack.airflow_url + "/autopr", timeout=60, headers=dict(admin.headers))

    # Airflow users (FAB's own API) with the platform's base role: the UI's pages, no DAG.
    for name in ("alice", "vera", "bob", "nobody"):
        r = admin.post("/auth/fab/v1/users", json={"username": name, "email": f"{name}@example.test",
                                                    "first_name": name, "last_name": "Tester",
                                                    "password": PASSWORD, "roles": [{"name": BASE_ROLE}]})
        assert r.status_code in (200, 201), r.text

    dags = {}
    for project in ("iso-a", "iso-b"):
        assert platform.post("/api/v1/projects", json={"slug": project, "name": project}).status_code == 201
        r = platform.post(f"/api/v1/projects/{project}/workflows", json=workflow(project))
        assert r.status_code == 201, r.text
        dags[project] = r.json()["dag_id"]
    a_dag, b_dag = dags["iso-a"], dags["iso-b"]
    for project, name, role in (("iso-a", "alice", "editor"), ("iso-a", "vera", "viewer"), ("iso-b", "bob", "editor")):
        r = platform.put(f"/api/v1/projects/{project}/members/{name}", json={"role": role})
        assert r.status_code == 201, r.text
    # The platform invents no logins: a member must be an Airflow user first.
    r = platform.put("/api/v1/projects/iso-a/members/ghost", json={"role": "viewer"})
    assert r.status_code == 422, r.text
    assert [m["username"] for m in platform.get("/api/v1/projects/iso-a/members").json()] == ["admin", "alice", "vera"]

    # The members' Airflow roles are their projects' roles, nothing more.
    roles = {name: {role["name"] for role in admin.get(f"/auth/fab/v1/users/{name}").json()["roles"]}
             for name in ("alice", "vera", "bob", "nobody")}
    assert roles["alice"] >= {"autopr:iso-a:editor"} and not {r for r in roles["alice"] if "iso-b" in r}
    assert {r for r in roles["vera"] if r.startswith("autopr:")} == {"autopr:iso-a:viewer"}
    assert {r for r in roles["bob"] if r.startswith("autopr:")} == {"autopr:iso-b:editor"}
    assert not {r for r in roles["nobody"] if r.startswith("autopr:")}

    for dag_id in (a_dag, b_dag):
        stack.wait_for_dag(dag_id, timeout=120)

    clients = {name: stack.api(stack.token(name, PASSWORD)) for name in ("alice", "vera", "bob", "nobody")}

    def listed(name: str) -> set[str] | None:
        r = clients[name].get("/api/v2/dags", params={"limit": 100})
        if r.status_code == 403:
            return None
        assert r.status_code == 200, r.text
        return {d["dag_id"] for d in r.json()["dags"]}

    def trigger(name: str, dag_id: str) -> httpx.Response:
        return clients[name].post(f"/api/v2/dags/{dag_id}/dagRuns",
                                  json={"logical_date": None, "conf": {"event": {"kind": "manual"}}})

    # The DAG processor grants the project roles when it writes each DAG; wait until it has for both.
    wait_for(lambda: listed("alice") == {a_dag} and listed("bob") == {b_dag}, 120, "DAG permissions synced")

    # An editor of A: lists, views and triggers A's DAG only.
    assert listed("alice") == {a_dag}
    assert clients["alice"].get(f"/api/v2/dags/{a_dag}").status_code == 200
    assert clients["alice"].get(f"/api/v2/dags/{b_dag}").status_code == 403
    r = trigger("alice", a_dag)
    assert r.status_code == 200, r.text
    run_id = r.json()["dag_run_id"]
    assert trigger("alice", b_dag).status_code == 403
    runs = clients["alice"].get(f"/api/v2/dags/{a_dag}/dagRuns")
    assert runs.status_code == 200 and run_id in {run["dag_run_id"] for run in runs.json()["dag_runs"]}
    assert clients["alice"].get(f"/api/v2/dags/{b_dag}/dagRuns").status_code == 403
    every_run = clients["alice"].get("/api/v2/dags/~/dagRuns")
    assert every_run.status_code == 200 and {run["dag_id"] for run in every_run.json()["dag_runs"]} <= {a_dag}

    # A viewer of A: lists and views A's DAG and its runs, cannot trigger it.
    assert listed("vera") == {a_dag}
    assert clients["vera"].get(f"/api/v2/dags/{a_dag}").status_code == 200
    assert clients["vera"].get(f"/api/v2/dags/{a_dag}/dagRuns").status_code == 200
    assert trigger("vera", a_dag).status_code == 403
    assert clients["vera"].patch(f"/api/v2/dags/{a_dag}", json={"is_paused": True}).status_code == 403

    # A member of B only: B's DAG, never A's.
    assert listed("bob") == {b_dag}
    assert clients["bob"].get(f"/api/v2/dags/{a_dag}").status_code == 403
    assert trigger("bob", a_dag).status_code == 403

    # A member of no project: no workflow DAG at all.
    assert not listed("nobody")
    for dag_id in (a_dag, b_dag):
        assert clients["nobody"].get(f"/api/v2/dags/{dag_id}").status_code == 403
        assert trigger("nobody", dag_id).status_code == 403

    # The platform knows FAB's users by name: its API (inside Airflow) and its own token check (the sidecar's).
    alice_token = stack.token("alice", PASSWORD)
    assert verify_token(alice_token, stack.settings).username == "alice"
    mine = httpx.get(stack.airflow_url + "/autopr/api/v1/projects", headers={"Authorization": f"Bearer {alice_token}"},
                     timeout=30)
    assert mine.status_code == 200 and [p["slug"] for p in mine.json()] == ["iso-a"]

    # A removed member loses Airflow access (within FAB's per-process permission cache lifetime).
    assert platform.delete("/api/v1/projects/iso-a/members/alice").status_code == 204
    assert not {r["name"] for r in admin.get("/auth/fab/v1/users/alice").json()["roles"] if "iso-a" in r["name"]}
    wait_for(lambda: clients["alice"].get(f"/api/v2/dags/{a_dag}").status_code == 403, 90, "alice's access revoked",
             every=3)
    assert trigger("alice", a_dag).status_code == 403
    assert not listed("alice")
