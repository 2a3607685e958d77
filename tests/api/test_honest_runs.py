"""Honest runs: a run a workflow's trigger cannot use is refused up front, and Airflow's import error is shown.

A pull-request workflow started without a pull-request event used to "succeed"
with every task skipped; the API now answers 422 naming ``/event`` and the
event it needs.  In-process (no Airflow): a run that passes the gate reaches
Airflow and gets the usual 503, which is how these tests tell it passed.
"""

from __future__ import annotations

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
