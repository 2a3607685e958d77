"""The page a team lead uses, in the system Chromium against the real sidecar (no Airflow behind it).

Runs come whole from ``/api/runs`` (every event of a run, however old), with the
workflow's name; a task's shown state follows the ordering rule, not the arrival
order; a failed run keeps its reason; the layout holds at a phone's width; the
feed lists events by when they happened.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.dashboard.conftest import add_member, task_event, unique
from tests.dashboard.test_page import browser, open_logged_in  # noqa: F401 - the browser fixture

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

PHONE = {"width": 390, "height": 844}


def add_workflow(pg_url: str, project: str, slug: str, name: str, version: int = 1) -> str:
    """A stored workflow of ``project``; returns its DAG id."""
    from sqlalchemy import select

    from include.db.models import Project, Workflow
    from include.db.session import session_scope
    from include.workflows.model import dag_id_for

    with session_scope(pg_url) as session:
        project_id = session.scalar(select(Project.id).where(Project.slug == project))
        session.add(Workflow(project_id=project_id, slug=slug, name=name, current_version=version, created_by="t"))
    return dag_id_for(project, slug)


def test_phone_width_shows_tasks_and_a_late_running_leaves_success(browser, sidecar, pg_url):  # noqa: F811
    from playwright.sync_api import expect

    project = unique("phone")
    add_member(pg_url, project, "pat")
    dag_id = add_workflow(pg_url, project, "quality", "Quality gate")
    run = f"manual__{project}"
    started = datetime.now(UTC) - timedelta(seconds=30)
    sidecar.put(task_event(project, 0, state="queued", task_id="checkout", run_id=run, dag_id=dag_id,
                           occurred_at=started))  # fmt: skip
    page = open_logged_in(browser, sidecar, "pat", project, viewport=PHONE)
    try:
        expect(page.get_by_test_id("status")).to_have_text("live", timeout=20_000)
        row = page.locator(f'#runs tr[data-run="{run}"]')
        checkout = row.locator('[data-task="checkout"]')
        expect(checkout).to_have_attribute("data-state", "queued", timeout=10_000)
        expect(row.locator(".workflow-name")).to_have_text("Quality gate")

        sidecar.put(task_event(project, 1, state="success", task_id="checkout", run_id=run, dag_id=dag_id,
                               occurred_at=started + timedelta(seconds=20)))  # fmt: skip
        expect(checkout).to_have_attribute("data-state", "success", timeout=10_000)
        # The `running` of the same try, re-claimed from a relay that died before persisting it: it is
        # persisted (a higher id) after the success it preceded.
        sidecar.put(task_event(project, 2, state="running", task_id="checkout", run_id=run, dag_id=dag_id,
                               occurred_at=started + timedelta(seconds=10), payload={"source": "reclaimed"}))  # fmt: skip
        sidecar.put(task_event(project, 3, state="running", task_id="lint", run_id=run, dag_id=dag_id))
        expect(row.locator('[data-task="lint"]')).to_be_visible(timeout=10_000)
        expect(page.locator("#feed li")).to_have_count(4, timeout=10_000)  # the late event did arrive
        expect(checkout).to_have_attribute("data-state", "success")

        # The run's tasks are on screen at 390 px: nothing is cut off or scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        for chip in (checkout, row.locator('[data-task="lint"]')):
            box = chip.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        page.screenshot(path=str(sidecar.log_path.parent / "dashboard-390.png"), full_page=True)

        # The same answer from history alone (a fresh page reads the run from /api/runs).
        page.reload()
        expect(page.locator(f'#runs tr[data-run="{run}"] [data-task="checkout"]')).to_have_attribute(
            "data-state", "success", timeout=20_000
        )
    finally:
        page.close()


def test_runs_are_whole_keep_their_failure_and_filter(browser, sidecar, pg_url):  # noqa: F811
    from playwright.sync_api import expect

    project = unique("runs")
    add_member(pg_url, project, "pat")
    review = add_workflow(pg_url, project, "review", "Code review", version=4)
    old_run, failed_run = f"old__{project}", f"failed__{project}"
    base = datetime.now(UTC) - timedelta(minutes=10)
    # An older run with more events than the feed's first page holds, then a newer run that fails.
    for n in range(120):
        sidecar.put(task_event(project, n, run_id=old_run, dag_id=review, occurred_at=base + timedelta(seconds=n)))
    failed_at = base + timedelta(minutes=5)
    sidecar.put(task_event(project, 0, state="running", task_id="lint", run_id=failed_run, dag_id=review,
                           occurred_at=failed_at))  # fmt: skip
    sidecar.put(task_event(project, 1, state="failed", task_id="lint", run_id=failed_run, dag_id=review,
                           occurred_at=failed_at + timedelta(seconds=3),
                           payload={"error": "RuntimeError: ruff found 3 errors", "duration": 3.0}))  # fmt: skip
    page = open_logged_in(browser, sidecar, "pat", project)
    try:
        expect(page.get_by_test_id("status")).to_have_text("live", timeout=20_000)
        old = page.locator(f'#runs tr[data-run="{old_run}"]')
        expect(old.locator("[data-task]")).to_have_count(120, timeout=20_000)  # the feed page had 100 events in all
        expect(page.locator("#feed li")).to_have_count(100)
        failed = page.locator(f'#runs tr[data-run="{failed_run}"]')
        expect(failed.locator('[data-task="lint"]')).to_have_attribute("data-state", "failed")
        expect(failed.locator('[data-task="lint"]')).to_contain_text("3.0 s")
        # The reason is on the run, from history: no banner came and went.
        expect(failed.get_by_test_id("reason")).to_contain_text("ruff found 3 errors")
        expect(failed.locator(".workflow-name")).to_have_text("Code review")

        # Feed times never go backwards, whatever the ids.
        sidecar.put(task_event(project, 2, state="success", task_id="late", run_id=failed_run, dag_id=review,
                               occurred_at=failed_at - timedelta(seconds=30)))  # fmt: skip
        expect(page.locator("#feed li").first).not_to_contain_text("· late", timeout=5_000)
        expect(failed.locator('[data-task="late"]')).to_be_visible(timeout=10_000)
        times = page.locator("#feed li").evaluate_all("els => els.map(e => Number(e.dataset.at))")
        assert times == sorted(times, reverse=True)

        # A retry's try outranks the try before it, whatever arrives last.
        sidecar.put(task_event(project, 3, state="running", task_id="flaky", run_id=failed_run, dag_id=review,
                               try_number=2, occurred_at=failed_at + timedelta(seconds=10)))  # fmt: skip
        sidecar.put(task_event(project, 4, state="up_for_retry", task_id="flaky", run_id=failed_run, dag_id=review,
                               try_number=1, occurred_at=failed_at + timedelta(seconds=5)))  # fmt: skip
        flaky = failed.locator('[data-task="flaky"]')
        expect(page.locator("#feed li")).to_have_count(103, timeout=10_000)
        expect(flaky).to_have_attribute("data-state", "running")
        expect(flaky).to_have_attribute("title", "try 2")

        page.select_option("#filter-workflow", "review")
        page.select_option("#filter-state", "running")  # no dag-run event: both runs count as running
        expect(page.locator("#runs tbody tr")).to_have_count(2)
        page.select_option("#filter-since", "3600")
        expect(page.locator("#runs tbody tr")).to_have_count(2, timeout=10_000)
        page.select_option("#filter-state", "success")
        expect(page.locator("#runs tbody tr")).to_have_count(0)
        expect(page.locator("#no-runs")).to_have_text("No runs match the filters.")
    finally:
        page.close()
