"""GET /api/v1/connections: the editor's connection_id picker learns Airflow's connection ids and types, nothing else.

Against Airflow's real REST API (served in-process, tests/events/test_reconcile.py's ``airflow_api``), with
connections created through it the way a platform engineer does.
"""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.testclient import TestClient

from include.api.app import create_app
from include.auth.tokens import mint_token
from tests.events.conftest import free_port
from tests.events.test_reconcile import PASSWORD, USER, airflow_api  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(300)

SECRETS = ("xoxb-secret-in-the-password", "hooks.slack.example", "ghp_secret_token", "extra-token")


@pytest.fixture()
def platform_api(monkeypatch):
    """``platform_api(airflow_url)``: the platform's API, reading Airflow at ``airflow_url`` as its service user."""
    from include.settings import get_settings

    def configure(url: str) -> TestClient:
        monkeypatch.setenv("AUTOPR_AIRFLOW_API_URL", url)
        monkeypatch.setenv("AUTOPR_AIRFLOW_API_USERNAME", USER)
        monkeypatch.setenv("AUTOPR_AIRFLOW_API_PASSWORD", PASSWORD)
        get_settings.cache_clear()
        client = TestClient(create_app())
        client.headers["Authorization"] = f"Bearer {mint_token('ed')}"
        return client

    yield configure
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture()
def connections(airflow_api):  # noqa: F811 - the fixture imported above
    """Two connections created through Airflow's REST API, removed afterwards."""
    token = httpx.post(f"{airflow_api}/auth/token", json={"username": USER, "password": PASSWORD}).json()["access_token"]
    api = httpx.Client(base_url=airflow_api, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    created = [
        {"connection_id": "picker_slack", "conn_type": "http", "host": SECRETS[1], "login": "bot",
         "password": SECRETS[0], "extra": json.dumps({"token": SECRETS[3]}), "description": "team channel"},
        {"connection_id": "picker_github", "conn_type": "github", "password": SECRETS[2]},
    ]
    for body in created:
        api.delete(f"/api/v2/connections/{body['connection_id']}")
        api.post("/api/v2/connections", json=body).raise_for_status()
    yield airflow_api
    for body in created:
        api.delete(f"/api/v2/connections/{body['connection_id']}")
    api.close()


def test_lists_ids_and_types_only_sorted(connections, platform_api):
    client = platform_api(connections)
    r = client.get("/api/v1/connections")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["available"] is True and body["detail"] == ""
    mine = [c for c in body["items"] if c["connection_id"].startswith("picker_")]
    assert mine == [{"connection_id": "picker_github", "conn_type": "github"},
                    {"connection_id": "picker_slack", "conn_type": "http"}]
    ids = [c["connection_id"] for c in body["items"]]
    assert ids == sorted(ids)
    assert not [s for s in SECRETS if s in r.text], "a connection's secrets or host left the platform"


def test_says_so_when_airflow_cannot_be_asked(platform_api):
    client = platform_api(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    r = client.get("/api/v1/connections")
    assert r.status_code == 200
    assert r.json()["available"] is False and r.json()["items"] == []
    assert "Airflow" in r.json()["detail"]


def test_needs_a_token():
    assert TestClient(create_app()).get("/api/v1/connections").status_code == 401
