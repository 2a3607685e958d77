"""The page's Model drift panel: ``GET /api/drift`` on the real sidecar, and the panel in the system Chromium.

A drift report goes into the session's database the way the drift watch stores one (``ml.drift.compare`` of a
shifted profile against a reference); how reports are computed is tested in tests/ml_serving/test_drift.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from include.auth.tokens import mint_token
from tests.dashboard.conftest import add_member, unique
from tests.dashboard.test_page import browser, open_logged_in  # noqa: F401 - the browser fixture

pytestmark = pytest.mark.timeout(180)


def stored_drift_report(pg_url: str, model_name: str = "autopr-severity", version: str = "7") -> dict:
    """A ``drift`` report of a stream from another analyser, stored as ``ml.drift_watch.check_drift`` stores it."""
    from include.db.models import MLDriftReport
    from include.db.session import session_scope
    from ml.drift import compare, profile_records

    python = [{"message": f"subprocess call with shell {i % 5}", "rule": "B602", "analyzer": "bandit",
               "file_path": "src/a.py"} for i in range(300)]
    npm = [{"message": f"prototype pollution in lodash {i % 7}", "rule": "vulnerable-dependency/npm",
            "analyzer": "npm-audit", "file_path": "package-lock.json"} for i in range(300)]
    report = compare(profile_records(python, [("high", 0.9)] * 300), profile_records(npm, [("low", 0.4)] * 300),
                     threshold=0.25, min_predictions=200)
    now = datetime.now(UTC)
    report.update({"model_name": model_name, "model_version": version, "alias": "champion", "run_id": "r",
                   "computed_at": now.isoformat(), "window_hours": 24.0, "window_start": None, "window_end": None})
    with session_scope(pg_url) as session:
        session.add(MLDriftReport(model_name=model_name, model_version=version, computed_at=now,
                                  status=report["status"], max_psi=report["max_psi"], report=report))
    return report


def test_drift_route(sidecar, pg_url):
    report = stored_drift_report(pg_url)
    assert httpx.get(sidecar.url + "/api/drift", timeout=30).status_code == 401
    headers = {"Authorization": "Bearer " + mint_token("anyone", settings=sidecar.settings)}
    r = httpx.get(sidecar.url + "/api/drift", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_name"] == "autopr-severity"
    assert body["latest"]["status"] == "drift" and body["latest"]["max_psi"] == report["max_psi"]
    bad = httpx.get(sidecar.url + "/api/drift", params={"limit": "0"}, headers=headers, timeout=30)
    assert bad.status_code == 422 and bad.json()["field"] == "limit"


@pytest.mark.browser
def test_page_shows_the_drift_panel(browser, sidecar, pg_url):  # noqa: F811
    from playwright.sync_api import expect

    project = unique("drift")
    add_member(pg_url, project, "pat")
    stored_drift_report(pg_url, version="8")
    page = open_logged_in(browser, sidecar, "pat", project)
    try:
        expect(page.get_by_test_id("drift-view")).to_be_visible(timeout=20_000)
        expect(page.locator("#drift-head")).to_contain_text("autopr-severity v8: DRIFT")
        analyzer = page.locator('#drift tr[data-feature="analyzer"]')
        expect(analyzer).to_have_attribute("data-drifted", "true")
        expect(analyzer).to_contain_text("npm-audit")  # the biggest share change, by name
        page.locator("#drift-view").screenshot(path=str(sidecar.log_path.parent / "dashboard-drift.png"))
    finally:
        page.close()
