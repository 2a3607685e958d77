"""Negative tests for every route: no token, expired token, another project's user, a viewer writing."""

from __future__ import annotations

import os

import pytest

from include.api.routes import projects, runs, schemas, templates, workflows
from tests.api.conftest import CLOSED_AIRFLOW_URL, auth, token_for, workflow_doc

ROUTERS = [projects.router, workflows.router, runs.router, templates.router, schemas.router]
ROUTES = sorted(
    (method, route.path)
    for router in ROUTERS
    for route in router.routes
    for method in route.methods
)
PARAMS = {"project": "acme", "workflow": "review", "node_id": "start", "edge_id": "e1", "version": "1",
          "run_id": "manual__1", "username": "vic", "node_type": "trigger", "owner": "acme", "name": "app"}
NODE = {"id": "start", "type": "trigger", "config": {"event": "manual"}}


def body_for(method: str, path: str, template_id: int) -> dict | None:
    if path.endswith("/workflows/{workflow}") and method == "PUT" or path.endswith("/workflows") and method == "POST":
        return workflow_doc()
    if path == "/api/v1/workflows/validate":
        return workflow_doc()
    if path.endswith("/nodes") or path.endswith("/nodes/{node_id}") and method == "PUT":
        return NODE
    if path.endswith("/position"):
        return {"x": 1, "y": 2}
    if path.endswith("/edges") or path.endswith("/edges/{edge_id}") and method == "PUT":
        return {"id": "e1", "source": "start", "target": "notify"}
    if path.endswith("/repositories") and method == "POST":
        return {"full_name": "acme/app"}
    if path.endswith("/members/{username}"):
        return {"role": "editor"}
    if path == "/api/v1/projects" and method == "POST":
        return {"slug": "new-one", "name": "New"}
    if path == "/api/v1/projects/{project}" and method == "PATCH":
        return {"name": "x"}
    if path.endswith("/template"):
        return {"name": "Mine"}
    if path.endswith("/instantiate"):
        return {"project": "acme", "id": "from-template"}
    if path.endswith("/runs") and method == "POST":
        return {}
    return None


def url_for(path: str, template_id: int) -> str:
    return path.format(**PARAMS, template_id=template_id)


def project_scoped(method: str, path: str) -> bool:
    return "{project}" in path or path.endswith("/instantiate")


@pytest.fixture(scope="module")
def module_client(pg_url):
    """One app and one seeded database for every case: refused calls change nothing, so they can share."""
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from include.api.app import create_app
    from include.db.models import Base
    from include.db.session import get_engine
    from include.settings import get_settings

    previous = os.environ.get("AUTOPR_AIRFLOW_API_URL")
    os.environ["AUTOPR_AIRFLOW_API_URL"] = CLOSED_AIRFLOW_URL
    get_settings.cache_clear()
    with get_engine(pg_url).begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    with TestClient(create_app()) as client:
        assert client.post("/api/v1/projects", json={"slug": "acme", "name": "Acme"}, headers=auth("alice")).status_code == 201
        for user, role in (("ed", "editor"), ("vic", "viewer")):
            client.put(f"/api/v1/projects/acme/members/{user}", json={"role": role}, headers=auth("alice"))
        client.post("/api/v1/projects", json={"slug": "other", "name": "Other"}, headers=auth("mallory"))
        r = client.post("/api/v1/projects/acme/workflows", json=workflow_doc(), headers=auth("ed"))
        assert r.status_code == 201, r.text
        yield client
    if previous is None:
        os.environ.pop("AUTOPR_AIRFLOW_API_URL", None)
    else:
        os.environ["AUTOPR_AIRFLOW_API_URL"] = previous
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def seeded(module_client):
    from include.db.session import session_scope
    from include.workflows.templates_store import seed_builtin_templates

    with session_scope() as session:
        return seed_builtin_templates(session)[0].id


def call(client, method, path, template_id, headers):
    body = body_for(method, path, template_id)
    kwargs = {"json": body} if body is not None else {}
    return client.request(method, url_for(path, template_id), headers={**headers, "If-Match": '"1"'}, **kwargs)


def test_every_route_is_listed():
    assert len(ROUTES) >= 30


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_route_refuses_missing_expired_foreign_and_weak_callers(module_client, seeded, method, path):
    client = module_client
    r = call(client, method, path, seeded, {})
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    r = call(client, method, path, seeded, auth("ed", ttl=-60))
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    r = call(client, method, path, seeded, {"Authorization": f"Bearer {token_for('ed')}x"})
    assert r.status_code == 401
    if project_scoped(method, path):
        r = call(client, method, path, seeded, auth("mallory"))
        assert r.status_code == 404, r.text
        writes = method in ("POST", "PUT", "PATCH", "DELETE")
        if writes:
            r = call(client, method, path, seeded, auth("vic"))
            assert r.status_code == 403, r.text
            assert "required" in r.json()["detail"]
