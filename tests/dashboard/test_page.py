"""The dashboard page in the system Chromium (Playwright), against the real sidecar.

Events go in through the outbox exactly as the Airflow listener puts them; the
page must show history, then live task and run states coloured by state, the
activity feed, who is watching, failure notifications and Airflow run links.
"""

from __future__ import annotations

import shutil

import pytest

from include.auth.tokens import mint_token
from tests.dashboard.conftest import add_member, task_event, unique

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail("system Chromium missing: apt-get update && apt-get install -y chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield b
        b.close()


def open_logged_in(browser, sidecar, username: str, project: str, **page_options):
    """Open the page with a token in sessionStorage, as the login form leaves it."""
    page = browser.new_page(**page_options)
    token = mint_token(username, ttl_seconds=900, settings=sidecar.settings)
    page.add_init_script(
        f"sessionStorage.setItem('autopr.token', {token!r}); sessionStorage.setItem('autopr.username', {username!r});"
    )
    page.goto(f"{sidecar.url}/?project={project}")
    return page


def test_page_shows_history_then_live_events(browser, sidecar, pg_url):
    from playwright.sync_api import expect

    project = unique("page")
    add_member(pg_url, project, "pat")
    add_member(pg_url, project, "quinn")
    run = f"manual__{project}"
    sidecar.put(task_event(project, 0, state="running", task_id="checkout", run_id=run))
    page = open_logged_in(browser, sidecar, "pat", project)
    try:
        expect(page.get_by_test_id("status")).to_have_text("live", timeout=20_000)
        chip = page.locator('#runs [data-task="checkout"]')
        expect(chip).to_have_attribute("data-state", "running", timeout=10_000)  # history from the feed API
        expect(chip).to_have_class("chip s-running")
        link = page.locator(f'#runs tr[data-run="{run}"] a[data-link="airflow"]')
        expect(link).to_have_attribute("href", f"{sidecar.settings.airflow_ui_url}/dags/demo_dag/runs/{run}")

        # live: state changes arrive without reload, in order
        sidecar.put(task_event(project, 1, state="success", task_id="checkout", run_id=run))
        sidecar.put(task_event(project, 2, state="running", task_id="lint", run_id=run))
        sidecar.put(task_event(project, 3, state="failed", task_id="lint", run_id=run))
        expect(chip).to_have_attribute("data-state", "success", timeout=10_000)
        lint = page.locator('#runs [data-task="lint"]')
        expect(lint).to_have_attribute("data-state", "failed", timeout=10_000)
        expect(lint).to_have_class("chip s-failed")
        expect(page.locator("#notifications div").first).to_contain_text("Task lint failed", timeout=10_000)
        expect(page.locator("#feed li")).to_have_count(4, timeout=10_000)
        ids = [int(x) for x in page.locator("#feed li").evaluate_all("els => els.map(e => e.dataset.id)")]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4

        # who is watching: a second viewer shows up
        other = open_logged_in(browser, sidecar, "quinn", project)
        try:
            expect(page.get_by_test_id("watchers")).to_contain_text("quinn", timeout=10_000)
            expect(other.locator('#runs [data-task="lint"]')).to_have_attribute("data-state", "failed", timeout=10_000)
        finally:
            other.close()
        page.screenshot(path=str(sidecar.log_path.parent / "dashboard.png"), full_page=True)
    finally:
        page.close()


def test_login_form_reports_errors(browser, sidecar):
    from playwright.sync_api import expect

    page = browser.new_page()
    try:
        page.goto(sidecar.url + "/")
        expect(page.locator("#login-view")).to_be_visible()
        page.fill("#username", "pat")
        page.fill("#password", "secret")
        page.click("#login-button")
        # No Airflow behind this sidecar: the form says so instead of failing silently.
        expect(page.locator("#login-error")).to_contain_text("Airflow is unreachable", timeout=20_000)
    finally:
        page.close()
