"""GitHub webhook receiver: signature, de-duplication, normalisation, matching, the stored delivery."""

from __future__ import annotations

import json
import uuid

import pytest

from include.api.routes.webhooks import signature_for
from include.codehost.events import from_github
from include.workflows.triggers import trigger_matches as matcher
from tests.api.conftest import auth, workflow_doc

SECRET = "s3cret-for-tests"


@pytest.fixture()
def hook_client(client, monkeypatch):
    from include.settings import get_settings

    monkeypatch.setenv("AUTOPR_WEBHOOK_SECRET", SECRET)
    get_settings.cache_clear()
    yield client
    get_settings.cache_clear()


def label(name: str, number: int = 1) -> dict:
    """A label as GitHub sends it inside a webhook payload."""
    return {"id": number, "node_id": f"LA_{number}", "url": f"https://api.github.example/labels/{name}", "name": name,
            "description": None, "color": "ededed", "default": False}


def pr_payload(action="opened", base="main", labels=(), repo="o/r"):
    """A ``pull_request`` delivery shaped as GitHub documents it (tests/contracts: @octokit/openapi-webhooks)."""
    from tests.contracts.github_openapi import webhook_contract

    owner, name = repo.split("/")
    clone_url = f"https://example.test/{repo}.git"
    return webhook_contract().payload(
        "pull_request", action, number=7,
        pull_request={
            "number": 7, "title": "Fix", "user": {"login": "octo"},
            "head": {"ref": "feature", "sha": "a" * 40, "repo": {"full_name": repo, "clone_url": clone_url}},
            "base": {"ref": base, "repo": {"full_name": repo}},
            "labels": [label(n, i) for i, n in enumerate(labels, 1)],
        },
        repository={"full_name": repo, "name": name, "owner": {"login": owner}, "clone_url": clone_url,
                    "default_branch": "main"},
        sender={"login": "octo"},
    )


def push_payload(ref="refs/heads/release/1.2", added=("src/app.py",), modified=("README.md",)):
    """A ``push`` delivery shaped as GitHub documents it, one commit adding and modifying files."""
    from tests.contracts.github_openapi import webhook_contract

    person = {"name": "Octo", "email": "octo@example.test", "username": "octo"}
    commit = {"id": "b" * 40, "tree_id": "c" * 40, "distinct": True, "message": "change", "url": "https://example.test/c",
              "timestamp": "2026-01-01T00:00:00Z", "author": person, "committer": person,
              "added": list(added), "modified": list(modified), "removed": []}
    return webhook_contract().payload("push", ref=ref, after="b" * 40, commits=[commit], head_commit=commit,
                                      repository={"full_name": "o/r", "default_branch": "main"},
                                      pusher={"name": "octo"})


def bind(client, project, repo="o/r", user="alice"):
    """Bind ``repo`` to ``project`` (as its admin): its deliveries then start the project's workflows."""
    r = client.post(f"/api/v1/projects/{project}/repositories", json={"full_name": repo}, headers=auth(user))
    assert r.status_code == 201, r.text


def stored(client, delivery_id, user="admin"):
    """The stored delivery with GitHub's id ``delivery_id``, as ``user`` sees it in the deliveries API."""
    page = client.get("/api/v1/webhooks/deliveries", params={"limit": 200}, headers=auth(user)).json()
    [item] = [d for d in page["items"] if d["delivery_id"] == delivery_id]
    return client.get(f"/api/v1/webhooks/deliveries/{item['id']}", headers=auth(user)).json()


def deliver(client, event, payload, secret=SECRET, delivery=None, signature=None):
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
        "X-Hub-Signature-256": signature if signature is not None else signature_for(secret, body),
    }
    return client.post("/api/v1/webhooks/github", content=body, headers=headers)


def test_the_payloads_these_tests_deliver_are_githubs():
    from tests.contracts.github_openapi import webhook_contract

    hooks = webhook_contract()
    for payload in (pr_payload(), pr_payload(action="closed", labels=["a", "b"]), pr_payload(repo="octo-org/widgets")):
        assert hooks.problems("pull_request", payload) == []
    assert hooks.problems("push", push_payload()) == []


def test_signature_matches_githubs_documented_example():
    # https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
    assert signature_for("It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_badly_signed_and_unsigned_deliveries_are_refused(hook_client):
    r = deliver(hook_client, "pull_request", pr_payload(), secret="wrong")
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert "does not match" in r.json()["detail"]
    assert deliver(hook_client, "pull_request", pr_payload(), signature="").status_code == 401
    assert deliver(hook_client, "pull_request", pr_payload(), signature="sha1=abc").status_code == 401


def test_no_secret_configured_refuses_everything(client, monkeypatch):
    from include.settings import get_settings

    monkeypatch.delenv("AUTOPR_WEBHOOK_SECRET", raising=False)
    get_settings.cache_clear()
    r = deliver(client, "pull_request", pr_payload())
    assert r.status_code == 503 and "AUTOPR_WEBHOOK_SECRET" in r.json()["detail"]


def test_ping_unsupported_and_malformed(hook_client):
    assert deliver(hook_client, "ping", {"zen": "hi"}).json()["status"] == "pong"
    r = deliver(hook_client, "pull_request", pr_payload(action="closed"))
    assert r.status_code == 202 and r.json()["status"] == "ignored"
    r = deliver(hook_client, "pull_request", {"action": "opened"}, delivery="bad-1")
    assert r.status_code == 422 and "repository.full_name" in r.json()["detail"]
    row = stored(hook_client, "bad-1")  # bad input starts nothing and the stored delivery says why
    assert row["status"] == "rejected" and "repository.full_name" in row["detail"] and row["outcomes"] == []
    assert row["payload"] == {"action": "opened"} and row["headers"]["x-github-event"] == "pull_request"
    assert "x-hub-signature-256" not in row["headers"]
    body = b"not json"
    r = hook_client.post("/api/v1/webhooks/github", content=body, headers={
        "X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1", "X-Hub-Signature-256": signature_for(SECRET, body)})
    assert r.status_code == 400
    assert stored(hook_client, "d-1")["status"] == "rejected"
    r = hook_client.post("/api/v1/webhooks/github", content=b"{}", headers={
        "X-GitHub-Delivery": "d-2", "X-Hub-Signature-256": signature_for(SECRET, b"{}")})
    assert r.status_code == 400 and "X-GitHub-Event" in r.json()["detail"]


def test_redelivery_is_deduplicated(hook_client):
    first = deliver(hook_client, "pull_request", pr_payload(), delivery="dup-1")
    assert first.status_code == 202 and first.json()["status"] == "ignored"  # no workflows yet
    again = deliver(hook_client, "pull_request", pr_payload(), delivery="dup-1")
    assert again.status_code == 200 and again.json()["status"] == "duplicate"


def test_unknown_project_scope_is_404(hook_client):
    body = json.dumps(pr_payload()).encode()
    r = hook_client.post("/api/v1/webhooks/github?project=nope", content=body, headers={
        "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "d-3", "X-Hub-Signature-256": signature_for(SECRET, body)})
    assert r.status_code == 404
    # the same slug type as every other route: a name no project can have is refused before anything is stored
    r = hook_client.post(f"/api/v1/webhooks/github?project={'a' * 64}", content=body, headers={
        "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "d-4", "X-Hub-Signature-256": signature_for(SECRET, body)})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/project"


def test_unbound_repository_starts_nothing_and_the_delivery_says_why(hook_client, workflow):
    doc = workflow_doc("on-pr")
    doc["nodes"][0]["config"] = {"event": "pr_opened", "branches": ["main"]}
    assert hook_client.post("/api/v1/projects/acme/workflows", json=doc, headers=auth("ed")).status_code == 201
    r = deliver(hook_client, "pull_request", pr_payload(repo="o/unbound"), delivery="unbound-1")
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "ignored" and r.json()["runs"] == [] and "not bound to any project" in r.json()["detail"]
    row = stored(hook_client, "unbound-1")  # concerns no project: only the platform's admin sees it
    assert row["status"] == "ignored" and "o/unbound is not bound" in row["detail"] and row["projects"] == []
    page = hook_client.get("/api/v1/webhooks/deliveries", headers=auth("alice")).json()
    assert "unbound-1" not in [d["delivery_id"] for d in page["items"]]
    assert hook_client.get(f"/api/v1/webhooks/deliveries/{row['id']}", headers=auth("alice")).status_code == 404
    # narrowed to a project the repository is not bound to: nothing starts, and that project sees why
    bind(hook_client, "other", "o/r", user="mallory")
    body = json.dumps(pr_payload()).encode()
    r = hook_client.post("/api/v1/webhooks/github?project=acme", content=body, headers={
        "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "narrow-1",
        "X-Hub-Signature-256": signature_for(SECRET, body)})
    assert r.status_code == 202 and r.json()["status"] == "ignored", r.text
    row = stored(hook_client, "narrow-1", user="alice")
    assert row["projects"] == ["acme"] and "not bound to project 'acme'" in row["detail"]


def trigger_matches(trigger, event):
    """What the dispatcher asks: does this code-host delivery start a workflow with this stored trigger?"""
    return matcher(trigger, event, delivery=True)


def test_trigger_filters():
    pr = from_github("pull_request", pr_payload(base="main", labels=["needs-review"]))
    assert trigger_matches({"event": "pr_opened"}, pr)[0]
    assert trigger_matches({"event": "webhook"}, pr)[0]
    assert not trigger_matches({"event": "push"}, pr)[0]
    assert trigger_matches({"event": "pr_opened", "branches": ["main", "release/*"]}, pr)[0]
    assert not trigger_matches({"event": "pr_opened", "branches": ["release/*"]}, pr)[0]
    assert trigger_matches({"event": "pr_opened", "labels": ["needs-review", "x"]}, pr)[0]
    assert not trigger_matches({"event": "pr_opened", "labels": ["x"]}, pr)[0]
    push = from_github("push", push_payload())
    assert trigger_matches({"event": "push", "branches": ["release/*"], "paths": ["src/*.py"]}, push)[0]
    assert not trigger_matches({"event": "push", "paths": ["docs/*"]}, push)[0]
    assert not trigger_matches({"event": "push", "branches": ["main"]}, push)[0]


def test_deliveries_never_start_manual_or_scheduled_workflows():
    pr = from_github("pull_request", pr_payload(base="main"))
    for trigger in ({"event": "manual"}, {"event": "schedule", "cron": "0 3 * * *"}):
        matched, reason = trigger_matches(trigger, pr)
        assert not matched and "not started by code-host events" in reason
    # ... while the DAG's own gate lets a person start a manual workflow with any event
    assert matcher({"event": "manual"}, pr)[0]
    matched, reason = trigger_matches({"event": "pr_opened", "branches": "main"}, pr)  # not a list: invalid
    assert not matched and reason.startswith("stored trigger is invalid")


def test_matching_workflow_with_airflow_down_is_503_and_redeliverable(hook_client, workflow):
    """Airflow unreachable: nothing started, 503, the delivery kept as failed; GitHub's redelivery retries it."""
    doc = workflow_doc("on-pr")
    doc["nodes"][0]["config"] = {"event": "pr_opened", "branches": ["main"]}
    assert hook_client.post("/api/v1/projects/acme/workflows", json=doc, headers=auth("ed")).status_code == 201
    bind(hook_client, "acme", "O/R")  # GitHub's names are case-insensitive
    r = deliver(hook_client, "pull_request", pr_payload(base="main"), delivery="down-1")
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert "could not be started" in r.json()["detail"]
    row = stored(hook_client, "down-1", user="vic")
    assert row["status"] == "failed" and row["projects"] == ["acme"] and row["attempts"] == 1
    outcomes = {o["workflow"]: o for o in row["outcomes"]}
    assert outcomes["on-pr"]["outcome"] == "failed" and outcomes["on-pr"]["error"] in r.json()["detail"]
    assert outcomes["review"]["outcome"] == "skipped" and "not started by code-host events" in outcomes["review"]["reason"]
    # kept: the redelivery is processed again (and fails again the same way), not reported as duplicate
    again = deliver(hook_client, "pull_request", pr_payload(base="main"), delivery="down-1")
    assert again.status_code == 503
    assert stored(hook_client, "down-1", user="vic")["attempts"] == 2
    # a branch the trigger filters out matches nothing and is acknowledged
    r = deliver(hook_client, "pull_request", pr_payload(base="develop"), delivery="down-2")
    assert r.status_code == 202 and r.json()["status"] == "ignored"


def test_run_id_is_airflow_safe():
    from include.api.routes.webhooks import webhook_run_id

    assert webhook_run_id("72d3162e-cc78-11e3-81ab-4c9367dc0958", 4) == "webhook__72d3162e-cc78-11e3-81ab-4c9367dc0958__4"
    assert webhook_run_id("a b/c", 1) == "webhook__a_b_c__1"


def test_stored_deliveries_are_listed_to_who_may_read_them(hook_client, project):
    bind(hook_client, "acme", "o/r")
    deliver(hook_client, "pull_request", pr_payload(action="closed"), delivery="list-ignored")
    malformed = {"action": "opened", "repository": {"full_name": "o/r"}, "sender": {"login": "octo"}}
    assert deliver(hook_client, "pull_request", malformed, delivery="list-rejected").status_code == 422
    deliver(hook_client, "pull_request", pr_payload(repo="else/where"), delivery="list-unbound")
    listing = "/api/v1/webhooks/deliveries"

    def ids(user, **params):
        r = hook_client.get(listing, params=params, headers=auth(user))
        assert r.status_code == 200, r.text
        return [d["delivery_id"] for d in r.json()["items"]]

    assert ids("vic") == ["list-rejected", "list-ignored"]  # newest first, bound repository only
    assert ids("mallory") == []
    assert ids("admin") == ["list-unbound", "list-rejected", "list-ignored"]  # the platform's admin sees all
    assert ids("vic", status="rejected") == ["list-rejected"]
    assert ids("admin", repository="O/R") == ["list-rejected", "list-ignored"]
    assert ids("alice", project="acme", limit=1) == ["list-rejected"]
    page = hook_client.get(listing, params={"limit": 1, "offset": 1}, headers=auth("alice")).json()
    assert [d["delivery_id"] for d in page["items"]] == ["list-ignored"] and page["total"] == 2
    assert hook_client.get(listing, params={"project": "acme"}, headers=auth("mallory")).status_code == 404
    assert hook_client.get(listing, params={"status": "nonsense"}, headers=auth("vic")).status_code == 422
    rejected = stored(hook_client, "list-rejected", user="vic")
    assert rejected["payload"] == malformed and rejected["action"] == "opened" and rejected["projects"] == ["acme"]
    assert hook_client.get(f"{listing}/{rejected['id']}", headers=auth("mallory")).status_code == 404
    # nothing failed: a redelivery through the API starts nothing
    r = hook_client.post(f"{listing}/{rejected['id']}/redeliver", headers=auth("ed"))
    assert r.status_code == 200 and r.json()["status"] == "duplicate"
