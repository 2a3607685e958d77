"""Projects isolated in Airflow itself: with the FAB auth manager Airflow's own REST API shows and runs a
workflow DAG only for its project's members.

The integration test (``test_airflow_shows_and_runs_a_workflow_dag_only_for_its_project_members`` in
test_compose_cluster.py) runs on the compose file's cluster, which sets
``AUTOPR_AIRFLOW_AUTH_MANAGER=fab`` as a deployment past one machine does; it creates Airflow users through the FAB
provider's API, two projects with one workflow each and their members
through the platform API, then asks Airflow's ``/api/v2`` as each user: an
editor of A lists, views and triggers only A's DAG; a viewer of A lists and
views it but cannot trigger; a member of B sees only B's; a user in no project
gets none; a member who is removed loses access.  The small tests check that
nothing of this is configured by default (SimpleAuthManager stays the
one-machine default).
"""

from __future__ import annotations

PASSWORD = "fab-isolation-Pa55!"


def workflow(project: str) -> dict:
    return {"id": "isolated", "name": "Isolated", "project": project,
            "nodes": [{"id": "start", "type": "trigger", "config": {"event": "manual"}},
                      {"id": "tell", "type": "notification", "config": {"channel": "dashboard", "message": "hi"}}],
            "edges": [{"id": "e1", "source": "start", "target": "tell"}]}



def test_simple_auth_manager_stays_the_default(tmp_path):
    from include.dag_factory.dag_builder import build_dag
    from include.launcher.airflow_env import airflow_env
    from include.settings import load_settings

    settings = load_settings(state_dir=tmp_path, workflows_bundle_url="none")  # no bundle: no database
    assert settings.airflow_auth_manager == "simple"
    env = airflow_env(settings, base={})
    assert "AIRFLOW__CORE__AUTH_MANAGER" not in env  # Airflow's own default: SimpleAuthManager
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == f"{settings.admin_username}:admin"
    assert build_dag(workflow("alpha")).access_control is None


def test_fab_configures_airflow_and_every_workflow_dag_names_its_project_roles(tmp_path, monkeypatch):
    from include.auth.airflow_roles import FAB_AUTH_MANAGER
    from include.dag_factory.dag_builder import build_dag
    from include.launcher.airflow_env import airflow_env
    from include.settings import get_settings, load_settings

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
