"""The platform API's /health and /metrics (in-process, ``TestClient(create_app())``).

Inside Airflow they are ``/autopr/health`` and ``/autopr/metrics``; both answer
anonymous callers, who must learn states and numbers only.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import auth
from tests.ml_serving.conftest import RULES, issue, model_name, registry, serving  # noqa: F401 - fixtures
from tests.ops.test_sidecar_health import PASSWORD, UNREACHABLE, assert_nothing_leaks


@pytest.fixture()
def client_on(monkeypatch):
    """``client_on(database_url)``: the platform app on that app database."""
    from include.api.app import create_app
    from include.db.session import reset_engine
    from include.settings import get_settings

    clients = []

    def make(database_url: str) -> TestClient:
        monkeypatch.setenv("AUTOPR_DATABASE_URL", database_url)
        get_settings.cache_clear()
        client = TestClient(create_app(), raise_server_exceptions=False)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
    monkeypatch.undo()
    get_settings.cache_clear()
    reset_engine()


def test_health_with_the_database_down_says_why_only_to_a_token(client_on):
    client = client_on(UNREACHABLE)
    anonymous = client.get("/health")
    assert anonymous.status_code == 200
    assert anonymous.json() == {"status": "degraded", "database": "unhealthy"}
    assert_nothing_leaks(anonymous.text, "anonymous /autopr/health")

    bad = client.get("/health", headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 200 and "reasons" not in bad.json()
    assert_nothing_leaks(bad.text, "/autopr/health with a bad token")

    detailed = client.get("/health", headers=auth("ops-viewer")).json()
    assert detailed["status"] == "degraded" and detailed["database"] == "unhealthy"
    reason = detailed["reasons"]["database"]
    assert reason.startswith("OperationalError") and "port 1" in reason
    assert PASSWORD not in reason  # the driver never echoes the password; keep it that way


def test_health_with_the_database_up(client_on, pg_url):
    client = client_on(pg_url)
    assert client.get("/health").json() == {"status": "healthy", "database": "healthy"}
    assert client.get("/health", headers=auth("ops-viewer")).json() == {"status": "healthy", "database": "healthy"}


def test_metrics_are_anonymous_prometheus_text_without_hosts(client_on, pg_url):
    client = client_on(pg_url)
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    for family in ("autopr_workflow_runs_started_total", "autopr_workflow_run_outcomes_total",
                   "autopr_webhook_deliveries_total", "autopr_predictions_total"):
        assert f"# TYPE {family} counter" in r.text, r.text
    assert not re.search(r"127\.0\.0\.1|postgresql|sqlite|5432", r.text), r.text


def _sample(name: str, labels: dict[str, str]) -> float:
    from include.api.metrics import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_predictions_are_counted_by_model_and_alias(client_on, pg_url, db, registry, serving,  # noqa: F811
                                                    model_name):  # noqa: F811
    from include.db.models import Project, ProjectMember
    from include.db.session import session_scope
    from include.enums import Role

    client = client_on(pg_url)
    with session_scope() as s:
        project = Project(slug="acme", name="Acme")
        s.add(project)
        s.flush()
        s.add(ProjectMember(project_id=project.id, username="alice", role=Role.viewer))
    registry.register(model_name, alias="champion")
    labels = {"model": model_name, "alias": "champion"}
    before = _sample("autopr_predictions_total", labels)
    url = "/api/v1/projects/acme/predictions/severity"
    r = client.post(url, json={"repository": "org/web", "issue": issue("B602")}, headers=auth("alice"))
    assert r.status_code == 200, r.text
    r = client.post(url + "/batch", json={"repository": "org/web", "issues": [issue(rule) for rule in RULES]},
                    headers=auth("alice"))
    assert r.status_code == 200, r.text
    assert _sample("autopr_predictions_total", labels) == before + 1 + len(RULES)
    line = f'autopr_predictions_total{{alias="champion",model="{model_name}"}} {before + 1 + len(RULES)}'
    assert line in client.get("/metrics").text
