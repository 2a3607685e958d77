"""The review view in the system Chromium against the real sidecar (no Airflow behind it).

A review is stored the way a workflow's review task stores it (``record_review``), then the task's
terminal event goes in through the outbox as the Airflow listener puts it: the page shows the new
review without a reload.  A feedback button press is stored once as a dashboard ``ml_feedback`` row
on that finding and the page shows it; a double click adds nothing; a viewer sees the feedback but
cannot press; the view holds at a phone's width.
"""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import add_member, task_event, unique
from tests.dashboard.test_page import browser, open_logged_in  # noqa: F401 - the browser fixture
from tests.dashboard.test_reviews_view import feedback_rows, finding, record

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

PHONE = {"width": 390, "height": 844}


def test_review_view_shows_a_new_review_live_and_a_feedback_click_is_stored_and_reflected(browser, sidecar, pg_url):  # noqa: F811
    from playwright.sync_api import expect

    project = unique("rvpage")
    add_member(pg_url, project, "erin", "editor")
    add_member(pg_url, project, "vic", "viewer")
    old, _ = record(pg_url, project, "acme/shop", [finding("E501", "low")], pr_number=1,
                    stats={"quality_score": 90.0, "passed": True})  # fmt: skip
    page = open_logged_in(browser, sidecar, "erin", project)
    try:
        expect(page.get_by_test_id("status")).to_have_text("live", timeout=20_000)
        expect(page.locator(f'#pulls tr[data-review="{old}"]')).to_be_visible(timeout=10_000)
        expect(page.locator("#plot-quality circle")).to_have_count(1)

        # A workflow run reviews pull request #2: its review task stores the review, then succeeds.
        dag_id, run_id = f"autopr__{project}__review", f"manual__{project}"
        model = {
            "predicted_severity": "critical",
            "model_version": "7",
            "context": {"shown_confidence": 0.87, "helpfulness": 0.87, "model_confidence": 0.7},
        }
        new, ids = record(
            pg_url, project, "acme/shop",
            [finding("B602", "high", line=12, **model), finding("E501", "medium", line=40),
             finding("W291", "info", line=5, confidence=0.1, context={"hidden": True})],
            pr_number=2, dag_id=dag_id, run_id=run_id,
            stats={"quality_score": 55.0, "errors_count": 1, "min_confidence": 0.5},
        )  # fmt: skip
        sidecar.put(task_event(project, 0, state="success", task_id="review", dag_id=dag_id, run_id=run_id))
        row = page.locator(f'#pulls tr[data-review="{new}"]')
        expect(row).to_be_visible(timeout=10_000)  # live: no reload
        expect(page.locator("#pulls tbody tr").first).to_have_attribute("data-review", str(new))
        expect(row.locator(".score")).to_have_text("55.0")
        expect(row.locator("[data-gate]")).to_have_attribute("data-gate", "fail")
        expect(row.locator('[data-severity="high"]')).to_have_attribute("data-count", "1")
        expect(row.locator('[data-severity="medium"]')).to_have_attribute("data-count", "1")
        expect(row.locator(".hidden-count")).to_have_text("1 hidden")
        expect(row.locator('a[data-link="pull-request"]')).to_have_attribute(
            "href", "https://github.com/acme/shop/pull/2"
        )
        expect(row.locator('a[data-link="airflow-run"]')).to_have_attribute(
            "href", f"{sidecar.settings.airflow_ui_url.rstrip('/')}/dags/{dag_id}/runs/{run_id}"
        )
        expect(page.locator("#plot-quality circle")).to_have_count(2)

        # Its findings: file:line, rule, severity, the model's severity and calibrated confidence, hidden as such.
        row.locator("button.open-review").click()
        detail = page.get_by_test_id("review-detail")
        top = detail.locator(f'li[data-issue="{ids[0]}"]')
        expect(top.locator(".where")).to_have_text("app/main.py:12")
        expect(top.locator(".rule")).to_have_text("B602")
        expect(top.locator('[data-role="severity"]')).to_have_text("high")
        expect(top.locator('[data-role="predicted"]')).to_have_text("model: critical")
        expect(top.locator('[data-role="confidence"]')).to_have_text("confidence 0.87 (calibrated)")
        hidden = detail.locator(f'li[data-issue="{ids[2]}"]')
        expect(hidden).to_have_attribute("data-hidden", "true")
        expect(hidden.locator('[data-role="hidden"]')).to_have_text("hidden by threshold 0.5")
        expect(top.locator('[data-role="hidden"]')).to_have_count(0)

        # A press is stored once on that finding and shown as mine; a double click is one press.
        top.locator('button[data-kind="helpful"]').click()
        expect(top.locator('button[data-kind="helpful"]')).to_have_attribute("aria-pressed", "true", timeout=10_000)
        expect(top.locator('button[data-kind="helpful"] .fb-count')).to_have_text(" 1")
        medium = detail.locator(f'li[data-issue="{ids[1]}"]')
        medium.locator('button[data-kind="false_positive"]').dblclick()
        expect(medium.locator('button[data-kind="false_positive"]')).to_have_attribute("aria-pressed", "true",
                                                                                       timeout=10_000)  # fmt: skip
        hidden.locator('select[data-kind="wrong_severity"]').select_option("medium")
        expect(hidden).to_have_attribute("data-feedback", "wrong_severity", timeout=10_000)
        assert feedback_rows(pg_url, ids) == [
            (ids[0], "erin", "helpful", None, "dashboard", "explicit"),
            (ids[1], "erin", "false_positive", None, "dashboard", "explicit"),
            (ids[2], "erin", "helpful", "medium", "dashboard", "explicit"),
        ]
        expect(page.locator("#plot-rules g[data-rule]")).to_have_count(3, timeout=10_000)
        page.screenshot(path=str(sidecar.log_path.parent / "dashboard-reviews.png"), full_page=True)

        # A viewer, from the database alone, at a phone's width: the feedback counted, no buttons to press
        # (feedback needs the editor role, as in the platform API), nothing cut off or scrolling sideways.
        phone = open_logged_in(browser, sidecar, "vic", project, viewport=PHONE)
        try:
            phone.locator(f'#pulls tr[data-review="{new}"] button.open-review').click(timeout=20_000)
            item = phone.locator(f'#findings li[data-issue="{ids[0]}"]')
            expect(item.locator('button[data-kind="helpful"] .fb-count')).to_have_text(" 1")
            expect(item.locator('button[data-kind="helpful"]')).to_have_attribute("aria-pressed", "false")
            expect(item.locator('button[data-kind="helpful"]')).to_be_disabled()
            wrong = phone.locator(f'#findings li[data-issue="{ids[2]}"] select[data-kind="wrong_severity"]')
            expect(wrong).to_be_disabled()
            expect(wrong.locator("option").first).to_have_text("Wrong severity… 1")
            assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            for control in (
                item.locator('button[data-kind="false_positive"]'),
                item.locator("select"),
                phone.locator("#plot-quality svg"),
                item.locator(".where"),
            ):
                box = control.bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
            phone.screenshot(path=str(sidecar.log_path.parent / "dashboard-reviews-390.png"), full_page=True)
        finally:
            phone.close()
    finally:
        page.close()
