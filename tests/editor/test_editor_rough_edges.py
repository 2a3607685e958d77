"""The editor's rough edges (issue 15 item 6), each as a user of n8n or Elyra would expect, in Chromium.

The platform app is served by uvicorn in this process under ``/autopr`` (as the Airflow plugin mounts
it), signed in with the ``_token`` cookie Airflow's UI would hold; no Airflow is started.  Slow loads are
made by holding the editor's requests (Playwright routes) until the test has acted.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.api.conftest import CLOSED_AIRFLOW_URL, auth, workflow_doc
from tests.api.test_webhooks import SECRET, bind, deliver
from tests.editor.conftest import platform_app_served
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.timeout(300)]


@pytest.fixture()
def served(db, monkeypatch):
    with platform_app_served(monkeypatch, {"AUTOPR_AIRFLOW_API_URL": CLOSED_AIRFLOW_URL,
                                           "AUTOPR_WORKFLOWS_BUNDLE_URL": "none",
                                           "AUTOPR_WEBHOOK_SECRET": SECRET}) as url:
        yield url


@pytest.fixture()
def api(served):
    import httpx

    client = httpx.Client(base_url=f"{served}/autopr/api/v1", timeout=30)
    assert client.post("/projects", json={"slug": "acme", "name": "Acme"}, headers=auth("ed")).status_code == 201
    yield client
    client.close()


@pytest.fixture()
def page(served, editor_build, browser):
    from include.auth.tokens import mint_token

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_cookies([{"name": "_token", "value": mint_token("ed"), "url": served}])
    context.set_default_timeout(20_000)
    expect.set_options(timeout=15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


def editor_url(served: str, query: str = "") -> str:
    return f"{served}/autopr/editor/{query}"


def create(api, doc: dict) -> dict:
    r = api.post("/projects/acme/workflows", json=doc, headers=auth("ed"))
    assert r.status_code == 201, r.text
    return r.json()


class Held:
    """Requests matching a pattern, held until released (a slow network, on cue)."""

    def __init__(self, page, pattern: str):
        self.routes: list = []
        self.pattern = pattern
        self.released = False
        page.route(pattern, self._hold)

    def _hold(self, route) -> None:
        if self.released:
            route.continue_()
        else:
            self.routes.append(route)

    def wait(self, page) -> None:
        deadline = time.monotonic() + 15
        while not self.routes:
            assert time.monotonic() < deadline, f"no request matched {self.pattern}"
            page.wait_for_timeout(20)

    def release(self, page) -> None:
        self.released = True
        for route in self.routes:
            route.continue_()


def open_review(page, served: str) -> None:
    """Open workflow ``review`` and wait until it is shown and the canvas has settled.

    A click before that lands on the placeholder, or on where a node was before the
    opening layout and fit-view moved it (slow on a loaded machine).
    """
    page.goto(editor_url(served, "?project=acme&workflow=review"))
    expect(page.locator("#wf-id")).to_have_value("review")
    expect(page.locator('.react-flow__node[data-id="start"]')).to_be_visible()
    wait_until_still(page, "start")


def wait_until_still(page, *node_ids: str) -> None:
    """Wait until the nodes stop moving (a layout and its fit-view animate)."""
    seen: list[list[dict]] = []

    def still() -> bool:
        seen.append([node_box(page, node_id) for node_id in node_ids])
        return len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]

    wait_for(still, 10, f"nodes {node_ids} still", every=0.05)


def node_box(page, node_id: str) -> dict:
    return page.locator(f'.react-flow__node[data-id="{node_id}"]').bounding_box()


def test_a_name_typed_while_the_editor_loads_is_kept(served, api, page, artifacts):
    held = Held(page, "**/api/v1/projects")
    page.goto(editor_url(served, "?project=acme"))
    held.wait(page)
    page.locator("#wf-name").fill("Typed early")
    held.release(page)
    expect(page.locator("#wf-project")).to_have_value("acme")
    expect(page.locator("#wf-project option[value=acme]")).to_have_count(1)
    page.wait_for_timeout(300)  # the load has been applied (its project list is shown)
    expect(page.locator("#wf-name")).to_have_value("Typed early")
    expect(page.locator("#wf-id")).to_have_value("typed-early")
    expect(page.get_by_test_id("save-status")).to_contain_text("Unsaved changes")
    page.screenshot(path=str(artifacts / "name-kept.png"))
    assert page.errors == []


def test_edits_made_while_the_addressed_workflow_loads_are_kept(served, api, page):
    create(api, workflow_doc())
    held = Held(page, "**/api/v1/projects/acme/workflows/review")
    page.goto(editor_url(served, "?project=acme&workflow=review"))
    held.wait(page)
    page.locator("#wf-name").fill("My own idea")
    held.release(page)
    expect(page.locator(".toasts")).to_contain_text("Kept what you typed while the editor was loading; review is under Open")
    expect(page.locator("#wf-name")).to_have_value("My own idea")
    expect(page.get_by_test_id("save-status")).to_contain_text("Unsaved changes")
    assert page.errors == []


def test_dry_run_pressed_before_the_workflow_loaded_shows_that_workflow(served, api, page, artifacts):
    create(api, workflow_doc())
    held = Held(page, "**/api/v1/projects/acme/workflows/review")
    page.goto(editor_url(served, "?project=acme&workflow=review"))
    held.wait(page)
    page.wait_for_timeout(1500)  # the placeholder has been validated meanwhile (it has no trigger)
    page.get_by_role("button", name="Dry run", exact=True).click(timeout=3_000)
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_test_id("dry-run-waiting")).to_be_visible()
    held.release(page)
    expect(dialog.get_by_test_id("dry-run")).to_contain_text("autopr__acme__review")  # the loaded one, compiled
    expect(dialog.locator("ul.problems")).to_have_count(0)
    expect(page.locator(".toolbar .title")).to_contain_text("Review")
    page.screenshot(path=str(artifacts / "early-dry-run.png"))
    assert page.errors == []


def test_the_editor_reopens_on_the_last_workflow(served, api, page):
    create(api, workflow_doc())
    page.goto(editor_url(served, "?project=acme&workflow=review"))
    expect(page.locator(".toolbar .title")).to_contain_text("Review")
    page.goto(editor_url(served))  # no address: as from Airflow's navigation
    expect(page.locator(".toolbar .title")).to_contain_text("Review")
    expect(page).to_have_url(editor_url(served, "?project=acme&workflow=review"))
    # New puts a blank workflow up; opening the editor again starts blank too
    page.get_by_role("button", name="New", exact=True).click()
    expect(page.locator(".toolbar .title")).to_contain_text("Untitled")
    page.goto(editor_url(served))
    expect(page.locator("#wf-project")).to_have_value("acme")
    expect(page.locator(".toolbar .title")).to_contain_text("Untitled")
    assert page.errors == []


def test_ctrl_l_lays_out_from_a_form_field_and_ctrl_z_there_undoes_text(served, api, page):
    doc = workflow_doc()
    doc["nodes"][0]["position"] = {"x": 600, "y": 300}  # the trigger right of the node it starts
    doc["nodes"][1]["position"] = {"x": 0, "y": 0}
    create(api, doc)
    open_review(page, served)
    expect(page.locator('.react-flow__node[data-id="notify"]')).to_be_visible()
    assert node_box(page, "start")["x"] > node_box(page, "notify")["x"]
    page.locator('.react-flow__node[data-id="notify"] .node-label').click()
    label = page.locator("#node-label")
    label.click()
    label.press_sequentially("Tell")
    page.keyboard.press("Control+l")
    wait_for(lambda: node_box(page, "start")["x"] < node_box(page, "notify")["x"], 10, "Ctrl+L layout", every=0.05)
    wait_until_still(page, "start", "notify")
    expect(label).to_be_focused()
    assert node_box(page, "start")["x"] < node_box(page, "notify")["x"], "Ctrl+L in a field did not lay out"
    assert abs(node_box(page, "start")["y"] - node_box(page, "notify")["y"]) < 5
    page.keyboard.press("Control+z")  # the field's own undo: the text goes, the layout stays
    expect(label).not_to_have_value("Tell")
    assert node_box(page, "start")["x"] < node_box(page, "notify")["x"]
    assert page.errors == []


def test_a_schedule_trigger_shows_its_cron_and_no_filters(served, api, page, artifacts):
    doc = workflow_doc()
    doc["nodes"][0]["config"] = {"event": "schedule", "cron": "0 3 * * *"}
    create(api, doc)
    open_review(page, served)
    page.locator('.react-flow__node[data-id="start"] .node-label').click()
    form = page.get_by_test_id("node-form")
    expect(page.locator("#root_cron")).to_have_value("0 3 * * *")
    for name in ("branches", "paths", "labels"):
        expect(form.locator(f"#root_{name}")).to_have_count(0)
    # a pull-request trigger has its filters and no cron line
    page.locator("#root_event").select_option("pr_opened")
    expect(form.locator("#root_branches")).to_be_visible()
    expect(form.locator("#root_labels")).to_be_visible()
    page.screenshot(path=str(artifacts / "trigger-form.png"))
    assert page.errors == []


def test_list_fields_have_a_label(served, api, page, artifacts):
    doc = workflow_doc()
    doc["nodes"].append({"id": "tag", "type": "action", "config": {"action": "label_pr", "labels": ["seen"]}})
    doc["edges"].append({"id": "e2", "source": "notify", "target": "tag"})
    create(api, doc)
    open_review(page, served)
    page.locator('.react-flow__node[data-id="tag"] .node-label').click()
    form = page.get_by_test_id("node-form")
    expect(form.get_by_role("group", name="Labels", exact=False).first).to_be_visible()
    expect(form.locator("#root_labels__title")).to_be_visible()
    expect(form.locator("#root_labels__title")).to_contain_text("Labels")
    expect(form.locator("#root_remove__title")).to_be_visible()
    expect(form.get_by_label("Labels 1", exact=True)).to_have_value("seen")
    page.screenshot(path=str(artifacts / "list-labels.png"))
    assert page.errors == []


def test_a_workflow_made_through_the_api_without_positions_opens_laid_out(served, api, page, artifacts):
    doc = workflow_doc()
    doc["nodes"].append({"id": "tag", "type": "action", "config": {"action": "label_pr", "labels": ["seen"]}})
    doc["edges"].append({"id": "e2", "source": "notify", "target": "tag"})
    create(api, doc)  # no node has a position: the platform stores 0,0 for each
    page.goto(editor_url(served, "?project=acme&workflow=review"))
    expect(page.locator(".react-flow__node")).to_have_count(3)
    page.wait_for_timeout(400)  # the fit view
    boxes = [node_box(page, n) for n in ("start", "notify", "tag")]
    assert boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"] and boxes[1]["x"] + boxes[1]["width"] <= boxes[2]["x"], boxes
    expect(page.get_by_test_id("save-status")).to_have_text("Saved · v1")  # opening is not an edit
    page.screenshot(path=str(artifacts / "laid-out.png"))
    assert page.errors == []


def test_projects_show_name_and_slug_and_open_lists_every_project(served, api, page, artifacts):
    assert api.post("/projects", json={"slug": "beta", "name": "Beta team"}, headers=auth("ed")).status_code == 201
    create(api, workflow_doc())
    r = api.post("/projects/beta/workflows", json=workflow_doc("triage", "beta", name="Triage"), headers=auth("ed"))
    assert r.status_code == 201, r.text
    page.goto(editor_url(served, "?project=acme&workflow=review"))
    expect(page.locator("#wf-project option[value=acme]")).to_have_text("Acme (acme) · admin")
    expect(page.locator("#wf-project option[value=beta]")).to_have_text("Beta team (beta) · admin")
    page.get_by_role("button", name="Open", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_test_id("open-project-acme")).to_contain_text("Acme (acme)")
    expect(dialog.get_by_test_id("open-project-acme")).to_contain_text("Review")
    beta = dialog.get_by_test_id("open-project-beta")
    expect(beta).to_contain_text("Beta team (beta)")
    page.screenshot(path=str(artifacts / "open-all-projects.png"))
    beta.get_by_role("button", name="Triage").click()
    expect(page.locator(".toolbar .title")).to_contain_text("Triage")
    expect(page).to_have_url(editor_url(served, "?project=beta&workflow=triage"))
    expect(page.locator("#wf-project")).to_have_value("beta")
    assert page.errors == []


def test_the_run_dialog_starts_from_a_stored_pull_request(served, api, page, artifacts):
    import json

    from tests.api.test_dry_runs import _pr_payload

    class Repo:
        bad_sha, url = "c" * 40, "https://example.test/acme/app.git"

    root = api.base_url.copy_with(path="/autopr")
    hooks = type(api)(base_url=root, timeout=30)
    bind(hooks, "acme", "acme/app", user="ed")
    doc = workflow_doc(enabled=False)  # a delivery starts nothing: the test only reads it back
    doc["nodes"][0]["config"] = {"event": "pr_opened"}
    create(api, doc)
    r = deliver(hooks, "pull_request", _pr_payload(Repo, number=7), delivery="rough-edges-1")
    assert r.status_code < 300, r.text
    open_review(page, served)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_test_id("run-event-source")).to_contain_text("pull_request.opened acme/app")
    event = json.loads(page.locator("#run-event").input_value())
    assert event == {"kind": "pr_opened", "repository": "acme/app", "clone_url": Repo.url, "ref": "feature",
                     "sha": Repo.bad_sha, "base_ref": "main", "pr_number": 7, "title": "Risky change",
                     "author": "octocat", "labels": [], "delivery_id": "rough-edges-1"}
    page.screenshot(path=str(artifacts / "run-prefilled.png"))
    assert page.errors == []


def test_connection_id_picks_an_airflow_connection_or_warns_about_an_unknown_one(served, api, page, artifacts):
    import json

    doc = workflow_doc()
    doc["nodes"].append({"id": "comment", "type": "notification",
                         "config": {"channel": "slack", "connection_id": "github_default", "message": "hi"}})
    doc["edges"].append({"id": "e2", "source": "notify", "target": "comment"})
    create(api, doc)
    # Airflow is not running here: its connections as GET /connections passes them on (tested in test_connections_api.py)
    listed = {"available": True, "detail": "", "items": [{"connection_id": "github_default", "conn_type": "github"},
                                                          {"connection_id": "github_bot", "conn_type": "github"}]}
    page.route("**/api/v1/connections", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(listed)))
    page.goto(editor_url(served, "?project=acme&workflow=review"))
    page.locator('.react-flow__node[data-id="comment"] .node-label').click()
    field = page.locator("#root_connection_id")
    expect(field).to_have_value("github_default")
    options = page.get_by_test_id("connection-options").locator("option")
    expect(options).to_have_count(2)
    assert [options.nth(i).get_attribute("value") for i in range(2)] == ["github_default", "github_bot"]
    expect(page.get_by_test_id("connection-warning")).to_have_count(0)
    field.fill("githb_bot")  # free text stays possible; an unknown id is a warning
    expect(page.get_by_test_id("connection-warning")).to_contain_text("no connection “githb_bot”")
    page.screenshot(path=str(artifacts / "connection-warning.png"))
    field.fill("github_bot")
    expect(page.get_by_test_id("connection-warning")).to_have_count(0)
    page.locator("#node-label").click()
    page.locator('.react-flow__pane').click(position={"x": 5, "y": 5})
    page.locator('.react-flow__node[data-id="comment"] .node-label').click()
    expect(page.locator("#root_connection_id")).to_have_value("github_bot")  # it is the node's config
    assert page.errors == []
