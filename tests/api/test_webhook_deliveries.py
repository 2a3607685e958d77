"""Webhooks bound to projects, against a real Airflow: who runs, what is stored, what a redelivery retries.

Airflow's API server runs in this process (tests/events/test_reconcile.py
``airflow_api``); a workflow's DAG exists in Airflow once it is written to the
metadata DB the way the DAG processor does.  A workflow whose DAG Airflow does
not know yet fails to start for real (Airflow answers 404 for it), which is how
a partly failed delivery is made here.
"""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import auth, workflow_doc
from tests.api.test_webhooks import bind, deliver, pr_payload, stored
from tests.events.test_listener_airflow import _serialize
from tests.events.test_reconcile import PASSWORD, USER, airflow_api  # noqa: F401 - fixture
from tests.ops.test_workflow_run_metrics import _workflow_dag, platform_client  # noqa: F401 - fixture

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _member_projects(client) -> None:
    """acme: alice admin, ed editor, vic viewer; other: mallory admin."""
    for slug, admin in (("acme", "alice"), ("other", "mallory")):
        r = client.post("/api/v1/projects", json={"slug": slug, "name": slug}, headers=auth(admin))
        assert r.status_code == 201, r.text
    for user, role in (("ed", "editor"), ("vic", "viewer")):
        assert client.put(f"/api/v1/projects/acme/members/{user}", json={"role": role},
                          headers=auth("alice")).status_code == 201


def _pr_workflow(client, project: str, wf: str, *, in_airflow: bool = True) -> str:
    """A workflow of ``project`` started by pull requests to main; its DAG id (known to Airflow if ``in_airflow``)."""
    from include.workflows.model import dag_id_for

    doc = workflow_doc(wf, project)
    doc["nodes"][0]["config"] = {"event": "pr_opened", "branches": ["main"]}
    editor = "ed" if project == "acme" else "mallory"
    r = client.post(f"/api/v1/projects/{project}/workflows", json=doc, headers=auth(editor))
    assert r.status_code == 201, r.text
    dag_id = dag_id_for(project, wf)
    if in_airflow:
        _serialize(_workflow_dag(dag_id))
    return dag_id


def _runs_in_airflow(airflow_url: str, dag_id: str) -> list[str]:
    token = httpx.post(f"{airflow_url}/auth/token", json={"username": USER, "password": PASSWORD}).json()["access_token"]
    r = httpx.get(f"{airflow_url}/api/v2/dags/{dag_id}/dagRuns", headers={"Authorization": f"Bearer {token}"})
    return [run["dag_run_id"] for run in r.json().get("dag_runs", [])] if r.status_code == 200 else []


def test_only_the_workflows_of_projects_bound_to_the_repository_run(platform_client, airflow_api):  # noqa: F811
    client = platform_client
    _member_projects(client)
    acme_dag = _pr_workflow(client, "acme", "bound-review")
    other_dag = _pr_workflow(client, "other", "unbound-review")
    bind(client, "acme", "octo-org/Widgets")

    r = deliver(client, "pull_request", pr_payload(repo="octo-org/widgets"), delivery="bound-1")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "dispatched" and body["projects"] == ["acme"]
    assert [(x["dag_id"], x["outcome"]) for x in body["runs"]] == [(acme_dag, "started")]
    assert _runs_in_airflow(airflow_api, acme_dag) == [body["runs"][0]["run_id"]]
    assert _runs_in_airflow(airflow_api, other_dag) == []

    # the repository bound to both: each project runs its own workflows
    bind(client, "other", "octo-org/widgets", user="mallory")
    r = deliver(client, "pull_request", pr_payload(repo="octo-org/widgets"), delivery="bound-2")
    assert sorted(x["dag_id"] for x in r.json()["runs"]) == sorted([acme_dag, other_dag])
    assert r.json()["projects"] == ["acme", "other"]
    # each project's members see the delivery and only their own project's workflows in it
    row = stored(client, "bound-2", user="mallory")
    assert row["projects"] == ["other"] and [o["dag_id"] for o in row["outcomes"]] == [other_dag]
    assert stored(client, "bound-2", user="admin")["projects"] == ["acme", "other"]


def test_a_partly_failed_delivery_redelivered_runs_only_the_failed_workflow(platform_client, airflow_api):  # noqa: F811
    client = platform_client
    _member_projects(client)
    bind(client, "acme", "o/r")
    known = _pr_workflow(client, "acme", "known")
    unknown = _pr_workflow(client, "acme", "not-parsed-yet", in_airflow=False)

    r = deliver(client, "pull_request", pr_payload(), delivery="partial-1")
    assert r.status_code == 202 and r.json()["status"] == "partial", r.text
    runs = {x["workflow"]: x for x in r.json()["runs"]}
    assert runs["known"]["outcome"] == "started"
    assert runs["not-parsed-yet"]["outcome"] == "failed" and "has not loaded DAG" in runs["not-parsed-yet"]["error"]
    first_run = runs["known"]["run_id"]
    assert stored(client, "partial-1", user="vic")["status"] == "partial"

    # GitHub's redelivery (same X-GitHub-Delivery) once Airflow knows the DAG: only the failed workflow starts
    _serialize(_workflow_dag(unknown))
    again = deliver(client, "pull_request", pr_payload(), delivery="partial-1")
    assert again.status_code == 202 and again.json()["status"] == "dispatched", again.text
    runs = {x["workflow"]: x for x in again.json()["runs"]}
    assert runs["known"]["run_id"] == first_run and runs["not-parsed-yet"]["outcome"] == "started"
    assert _runs_in_airflow(airflow_api, known) == [first_run]  # not started twice
    assert _runs_in_airflow(airflow_api, unknown) == [runs["not-parsed-yet"]["run_id"]]
    row = stored(client, "partial-1", user="vic")
    assert row["status"] == "dispatched" and row["attempts"] == 2
    assert {o["workflow"]: o["run_id"] for o in row["outcomes"]} == {
        "known": first_run, "not-parsed-yet": runs["not-parsed-yet"]["run_id"]}

    # fully succeeded now: another redelivery starts nothing
    third = deliver(client, "pull_request", pr_payload(), delivery="partial-1")
    assert third.status_code == 200 and third.json()["status"] == "duplicate"
    assert len(_runs_in_airflow(airflow_api, unknown)) == 1


def test_redeliver_endpoint_retries_failed_starts_for_editors(platform_client, airflow_api):  # noqa: F811
    client = platform_client
    _member_projects(client)
    bind(client, "acme", "o/r")
    late = _pr_workflow(client, "acme", "late", in_airflow=False)

    r = deliver(client, "pull_request", pr_payload(), delivery="api-redeliver-1")
    assert r.status_code == 503, r.text  # nothing could start: GitHub will redeliver
    row = stored(client, "api-redeliver-1", user="vic")
    assert row["status"] == "failed"

    url = f"/api/v1/webhooks/deliveries/{row['id']}/redeliver"
    assert client.post(url, headers=auth("vic")).status_code == 403  # viewer
    assert client.post(url, headers=auth("mallory")).status_code == 404  # not a member: not revealed
    assert client.post(url, headers=auth("ed")).status_code == 503  # still unknown to Airflow: still failed
    _serialize(_workflow_dag(late))
    r = client.post(url, headers=auth("ed"))
    assert r.status_code == 202 and r.json()["status"] == "dispatched", r.text
    assert _runs_in_airflow(airflow_api, late) == [r.json()["runs"][0]["run_id"]]
    r = client.post(url, headers=auth("ed"))
    assert r.status_code == 200 and r.json()["status"] == "duplicate"
    assert len(_runs_in_airflow(airflow_api, late)) == 1
