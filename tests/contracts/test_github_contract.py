"""The contract check itself: it must catch a stand-in or a platform request that drifts from GitHub."""

from __future__ import annotations

import pytest

from tests.contracts.github_openapi import rest_contract, webhook_contract
from tests.support.github_standin import GitHubStandIn


@pytest.fixture(scope="module")
def contract():
    return rest_contract()


def test_a_documented_exchange_passes(contract):
    with GitHubStandIn(check_contract=False) as gh:
        gh.add_pull("acme/app", 7, head_sha="a" * 40)
        import httpx

        headers = {"Authorization": f"token {gh.token}", "Accept": "application/vnd.github+json"}
        with httpx.Client(base_url=gh.url, headers=headers) as c:
            c.post("/repos/acme/app/issues/7/comments", json={"body": "hi"})
            c.get("/repos/acme/app/pulls/7")
        assert gh.contract_problems() == []


def test_drift_is_caught(contract):
    path = "/repos/acme/app/issues/7/comments"
    assert any("body" in p for p in contract.problems("POST", path, {"body": 5}, 201, None))
    answer = {"id": 1}  # an answer missing most of an issue comment's fields
    assert any("is a required property" in p for p in contract.problems("POST", path, {"body": "x"}, 201, answer))
    listing = "/repos/acme/app/pulls/7/files"
    assert contract.problems("GET", listing, None, 200, [], {"per_page": ["100"], "page": ["2"]}) == []
    assert contract.problems("GET", listing, None, 200, [], {"per_page": ["all"], "sort": ["x"]}) == [
        "GET /repos/{owner}/{repo}/pulls/{pull_number}/files: query parameter per_page=['all'] is not an integer",
        "GET /repos/{owner}/{repo}/pulls/{pull_number}/files: query parameter 'sort' is not documented",
    ]
    assert contract.problems("POST", "/repos/acme/app/nowhere", None, 200, {}) == [
        "POST /repos/acme/app/nowhere: not an operation in GitHub's REST description"
    ]
    # a rejected request is the stand-in being strict, not drift; its error answer is still checked
    assert contract.problems("POST", path, {"body": 5}, 422, {"message": "Validation Failed",
                                                              "documentation_url": "x"}) == []  # fmt: skip


def test_the_most_specific_template_is_chosen(contract):
    op = contract.operation("PATCH", "/repos/acme/app/issues/comments/5")
    assert op is not None and op.template == "/repos/{owner}/{repo}/issues/comments/{comment_id}"


def test_webhook_payloads_are_checked_against_the_webhooks_description():
    hooks = webhook_contract()
    assert hooks.key("pull_request", "opened") == "pull-request-opened"
    assert hooks.key("push", None) == "push"
    problems = hooks.problems("pull_request", {"action": "opened", "number": 7})
    assert any("'pull_request' is a required property" in p for p in problems)


@pytest.mark.parametrize(
    ("event", "action", "kind"),
    [("pull_request", "opened", "pr_opened"), ("pull_request", "synchronize", "pr_updated"),
     ("issues", "opened", "issue_created")],
)  # fmt: skip
def test_documented_payloads_are_normalised(event, action, kind):
    """The platform's webhook parser on payloads shaped exactly as GitHub documents them."""
    from include.codehost.events import from_github

    hooks = webhook_contract()
    sha = "b" * 40
    payload = hooks.payload(
        event,
        action,
        repository={"full_name": "acme/app", "clone_url": "https://github.example/acme/app.git"},
        sender={"login": "octo"},
        **({"number": 7, "pull_request": {"number": 7, "title": "Fix", "head": {"ref": "feature", "sha": sha},
                                           "base": {"ref": "main"}}} if event == "pull_request"
           else {"issue": {"number": 9, "title": "Bug"}}),
    )  # fmt: skip
    assert hooks.problems(event, payload) == []
    normalised = from_github(event, payload, delivery_id="d-1")
    assert (normalised.kind, normalised.repository) == (kind, "acme/app")
    if event == "pull_request":
        assert (normalised.pr_number, normalised.sha, normalised.ref) == (7, sha, "feature")


def test_documented_push_payload_is_normalised():
    from include.codehost.events import from_github

    hooks = webhook_contract()
    payload = hooks.payload("push", ref="refs/heads/main", after="c" * 40,
                            repository={"full_name": "acme/app", "clone_url": "https://github.example/acme/app.git"})  # fmt: skip
    assert hooks.problems("push", payload) == []
    normalised = from_github("push", payload)
    assert (normalised.kind, normalised.sha) == ("push", "c" * 40)


def test_the_sarif_upload_and_its_receipt_are_documented(contract, github):
    """Code scanning's upload as the platform sends it (gzip, then base64) and the stand-in's 202 receipt."""
    from include.codehost.github import GitHubActions, github_client

    github.add_repo("acme/app")
    log = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "ruff"}}, "results": []}]}
    receipt = GitHubActions(github_client(), "acme/app").upload_sarif("a" * 40, "refs/pull/7/head", log, "AutoPR")
    [call] = github.calls("POST", r"/repos/acme/app/code-scanning/sarifs")
    assert call.status == 202 and set(call.body) == {"commit_sha", "ref", "sarif", "tool_name"}
    assert receipt["id"] == github.repos["acme/app"].sarif_uploads[0]["id"] and receipt["url"].startswith(github.url)
    assert github.repos["acme/app"].sarif_uploads[0]["sarif"] == log
    assert github.contract_problems() == []
    # what would be drift: a short commit, a ref that is not a full reference, a field GitHub does not take
    path = "/repos/acme/app/code-scanning/sarifs"
    def said(**over):
        return " ".join(contract.problems("POST", path, {**call.body, **over}, 202, receipt))

    assert "'abc' is too short" in said(commit_sha="abc") and "'main' does not match" in said(ref="main")
    assert "'category' was unexpected" in said(category="y")
    assert contract.problems("POST", path, {**call.body}, 202, {"id": 5}) != []  # the receipt's id is a string
