"""The stand-in is as strict as GitHub about the requests it accepts."""

from __future__ import annotations

import httpx
import pytest

from tests.support.github_standin import GitHubStandIn


@pytest.fixture()
def gh():
    with GitHubStandIn(token="t0k") as standin:
        standin.add_pull("acme/app", 7, head_sha="a" * 40)
        yield standin


def _client(gh, **headers):
    base = {"Authorization": "Bearer t0k", "Accept": "application/vnd.github+json", **headers}
    return httpx.Client(base_url=gh.url, headers=base, timeout=5)


def test_auth_and_accept_headers_are_checked(gh):
    with httpx.Client(base_url=gh.url) as anon:
        assert anon.post("/repos/acme/app/issues/7/comments", json={"body": "x"}).status_code == 401
    with _client(gh, Authorization="token nope") as c:
        r = c.post("/repos/acme/app/issues/7/comments", json={"body": "x"})
        assert (r.status_code, r.json()["message"]) == (401, "Bad credentials")
    with _client(gh, Accept="text/html") as c:
        assert c.get("/repos/acme/app").status_code == 415
    with _client(gh, **{"X-GitHub-Api-Version": "2022-11-28"}) as c:
        assert c.get("/repos/acme/app").status_code == 200
    assert [r.status for r in gh.requests] == [401, 401, 415, 200]


def test_bodies_are_validated_like_github(gh):
    with _client(gh) as c:
        assert c.post("/repos/acme/app/issues/7/comments", json={}).json()["errors"][0] == {
            "resource": "IssueComment",
            "field": "body",
            "code": "missing_field",
        }
        assert c.post("/repos/acme/app/issues/7/comments", json={"body": 5}).status_code == 422
        r = c.post("/repos/acme/app/issues/7/comments", json={"body": "x", "bodyy": "y"})
        assert r.status_code == 422 and '"bodyy" is not a permitted key' in r.json()["message"]
        assert (
            c.post(
                "/repos/acme/app/issues/7/comments", content=b"{nope", headers={"Content-Type": "application/json"}
            ).status_code
            == 400
        )
        assert c.post("/repos/acme/app/issues", json={"body": "no title"}).status_code == 422
        assert c.post("/repos/acme/app/issues/7/labels", json={"labels": [""]}).status_code == 422
        assert c.post("/repos/acme/app/pulls/7/requested_reviewers", json={}).status_code == 422
        assert c.put("/repos/acme/app/pulls/7/merge", json={"merge_method": "octopus"}).status_code == 422
        assert c.put("/repos/acme/app/pulls/7/merge", json={"sha": "b" * 40}).status_code == 409


def test_path_parameters_are_checked(gh):
    with _client(gh) as c:
        assert c.post("/repos/acme/other/issues/7/comments", json={"body": "x"}).status_code == 404
        assert c.post("/repos/acme/app/issues/99/comments", json={"body": "x"}).status_code == 404
        assert c.post("/repos/acme/app/issues/seven/comments", json={"body": "x"}).status_code == 404
        assert c.get("/repos/acme/app/pulls/7/merge/extra").status_code == 404


def test_documented_answers(gh):
    with _client(gh) as c:
        pull = c.get("/repos/acme/app/pulls/7").json()
        assert pull["head"]["sha"] == "a" * 40 and pull["url"] == f"{gh.url}/repos/acme/app/pulls/7"
        comment = c.post("/repos/acme/app/issues/7/comments", json={"body": "hi"})
        assert comment.status_code == 201 and comment.json()["body"] == "hi"
        merged = c.put("/repos/acme/app/pulls/7/merge", json={"merge_method": "squash", "sha": "a" * 40})
        assert merged.json()["merged"] is True
        assert c.put("/repos/acme/app/pulls/7/merge", json={}).status_code == 405  # already merged
