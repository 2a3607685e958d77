"""Fixtures for the platform API tests.

Most tests drive the app in-process (``TestClient(create_app())``) with tokens
in the exact format Airflow issues, against the session's PostgreSQL database;
``tests/api/test_live_stack.py`` drives the API mounted in a real Airflow.
"""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from tests.support.ports import free_port

# In-process tests have no Airflow: the app fixtures point the Airflow client at
# a closed port (so a best-effort re-parse fails fast instead of reaching
# someone's 8080).  Not set globally: the shared platform fixture reads it too.
CLOSED_AIRFLOW_URL = f"http://127.0.0.1:{free_port()}"
# The shared platform (tests/conftest.py ``platform``) reads settings when it starts:
# give it a webhook secret so the live webhook test can sign deliveries.
os.environ.setdefault("AUTOPR_WEBHOOK_SECRET", "live-webhook-secret")


@pytest.fixture()
def app(db, monkeypatch):
    from include.api.app import create_app
    from include.settings import get_settings

    monkeypatch.setenv("AUTOPR_AIRFLOW_API_URL", CLOSED_AIRFLOW_URL)
    get_settings.cache_clear()
    yield create_app()
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture()
def client(app):
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def token_for(username: str, ttl: int = 3600) -> str:
    from include.auth.tokens import mint_token

    return mint_token(username, ttl_seconds=ttl)


def auth(username: str, ttl: int = 3600) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(username, ttl)}"}


@pytest.fixture()
def project(client):
    """Project 'acme' with alice (admin), ed (editor), vic (viewer); mallory is in project 'other'."""
    r = client.post("/api/v1/projects", json={"slug": "acme", "name": "Acme"}, headers=auth("alice"))
    assert r.status_code == 201, r.text
    for user, role in (("ed", "editor"), ("vic", "viewer")):
        r = client.put(f"/api/v1/projects/acme/members/{user}", json={"role": role}, headers=auth("alice"))
        assert r.status_code == 201, r.text
    r = client.post("/api/v1/projects", json={"slug": "other", "name": "Other"}, headers=auth("mallory"))
    assert r.status_code == 201, r.text
    return "acme"


def workflow_doc(wf_id: str = "review", project: str = "acme", **extra) -> dict:
    """A small valid workflow: manual trigger -> dashboard notification."""
    return {
        "id": wf_id, "name": "Review", "project": project,
        "nodes": [
            {"id": "start", "type": "trigger", "config": {"event": "manual"}},
            {"id": "notify", "type": "notification", "config": {"channel": "dashboard", "message": "found {issues_count}"}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "notify"}],
        **extra,
    }


@pytest.fixture()
def workflow(client, project):
    r = client.post("/api/v1/projects/acme/workflows", json=workflow_doc(), headers=auth("ed"))
    assert r.status_code == 201, r.text
    return r.json()
