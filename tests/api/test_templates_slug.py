"""Templates are addressed by slug as well as by numeric id."""

from __future__ import annotations

import pytest

from tests.api.conftest import auth


@pytest.fixture()
def builtins(client, project):
    from include.db.session import session_scope
    from include.workflows.templates_store import seed_builtin_templates

    with session_scope() as session:
        return {t.slug: t.id for t in seed_builtin_templates(session)}


def test_instantiate_and_read_by_slug(client, builtins):
    r = client.get("/api/v1/templates/basic-quality-check", headers=auth("vic"))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == builtins["basic-quality-check"] and r.json()["created_by"] == "system"
    r = client.post("/api/v1/templates/basic-quality-check/instantiate", json={"project": "acme", "id": "qc"},
                    headers=auth("ed"))
    assert r.status_code == 201, r.text
    assert r.json()["spec"]["name"] == "Basic Quality Check" and r.json()["enabled"] is False
    # the numeric id still works, and a slug nobody has is a 404 problem
    assert client.get(f"/api/v1/templates/{builtins['basic-quality-check']}", headers=auth("vic")).status_code == 200
    r = client.get("/api/v1/templates/no-such-template", headers=auth("vic"))
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert "no-such-template" in r.json()["detail"]
    assert client.get("/api/v1/templates/99999999999", headers=auth("vic")).status_code == 404


def test_own_template_first_then_builtin_and_ambiguous_public_slugs_are_409(client, builtins):
    W = "/api/v1/projects/acme/workflows"
    r = client.post("/api/v1/templates/basic-quality-check/instantiate", json={"project": "acme", "id": "mine"},
                    headers=auth("ed"))
    assert r.status_code == 201, r.text
    # ed saves their own "Basic Quality Check": for ed the slug now names ed's, for others the built-in
    r = client.post(W + "/mine/template", json={"name": "Basic Quality Check"}, headers=auth("ed"))
    assert r.status_code == 201, r.text
    own = r.json()["id"]
    assert client.get("/api/v1/templates/basic-quality-check", headers=auth("ed")).json()["id"] == own
    assert client.get("/api/v1/templates/basic-quality-check", headers=auth("vic")).json()["id"] == builtins[
        "basic-quality-check"]
    # two people's public "Team flow": a third person must pick one by id
    for user in ("ed", "alice"):
        r = client.post(W + "/mine/template", json={"name": "Team flow", "is_public": True}, headers=auth(user))
        assert r.status_code == 201, r.text
    r = client.get("/api/v1/templates/team-flow", headers=auth("vic"))
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    assert "use the id" in r.json()["detail"]
    assert client.get("/api/v1/templates/team-flow", headers=auth("alice")).json()["created_by"] == "alice"
