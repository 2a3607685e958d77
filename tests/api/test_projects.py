"""Projects and membership: who may create, read and manage what."""

from __future__ import annotations

from tests.api.conftest import auth, token_for


def test_creator_becomes_admin_and_lists_it(client):
    r = client.post("/api/v1/projects", json={"slug": "p1", "name": "P one"}, headers=auth("alice"))
    assert r.status_code == 201
    assert r.json()["role"] == "admin"
    assert r.headers["location"] == "/api/v1/projects/p1"
    assert [p["slug"] for p in client.get("/api/v1/projects", headers=auth("alice")).json()] == ["p1"]
    assert client.get("/api/v1/projects", headers=auth("bob")).json() == []


def test_duplicate_slug_is_409_with_pointer(client):
    client.post("/api/v1/projects", json={"slug": "p1", "name": "P"}, headers=auth("alice"))
    r = client.post("/api/v1/projects", json={"slug": "p1", "name": "P"}, headers=auth("bob"))
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["pointer"] == "/slug"


def test_bad_body_is_422_naming_the_field(client):
    r = client.post("/api/v1/projects", json={"slug": "Bad Slug!", "name": "x", "extra": 1}, headers=auth("alice"))
    assert r.status_code == 422
    pointers = {e["pointer"] for e in r.json()["errors"]}
    assert {"/slug", "/extra"} <= pointers
    r = client.post("/api/v1/projects", content=b"{not json", headers={**auth("alice"), "content-type": "application/json"})
    assert r.status_code == 422


def test_no_token_expired_token_bad_signature_are_401(client):
    r = client.get("/api/v1/projects")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/projects", headers=auth("alice", ttl=-10)).json()["detail"].endswith("token expired")
    bad = token_for("alice")[:-4] + "AAAA"
    assert client.get("/api/v1/projects", headers={"Authorization": f"Bearer {bad}"}).status_code == 401


def test_airflow_ui_cookie_is_accepted(client):
    client.cookies.set("_token", token_for("alice"))
    try:
        assert client.get("/api/v1/projects").status_code == 200
    finally:
        client.cookies.clear()


def test_membership_roles(client, project):
    # viewer reads, cannot manage
    assert client.get("/api/v1/projects/acme", headers=auth("vic")).json()["role"] == "viewer"
    assert client.put("/api/v1/projects/acme/members/zed", json={"role": "viewer"}, headers=auth("vic")).status_code == 403
    assert client.put("/api/v1/projects/acme/members/zed", json={"role": "viewer"}, headers=auth("ed")).status_code == 403
    assert client.patch("/api/v1/projects/acme", json={"name": "X"}, headers=auth("ed")).status_code == 403
    # non-member sees nothing
    assert client.get("/api/v1/projects/acme", headers=auth("mallory")).status_code == 404
    assert client.get("/api/v1/projects/acme/members", headers=auth("mallory")).status_code == 404
    # admin promotes, demotes, removes
    r = client.put("/api/v1/projects/acme/members/ed", json={"role": "admin"}, headers=auth("alice"))
    assert r.status_code == 200 and r.json()["role"] == "admin"
    members = client.get("/api/v1/projects/acme/members", headers=auth("vic")).json()
    assert {m["username"]: m["role"] for m in members} == {"alice": "admin", "ed": "admin", "vic": "viewer"}
    assert client.delete("/api/v1/projects/acme/members/vic", headers=auth("alice")).status_code == 204
    assert client.get("/api/v1/projects/acme", headers=auth("vic")).status_code == 404
    assert client.delete("/api/v1/projects/acme/members/vic", headers=auth("alice")).status_code == 404
    assert client.patch("/api/v1/projects/acme", json={"name": "Acme 2"}, headers=auth("ed")).json()["name"] == "Acme 2"


def test_last_admin_cannot_leave_or_be_demoted(client, project):
    r = client.put("/api/v1/projects/acme/members/alice", json={"role": "editor"}, headers=auth("alice"))
    assert r.status_code == 409
    assert client.delete("/api/v1/projects/acme/members/alice", headers=auth("alice")).status_code == 409
    r = client.put("/api/v1/projects/acme/members/bob", json={"role": "owner"}, headers=auth("alice"))
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/role"


def test_every_route_takes_the_same_project_slugs(client):
    """One ProjectSlug (include.api.types) for every route: a name no project can have is a 422 everywhere.

    Some routes used to allow 100 characters and others 63; the pattern itself stops at 63.
    """
    for bad in ("a" * 64, "Acme", "acme.io"):
        for path in (f"/api/v1/projects/{bad}", f"/api/v1/projects/{bad}/reviews/1",
                     f"/api/v1/projects/{bad}/learning/metrics", f"/api/v1/projects/{bad}/workflows/wf/runs"):
            r = client.get(path, headers=auth("alice"))
            assert r.status_code == 422, (path, r.status_code)
            assert r.json()["errors"][0]["pointer"] == "/project"


def test_repositories_a_project_reviews(client, project):
    repos = "/api/v1/projects/acme/repositories"
    r = client.post(repos, json={"full_name": "Octo-Org/Widgets"}, headers=auth("alice"))
    assert r.status_code == 201 and r.json()["full_name"] == "Octo-Org/Widgets" and r.json()["created_by"] == "alice"
    # GitHub's names are case-insensitive: the same repository in other letters is already bound
    r = client.post(repos, json={"full_name": "octo-org/widgets"}, headers=auth("alice"))
    assert r.status_code == 409 and r.json()["errors"][0]["pointer"] == "/full_name"
    for bad in ("no-slash", "a/b/c", "-bad/x", "o/" + "n" * 101, "o/na me", "o/\x00"):
        r = client.post(repos, json={"full_name": bad}, headers=auth("alice"))
        assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/full_name", bad
    # one repository may be bound to several projects
    assert client.post("/api/v1/projects/other/repositories", json={"full_name": "octo-org/widgets"},
                       headers=auth("mallory")).status_code == 201
    # viewers read, only admins change
    assert [x["full_name"] for x in client.get(repos, headers=auth("vic")).json()] == ["Octo-Org/Widgets"]
    assert client.get("/api/v1/projects/acme", headers=auth("vic")).json()["repositories"] == ["Octo-Org/Widgets"]
    assert client.get("/api/v1/projects", headers=auth("alice")).json()[0]["repositories"] == ["Octo-Org/Widgets"]
    assert client.post(repos, json={"full_name": "o/r"}, headers=auth("ed")).status_code == 403
    assert client.delete(f"{repos}/octo-org/widgets", headers=auth("ed")).status_code == 403
    assert client.get(repos, headers=auth("mallory")).status_code == 404
    assert client.delete(f"{repos}/octo-org/widgets", headers=auth("alice")).status_code == 204
    assert client.get(repos, headers=auth("vic")).json() == []
    assert client.delete(f"{repos}/octo-org/widgets", headers=auth("alice")).status_code == 404
    assert [x["full_name"] for x in client.get("/api/v1/projects/other/repositories",
                                               headers=auth("mallory")).json()] == ["octo-org/widgets"]
