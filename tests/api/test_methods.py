"""HEAD and OPTIONS on every resource, 405 with the path's real Allow, and every 404 a problem+json."""

from __future__ import annotations

from tests.api.conftest import auth

W = "/api/v1/projects/acme/workflows/review"


def test_head_is_get_without_a_body(client, workflow):
    get = client.get(W, headers=auth("vic"))
    head = client.head(W, headers=auth("vic"))
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"] == '"1"'
    assert head.headers["content-type"] == get.headers["content-type"]
    assert int(head.headers["content-length"]) == len(get.content)
    # the same authentication as GET: a stranger learns nothing more from HEAD
    assert client.head(W, headers=auth("mallory")).status_code == 404
    assert client.head(W).status_code == 401
    r = client.head(W + "/export?format=yaml", headers=auth("vic"))
    assert r.status_code == 200 and r.content == b"" and r.headers["content-type"].startswith("application/yaml")


def test_options_lists_every_method_of_the_path(client, project):
    r = client.options("/api/v1/projects")  # no credentials needed: it says what exists, not what is stored
    assert r.status_code == 204 and r.content == b""
    assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}
    r = client.options(W)
    assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
    assert client.options("/api/v1/no-such-thing").status_code == 404


def test_a_method_the_path_does_not_answer_is_405_naming_all_it_does(client, workflow):
    r = client.patch(W, json={}, headers=auth("ed"))
    assert r.status_code == 405 and r.headers["content-type"] == "application/problem+json"
    assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
    assert r.json()["status"] == 405 and "PATCH" in r.json()["detail"]
    # Starlette named only the first matching route's methods: POST for /projects, which GET answers too
    r = client.delete("/api/v1/projects", headers=auth("ed"))
    assert r.status_code == 405 and "GET" in r.headers["allow"] and "POST" in r.headers["allow"]


def test_every_404_is_the_same_problem(client, workflow):
    not_found = [
        client.get("/api/v1/no-such-route", headers=auth("vic")),
        client.get("/no-such-route"),
        client.get("/api/v1/projects/acme/workflows/ghost", headers=auth("vic")),
        client.get(W + "/versions/7", headers=auth("vic")),
        client.get(W, headers=auth("mallory")),
        client.get("/api/v1/templates/no-such-template", headers=auth("vic")),
        client.put(W + "/nodes/ghost", json={"id": "ghost", "type": "trigger", "config": {"event": "manual"}},
                   headers={**auth("ed"), "If-Match": '"1"'}),
    ]
    for r in not_found:
        assert r.status_code == 404, (r.request.url, r.text)
        assert r.headers["content-type"] == "application/problem+json", r.request.url
        body = r.json()
        assert body["type"].endswith("/not-found") and body["status"] == 404 and body["detail"], body
        assert body["instance"] == r.request.url.path
