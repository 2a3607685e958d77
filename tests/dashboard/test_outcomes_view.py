"""The page's Workflows table: ``GET /api/outcomes`` on the real sidecar, and the table in the system Chromium.

Rows go into the session's database through the domain functions (the numbers themselves are checked case by case
in tests/api/test_workflow_outcomes.py); here: the route authenticates and validates like its neighbours, answers
the read model, and the page shows it and follows a run that finishes live.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from include.auth.tokens import mint_token
from tests.dashboard.conftest import add_member, unique
from tests.dashboard.test_page import browser, open_logged_in  # noqa: F401 - the browser fixture
from tests.dashboard.test_page_runs import add_workflow

pytestmark = pytest.mark.timeout(180)


def dag_run(project: str, dag_id: str, run_id: str, state: str, at: datetime, started: datetime):
    from include.events.schema import StateEvent

    return StateEvent(event_type="dag_run", project=project, dag_id=dag_id, run_id=run_id, state=state, occurred_at=at,
                      payload={"start_date": started.isoformat(), "end_date": at.isoformat()})  # fmt: skip


def finished_run(pg_url: str, project: str, dag_id: str, run_id: str, seconds: float, findings: int,
                 version: int | None = None) -> None:
    """A run that succeeded after ``seconds`` and stored a review with ``findings``; the first one is marked helpful."""
    from include.db.session import session_scope
    from include.events.store import persist
    from include.reviews.feedback import record_feedback
    from include.reviews.store import record_review

    started = datetime.now(UTC) - timedelta(minutes=5)
    with session_scope(pg_url) as session:
        persist(session, dag_run(project, dag_id, run_id, "success", started + timedelta(seconds=seconds), started))
        issues = record_review(
            session, project, "acme/app", [{"file_path": "a.py", "line": n + 1, "rule": "E1", "analyzer": "ruff",
                                            "severity": "low", "message": "m"} for n in range(findings)],
            dag_id=dag_id, run_id=run_id, workflow_version=version,
        ).issues  # fmt: skip
        record_feedback(session, issues[0], "pat", {"feedback_type": "helpful"})


def saved_version(pg_url: str, project: str, slug: str, version: int, at: datetime) -> None:
    from sqlalchemy import select

    from include.db.models import Project, Workflow, WorkflowVersion
    from include.db.session import session_scope

    with session_scope(pg_url) as session:
        workflow_id = session.scalar(select(Workflow.id).join(Project, Project.id == Workflow.project_id)
                                     .where(Project.slug == project, Workflow.slug == slug))  # fmt: skip
        session.add(WorkflowVersion(workflow_id=workflow_id, version=version, spec={}, created_by="t", created_at=at))


def _get(sidecar, username: str | None, **params) -> httpx.Response:
    headers = {"Authorization": "Bearer " + mint_token(username, settings=sidecar.settings)} if username else {}
    return httpx.get(sidecar.url + "/api/outcomes", params=params, headers=headers, timeout=30)


def test_outcomes_route(sidecar, pg_url):
    project = unique("outcomes")
    add_member(pg_url, project, "pat")
    dag_id = add_workflow(pg_url, project, "quality", "Quality gate")
    add_workflow(pg_url, project, "idle", "Never ran")
    finished_run(pg_url, project, dag_id, f"r1__{project}", 12.0, findings=4)

    r = _get(sidecar, "pat", project=project)
    assert r.status_code == 200, r.text
    rows = {w["workflow"]: w for w in r.json()["workflows"]}
    assert set(rows) == {"quality", "idle"}
    total = rows["quality"]["total"]
    assert (total["runs"], total["succeeded"], total["success_rate"]) == (1, 1, 1.0)
    assert total["duration_seconds"]["p50"] == 12.0 and total["findings_per_run"] == 4.0
    assert total["feedback"]["helpful_share"] == 1.0 and total["feedback"]["findings_with_feedback"] == 1
    assert rows["idle"]["total"]["runs"] == 0
    # Answers are shared between pages, but keyed by the newest run event: a run that ends is in the next one.
    finished_run(pg_url, project, dag_id, f"r2__{project}", 20.0, findings=1)
    again = {w["workflow"]: w for w in _get(sidecar, "pat", project=project).json()["workflows"]}
    assert again["quality"]["total"]["runs"] == 2 and again["quality"]["total"]["findings_per_run"] == 2.5
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert _get(sidecar, "pat", project=project, since=later).json()["workflows"][0]["total"]["runs"] == 0

    missing = _get(sidecar, None, project=project)
    assert missing.status_code == 401 and missing.json()["field"] == "Authorization"
    bad = _get(sidecar, "pat", project=project, since="last tuesday")
    assert bad.status_code == 422 and bad.json()["field"] == "since"
    unknown = _get(sidecar, "pat", project=project, limit="5")
    assert unknown.status_code == 422 and unknown.json()["field"] == "limit"
    outsider = _get(sidecar, "mallory", project=project)
    assert outsider.status_code == 403 and outsider.json()["field"] == "project"


@pytest.mark.browser
def test_page_shows_the_workflows_table_and_follows_a_finished_run(browser, sidecar, pg_url):  # noqa: F811
    from playwright.sync_api import expect

    project = unique("wftable")
    add_member(pg_url, project, "pat")
    dag_id = add_workflow(pg_url, project, "quality", "Quality gate", version=3)
    saved_version(pg_url, project, "quality", 3, datetime.now(UTC) - timedelta(hours=1))
    finished_run(pg_url, project, dag_id, f"r1__{project}", 30.0, findings=2, version=3)
    page = open_logged_in(browser, sidecar, "pat", project)
    try:
        row = page.locator('#outcomes tr[data-workflow="quality"]:not(.version-row)')
        expect(row.locator('[data-field="name"]')).to_contain_text("Quality gate v3", timeout=20_000)
        expect(row.locator('[data-field="runs"]')).to_have_text("1")
        expect(row.locator('[data-field="success_rate"]')).to_have_text("100% 1/1")
        expect(row.locator('[data-field="findings_per_run"]')).to_have_text("2")
        expect(row.locator('[data-field="helpful_share"]')).to_have_text("100% of 1")
        expect(row.locator('[data-field="duration"]')).to_have_text("30 s / 30 s")
        version_row = page.locator('#outcomes tr.version-row[data-workflow="quality"][data-version="3"]')
        expect(version_row).to_be_hidden()
        page.click('#outcomes [data-versions="quality"]')
        expect(version_row.locator('[data-field="runs"]')).to_have_text("1")

        # A second run fails live: its event reaches the page over the socket and the table is asked again.
        expect(page.get_by_test_id("status")).to_have_text("live", timeout=20_000)
        started = datetime.now(UTC) - timedelta(seconds=10)
        sidecar.put(dag_run(project, dag_id, f"r2__{project}", "failed", datetime.now(UTC), started))
        expect(row.locator('[data-field="runs"]')).to_have_text("2", timeout=20_000)
        expect(row.locator('[data-field="success_rate"]')).to_have_text("50% 1/2")
        # Still open after the refresh; the failed run stored no review: its version is the one saved before it.
        expect(version_row.locator('[data-field="runs"]')).to_have_text("2")
        page.locator("#outcomes-view").screenshot(path=str(sidecar.log_path.parent / "dashboard-workflows.png"))
    finally:
        page.close()
