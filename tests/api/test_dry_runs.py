"""Dry runs on a stored delivery: nothing reaches the code host, the API shows what would have been posted.

The platform API runs in-process against an in-process Airflow API server
(tests/events/test_reconcile.py ``airflow_api``), with the dry-run DAG written
to Airflow's metadata DB the way the DAG processor does.  No scheduler runs:
the run the API started is executed with ``dag.test()`` on the conf Airflow
recorded for it — the real task code, in this process, with the GitHub
stand-in as ``github_default``.  Then the same event runs for real through
the workflow's own compiled DAG, and the stand-in receives exactly what the
dry run said it would.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from tests.api.conftest import auth
from tests.api.test_webhooks import bind, deliver, label  # noqa: F401 - label keeps payloads GitHub-shaped
from tests.events.test_listener_airflow import _serialize
from tests.events.test_reconcile import PASSWORD, USER, airflow_api  # noqa: F401 - fixture
from tests.ops.test_workflow_run_metrics import platform_client  # noqa: F401 - fixture
from tests.editor.test_editor_e2e import github_connection  # noqa: F401 - fixture
from tests.support.no_registry import no_model_registry  # noqa: F401 - autouse: no MLflow model lookups

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

TEMPLATE = Path(__file__).resolve().parents[2] / "include" / "workflows" / "templates" / "basic_quality_check.yaml"
DRY_RUNS = "/api/v1/projects/acme/workflows/basic-quality-check/dry-runs"


def _acme(client) -> None:
    """Project acme: alice admin, ed editor, vic viewer; it reviews acme/app."""
    assert client.post("/api/v1/projects", json={"slug": "acme", "name": "Acme"}, headers=auth("alice")).status_code == 201
    for user, role in (("ed", "editor"), ("vic", "viewer")):
        assert client.put(f"/api/v1/projects/acme/members/{user}", json={"role": role},
                          headers=auth("alice")).status_code == 201
    bind(client, "acme", "acme/app")


def _disabled_quality_check(client) -> dict:
    spec = yaml.safe_load(TEMPLATE.read_text())["workflow"]
    spec.update(project="acme", enabled=False)
    r = client.post("/api/v1/projects/acme/workflows", json=spec, headers=auth("ed"))
    assert r.status_code == 201, r.text
    return spec


def _pr_payload(git_repo, number: int = 7) -> dict:
    from tests.contracts.github_openapi import webhook_contract

    return webhook_contract().payload(
        "pull_request", "opened", number=number,
        pull_request={
            "number": number, "title": "Risky change", "user": {"login": "octocat"},
            "head": {"ref": "feature", "sha": git_repo.bad_sha,
                     "repo": {"full_name": "acme/app", "clone_url": git_repo.url}},
            "base": {"ref": "main", "repo": {"full_name": "acme/app"}}, "labels": [],
        },
        repository={"full_name": "acme/app", "name": "app", "owner": {"login": "acme"}, "clone_url": git_repo.url,
                    "default_branch": "main"},
        sender={"login": "octocat"},
    )


def _airflow_conf(airflow_url: str, dag_id: str, run_id: str) -> dict:
    token = httpx.post(f"{airflow_url}/auth/token", json={"username": USER, "password": PASSWORD}).json()["access_token"]
    r = httpx.get(f"{airflow_url}/api/v2/dags/{dag_id}/dagRuns/{run_id}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()["conf"]


def _writes(github) -> list:
    return [r for r in github.requests if r.method not in ("GET", "HEAD")]


def test_dry_run_posts_nothing_to_the_standin_and_returns_what_it_would_have_posted(
        platform_client, airflow_api, github, git_repo):  # noqa: F811
    from include.dag_factory.dag_builder import build_dag_from_file
    from include.dag_factory.dry_run import DRY_RUN_DAG_ID, build_dry_run_dag
    from include.workflows.compiler import compile_workflow

    client = platform_client
    _acme(client)
    spec = _disabled_quality_check(client)
    github.add_pull("acme/app", 7, head_sha=git_repo.bad_sha)
    github.push("acme/app", 7, git_repo.bad_sha, git_repo.pull_files())

    # the delivery arrives while the workflow is disabled: it starts nothing, but it is stored
    r = deliver(client, "pull_request", _pr_payload(git_repo), delivery="dry-run-1")
    assert r.status_code == 202 and r.json()["status"] == "ignored", r.text
    assert r.json()["skipped"][0]["reason"] == "workflow is disabled"
    delivery = r.json()["id"]
    # ... and a real run of the disabled workflow is still refused
    assert client.post("/api/v1/projects/acme/workflows/basic-quality-check/runs", json={},
                       headers=auth("ed")).status_code == 409

    dry_dag = build_dry_run_dag()
    _serialize(dry_dag)
    assert client.post(DRY_RUNS, json={"delivery": delivery}, headers=auth("vic")).status_code == 403
    r = client.post(DRY_RUNS, json={"delivery": delivery}, headers=auth("ed"))
    assert r.status_code == 202, r.text
    started = r.json()
    assert started["state"] == "queued" and started["source"] == {"delivery": delivery, "delivery_id": "dry-run-1"}
    assert started["event"]["sha"] == git_repo.bad_sha and started["event"]["pr_number"] == 7
    conf = _airflow_conf(airflow_api, DRY_RUN_DAG_ID, started["run_id"])
    assert conf["dry_run"] is True and conf["event"] == started["event"]

    dr = dry_dag.test(run_conf=conf)  # the run the API started, executed by the real task in this process
    assert str(getattr(dr.state, "value", dr.state)) == "success"
    assert _writes(github) == []  # the stand-in received no write request at all
    from include.db.models import ReviewIssue, ReviewSession
    from include.db.session import session_scope

    with session_scope() as session:  # nor does it leave a review behind for the dashboard or the learning export
        assert session.query(ReviewSession).filter_by(dag_id=DRY_RUN_DAG_ID).count() == 0
        assert session.query(ReviewIssue).count() == 0
    assert {r.path for r in github.requests} >= {"/repos/acme/app/pulls/7/files", "/repos/acme/app/pulls/7/comments"}

    r = client.get(f"{DRY_RUNS}/{started['run_id']}", headers=auth("vic"))
    assert r.status_code == 200, r.text
    shown = r.json()
    assert shown["state"] == "success", shown
    assert {n: s["state"] for n, s in shown["nodes"].items()} == {
        "pr_opened": "success", "quality": "success", "publish": "success", "gate": "success",
        "label_needs_work": "success", "notify": "success"}
    would = shown["would_post"]
    comments = would["review_comments"]
    bad_lines = set(range(1, len(git_repo.pull_files()["app/bad.py"].splitlines())))
    assert comments and {c["path"] for c in comments} == {"app/bad.py"} and {c["line"] for c in comments} <= bad_lines
    assert {c["side"] for c in comments} == {"RIGHT"} and any("B602" in c["body"] for c in comments)
    [check] = would["check_runs"]
    assert (check["head_sha"], check["status"], check["conclusion"]) == (git_repo.bad_sha, "completed", "failure")
    assert {a["path"] for a in check["annotations"]} >= {"app/bad.py"}
    assert would["summary_comment"]["body"].startswith("<!-- autopr:summary acme/basic-quality-check -->")
    assert would["labels_added"] == ["needs-work"]
    assert [n["channel"] for n in would["notifications"]] == ["dashboard"]
    assert "acme/app#7" in would["notifications"][0]["message"]
    listed = client.get(DRY_RUNS, headers=auth("vic")).json()
    assert [d["run_id"] for d in listed["items"]] == [started["run_id"]] and listed["items"][0]["writes_count"] > 0

    # the same event for real, through the workflow's own DAG: the stand-in receives exactly those writes
    real = build_dag_from_file(compile_workflow({**spec, "enabled": True}))
    dr = real.test(run_conf={"event": shown["event"]})
    assert str(getattr(dr.state, "value", dr.state)) == "success"
    # the dry run walked the graph as Airflow runs it: the same state for every node
    assert {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in dr.get_task_instances()} == {
        n: s["state"] for n, s in shown["nodes"].items()}
    [review] = github.calls("POST", r"/repos/acme/app/pulls/7/reviews", status=200)
    assert [{k: c[k] for k in ("path", "line", "side", "body")} for c in review.body["comments"]] == [
        {k: c[k] for k in ("path", "line", "side", "body")} for c in comments]
    [posted_run] = github.repos["acme/app"].check_runs.values()
    assert posted_run["conclusion"] == check["conclusion"]
    assert [(a["path"], a["start_line"], a["title"]) for a in posted_run["annotations"]] == [
        (a["path"], a["start_line"], a["title"]) for a in check["annotations"]]
    [summary] = github.repos["acme/app"].issues[7].comments
    assert summary["body"] == would["summary_comment"]["body"]
    assert github.repos["acme/app"].issues[7].labels == would["labels_added"]


def test_a_dry_run_on_a_past_pull_request_uses_its_stored_delivery_and_bad_sources_name_the_field(client, monkeypatch):
    """No Airflow here (the app points at a closed port): the dry run is stored, then marked failed to start."""
    from include.settings import get_settings
    from tests.api.test_webhooks import SECRET

    monkeypatch.setenv("AUTOPR_WEBHOOK_SECRET", SECRET)
    get_settings.cache_clear()
    _acme(client)
    spec = yaml.safe_load(TEMPLATE.read_text())["workflow"]
    spec.update(project="acme", enabled=False)
    assert client.post("/api/v1/projects/acme/workflows", json=spec, headers=auth("ed")).status_code == 201

    class Repo:  # only what the payload needs
        bad_sha, url = "b" * 40, "https://example.test/acme/app.git"

    delivery = deliver(client, "pull_request", _pr_payload(Repo, number=9), delivery="past-pr-9").json()["id"]

    bad = client.post(DRY_RUNS, json={"delivery": delivery, "pull_request": 9}, headers=auth("ed"))
    assert bad.status_code == 422 and "exactly one of" in bad.text
    assert client.post(DRY_RUNS, json={"pull_request": 9}, headers=auth("ed")).status_code == 422  # no repository
    missing = client.post(DRY_RUNS, json={"delivery": delivery + 1000}, headers=auth("ed"))
    assert missing.status_code == 404 and missing.json()["errors"][0]["pointer"] == "/delivery"
    nopr = client.post(DRY_RUNS, json={"pull_request": 8, "repository": "acme/app"}, headers=auth("ed"))
    assert nopr.status_code == 404 and nopr.json()["errors"][0]["pointer"] == "/pull_request"

    r = client.post(DRY_RUNS, json={"pull_request": 9, "repository": "ACME/App"}, headers=auth("ed"))
    assert r.status_code == 503, r.text  # Airflow is unreachable: nothing started ...
    [row] = client.get(DRY_RUNS, headers=auth("vic")).json()["items"]  # ... and nothing stored is lost
    assert row["state"] == "failed" and "could not start" in row["detail"]
    assert row["source"] == {"pull_request": 9, "repository": "ACME/App", "delivery": delivery,
                             "delivery_id": "past-pr-9"}
    assert row["event"]["pr_number"] == 9 and row["event"]["sha"] == "b" * 40
    get_settings.cache_clear()


def test_a_dry_run_runs_in_the_live_platform_and_posts_nothing(platform, github_connection):  # noqa: F811
    """``./autopr run``'s stack: the scheduler runs the dry-run DAG from the DAG folder; the stand-in sees no write."""
    import json
    import uuid

    from include.api.routes.webhooks import signature_for
    from tests.editor.test_event_dry_run import WORKFLOW
    from tests.support.waiting import wait_for

    project = f"dry-{uuid.uuid4().hex[:6]}"
    github_connection.add_pull("acme/app", 7, head_sha="d" * 40)
    with platform.api() as airflow, httpx.Client(base_url=f"{platform.airflow_url}/autopr", timeout=30,
                                                 headers=airflow.headers) as api:
        assert api.post("/api/v1/projects", json={"slug": project, "name": "Dry"}).status_code == 201
        assert api.post(f"/api/v1/projects/{project}/repositories", json={"full_name": "acme/app"}).status_code == 201
        assert api.post(f"/api/v1/projects/{project}/workflows", json={**WORKFLOW, "project": project}).status_code == 201

        class Repo:
            bad_sha, url = "d" * 40, "https://example.test/acme/app.git"

        body = json.dumps(_pr_payload(Repo)).encode()
        headers = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": str(uuid.uuid4()),
                   "Content-Type": "application/json",
                   "X-Hub-Signature-256": signature_for(platform.settings.webhook_secret, body)}
        r = api.post(f"/api/v1/webhooks/github?project={project}", content=body, headers=headers)
        assert r.status_code == 202 and r.json()["skipped"][0]["reason"] == "workflow is disabled", r.text
        platform.wait_for_dag("autopr_dry_run", timeout=120)
        started = api.post(f"/api/v1/projects/{project}/workflows/greeter/dry-runs", json={"delivery": r.json()["id"]})
        assert started.status_code == 202, started.text
        url = f"/api/v1/projects/{project}/workflows/greeter/dry-runs/{started.json()['run_id']}"
        shown = wait_for(lambda: (d := api.get(url).json())["state"] in ("success", "failed") and d, 240,
                         what="the dry run to finish", every=2)
    assert shown["state"] == "success", shown
    assert [c["body"] for c in shown["would_post"]["comments"]] == ["Thanks octocat!"]
    assert shown["would_post"]["labels_added"] == ["triaged"]
    assert _writes(github_connection) == []
