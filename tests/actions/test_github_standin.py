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


PATCH = "@@ -1,4 +1,5 @@\n import os\n-x = 1\n+x = 2\n+y = 3\n def f():\n     return x"


def test_review_comments_must_sit_on_the_diff(gh):
    gh.push("acme/app", 7, "a" * 40, {"app/mod.py": PATCH})
    with _client(gh) as c:
        def review(*comments, **extra):
            return c.post("/repos/acme/app/pulls/7/reviews", json={"event": "COMMENT", "body": "x",
                                                                   "comments": list(comments), **extra})  # fmt: skip

        r = review({"path": "app/mod.py", "line": 40, "body": "y"})
        assert r.status_code == 422 and "part of the diff" in r.json()["errors"][0]  # GitHub's simple errors: strings
        assert review({"path": "app/other.py", "line": 1, "body": "y"}).status_code == 422
        assert review({"path": "app/mod.py", "line": 2, "side": "LEFT", "body": "deleted line"}).status_code == 200
        assert review({"path": "app/mod.py", "line": 3, "side": "LEFT", "body": "y"}).status_code == 200  # def f()
        assert review({"path": "app/mod.py", "line": 3, "body": "y"}, commit_id="b" * 40).status_code == 422
        gh.push("acme/app", 7, "c" * 40, {"app/mod.py": "@@ -1 +1 @@\n-import os\n+import sys"})
        # an earlier head is still reviewable, on its own diff
        assert review({"path": "app/mod.py", "line": 3, "body": "y"}, commit_id="a" * 40).status_code == 200
        assert review({"path": "app/mod.py", "line": 3, "body": "y"}).status_code == 422  # not in the new diff
        assert review({"path": "app/mod.py", "line": 3, "bodyy": "y"}).status_code == 422
        comments = c.get("/repos/acme/app/pulls/7/comments", params={"per_page": 1, "page": 2}).json()
        assert [(x["line"], x["side"]) for x in comments] == [(3, "LEFT")]
        assert len(c.get("/repos/acme/app/pulls/7/comments").json()) == 3
        assert c.patch(f"/repos/acme/app/pulls/comments/{comments[0]['id']}", json={"body": "z"}).json()["body"] == "z"
        assert c.patch("/repos/acme/app/pulls/comments/1", json={"body": "z"}).status_code == 404


def test_check_runs_take_at_most_fifty_annotations_a_request(gh):
    note = {"path": "a.py", "start_line": 1, "end_line": 1, "annotation_level": "notice", "message": "m"}
    with _client(gh) as c:
        def create(annotations, **extra):
            return c.post("/repos/acme/app/check-runs", json={"name": "n", "head_sha": "a" * 40, **extra, "output": {
                "title": "t", "summary": "s", "annotations": annotations}})  # fmt: skip

        assert create([note] * 51).status_code == 422
        assert create([{**note, "annotation_level": "error"}]).status_code == 422
        assert create([note], status="completed").status_code == 422  # completed needs a conclusion
        run = create([note] * 50, status="in_progress").json()
        more = c.patch(f"/repos/acme/app/check-runs/{run['id']}",
                       json={"conclusion": "success", "output": {"title": "t", "summary": "s", "annotations": [note]}})  # fmt: skip
        assert more.json()["status"] == "completed" and more.json()["output"]["annotations_count"] == 51
        listed = c.get(f"/repos/acme/app/commits/{'a' * 40}/check-runs").json()
        assert [r["id"] for r in listed["check_runs"]] == [run["id"]]
