"""The editor's dry-run dialog on a stored delivery: the panel lists what the disabled workflow would have posted.

Cheaper than the full e2e: the platform app is served by uvicorn in this
process under ``/autopr`` (as the Airflow plugin mounts it), signed in with the
``_token`` cookie Airflow's UI would hold, against the in-process Airflow API
server of tests/events/test_reconcile.py.  No scheduler runs: once the editor
has started the dry run, the test executes it with the dry-run task's own
function (the DAG's wiring is covered by tests/api/test_dry_runs.py) while the
page polls, and the GitHub stand-in must see no write.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.api.conftest import auth
from tests.api.test_webhooks import SECRET, bind, deliver
from tests.editor.conftest import platform_app_served
from tests.events.test_listener_airflow import _serialize
from tests.events.test_reconcile import PASSWORD, USER, airflow_api  # noqa: F401 - fixture

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

WORKFLOW = {
    "id": "greeter", "name": "Greeter", "project": "acme", "enabled": False,
    "nodes": [
        {"id": "opened", "type": "trigger", "config": {"event": "pr_opened"}},
        {"id": "hello", "type": "action", "config": {"action": "post_comment", "template": "Thanks {author}!"}},
        {"id": "tag", "type": "action", "config": {"action": "label_pr", "labels": ["triaged"]}},
    ],
    "edges": [{"id": "e1", "source": "opened", "target": "hello"}, {"id": "e2", "source": "hello", "target": "tag"}],
}


@pytest.fixture()
def served(db, airflow_api, monkeypatch):  # noqa: F811
    """The platform app under /autopr on a free port, talking to the in-process Airflow."""
    with platform_app_served(monkeypatch, {
        "AUTOPR_AIRFLOW_API_URL": airflow_api, "AUTOPR_AIRFLOW_API_USERNAME": USER,
        "AUTOPR_AIRFLOW_API_PASSWORD": PASSWORD, "AUTOPR_WORKFLOWS_BUNDLE_URL": "none", "AUTOPR_WEBHOOK_SECRET": SECRET,
    }) as url:
        yield url


def test_the_dry_run_panel_lists_the_captured_writes(served, editor_build, browser, artifacts, github):
    import httpx

    from include.auth.tokens import mint_token
    from include.dag_factory.dry_run import build_dry_run_dag, execute_dry_run
    from include.db.models import DryRun
    from include.db.session import session_scope
    from tests.api.test_dry_runs import _pr_payload

    client = httpx.Client(base_url=f"{served}/autopr", timeout=30)
    assert client.post("/api/v1/projects", json={"slug": "acme", "name": "Acme"}, headers=auth("alice")).status_code == 201
    assert client.put("/api/v1/projects/acme/members/ed", json={"role": "editor"}, headers=auth("alice")).status_code == 201
    bind(client, "acme", "acme/app")
    assert client.post("/api/v1/projects/acme/workflows", json=WORKFLOW, headers=auth("ed")).status_code == 201

    class Repo:
        bad_sha, url = "c" * 40, "https://example.test/acme/app.git"

    github.add_pull("acme/app", 7, head_sha=Repo.bad_sha)
    delivery = deliver(client, "pull_request", _pr_payload(Repo), delivery="editor-dry-1").json()["id"]
    _serialize(build_dry_run_dag())

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_cookies([{"name": "_token", "value": mint_token("ed"), "url": served}])
    context.set_default_timeout(60_000)
    expect.set_options(timeout=30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{served}/autopr/editor/?project=acme&workflow=greeter")
        # The workflow in the address is open (loading it closes any dialog opened before it arrived).
        expect(page.locator("#wf-id")).to_have_value("greeter")
        page.get_by_role("button", name="Dry run", exact=True).click()
        panel = page.get_by_test_id("event-dry-run")
        expect(page.get_by_test_id("dry-run")).to_be_visible()  # the DAG half is still there
        panel.get_by_test_id("dry-run-delivery").select_option(str(delivery))
        panel.get_by_test_id("start-dry-run").click()
        expect(panel.get_by_test_id("event-dry-run-state")).to_have_text("queued")

        with session_scope() as session:
            row = session.query(DryRun).one()
            conf = {"dry_run": True, "dry_run_id": row.id, "event": row.event}
            run_id = row.run_id
        execute_dry_run(conf, run_id)  # what the dry-run DAG's task does

        expect(panel.get_by_test_id("event-dry-run-state")).to_have_text("success")
        table = panel.get_by_test_id("would-post")
        expect(table).to_contain_text("Thanks octocat!")
        expect(table).to_contain_text("labels added")
        expect(table).to_contain_text("triaged")
        page.screenshot(path=str(artifacts / "event-dry-run.png"), full_page=True)
        assert [r for r in github.requests if r.method not in ("GET", "HEAD")] == []
        assert errors == []
    finally:
        context.close()
