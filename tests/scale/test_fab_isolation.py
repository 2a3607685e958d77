"""Projects isolated in Airflow itself: with the FAB auth manager Airflow's own REST API shows and runs a
workflow DAG only for its project's members.

The integration test starts the real platform (``./autopr run``'s code) with
``airflow_auth_manager="fab"``, creates Airflow users through the FAB
provider's API, two projects with one workflow each and their members
through the platform API, then asks Airflow's ``/api/v2`` as each user: an
editor of A lists, views and triggers only A's DAG; a viewer of A lists and
views it but cannot trigger; a member of B sees only B's; a user in no project
gets none; a member who is removed loses access.  The small tests check that
nothing of this is configured by default (SimpleAuthManager stays the
one-machine default).
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.waiting import wait_for

PASSWORD = "fab-isolation-Pa55!"


def workflow(project: str) -> dict:
    return {"id": "isolated", "name": "Isolated", "project": project,
            "nodes": [{"id": "start", "type": "trigger", "config": {"event": "manual"}},
                      {"id": "tell", "type": "notification", "config": {"channel": "dashboard", "message": "hi"}}],
            "edges": [{"id": "e1", "source": "start", "target": "tell"}]}



def test_simple_auth_manager_stays_the_default(tmp_path):
    from include.launcher.airflow_env import airflow_env
    from include.settings import load_settings
    from include.workflows.dag_builder import build_dag

    settings = load_settings(state_dir=tmp_path, workflows_bundle_url="none")  # no bundle: no database
    assert settings.airflow_auth_manager == "simple"
    env = airflow_env(settings, base={})
    assert "AIRFLOW__CORE__AUTH_MANAGER" not in env  # Airflow's own default: SimpleAuthManager
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == f"{settings.admin_username}:admin"
    assert build_dag(workflow("alpha")).access_control is None


def test_fab_configures_airflow_and_every_workflow_dag_names_its_project_roles(tmp_path, monkeypatch):
    from include.auth.airflow_roles import FAB_AUTH_MANAGER
    from include.launcher.airflow_env import airflow_env
    from include.settings import get_settings, load_settings
    from include.workflows.dag_builder import build_dag

    settings = load_settings(state_dir=tmp_path, airflow_auth_manager="fab", workflows_bundle_url="none")
    env = airflow_env(settings, base={})
    assert env["AIRFLOW__CORE__AUTH_MANAGER"] == FAB_AUTH_MANAGER
    assert "FabAuthManager" in FAB_AUTH_MANAGER  # how Airflow's DAG processor recognises FAB (syncs DAG perms)
    assert env["AUTOPR_AIRFLOW_AUTH_MANAGER"] == "fab"
    assert "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS" not in env

    monkeypatch.setenv("AUTOPR_AIRFLOW_AUTH_MANAGER", "fab")
    get_settings.cache_clear()
    try:
        access = build_dag(workflow("alpha")).access_control
    finally:
        get_settings.cache_clear()
    assert access == {
        "autopr:alpha:viewer": {"DAGs": {"can_read"}, "DAG Runs": {"can_read"}},
        "autopr:alpha:editor": {"DAGs": {"can_read", "can_edit"}, "DAG Runs": {"can_read", "can_create"}},
        "autopr:alpha:admin": {"DAGs": {"can_read", "can_edit", "can_delete"},
                               "DAG Runs": {"can_read", "can_create", "can_delete"}},
    }


# --- the platform with the FAB auth manager -------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(pg_url, tmp_path_factory):
    from tests.support.stack import running_platform

    with running_platform(tmp_path_factory.mktemp("fab-platform"), airflow_auth_manager="fab") as platform:
        yield platform


@pytest.mark.integration
def test_airflow_shows_and_runs_a_workflow_dag_only_for_its_project_members(stack, db):
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
