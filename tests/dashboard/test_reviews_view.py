"""The review view's HTTP routes on the real sidecar (the session's ``sidecar`` process, its PostgreSQL database).

Reviews are stored the one way they land in production (``include.reviews.store.record_review``);
feedback buttons must land through ``record_feedback`` as ``source=dashboard`` rows on the right
issue, once per click whatever replays it, and only for the roles the platform API lets give feedback.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import select

from include.auth.tokens import mint_token
from tests.dashboard.conftest import add_member, unique

pytestmark = pytest.mark.timeout(120)


def record(pg_url: str, project: str, repository: str, issues: list[dict], **fields) -> tuple[int, list[int]]:
    """A stored review (as the review actions store one); its id and its issues' ids in the given order."""
    from include.db.session import session_scope
    from include.reviews.store import record_review

    with session_scope(pg_url) as session:
        row = record_review(session, project, repository, issues, **fields)
        return row.id, [issue.id for issue in row.issues]


def finding(rule: str = "E501", severity: str = "medium", **over) -> dict:
    values = {"file_path": "app/main.py", "line": 10, "rule": rule, "analyzer": "ruff", "severity": severity,
              "message": f"{rule} here", "confidence": 0.9}  # fmt: skip
    values.update(over)
    return values


def feedback_rows(pg_url: str, issue_ids: list[int]):
    from include.db.models import MLFeedback
    from include.db.session import session_scope

    with session_scope(pg_url) as session:
        rows = session.scalars(select(MLFeedback).where(MLFeedback.issue_id.in_(issue_ids)).order_by(MLFeedback.id))
        return [(r.issue_id, r.username, r.feedback_type.value, r.corrected_severity and r.corrected_severity.value,
                 r.source, r.strength) for r in rows]  # fmt: skip


def client(sidecar, username: str | None) -> httpx.Client:
    headers = (
        {"Authorization": "Bearer " + mint_token(username, ttl_seconds=900, settings=sidecar.settings)}
        if username
        else {}
    )
    return httpx.Client(base_url=sidecar.url, headers=headers, timeout=20)


def key() -> str:
    return uuid.uuid4().hex


def test_pull_requests_with_their_latest_review_and_its_findings(sidecar, pg_url):
    project = unique("rv")
    add_member(pg_url, project, "pat", "viewer")
    older, _ = record(pg_url, project, "acme/shop", [finding()], pr_number=7, stats={"quality_score": 60.0})
    model = {
        "predicted_severity": "high",
        "model_version": "4",
        "context": {"hidden": False, "shown_confidence": 0.81, "helpfulness": 0.81, "model_confidence": 0.66},
    }
    latest, ids = record(
        pg_url, project, "acme/shop",
        [finding("B101", "high", line=3, **model), finding("E501", "low"), finding("E501", "medium"),
         finding("W291", "info", confidence=0.2, context={"hidden": True})],
        pr_number=7, dag_id="autopr__x__review", run_id="manual__1",
        stats={"quality_score": 82.5, "errors_count": 1, "min_confidence": 0.5},
    )  # fmt: skip
    other, _ = record(pg_url, project, "acme/api", [], pr_number=8, stats={"quality_score": 100.0, "passed": True})
    with client(sidecar, "pat") as http:
        body = http.get("/api/reviews", params={"project": project}).json()
        prs = body["pull_requests"]
        assert [(p["repository"], p["pr_number"], p["id"], p["reviews"]) for p in prs] == [
            ("acme/api", 8, other, 1),
            ("acme/shop", 7, latest, 2),
        ]
        shop = prs[1]
        assert shop["quality_score"] == 82.5 and shop["passed"] is False  # code_review's gate: an error shown
        assert shop["by_severity"] == {"info": 0, "low": 1, "medium": 1, "high": 1, "critical": 0}
        assert (shop["shown_count"], shop["hidden_count"], shop["threshold"]) == (3, 1, 0.5)
        assert shop["links"] == {"pull_request": "https://github.com/acme/shop/pull/7",
                                 "airflow_run": f"{sidecar.settings.airflow_ui_url.rstrip('/')}"
                                                "/dags/autopr__x__review/runs/manual__1"}  # fmt: skip
        assert prs[0]["passed"] is True and prs[0]["links"]["airflow_run"] is None
        # the repository filter and paging
        assert [p["id"] for p in http.get("/api/reviews", params={"project": project, "repository": "acme/shop"})
                .json()["pull_requests"]] == [latest]  # fmt: skip
        page = http.get("/api/reviews", params={"project": project, "limit": 1}).json()
        assert [p["id"] for p in page["pull_requests"]] == [other] and page["next_before"] == other
        rest = http.get("/api/reviews", params={"project": project, "before": other}).json()
        assert [p["id"] for p in rest["pull_requests"]] == [latest] and rest["next_before"] is None

        review = http.get(f"/api/reviews/{latest}", params={"project": project}).json()["review"]
        found = review["findings"]
        assert [f["id"] for f in found] == [ids[0], ids[2], ids[1], ids[3]]  # shown first, worst first
        top = found[0]
        assert (top["file_path"], top["line"], top["rule"], top["severity"]) == ("app/main.py", 3, "B101", "high")
        assert (top["predicted_severity"], top["confidence"], top["calibrated"], top["model_confidence"]) == (
            "high",
            0.81,
            True,
            0.66,
        )
        assert top["hidden"] is False and found[-1]["hidden"] is True and found[-1]["confidence"] == 0.2
        assert found[1]["calibrated"] is False and found[1]["predicted_severity"] is None
        assert top["feedback"] == {"helpful": 0, "not_helpful": 0, "false_positive": 0, "wrong_severity": 0}
        assert top["mine"] is None

        # Another project's review is not this project's; strangers and bad input get clear answers.
        assert http.get(f"/api/reviews/{older}", params={"project": "nope"}).status_code == 403
        assert http.get("/api/reviews", params={"project": project, "limit": 0}).json()["field"] == "limit"
        assert http.get("/api/reviews", params={"project": "Bad Slug"}).json()["field"] == "project"
    with client(sidecar, None) as anonymous:
        assert anonymous.get("/api/reviews", params={"project": project}).status_code == 401
    with client(sidecar, "stranger") as http:
        assert http.get("/api/reviews", params={"project": project}).status_code == 403


def test_dashboard_buttons_land_once_on_the_right_issue_and_replays_add_nothing(sidecar, pg_url):
    from include.db.models import ReviewIssue
    from include.db.session import session_scope
    from include.reviews.feedback import FeedbackSource, record_feedback

    project = unique("fb")
    add_member(pg_url, project, "erin", "editor")
    add_member(pg_url, project, "vic", "viewer")
    review, ids = record(pg_url, project, "acme/shop", [finding("A1"), finding("A2"), finding("A3"), finding("A4")],
                         pr_number=3)  # fmt: skip
    clicks = [
        (ids[0], {"kind": "helpful"}, ("helpful", None)),
        (ids[1], {"kind": "not_helpful"}, ("not_helpful", None)),
        (ids[2], {"kind": "false_positive"}, ("false_positive", None)),
        (ids[3], {"kind": "wrong_severity", "severity": "critical"}, ("helpful", "critical")),
    ]
    with client(sidecar, "erin") as http:
        for issue_id, what, _ in clicks:
            body = {"project": project, "issue_id": issue_id, "key": key(), **what}
            first = http.post("/api/reviews/feedback", json=body)
            assert first.status_code == 201, first.text
            assert first.json()["duplicate"] is False and first.json()["finding"]["id"] == issue_id
            again = http.post("/api/reviews/feedback", json=body)  # the same request, replayed
            assert again.status_code == 200 and again.json()["duplicate"] is True
            assert again.json()["feedback"]["id"] == first.json()["feedback"]["id"]
        assert feedback_rows(pg_url, ids) == [
            (issue_id, "erin", kind, corrected, "dashboard", "explicit") for issue_id, _, (kind, corrected) in clicks
        ]

        # A double click sent twice at once is still one row.
        double = {"project": project, "issue_id": ids[0], "key": key(), "kind": "not_helpful"}

        async def twice():
            async with httpx.AsyncClient(base_url=sidecar.url, headers=http.headers, timeout=20) as ac:
                return await asyncio.gather(*(ac.post("/api/reviews/feedback", json=double) for _ in range(2)))

        answers = asyncio.run(twice())
        assert sorted(a.status_code for a in answers) in ([200, 201], [201, 201]), [a.text for a in answers]
        assert len(feedback_rows(pg_url, [ids[0]])) == 2  # the first helpful, then this one change of mind

        # The same key on another issue is another click (keys are bound to the issue and the user).
        reused = http.post("/api/reviews/feedback", json={**double, "issue_id": ids[1]})
        assert reused.status_code == 201

        # The view reflects it: my latest word, and counts over each user's latest row, whatever the source.
        with session_scope(pg_url) as session:
            record_feedback(session, session.get(ReviewIssue, ids[0]), "someone", {"feedback_type": "helpful"},
                            source=FeedbackSource.api)  # fmt: skip
        found = {f["id"]: f for f in http.get(f"/api/reviews/{review}", params={"project": project})
                 .json()["review"]["findings"]}  # fmt: skip
        assert found[ids[0]]["mine"]["kind"] == "not_helpful" and found[ids[0]]["mine"]["source"] == "dashboard"
        assert found[ids[0]]["feedback"] == {"helpful": 1, "not_helpful": 1, "false_positive": 0, "wrong_severity": 0}
        assert found[ids[3]]["mine"]["kind"] == "wrong_severity"
        assert found[ids[3]]["mine"]["corrected_severity"] == "critical"
    before = feedback_rows(pg_url, ids)

    # The API's rule for feedback: editors only; the issue must be the project's; input is named when wrong.
    other_project = unique("fb")
    add_member(pg_url, other_project, "erin", "editor")
    _, foreign = record(pg_url, other_project, "acme/else", [finding()], pr_number=1)
    with client(sidecar, "vic") as viewer:
        refused = viewer.post("/api/reviews/feedback", json={"project": project, "issue_id": ids[0],
                                                             "kind": "helpful", "key": key()})  # fmt: skip
        assert refused.status_code == 403 and "editor" in refused.json()["detail"]
    with client(sidecar, "stranger") as stranger:
        assert stranger.post("/api/reviews/feedback", json={"project": project, "issue_id": ids[0],
                             "kind": "helpful", "key": key()}).status_code == 403  # fmt: skip
    with client(sidecar, None) as anonymous:
        assert anonymous.post("/api/reviews/feedback", json={}).status_code == 401
    with client(sidecar, "erin") as http:
        elsewhere = http.post("/api/reviews/feedback", json={"project": project, "issue_id": foreign[0],
                                                             "kind": "helpful", "key": key()})  # fmt: skip
        assert elsewhere.status_code == 404 and elsewhere.json()["field"] == "issue_id"
        good = {"project": project, "issue_id": ids[0], "kind": "helpful", "key": key()}
        for bad, field in (
            ({"kind": "great"}, "kind"),
            ({"kind": "wrong_severity"}, "severity"),
            ({"severity": "high"}, "severity"),
            ({"kind": "wrong_severity", "severity": "huge"}, "severity"),
            ({"key": "short"}, "key"),
            ({"extra": 1}, "extra"),
        ):
            answer = http.post("/api/reviews/feedback", json={**good, **bad})
            assert answer.status_code == 422 and answer.json()["field"] == field, (bad, answer.text)
        assert http.post("/api/reviews/feedback", content=b"not json").json()["field"] == "body"
    assert feedback_rows(pg_url, ids) == before  # nothing refused was stored
    assert feedback_rows(pg_url, foreign) == []


def test_trends_give_quality_per_repository_and_feedback_rates_per_rule(sidecar, pg_url):
    project = unique("tr")
    add_member(pg_url, project, "erin", "editor")
    _, first = record(pg_url, project, "acme/shop", [finding("R1"), finding("R2")], pr_number=1,
                      stats={"quality_score": 70.0})  # fmt: skip
    record(pg_url, project, "acme/shop", [finding("R1")], pr_number=2, stats={"quality_score": 90.0, "passed": True})
    record(pg_url, project, "acme/api", [finding("R1")], pr_number=1, stats={"quality_score": 40.0, "passed": False})
    record(pg_url, project, "acme/api", [], source="api")  # no score: not a point
    with client(sidecar, "erin") as http:
        for issue_id, kind in ((first[0], "helpful"), (first[0], "false_positive"), (first[1], "not_helpful")):
            assert http.post("/api/reviews/feedback", json={"project": project, "issue_id": issue_id, "kind": kind,
                                                            "key": key()}).status_code == 201  # fmt: skip
        body = http.get("/api/reviews/trends", params={"project": project}).json()
        assert [(s["repository"], [p["score"] for p in s["points"]]) for s in body["quality"]] == [
            ("acme/api", [40.0]),
            ("acme/shop", [70.0, 90.0]),
        ]
        rules = {r["rule"]: r for r in body["rules"]}
        # erin's latest word on R1's first finding is false_positive (one per user and finding)
        assert rules["R1"]["findings"] == 3 and rules["R1"]["counts"]["false_positive"] == 1
        assert rules["R1"]["feedback"] == 1 and rules["R1"]["rates"]["false_positive"] == 1.0
        assert rules["R2"]["counts"]["not_helpful"] == 1
        assert http.get("/api/reviews/trends", params={"project": project, "days": 0}).json()["field"] == "days"
