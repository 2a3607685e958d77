"""GET /api/v1/connections: the editor's connection_id picker learns Airflow's connection ids and types, nothing else."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from include.api.app import create_app
from include.auth.tokens import mint_token


class FakeAirflow:
    """Airflow's GET /api/v2/connections, with the fields it really returns (which must not leak)."""

    def __init__(self, rows):
        self.rows, self.asked = rows, []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def paged(self, path, key, params=None):
        self.asked.append((path, key))
        return self.rows


@pytest.fixture()
def client():
    client = TestClient(create_app())
    client.headers["Authorization"] = f"Bearer {mint_token('ed')}"
    return client


def test_lists_ids_and_types_only_sorted(client, monkeypatch):
    from include.api.routes import connections

    fake = FakeAirflow([
        {"connection_id": "slack_webhook", "conn_type": "http", "host": "hooks.slack.com", "password": "xoxb-secret",
         "extra": '{"token": "t"}', "login": "bot", "description": "team channel"},
        {"connection_id": "github_default", "conn_type": "github", "password": "ghp_secret"},
    ])
    monkeypatch.setattr(connections, "airflow_client", lambda token=None: fake)
    r = client.get("/api/v1/connections")
    assert r.status_code == 200, r.text
    assert r.json() == {"available": True, "detail": "", "items": [
        {"connection_id": "github_default", "conn_type": "github"},
        {"connection_id": "slack_webhook", "conn_type": "http"}]}
    assert "secret" not in r.text and "hooks.slack.com" not in r.text
    assert fake.asked == [("/api/v2/connections", "connections")]


def test_says_so_when_airflow_cannot_be_asked(client, monkeypatch):
    from include.api.errors import ServiceUnavailable
    from include.api.routes import connections

    def no_credentials(token=None):
        raise ServiceUnavailable("No Airflow credentials")

    monkeypatch.setattr(connections, "airflow_client", no_credentials)
    r = client.get("/api/v1/connections")
    assert r.status_code == 200
    assert r.json()["available"] is False and r.json()["items"] == []


def test_needs_a_token():
    assert TestClient(create_app()).get("/api/v1/connections").status_code == 401
