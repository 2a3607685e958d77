"""The page says so when the sidecar cannot read its database, keeps retrying, and comes back live by itself.

A sidecar of its own on a database the test closes to new connections (the
``breakable_db`` fixture of the outage tests), in the system Chromium.
"""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import add_member, make_sidecar, task_event, unique
from tests.dashboard.test_order_and_outages import breakable_db  # noqa: F401 - the fixture
from tests.dashboard.test_page import browser, open_logged_in  # noqa: F401 - the browser fixture

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def test_history_unavailable_is_shown_and_the_page_recovers(browser, breakable_db):  # noqa: F811
    from playwright.sync_api import expect

    url, close, reopen = breakable_db
    project = unique("outage-page")
    add_member(url, project, "omar")
    side = make_sidecar(url).start()
    try:
        side.put(task_event(project, 0, task_id="before"))
        page = open_logged_in(browser, side, "omar", project)
        try:
            status = page.get_by_test_id("status")
            expect(status).to_have_text("live", timeout=20_000)
            expect(page.locator('[data-task="before"]')).to_be_visible(timeout=10_000)
            close()
            try:
                page.reload()
                expect(status).to_have_text("history unavailable, retrying", timeout=20_000)
                expect(status).to_have_class("status err")
            finally:
                reopen()
            expect(status).to_have_text("live", timeout=40_000)
            expect(page.locator('[data-task="before"]')).to_be_visible(timeout=10_000)
            side.put(task_event(project, 1, task_id="after"))
            expect(page.locator('[data-task="after"]')).to_be_visible(timeout=15_000)
        finally:
            page.close()
    finally:
        side.stop()
