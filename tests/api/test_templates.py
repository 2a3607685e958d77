"""Template library: built-ins, private/public, save-as-template, instantiate."""

from __future__ import annotations

import pytest

from tests.api.conftest import auth


@pytest.fixture()
def builtins(client, project):
    from include.db.session import session_scope
    from include.workflows.templates_store import seed_builtin_templates

    with session_scope() as session:
        return {t.name: t.id for t in seed_builtin_templates(session)}


def test_builtins_listed_and_instantiated(client, builtins):
    names = [t["name"] for t in client.get("/api/v1/templates", headers=auth("vic")).json()]
    assert {"Basic Quality Check", "PR Review Automation", "CI/CD Pipeline"} <= set(names)
    tid = builtins["Basic Quality Check"]
    assert client.get(f"/api/v1/templates/{tid}", headers=auth("vic")).json()["is_public"] is True
    r = client.post(f"/api/v1/templates/{tid}/instantiate", json={"project": "acme", "id": "qc"}, headers=auth("ed"))
    assert r.status_code == 201, r.text
    assert r.json()["project"] == "acme" and r.json()["id"] == "qc" and r.json()["spec"]["project"] == "acme"
    actions = {n["id"]: n["config"] for n in r.json()["spec"]["nodes"] if n["type"] == "action"}
    # it reaches the pull request as a review (inline comments on added lines, a check run, one summary)
    assert actions["publish"]["action"] == "publish_review" and actions["publish"]["filter_mode"] == "added"
    assert "post_comment" not in {c["action"] for c in actions.values()}
    again = client.post(f"/api/v1/templates/{tid}/instantiate", json={"project": "acme", "id": "qc"}, headers=auth("ed"))
    assert again.status_code == 409
    r = client.post(f"/api/v1/templates/{tid}/instantiate", json={"project": "acme", "id": "qc2"}, headers=auth("vic"))
    assert r.status_code == 403
    assert client.get("/api/v1/templates/999999", headers=auth("vic")).status_code == 404


def test_private_templates_are_owned(client, workflow, builtins):
    base = "/api/v1/projects/acme/workflows/review/template"
    r = client.post(base, json={"name": "My review", "is_public": False}, headers=auth("ed"))
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    assert client.post(base, json={"name": "My review"}, headers=auth("ed")).status_code == 409
    assert client.get(f"/api/v1/templates/{tid}", headers=auth("alice")).status_code == 404
    assert "My review" not in [t["name"] for t in client.get("/api/v1/templates", headers=auth("alice")).json()]
    assert "My review" in [t["name"] for t in client.get("/api/v1/templates", headers=auth("ed")).json()]
    r = client.post(base, json={"name": "Shared review", "is_public": True}, headers=auth("ed"))
    assert client.get(f"/api/v1/templates/{r.json()['id']}", headers=auth("mallory")).status_code == 200
    # mallory can use the public one in her own project, not in acme
    r2 = client.post(f"/api/v1/templates/{r.json()['id']}/instantiate", json={"project": "other", "id": "mine"},
                     headers=auth("mallory"))
    assert r2.status_code == 201 and r2.json()["project"] == "other"
    r3 = client.post(f"/api/v1/templates/{r.json()['id']}/instantiate", json={"project": "acme", "id": "mine"},
                     headers=auth("mallory"))
    assert r3.status_code == 404
