"""A dry run's code-host client: reads reach the stand-in, writes never do; the actions run unchanged on it."""

from __future__ import annotations

import pytest

from include.actions import run_node
from include.codehost.capture import CapturedWrites, WriteBlocked, capturing, summarize
from include.codehost.github import GitHubActions, github_client
from tests.actions.conftest import make_ctx

HEAD = "c0ffee" + "0" * 34
EVENT = {"kind": "pr_opened", "repository": "acme/app", "pr_number": 7, "sha": HEAD, "ref": "feature",
         "author": "octocat"}


def _writes(github) -> list:
    return [r for r in github.requests if r.method not in ("GET", "HEAD")]


def test_a_captured_client_sends_reads_and_never_a_write(github):
    github.add_pull("acme/app", 7, head_sha=HEAD, labels=["needs-review"])
    github.push("acme/app", 7, HEAD, {"app/x.py": "@@ -0,0 +1,2 @@\n+a = 1\n+b = 2"})
    sink = CapturedWrites()
    gh = GitHubActions(capturing(github_client(), sink), "acme/app")

    # reads go out for real
    assert gh.pull_head_sha(7) == HEAD
    assert [f["filename"] for f in gh.pull_files(7)] == ["app/x.py"]
    assert gh.review_comments(7) == [] and gh.issue_comments(7) == []
    # every kind of write the actions make, through PyGithub's objects and the REST helper alike
    assert gh.post_comment(7, "hello")["comment_id"] < 0
    gh.add_labels(7, ["needs-work"])
    assert gh.remove_label(7, "needs-review") is True
    gh.request_reviewers(7, ["alice"], [])
    issue = gh.create_issue("Follow up", "body", ["bug"])
    review = gh.create_review(7, HEAD, "review", [{"path": "app/x.py", "line": 2, "side": "RIGHT", "body": "b"}])
    run = gh.create_check_run({"name": "AutoPR review", "head_sha": HEAD, "status": "in_progress",
                               "output": {"title": "t", "summary": "s", "annotations": [{"path": "app/x.py"}]}})
    gh.update_check_run(run["id"], {"status": "completed", "conclusion": "failure",
                                    "output": {"title": "t", "summary": "s", "annotations": [{"path": "app/y.py"}]}})
    gh.edit_issue_comment(5, "<!-- autopr:summary acme/wf -->\nnew")
    merged = gh.merge(7, "squash", sha=HEAD)

    assert _writes(github) == []  # the stand-in saw no write at all
    assert {r.method for r in github.requests} == {"GET"}
    assert issue["issue_number"] < 0 and review["id"] < 0 and merged["merged"] is False
    methods = [(w.method, w.path) for w in sink.writes]
    assert methods == [
        ("POST", "/repos/acme/app/issues/7/comments"), ("POST", "/repos/acme/app/issues/7/labels"),
        ("DELETE", "/repos/acme/app/issues/7/labels/needs-review"),
        ("POST", "/repos/acme/app/pulls/7/requested_reviewers"), ("POST", "/repos/acme/app/issues"),
        ("POST", "/repos/acme/app/pulls/7/reviews"), ("POST", "/repos/acme/app/check-runs"),
        (f"PATCH", f"/repos/acme/app/check-runs/{run['id']}"), ("PATCH", "/repos/acme/app/issues/comments/5"),
        ("PUT", "/repos/acme/app/pulls/7/merge"),
    ]
    assert all("authorization" not in str(w.body).lower() for w in sink.writes)

    grouped = summarize(sink.as_list())
    assert grouped["review_comments"] == [{"node_id": None, "path": "app/x.py", "line": 2, "side": "RIGHT", "body": "b"}]
    [check] = grouped["check_runs"]
    assert (check["conclusion"], check["requests"]) == ("failure", 2)
    assert [a["path"] for a in check["annotations"]] == ["app/x.py", "app/y.py"]
    assert grouped["labels_added"] == ["needs-work"] and grouped["labels_removed"] == ["needs-review"]
    assert grouped["summary_comment"]["edit_of"] == 5 and grouped["comments"][0]["body"] == "hello"
    assert grouped["merges"] == [{"node_id": None, "pr_number": 7, "merge_method": "squash", "sha": HEAD}]
    assert grouped["reviewers_requested"][0]["reviewers"] == ["alice"] and grouped["issues"][0]["labels"] == ["bug"]


def test_a_write_that_reaches_the_transport_is_refused(github):
    client = capturing(github_client(), CapturedWrites())
    with pytest.raises(WriteBlocked):
        client.requester._Requester__requestRaw(None, "POST", "/repos/acme/app/issues", {}, "{}")
    derived = client.requester.withLazy(False)  # a requester PyGithub derives captures into the same sink
    derived.requestJsonAndCheck("POST", "/repos/acme/app/issues", input={"title": "x"})
    assert _writes(github) == [] and [w.method for w in client.requester._capture.writes] == ["POST"]


def test_actions_with_a_capture_in_their_context_post_nothing(github):
    github.add_pull("acme/app", 7, head_sha=HEAD)
    sink = CapturedWrites()
    ctx = make_ctx(EVENT)
    from dataclasses import replace

    ctx = replace(ctx, capture=sink)
    run_node({"id": "c", "type": "action", "config": {"action": "post_comment", "template": "hi {pr_number}"}}, ctx)
    run_node({"id": "l", "type": "action", "config": {"action": "label_pr", "labels": ["x"]}}, ctx)
    assert _writes(github) == []
    assert [(w.method, w.body) for w in sink.writes] == [("POST", {"body": "hi 7"}), ("POST", {"labels": ["x"]})]


def _workflow(trigger: dict, retries: int = 0):
    from include.workflows.validation import load_workflow

    return load_workflow({
        "id": "greeter", "name": "Greeter", "project": "acme",
        "nodes": [
            {"id": "opened", "type": "trigger", "config": trigger},
            {"id": "hello", "type": "action", "config": {"action": "post_comment", "template": "Thanks {author}!",
                                                          "retries": retries, "retry_delay_seconds": 1}},
            {"id": "tag", "type": "action", "config": {"action": "label_pr", "labels": ["triaged"]}},
        ],
        "edges": [{"id": "e1", "source": "opened", "target": "hello"}, {"id": "e2", "source": "hello", "target": "tag"}],
    })


def test_the_dry_run_walk_follows_the_trigger_filters_and_stops_behind_a_failed_node(github):
    from include.dag_factory.dry_run import walk

    github.add_pull("acme/app", 7, head_sha=HEAD)
    event = {**EVENT, "base_ref": "main"}

    sink = CapturedWrites()
    out = walk(_workflow({"event": "pr_opened", "branches": ["release/*"]}), event, run_id="r1", capture=sink)
    assert out["failed"] is False and "filters do not match" in out["detail"]
    assert {n: s["state"] for n, s in out["nodes"].items()} == {"opened": "success", "hello": "skipped", "tag": "skipped"}
    assert sink.writes == []

    out = walk(_workflow({"event": "pr_opened"}), event, run_id="r2", capture=sink)
    assert {n: s["state"] for n, s in out["nodes"].items()} == {"opened": "success", "hello": "success", "tag": "success"}
    assert [(w.node_id, w.method) for w in sink.writes] == [("hello", "POST"), ("tag", "POST")]

    sink = CapturedWrites()  # an event without a repository: the comment's node fails, the label never runs
    out = walk(_workflow({"event": "pr_opened"}), {k: v for k, v in event.items() if k != "repository"},
               run_id="r3", capture=sink)
    assert out["failed"] is True and "event.repository" in out["nodes"]["hello"]["error"]
    assert {n: s["state"] for n, s in out["nodes"].items()} == {
        "opened": "success", "hello": "failed", "tag": "upstream_failed"}
    assert sink.writes == [] and _writes(github) == []
