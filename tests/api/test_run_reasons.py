"""Failure reasons: a failed node's error, as the Airflow listener recorded it, is part of the run the API returns.

The listener stores a failed task's exception in ``execution_events``
(payload ``error``); ``GET …/runs/{run_id}`` reads it from there per node.
The first test goes through the listener's own event builder and the event
store into the lookup the route uses; the live test fails a real node in
the shared platform's Airflow and reads the reason over HTTP.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from include.api.airflow_service import failure_reasons, log_url
from include.events.listener import task_instance_event
from include.events.store import persist

ERROR = "node 'bad': code-host connection 'github_default': No access token"


def _ti(task_id: str, try_number: int, dag_id: str, run_id: str):
    return SimpleNamespace(dag_id=dag_id, run_id=run_id, task_id=task_id, try_number=try_number, map_index=-1,
                           start_date=None, end_date=None, task=None, operator="PythonOperator", max_tries=1)


def test_failed_nodes_reason_is_the_listeners_error_latest_try_wins(db):
    from include.db.session import session_scope

    dag_id, run_id = "autopr__acme__prw", f"manual__{uuid.uuid4().hex}"
    with session_scope() as session:
        persist(session, task_instance_event(_ti("bad", 1, dag_id, run_id), "up_for_retry", "running",
                                             RuntimeError("first try: timeout")))
        persist(session, task_instance_event(_ti("bad", 2, dag_id, run_id), "failed", "running", RuntimeError(ERROR)))
        persist(session, task_instance_event(_ti("ok", 1, dag_id, run_id), "success", "running"))
    with session_scope() as session:
        reasons = failure_reasons(session, dag_id, run_id)
    assert reasons == {"bad": {"reason": f"RuntimeError: {ERROR}", "try_number": 2}}
    assert log_url(dag_id, run_id, "bad", 2).endswith(f"/dags/{dag_id}/runs/{run_id}/tasks/bad?try_number=2")


@pytest.mark.integration
def test_live_failed_node_reason_and_log_link_in_get_run(platform):
    """A pull-request run started with its event (201) whose label step fails: the run says why, per node."""
    import httpx

    from tests.api.conftest import workflow_doc
    from tests.support.waiting import wait_for

    token = platform.token()
    project = f"why-{uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=platform.airflow_url + "/autopr", timeout=60,
                      headers={"Authorization": f"Bearer {token}"}) as api, platform.api(token) as airflow:
        assert api.post("/api/v1/projects", json={"slug": project, "name": "Why"}).status_code == 201
        doc = workflow_doc("why", project)
        doc["nodes"] = [{"id": "start", "type": "trigger", "config": {"event": "pr_opened"}},
                        {"id": "bad", "type": "action", "config": {"action": "label_pr", "labels": ["x"], "retries": 0}}]
        doc["edges"] = [{"id": "e1", "source": "start", "target": "bad"}]
        r = api.post(f"/api/v1/projects/{project}/workflows", json=doc)
        assert r.status_code == 201, r.text
        dag_id = r.json()["dag_id"]
        assert wait_for(lambda: airflow.get(f"/api/v2/dags/{dag_id}").status_code == 200, timeout=60)
        runs = f"/api/v1/projects/{project}/workflows/why/runs"
        assert api.post(runs, json={}).status_code == 422  # no pull-request event: refused, names /event
        event = {"kind": "pr_opened", "repository": "octo/nowhere", "pr_number": 3, "base_ref": "main", "sha": "c" * 40}
        started = api.post(runs, json={"event": event})
        assert started.status_code == 201, started.text
        run_id = started.json()["run_id"]

        def failed_node():
            detail = api.get(f"{runs}/{run_id}").json()
            node = next((n for n in detail.get("nodes", []) if n["node_id"] == "bad"), None)
            return node if node and node["state"] == "failed" and node["reason"] else None

        assert wait_for(failed_node, timeout=240), api.get(f"{runs}/{run_id}").text
        node = failed_node()
        print(f"\nreason: {node['reason']}")
        assert "try_number=" in node["log_url"] and f"/dags/{dag_id}/runs/" in node["log_url"]
        ok = [n for n in api.get(f"{runs}/{run_id}").json()["nodes"] if n["node_id"] == "start"]
        assert ok and ok[0]["reason"] is None and ok[0]["log_url"] is None
