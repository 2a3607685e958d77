"""Per-workflow outcomes through the API, on a known set of runs, reviews and feedback.

Rows go into the app database through the domain functions (events persisted like the relay does, reviews like the
actions store them, feedback like every feedback path), so no DAG runs are needed; the numbers are worked out by hand
in each test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.conftest import auth

BASE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DAG = "autopr__acme__review"
ITEM = "/api/v1/projects/acme/workflows/review/outcomes"
LIST = "/api/v1/projects/acme/outcomes"


def _iso(value: datetime) -> str:
    return value.isoformat()


def _run(session, run_id: str, started_min: float, seconds: float | None, state: str) -> None:
    """A DAG run's events as the listener sends them: ``running``, then the terminal state with Airflow's times."""
    from include.events.schema import StateEvent
    from include.events.store import persist

    start = BASE + timedelta(minutes=started_min)
    persist(session, StateEvent(event_type="dag_run", project="acme", dag_id=DAG, run_id=run_id, state="running",
                                occurred_at=start, payload={"start_date": _iso(start)}))  # fmt: skip
    if seconds is not None:
        end = start + timedelta(seconds=seconds)
        persist(session, StateEvent(event_type="dag_run", project="acme", dag_id=DAG, run_id=run_id, state=state,
                                    occurred_at=end,
                                    payload={"start_date": _iso(start), "end_date": _iso(end)}))  # fmt: skip


def _review(session, run_id: str, findings: int, version: int | None):
    from include.reviews.store import record_review

    issues = [{"file_path": f"src/m{i}.py", "line": i + 1, "rule": "E1", "analyzer": "ruff", "severity": "medium",
               "message": "x"} for i in range(findings)]  # fmt: skip
    return record_review(session, "acme", "acme/app", issues, workflow_id="review", workflow_version=version,
                         dag_id=DAG, run_id=run_id).issues  # fmt: skip


def _feedback(session, issue, kind: str, source: str = "api") -> None:
    from include.reviews.feedback import record_feedback

    record_feedback(session, issue, "vic", {"feedback_type": kind}, source=source)


@pytest.fixture()
def outcomes(client, project):
    """Workflow ``review`` (v1 saved at BASE, v2 an hour later) with five runs; ``lint`` never ran.

    ========  =============  ======  ========  =======================================================
    run       started        state   duration  review
    ========  =============  ======  ========  =======================================================
    a         +10 min        success 10 s      v1, 3 findings: helpful; false positive (then a weak
                                               helpful); only a weak helpful
    b         +20 min        success 20 s      none (version by time: v1)
    c         +70 min        failed  30 s      v1 recorded (after v2's save: the review wins), 1 finding:
                                               false positive, then good catch (the latest counts)
    d         +80 min        success 40 s      v2, 2 findings, no feedback; a late ``queued`` arrives last
    e         +120 min       running           v2, 5 findings (in progress: not counted)
    ========  =============  ======  ========  =======================================================
    """
    from sqlalchemy import select

    from include.db.models import Project, Workflow, WorkflowVersion
    from include.db.session import session_scope
    from include.events.schema import StateEvent
    from include.events.store import persist

    with session_scope() as session:
        project_id = session.scalar(select(Project.id).where(Project.slug == "acme"))
        review = Workflow(project_id=project_id, slug="review", name="Code review", current_version=2, created_by="ed")
        lint = Workflow(project_id=project_id, slug="lint", name="Lint", created_by="ed")
        session.add_all([review, lint])
        session.flush()
        for version, at in ((1, BASE), (2, BASE + timedelta(hours=1))):
            session.add(WorkflowVersion(workflow_id=review.id, version=version, spec={}, created_by="ed",
                                        created_at=at))  # fmt: skip
        session.add(WorkflowVersion(workflow_id=lint.id, version=1, spec={}, created_by="ed", created_at=BASE))
        _run(session, "a", 10, 10, "success")
        _run(session, "b", 20, 20, "success")
        _run(session, "c", 70, 30, "failed")
        _run(session, "d", 80, 40, "success")
        _run(session, "e", 120, None, "running")
        # d's ``queued``, re-claimed and persisted after its success: the ordering rule keeps it a success.
        persist(session, StateEvent(event_type="dag_run", project="acme", dag_id=DAG, run_id="d", state="queued",
                                    occurred_at=BASE + timedelta(minutes=79)))  # fmt: skip
        a1, a2, a3 = _review(session, "a", 3, 1)
        _feedback(session, a1, "helpful")
        _feedback(session, a2, "false_positive", source="reaction")
        _feedback(session, a2, "helpful", source="line_changed")  # weak: the explicit verdict stands
        _feedback(session, a3, "helpful", source="line_changed")  # weak only: no explicit feedback
        (c1,) = _review(session, "c", 1, 1)
        _feedback(session, c1, "false_positive")
        _feedback(session, c1, "good_catch", source="reply_command")
        _review(session, "d", 2, 2)
        _review(session, "e", 5, 2)
    return client


def test_numbers_per_workflow_and_per_version(outcomes):
    r = outcomes.get(ITEM, headers=auth("vic"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["workflow"], body["name"], body["current_version"]) == ("review", "Code review", 2)
    total = body["total"]
    assert {k: total[k] for k in ("runs", "succeeded", "failed", "in_progress", "success_rate")} == {
        "runs": 5, "succeeded": 3, "failed": 1, "in_progress": 1, "success_rate": 0.75}  # fmt: skip
    # finished durations 10, 20, 30, 40 s: p50 between 20 and 30, p95 at rank 2.85
    assert total["duration_seconds"] == {"p50": 25.0, "p95": 38.5, "max": 40.0}
    assert (total["reviewed_runs"], total["findings"], total["findings_per_run"]) == (3, 6, 1.5)
    assert total["feedback"] == {"findings_with_feedback": 3, "helpful": 2, "false_positive": 1,
                                 "helpful_share": 0.6667, "false_positive_share": 0.3333}  # fmt: skip

    v2, v1 = body["versions"]
    assert (v2["version"], v1["version"]) == (2, 1)
    assert v1["saved_at"].startswith("2026-11-30T09:00:00")
    assert (v2["runs"], v2["succeeded"], v2["failed"], v2["in_progress"], v2["success_rate"]) == (2, 1, 0, 1, 1.0)
    assert v2["duration_seconds"] == {"p50": 40.0, "p95": 40.0, "max": 40.0}
    assert (v2["findings"], v2["findings_per_run"]) == (2, 2.0)
    assert v2["feedback"]["findings_with_feedback"] == 0 and v2["feedback"]["helpful_share"] is None
    assert (v1["runs"], v1["succeeded"], v1["failed"], v1["success_rate"]) == (3, 2, 1, 0.6667)
    assert v1["duration_seconds"] == {"p50": 20.0, "p95": 29.0, "max": 30.0}
    assert (v1["reviewed_runs"], v1["findings"], v1["findings_per_run"]) == (2, 4, 1.333)
    assert (v1["feedback"]["helpful"], v1["feedback"]["false_positive"]) == (2, 1)


def test_since_keeps_runs_that_started_then(outcomes):
    # b's success lies after this time, but b started before it: left out.  c, d and e started after.
    since = (BASE + timedelta(minutes=20, seconds=10)).isoformat()
    total = outcomes.get(ITEM, params={"since": since}, headers=auth("vic")).json()["total"]
    assert (total["runs"], total["succeeded"], total["failed"], total["in_progress"]) == (3, 1, 1, 1)
    assert (total["findings"], total["findings_per_run"]) == (3, 1.5)
    assert total["duration_seconds"]["max"] == 40.0
    assert total["feedback"]["helpful"] == 1 and total["feedback"]["false_positive"] == 0


def test_project_lists_every_workflow(outcomes):
    r = outcomes.get(LIST, headers=auth("vic"))
    assert r.status_code == 200, r.text
    rows = {w["workflow"]: w for w in r.json()["workflows"]}
    assert list(rows) == ["lint", "review"]
    assert rows["review"]["total"]["runs"] == 5 and "versions" not in rows["review"]
    lint = rows["lint"]["total"]
    assert lint["runs"] == 0 and lint["success_rate"] is None and lint["findings_per_run"] is None
    assert lint["duration_seconds"] == {"p50": None, "p95": None, "max": None}


def test_errors_name_the_field_and_membership_applies(outcomes):
    bad = outcomes.get(ITEM, params={"since": "yesterday"}, headers=auth("vic"))
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["errors"][0]["pointer"] == "/since"
    naive = outcomes.get(LIST, params={"since": "2026-11-30T09:00:00"}, headers=auth("vic"))
    assert naive.status_code == 422 and naive.json()["errors"][0]["pointer"] == "/since"

    missing = outcomes.get("/api/v1/projects/acme/workflows/nope/outcomes", headers=auth("vic"))
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    assert outcomes.get(ITEM, headers=auth("mallory")).status_code == 404  # not a member: not revealed
    assert outcomes.get(LIST, headers=auth("mallory")).status_code == 404
    assert outcomes.get(ITEM).status_code == 401
    assert outcomes.get(LIST, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_documented_in_openapi(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/projects/{project}/outcomes", "/api/v1/projects/{project}/workflows/{workflow}/outcomes"):
        operation = paths[path]["get"]
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("Outcomes")
        assert {"401", "404", "422"} <= set(operation["responses"])
        assert any(p["name"] == "since" for p in operation["parameters"])
