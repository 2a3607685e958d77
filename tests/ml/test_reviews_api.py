"""The reviews/feedback API through HTTP against the real PostgreSQL app database."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.ml.conftest import auth

ISSUE = {"file_path": "app/db.py", "line": 12, "rule": "S608", "analyzer": "ruff", "severity": "high",
         "message": "Possible SQL injection via string-built query", "context": {"pr_size": 120}}


def _post_review(client, issues, user="ed", project="acme"):
    return client.post(f"/api/v1/projects/{project}/reviews", headers=auth(user),
                       json={"repository": "acme/api", "pr_number": 7, "source": "sonar", "issues": issues})


def test_post_review_then_list_and_feedback(client, project):
    r = _post_review(client, [ISSUE, {**ISSUE, "severity": "warning", "rule": "E501", "message": "line too long"}])
    assert r.status_code == 201, r.text
    body = r.json()
    assert [i["severity"] for i in body["issues"]] == ["high", "medium"]  # SARIF 'warning' mapped
    issue_id = body["issues"][0]["id"]

    listed = client.get("/api/v1/projects/acme/issues", headers=auth("vic")).json()
    assert {i["id"] for i in listed} == {i["id"] for i in body["issues"]}
    assert client.get("/api/v1/projects/acme/issues?severity=medium", headers=auth("vic")).json()[0]["rule"] == "E501"

    r = client.post(f"/api/v1/projects/acme/issues/{issue_id}/feedback", headers=auth("ed"),
                    json={"feedback_type": "false_positive", "corrected_severity": "low", "comment": "parametrised"})
    assert r.status_code == 201, r.text
    detail = client.get(f"/api/v1/projects/acme/issues/{issue_id}", headers=auth("vic")).json()
    assert detail["feedback"][0]["corrected_severity"] == "low"
    assert detail["feedback"][0]["username"] == "ed"


def test_bad_input_names_the_field_and_stores_nothing(client, project, db):
    from include.db.models import ReviewIssue

    r = _post_review(client, [ISSUE, {**ISSUE, "severity": "apocalyptic"}])
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "/issues/1/severity" in [e["pointer"] for e in r.json()["errors"]]
    r = _post_review(client, [{**ISSUE, "line": -3}])
    assert "/issues/0/line" in [e["pointer"] for e in r.json()["errors"]]
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ReviewIssue)).scalar() == 0

    issue_id = _post_review(client, [ISSUE]).json()["issues"][0]["id"]
    r = client.post(f"/api/v1/projects/acme/issues/{issue_id}/feedback", headers=auth("ed"),
                    json={"feedback_type": "meh"})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/feedback_type"
    r = client.post(f"/api/v1/projects/acme/issues/{issue_id}/feedback", headers=auth("ed"),
                    json={"feedback_type": "helpful", "corrected_severity": "urgent"})
    assert r.json()["errors"][0]["pointer"] == "/corrected_severity"


def test_access_control(client, project):
    assert client.get("/api/v1/projects/acme/issues").status_code == 401
    assert _post_review(client, [ISSUE], user="vic").status_code == 403  # viewer cannot write
    assert _post_review(client, [ISSUE], user="mallory").status_code == 404  # non-member: not revealed
    issue_id = _post_review(client, [ISSUE]).json()["issues"][0]["id"]
    # an issue of acme is invisible from project 'other', even to its admin
    assert client.get(f"/api/v1/projects/other/issues/{issue_id}", headers=auth("mallory")).status_code == 404
    r = client.post(f"/api/v1/projects/acme/issues/{issue_id}/feedback", headers=auth("vic"),
                    json={"feedback_type": "helpful"})
    assert r.status_code == 403
