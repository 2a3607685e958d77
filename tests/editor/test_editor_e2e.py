"""End to end: a person builds, saves and runs a workflow in the editor inside the Airflow UI.

In Debian's Chromium (Playwright), against the running platform:

1. sign in through Airflow's login page (the editor sends a signed-out user there);
2. open "Workflow Editor" from Airflow's navigation (the editor is a same-origin iframe);
3. build the Basic Quality Check workflow on an empty canvas: drag nodes from
   the palette, connect handles (true/false on the condition), fill the forms;
   a validation error appears on the condition and clears once it is fixed;
   the dry run shows the compiled DAG; a connection that would make a cycle
   is refused while drawing;
4. save, find the DAG through Airflow's REST API, run it from the editor and
   see it succeed (its comment reaches the local GitHub stand-in);
5. change and save again, restore version 1, and undo an edit;
6. lose a save race politely: a colleague's newer version is not overwritten;
7. export YAML and import it back; start from a template of the gallery.

Screenshots go to test-artifacts/editor/<test>/; the scripted build time is printed.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.editor.editor_driver import EditorDriver
from tests.support.github_standin import GitHubStandIn
from tests.support.sample_repo import make_repo
from tests.support.waiting import wait_for

pytestmark = pytest.mark.timeout(420)

CONDITION = "nodes.quality_check.passed && nodes.quality_check.quality_score >= 70"
COMMENT_OK = "✅ **AutoPR quality check passed** for {repository}#{pr_number}: score {quality_score}."
COMMENT_ISSUES = "⚠️ **AutoPR quality check** found {issues_count} issue(s) in {repository}#{pr_number}.\n\n{summary}"
NOTIFY = "Quality check of {repository}#{pr_number}: score {quality_score}, {issues_count} issue(s)."


@pytest.fixture()
def github_connection(platform):
    """A GitHub stand-in, registered in the running Airflow as the ``github_default`` connection."""
    with GitHubStandIn() as standin, platform.api() as api:
        conn = json.loads(standin.connection_uri_json())
        body = {
            "connection_id": "github_default",
            "conn_type": conn["conn_type"],
            "host": conn["host"],
            "password": conn["password"],
            "extra": json.dumps(conn["extra"]),
        }
        previous = api.get("/api/v2/connections/github_default")
        if previous.status_code == 200:
            api.patch("/api/v2/connections/github_default", json=body).raise_for_status()
        else:
            api.post("/api/v2/connections", json=body).raise_for_status()
        try:
            yield standin
        finally:
            if previous.status_code == 200:
                old = {k: previous.json().get(k) for k in ("connection_id", "conn_type", "host", "extra")}
                api.patch("/api/v2/connections/github_default", json=old)
            else:
                api.delete("/api/v2/connections/github_default")


@pytest.fixture()
def builtin_templates(platform) -> None:
    """The built-in templates, as the run command seeds them (other tests empty the app DB meanwhile)."""
    from include.db.session import session_scope
    from include.workflows.templates_store import seed_builtin_templates

    with session_scope(platform.settings.database_url) as session:
        seed_builtin_templates(session)


def _template_node_count(slug: str) -> int:
    """Nodes of the shipped template, as the gallery must open it (the template's file is the truth)."""
    from include.workflows.templates_store import builtin_templates

    [shipped] = [t for t in builtin_templates() if t["template"]["slug"] == slug]
    return len(shipped["workflow"].nodes)


@pytest.fixture()
def project(platform) -> str:
    """A fresh project the platform's admin user belongs to (as admin)."""
    slug = f"editor-e2e-{uuid.uuid4().hex[:6]}"
    with platform.api() as api:
        api.post("/autopr/api/v1/projects", json={"slug": slug, "name": "Editor e2e"}).raise_for_status()
    return slug


def test_build_save_run_restore_undo_in_the_airflow_ui(
    platform, editor_build, browser, artifacts, project, github_connection, builtin_templates, tmp_path
):
    repo = make_repo(tmp_path / "acme-app")
    github_connection.add_pull("acme/app", 7, head_sha=repo.bad_sha)
    airflow = platform.airflow_url
    context = browser.new_context(viewport={"width": 1500, "height": 900})
    context.set_default_timeout(60_000)  # a loaded 2-core machine serves a 1 MB bundle slowly
    expect.set_options(timeout=30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        # 1. Signed out, the editor sends us to Airflow's login and back.
        page.goto(f"{airflow}/autopr/editor/")
        expect(page).to_have_url(f"{airflow}/auth/login?next=%2Fautopr%2Feditor%2F")
        page.get_by_label("Username").fill(platform.username)
        page.get_by_label("Password").fill(platform.password)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(re.escape(f"{airflow}/autopr/editor/")))

        # 2. The editor is a nav item of the Airflow UI, shown in a same-origin iframe.
        page.goto(f"{airflow}/")
        page.get_by_role("link", name="Workflow Editor").click()
        # Airflow's UI may mirror the iframe's path into its own URL (/plugin/workflow-editor/autopr/editor/).
        expect(page).to_have_url(re.compile("^" + re.escape(f"{airflow}/plugin/workflow-editor") + "(/.*)?$"))
        frame = page.frame_locator("iframe[src='/autopr/editor/']")
        ed = EditorDriver(page, frame, artifacts)
        expect(ed.loc(".react-flow__pane")).to_be_visible(timeout=30_000)
        ed.loc("#wf-project").select_option(project)
        ed.loc("#wf-name").fill("Basic Quality Check")
        expect(ed.loc("#wf-id")).to_have_value("basic-quality-check")
        ed.screenshot("empty-canvas")

        # 3. Build it from the palette.
        started = time.monotonic()
        ed.drop("trigger:pr_opened", 140, 70, "trigger")
        ed.drop("action:quality_check", 140, 210, "quality_check")
        ed.connect("trigger", "out", "quality_check")
        ed.drop("condition", 140, 350, "condition")
        ed.connect("quality_check", "out", "condition")

        # A condition without its expression: the server's validator flags the node and the field.
        expect(ed.node("condition").locator(".node-badge")).to_be_visible()
        expect(ed.loc("#root_expression__error")).to_contain_text("required")
        ed.screenshot("validation-error")
        ed.fill("expression", CONDITION)
        expect(ed.loc("#root_expression__error")).to_have_count(0)
        expect(ed.node("condition").locator(".node-problem")).not_to_contain_text("required")
        ed.screenshot("validation-error-cleared")

        ed.drop("action:post_comment", 440, 200, "post_comment")
        ed.connect("condition", "true", "post_comment")
        ed.fill("template", COMMENT_OK)
        ed.drop("action:post_comment", 440, 420, "post_comment_2")
        ed.connect("condition", "false", "post_comment_2")
        ed.fill("template", COMMENT_ISSUES)
        ed.drop("action:label_pr", 740, 420, "label_pr")
        ed.connect("post_comment_2", "out", "label_pr")
        ed.add_list_item("labels", "needs-work")
        ed.drop("notification:dashboard", 740, 200, "notify_dashboard")
        ed.connect("post_comment", "out", "notify_dashboard")
        ed.connect("label_pr", "out", "notify_dashboard")
        ed.fill("message", NOTIFY)
        ed.deselect()
        ed.key("Control+l")  # dagre auto-layout
        ed.wait_valid()
        build_seconds = time.monotonic() - started
        print(
            f"\nEDITOR BUILD: Basic Quality Check (7 nodes, 7 edges, 5 forms) built in the browser in {build_seconds:.1f} s"
        )
        ed.screenshot("built")

        # Dry run: the DAG the compiler makes, before saving.
        ed.button("Dry run").click()
        dry = ed.root.get_by_test_id("dry-run")
        expect(dry).to_contain_text(f"autopr__{project}__basic-quality-check")
        expect(dry).to_contain_text("none (runs when triggered)")
        expect(dry.locator("tbody tr")).to_have_count(7)
        expect(dry).to_contain_text('"true": [')
        ed.screenshot("dry-run")
        ed.root.get_by_role("button", name="Close").click()

        # Connection rules hold while drawing: an edge back upstream would make a cycle.
        edges = ed.loc(".react-flow__edge").count()
        ed.handle("label_pr", "out").drag_to(ed.handle("quality_check", "in"))
        expect(ed.loc(".react-flow__edge")).to_have_count(edges)
        expect(ed.loc("[data-testid=status]")).to_contain_text("cycle")

        # 4. Save, find the DAG through Airflow's REST API, run it from the editor.
        ed.key("Control+s")
        ed.wait_saved(1)
        ed.screenshot("saved")
        dag_id = f"autopr__{project}__basic-quality-check"
        dag = platform.wait_for_dag(dag_id, timeout=90)
        assert f"project:{project}" in {t["name"] for t in dag["tags"]}

        ed.button("Run").click()
        event = {
            "kind": "pr_opened",
            "repository": "acme/app",
            "clone_url": repo.url,
            "sha": repo.bad_sha,
            "ref": "feature",
            "base_ref": "main",
            "pr_number": 7,
            "author": "octocat",
        }
        ed.loc("#run-event").fill(json.dumps(event))
        ed.root.get_by_test_id("start-run").click()
        state = ed.root.get_by_test_id("run-state")
        expect(state).to_have_text("success", timeout=240_000)
        link = ed.root.get_by_test_id("run-grid-link").get_attribute("href")
        assert f"/dags/{dag_id}/runs/" in link
        ed.screenshot("run-succeeded")
        with platform.api() as api:
            runs = api.get(f"/api/v2/dags/{dag_id}/dagRuns").json()["dag_runs"]
        assert [r["state"] for r in runs] == ["success"]
        comments = github_connection.calls("POST", r"/repos/acme/app/issues/7/comments", status=201)
        assert comments and "found" in comments[0].body["body"]
        ed.root.get_by_role("button", name="Close").click()

        # 5. Change and save version 2, restore version 1, undo an edit.
        ed.select("condition")
        ed.loc("#node-label").fill("Meets the bar?")
        ed.key("Control+s")
        ed.wait_saved(2)
        expect(ed.node("condition").locator(".node-label")).to_have_text("Meets the bar?")
        ed.deselect()
        ed.button("Versions").click()
        expect(ed.root.get_by_test_id("version-2")).to_contain_text("current")
        ed.root.get_by_role("button", name="Restore v1").click()
        ed.wait_saved(3)
        expect(ed.node("condition").locator(".node-label")).to_have_text("Condition")
        ed.screenshot("restored-v1")
        with platform.api() as api:
            current = api.get(f"/autopr/api/v1/projects/{project}/workflows/basic-quality-check").json()
        assert current["current_version"] == 3
        assert next(n for n in current["spec"]["nodes"] if n["id"] == "condition")["label"] == "Condition"

        ed.select("notify_dashboard")
        ed.key("Delete")
        expect(ed.node("notify_dashboard")).to_have_count(0)
        expect(ed.root.get_by_test_id("save-status")).to_contain_text("Unsaved changes")
        ed.loc(".react-flow__pane").click(position={"x": 5, "y": 5})
        ed.key("Control+z")
        expect(ed.node("notify_dashboard")).to_be_visible()
        ed.wait_saved(3)  # back to exactly what is stored
        ed.screenshot("undone")

        # Someone else saves meanwhile: our save is refused (If-Match), nothing is overwritten.
        url = f"/autopr/api/v1/projects/{project}/workflows/basic-quality-check"
        with platform.api() as api:
            theirs = api.get(url)
            spec = dict(theirs.json()["spec"], description="changed by a colleague")
            api.put(url, json=spec, headers={"If-Match": theirs.headers["etag"]}).raise_for_status()
        ed.loc("#wf-description").fill("my change")
        ed.key("Control+s")
        expect(ed.root.get_by_test_id("conflict-banner")).to_be_visible()
        ed.screenshot("conflict")
        with platform.api() as api:
            assert api.get(url).json()["spec"]["description"] == "changed by a colleague"
        ed.button("Load their version").click()  # asks first: our change is unsaved (and kept as a draft)
        ed.root.get_by_test_id("confirm-yes").click()
        ed.wait_saved(4)
        expect(ed.loc("#wf-description")).to_have_value("changed by a colleague")
        expect(ed.root.get_by_test_id("draft-banner")).to_be_visible()  # our edit is still offered

        # Export as YAML and import the file back: the same graph, as a new unsaved workflow.
        with page.expect_download() as download:
            ed.button("Export YAML").click()
        exported = download.value.path()
        assert "type: condition" in Path(exported).read_text(encoding="utf-8")
        ed.button("Import").click()
        ed.root.get_by_test_id("import-file").set_input_files(exported)
        expect(ed.loc(".react-flow__node")).to_have_count(7)
        expect(ed.root.get_by_test_id("save-status")).to_contain_text("Unsaved changes")

        # The template gallery starts from a built-in template.
        ed.button("Templates").click()
        ed.root.get_by_test_id("template-basic-quality-check").get_by_role("button", name="Use template").click()
        ed.root.get_by_test_id("confirm-yes").click()  # the imported copy was never saved
        expect(ed.node("pr_opened")).to_be_visible()
        expect(ed.loc(".react-flow__node")).to_have_count(_template_node_count("basic-quality-check"))
        ed.wait_valid()
        ed.screenshot("from-template")
        assert not errors, errors
    finally:
        ed_shot = artifacts / "last.png"
        page.screenshot(path=str(ed_shot))
        context.close()


def test_the_editor_api_calls_need_the_airflow_session(platform, editor_build):
    """Without the Airflow UI cookie the page redirects and every API call is 401."""
    resp = httpx.get(f"{platform.airflow_url}/autopr/editor/", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/api/v2/auth/login?next=")
    for method, path in (
        ("GET", "/autopr/api/v1/schemas/node-types"),
        ("POST", "/autopr/api/v1/workflows/validate"),
        ("POST", "/autopr/api/v1/workflows/dry-run"),
        ("GET", "/autopr/editor/config.json"),
    ):
        assert httpx.request(method, f"{platform.airflow_url}{path}", json={}).status_code == 401, path
    wait_for(lambda: httpx.get(f"{platform.airflow_url}/autopr/editor/icon.svg").status_code == 200, 5, what="icon")
