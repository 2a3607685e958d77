"""Workflow runs started and their outcomes, counted by the platform API against a real Airflow.

Airflow's API server app runs in this process on a free port (as in
tests/events/test_reconcile.py); the workflow's DAG is written to Airflow's
metadata DB the way the DAG processor does.  No scheduler runs, so the run
is finished through Airflow's own REST API (``PATCH .../dagRuns/{id}``), and
the platform learns the outcome when it reads the run back.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import auth, workflow_doc
from tests.api.test_webhooks import SECRET, bind, deliver, pr_payload
from tests.events.test_listener_airflow import _serialize
from tests.events.test_reconcile import PASSWORD, USER, airflow_api  # noqa: F401 - fixture

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

RUNS = "/api/v1/projects/acme/workflows/review/runs"


def _sample(name: str, labels: dict[str, str]) -> float:
    from include.api.metrics import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture()
def platform_client(db, airflow_api, monkeypatch):  # noqa: F811
    from include.api.app import create_app
    from include.settings import get_settings

    monkeypatch.setenv("AUTOPR_AIRFLOW_API_URL", airflow_api)
    monkeypatch.setenv("AUTOPR_AIRFLOW_API_USERNAME", USER)
    monkeypatch.setenv("AUTOPR_AIRFLOW_API_PASSWORD", PASSWORD)
    monkeypatch.setenv("AUTOPR_WORKFLOWS_BUNDLE_URL", "none")
    monkeypatch.setenv("AUTOPR_WEBHOOK_SECRET", SECRET)
    get_settings.cache_clear()
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client
    monkeypatch.undo()
    get_settings.cache_clear()


def _workflow_dag(dag_id: str):
    from datetime import datetime

    from airflow.sdk import dag, task

    @dag(dag_id=dag_id, schedule=None, start_date=datetime(2024, 1, 1), catchup=False)
    def workflow():
        @task
        def notify() -> None:
            return None

        notify()

    return workflow()


def _project_with_workflow(client, doc: dict) -> str:
    """Project acme (ed editor, vic viewer) with the workflow ``doc``; returns the workflow's DAG id, in Airflow."""
    from include.workflows.model import dag_id_for

    if client.get("/api/v1/projects/acme", headers=auth("alice")).status_code == 404:
        r = client.post("/api/v1/projects", json={"slug": "acme", "name": "Acme"}, headers=auth("alice"))
        assert r.status_code == 201, r.text
        for user, role in (("ed", "editor"), ("vic", "viewer")):
            assert client.put(f"/api/v1/projects/acme/members/{user}", json={"role": role},
                              headers=auth("alice")).status_code == 201
        bind(client, "acme", "o/r")  # the repository pr_payload() delivers for
    r = client.post("/api/v1/projects/acme/workflows", json=doc, headers=auth("ed"))
    assert r.status_code == 201, r.text
    dag_id = dag_id_for("acme", doc["id"])
    _serialize(_workflow_dag(dag_id))
    return dag_id


def test_runs_started_and_outcomes_read_back_are_counted_once(platform_client, airflow_api):  # noqa: F811
    client = platform_client
    dag_id = _project_with_workflow(client, workflow_doc())

    started = {"project": "acme", "workflow": "review"}
    before_started = _sample("autopr_workflow_runs_started_total", started)
    before_failed = _sample("autopr_workflow_run_outcomes_total", {"outcome": "failed"})
    r = client.post(RUNS, json={}, headers=auth("ed"))
    assert r.status_code == 201, r.text
    run_id = r.json()["run_id"]
    assert _sample("autopr_workflow_runs_started_total", started) == before_started + 1
    # not finished yet: reading it counts no outcome
    assert client.get(f"{RUNS}/{run_id}", headers=auth("vic")).json()["state"] == "queued"
    assert _sample("autopr_workflow_run_outcomes_total", {"outcome": "failed"}) == before_failed

    token = httpx.post(f"{airflow_api}/auth/token", json={"username": USER, "password": PASSWORD}).json()["access_token"]
    r = httpx.patch(f"{airflow_api}/api/v2/dags/{dag_id}/dagRuns/{run_id}", json={"state": "failed"},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text

    for _ in range(3):  # read back again and again (the UI polls): one run, one outcome
        assert client.get(f"{RUNS}/{run_id}", headers=auth("vic")).json()["state"] == "failed"
        assert client.get(RUNS, headers=auth("vic")).status_code == 200
    assert _sample("autopr_workflow_run_outcomes_total", {"outcome": "failed"}) == before_failed + 1

    text = client.get("/metrics").text
    assert f'autopr_workflow_runs_started_total{{project="acme",workflow="review"}} {before_started + 1}' in text
    assert f'autopr_workflow_run_outcomes_total{{outcome="failed"}} {before_failed + 1}' in text


def test_webhook_deliveries_and_the_runs_they_start_are_counted(platform_client):
    client = platform_client
    doc = workflow_doc("on-pr")
    doc["nodes"][0]["config"] = {"event": "pr_opened", "branches": ["main"]}
    _project_with_workflow(client, doc)
    started = {"project": "acme", "workflow": "on-pr"}
    before = {status: _sample("autopr_webhook_deliveries_total", {"status": status})
              for status in ("dispatched", "ignored")}
    before_started = _sample("autopr_workflow_runs_started_total", started)

    r = deliver(client, "pull_request", pr_payload(base="main"), delivery="ops-1")
    assert r.status_code == 202 and r.json()["status"] == "dispatched", r.text
    assert deliver(client, "pull_request", pr_payload(base="main"), delivery="ops-1").json()["status"] == "duplicate"
    assert deliver(client, "pull_request", pr_payload(base="develop"), delivery="ops-2").json()["status"] == "ignored"

    assert _sample("autopr_workflow_runs_started_total", started) == before_started + 1  # the redelivery started none
    assert _sample("autopr_webhook_deliveries_total", {"status": "dispatched"}) == before["dispatched"] + 1
    assert _sample("autopr_webhook_deliveries_total", {"status": "ignored"}) == before["ignored"] + 1
