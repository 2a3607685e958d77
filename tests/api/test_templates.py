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
    # it starts disabled (no DAG, no webhook run) and says how to dry-run and enable it
    assert r.json()["enabled"] is False and r.json()["spec"]["enabled"] is False
    steps = " ".join(r.json()["next_steps"])
    assert "/api/v1/projects/acme/workflows/qc/dry-runs" in steps and '"enabled": true' in steps
    assert r.headers["ETag"] == '"1"'
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


def test_builtin_gates_fail_on_high_findings_and_merges_need_checks(client, builtins):
    for name, tid in builtins.items():
        spec = client.get(f"/api/v1/templates/{tid}", headers=auth("vic")).json()["spec"]
        assert spec["enabled"] is False, name
        for node in spec["nodes"]:
            config = node["config"]
            if node["type"] == "condition" and "nodes.quality." in config["expression"]:
                assert "nodes.quality.errors_count == 0" in config["expression"], name
            if config.get("action") == "merge_pr":
                assert config["required_checks"], name


def test_an_enabled_users_template_still_instantiates_disabled(client, workflow, builtins):
    assert workflow["enabled"] is True
    r = client.post("/api/v1/projects/acme/workflows/review/template", json={"name": "Live one"}, headers=auth("ed"))
    assert r.status_code == 201 and r.json()["spec"]["enabled"] is True
    made = client.post(f"/api/v1/templates/{r.json()['id']}/instantiate", json={"project": "acme", "id": "copy"},
                       headers=auth("ed"))
    assert made.status_code == 201 and made.json()["enabled"] is False
    spec = dict(made.json()["spec"], enabled=True)
    put = client.put("/api/v1/projects/acme/workflows/copy", json=spec, headers={**auth("ed"), "If-Match": '"1"'})
    assert put.status_code == 200 and put.json()["enabled"] is True
