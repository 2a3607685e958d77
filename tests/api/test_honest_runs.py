"""Honest runs: a run a workflow's trigger cannot use is refused up front, and Airflow's import error is shown.

A pull-request workflow started without a pull-request event used to "succeed"
with every task skipped; the API now answers 422 naming ``/event`` and the
event it needs.  In-process (no Airflow): a run that passes the gate reaches
Airflow and gets the usual 503, which is how these tests tell it passed.
"""

from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import auth, workflow_doc

BASE = "/api/v1/projects/acme/workflows"


def _pr_workflow(client, project, wf_id="prw", **trigger):
    doc = workflow_doc(wf_id)
    doc["nodes"][0]["config"] = {"event": "pr_opened", **trigger}
    r = client.post(BASE, json=doc, headers=auth("ed"))
    assert r.status_code == 201, r.text
    return f"{BASE}/{wf_id}/runs"


def test_pr_workflow_without_event_is_422_naming_the_event(client, project):
    runs = _pr_workflow(client, project)
    for body in ({}, {"event": None}, {"event": {}}):
        r = client.post(runs, json=body, headers=auth("ed"))
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
        problem = r.json()
        assert "pr_opened" in problem["detail"] and '"pr_number"' in problem["detail"]
        assert problem["errors"][0]["pointer"] == "/event"
        assert problem["errors"][0]["example"]["kind"] == "pr_opened"


def test_pr_workflow_with_wrong_or_incomplete_event_is_422(client, project):
    runs = _pr_workflow(client, project, branches=["main"])
    r = client.post(runs, json={"event": {"kind": "manual"}}, headers=auth("ed"))
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/event/kind"
    r = client.post(runs, json={"event": {"kind": "pr_opened", "repository": "acme/app"}}, headers=auth("ed"))
    assert r.status_code == 422 and [e["pointer"] for e in r.json()["errors"]] == ["/event/pr_number"]
    r = client.post(runs, json={"event": {"repository": "acme/app", "pr_number": 3, "base_ref": "dev"}},
                    headers=auth("ed"))
    assert r.status_code == 422 and "branch 'dev'" in r.json()["detail"]


def test_pr_workflow_with_a_pr_event_passes_the_gate(client, project):
    runs = _pr_workflow(client, project, branches=["main"])
    event = {"kind": "pr_opened", "repository": "acme/app", "pr_number": 3, "base_ref": "main", "sha": "a" * 40}
    r = client.post(runs, json={"event": event}, headers=auth("ed"))
    assert r.status_code == 503 and "Airflow" in r.json()["detail"]  # reached Airflow: the event was accepted
    r = client.post(runs, json={"event": {k: v for k, v in event.items() if k != "kind"}}, headers=auth("ed"))
    assert r.status_code == 503  # kind defaults to the trigger's event


def test_manual_workflow_still_runs_without_event(client, workflow):
    r = client.post(f"{BASE}/review/runs", json={}, headers=auth("ed"))
    assert r.status_code == 503


def test_workflow_state_without_airflow_has_no_import_error(client, workflow):
    r = client.get(f"{BASE}/review", headers=auth("vic"))
    assert r.status_code == 200 and r.json()["import_error"] is None and r.headers["etag"]
    listed = client.get("/api/v1/workflows", params={"project": "acme"}, headers=auth("vic")).json()["items"]
    assert [(w["id"], w["import_error"]) for w in listed] == [("review", None)]


@pytest.mark.integration
def test_live_import_error_is_part_of_the_workflows_state(platform):
    """A compiled workflow Airflow cannot import: its import error shows in GET and the list, read from Airflow."""
    import httpx

    from include.airflow_client import AirflowClient
    from include.workflows.bundle import WorkflowBundle
    from tests.support.waiting import wait_for

    token = platform.token()
    project = f"broken-{uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=platform.airflow_url + "/autopr", timeout=60,
                      headers={"Authorization": f"Bearer {token}"}) as api, platform.api(token) as airflow:
        assert api.post("/api/v1/projects", json={"slug": project, "name": "Broken"}).status_code == 201
        r = api.post(f"/api/v1/projects/{project}/workflows", json=workflow_doc("wf", project))
        assert r.status_code == 201, r.text
        dag_id = r.json()["dag_id"]
        assert wait_for(lambda: airflow.get(f"/api/v2/dags/{dag_id}").status_code == 200, timeout=60)
        assert api.get(f"/api/v1/projects/{project}/workflows/wf").json()["import_error"] is None
        # The compiled file breaks (as after an upgrade of the DAG builder); the stored workflow stays valid.
        broken_file = f"{project}__wf.json"

        def break_it(dest):
            (dest / broken_file).write_text("{ not json", encoding="utf-8")
            return f"test: break {broken_file}"

        WorkflowBundle.from_settings(platform.settings).publish(break_it)
        with AirflowClient(platform.airflow_url, token=token) as client:
            client.request_reparse(dag_id)  # not waiting for the bundle's refresh interval

        def broken():
            got = api.get(f"/api/v1/projects/{project}/workflows/wf").json()
            return got["import_error"]

        error = wait_for(broken, timeout=240, what="the import error in GET")
        print(f"\nimport error: {error['filename']}: {error['message'].strip().splitlines()[-1]}")
        assert error["filename"].endswith(f"{project}__wf.py") and error["message"]
        listed = api.get("/api/v1/workflows", params={"project": project}).json()["items"]
        assert [(w["id"], bool(w["import_error"])) for w in listed] == [("wf", True)]
        # Leave the shared platform without the import error: deleting the workflow removes its compiled files.
        assert api.delete(f"/api/v1/projects/{project}/workflows/wf").status_code == 204
