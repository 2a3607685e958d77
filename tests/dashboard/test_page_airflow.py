"""The dashboard opened from Airflow's nav, signed in by the Airflow session, showing a run's pull request.

The session's platform (Airflow, the sidecar, started like ``./autopr run``):
the browser signs in to Airflow's own login page once, follows the "Live
Dashboard" nav item (the plugin's external view, an iframe of the sidecar on the
same host) and the page inside is signed in and live without a second login.
A run started with a pull-request event shows its repository, number, title,
author and link, and the workflow's name and version instead of the DAG id.
"""

from __future__ import annotations

import re
import uuid

import pytest

from tests.api.conftest import workflow_doc
from tests.dashboard.test_page import browser  # noqa: F401 - the browser fixture

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.timeout(900)]

PULL_REQUEST = {
    "kind": "pr_opened",
    "repository": "acme/app",
    "pr_number": 7,
    "title": "Parse dates strictly",
    "author": "octocat",
}


def test_dashboard_in_airflow_nav_needs_no_second_login_and_shows_the_pull_request(platform, browser):  # noqa: F811
    from playwright.sync_api import expect

    project = f"nav-{uuid.uuid4().hex[:6]}"
    airflow = platform.airflow_url
    with platform.api() as api:
        api.post("/autopr/api/v1/projects", json={"slug": project, "name": "Nav"}).raise_for_status()
        created = api.post(f"/autopr/api/v1/projects/{project}/workflows", json=workflow_doc("live", project))
        assert created.status_code == 201, created.text
        platform.wait_for_dag(created.json()["dag_id"], timeout=180)
        started = api.post(f"/autopr/api/v1/projects/{project}/workflows/live/runs", json={"event": PULL_REQUEST})
        assert started.status_code == 201, started.text
        run_id = started.json()["run_id"]

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(60_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        # One login, Airflow's own.
        page.goto(f"{airflow}/")
        page.get_by_label("Username").fill(platform.username)
        page.get_by_label("Password").fill(platform.password)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Live Dashboard").click()
        expect(page).to_have_url(re.compile("^" + re.escape(f"{airflow}/plugin/live-dashboard") + "(/.*)?$"))
        frame = page.frame_locator("iframe[title='Live Dashboard']")

        # Inside Airflow's UI, the dashboard is signed in by that session and connected.
        expect(frame.get_by_test_id("status")).to_have_text("live", timeout=60_000)
        expect(frame.get_by_test_id("who")).to_have_text(platform.username)
        expect(frame.locator("#login-view")).to_be_hidden()
        frame.locator("#project").select_option(project)

        row = frame.locator(f'#runs tr[data-run="{run_id}"]')
        expect(row.locator("[data-run-state]")).to_have_attribute("data-run-state", "success", timeout=300_000)
        expect(row.locator(".workflow-name")).to_have_text("Review")
        expect(row.locator(".version")).to_have_text("v1")
        pull = row.locator('a[data-link="code-host"]')
        expect(pull).to_have_text("acme/app#7")
        expect(pull).to_have_attribute("href", re.compile(r"/acme/app/pull/7$"))
        expect(row.locator(".pr-details")).to_have_text("Parse dates strictly · by octocat")
        expect(frame.locator("#feed .what").first).to_have_text("Review")  # the feed names the workflow too
        page.screenshot(path=str(platform.settings.state_dir / "dashboard-in-airflow.png"), full_page=True)
        assert not errors, errors
    finally:
        context.close()
