"""The editor's Versions dialog shows a stored version and what changed from it to the current one.

The platform app is served by uvicorn in this process under ``/autopr`` (as the Airflow plugin mounts
it), signed in with the ``_token`` cookie Airflow's UI would hold; no Airflow is needed to read versions.
"""

from __future__ import annotations

import copy

import pytest
from playwright.sync_api import expect

from tests.api.conftest import CLOSED_AIRFLOW_URL, auth, workflow_doc
from tests.editor.conftest import platform_app_served

pytestmark = [pytest.mark.timeout(300)]


@pytest.fixture()
def served(db, monkeypatch):
    with platform_app_served(monkeypatch, {"AUTOPR_AIRFLOW_API_URL": CLOSED_AIRFLOW_URL,
                                           "AUTOPR_WORKFLOWS_BUNDLE_URL": "none"}) as url:
        yield url


def test_view_a_version_and_compare_it_with_the_current_one(served, editor_build, browser, artifacts):
    import httpx

    from include.auth.tokens import mint_token

    client = httpx.Client(base_url=f"{served}/autopr", timeout=30)
    assert client.post("/api/v1/projects", json={"slug": "acme", "name": "Acme"}, headers=auth("ed")).status_code == 201
    created = client.post("/api/v1/projects/acme/workflows", json=workflow_doc(), headers=auth("ed"))
    assert created.status_code == 201, created.text
    spec = copy.deepcopy(created.json()["spec"])
    spec["name"] = "Review v2"
    spec["nodes"][1]["config"]["message"] = "now {quality_score}"
    spec["nodes"].append({"id": "tag", "type": "action", "config": {"action": "label_pr", "labels": ["seen"]}})
    spec["edges"].append({"id": "e2", "source": "notify", "target": "tag"})
    r = client.put("/api/v1/projects/acme/workflows/review", json=spec, headers={**auth("ed"), "If-Match": '"1"'})
    assert r.status_code == 200, r.text

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_cookies([{"name": "_token", "value": mint_token("ed"), "url": served}])
    context.set_default_timeout(30_000)
    expect.set_options(timeout=20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{served}/autopr/editor/?project=acme&workflow=review")
        page.get_by_role("button", name="Versions", exact=True).click()
        page.get_by_test_id("version-1").get_by_role("button", name="View & compare").click()
        view = page.get_by_test_id("version-view")
        expect(view).to_contain_text("From v1 to the current v2")
        expect(view.get_by_test_id("diff-setting-name")).to_contain_text('"Review" → "Review v2"')
        expect(view.get_by_test_id("diff-node-tag")).to_contain_text("tag (action)")
        expect(view.get_by_test_id("diff-node-notify")).to_contain_text(
            'config.message: "found {issues_count}" → "now {quality_score}"')
        expect(view.get_by_test_id("diff-edge-e2")).to_contain_text("notify → tag")
        view.locator("summary").click()
        doc = view.get_by_test_id("version-doc")
        expect(doc).to_contain_text("found {issues_count}")
        expect(doc).not_to_contain_text("position")  # the export form: no 0,0 positions
        page.screenshot(path=str(artifacts / "version-diff.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
