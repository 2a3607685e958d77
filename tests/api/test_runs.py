"""Runs without a reachable Airflow: clear problems, never a 500 (the live-stack test runs them for real)."""

from __future__ import annotations

from tests.api.conftest import auth

RUNS = "/api/v1/projects/acme/workflows/review/runs"


def test_trigger_and_list_with_airflow_down_are_503(client, workflow):
    r = client.post(RUNS, json={}, headers=auth("ed"))
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert "Airflow" in r.json()["detail"]
    assert client.get(RUNS, headers=auth("vic")).status_code == 503


def test_trigger_validates_event_and_role(client, workflow):
    r = client.post(RUNS, json={"event": {"kind": "pr_opened", "repository": "not-a-repo"}}, headers=auth("ed"))
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"].startswith("/event")
    assert client.post(RUNS, json={}, headers=auth("vic")).status_code == 403
    assert client.post("/api/v1/projects/acme/workflows/nope/runs", json={}, headers=auth("ed")).status_code == 404


def test_deleted_workflow_cannot_run(client, workflow):
    client.delete("/api/v1/projects/acme/workflows/review", headers=auth("ed"))
    r = client.post(RUNS, json={}, headers=auth("ed"))
    assert r.status_code == 409 and "deleted" in r.json()["detail"]
