"""Code-host actions against the local GitHub stand-in, through the Airflow GitHub connection."""

from __future__ import annotations

import json
from datetime import UTC

import pytest

from include.actions import ActionFailed, run_node
from tests.actions.conftest import make_ctx
from tests.support.github_standin import GitHubStandIn

HEAD = "c0ffee" + "0" * 34
EVENT = {
    "kind": "pr_opened",
    "repository": "acme/app",
    "pr_number": 7,
    "sha": HEAD,
    "ref": "feature",
    "author": "octocat",
}
QUALITY = {
    "quality_1": {
        "issues_count": 6,
        "errors_count": 2,
        "quality_score": 62.9,
        "passed": False,
        "session_id": 11,
        "summary": "**AutoPR review**: 6 issue(s)",
        "by_severity": {"critical": 1, "high": 1},
    }
}


def _node(action, **config):
    return {"id": action, "type": "action", "label": action, "config": {"action": action, **config}}


@pytest.fixture()
def pr(github: GitHubStandIn):
    return github.add_pull("acme/app", 7, head_sha=HEAD, author="octocat", labels=["needs-review"])


def test_post_comment_renders_placeholders(github, pr):
    out = run_node(
        _node(
            "post_comment",
            template="{repository}#{pr_number}: {issues_count} issues, "
            "score {quality_score:.0f}, {critical_count} critical, passed={passed}\n\n{summary}",
        ),
        make_ctx(EVENT, QUALITY),
    )
    [call] = github.calls("POST", r"/repos/acme/app/issues/7/comments")
    assert call.status == 201
    assert call.body == {
        "body": "acme/app#7: 6 issues, score 63, 1 critical, passed=False\n\n**AutoPR review**: 6 issue(s)"
    }
    assert call.headers["authorization"] == f"token {github.token}"
    assert out["comment_id"] and out["pr_number"] == 7
    assert len(github.requests) == 1  # lazy client: exactly the documented call


def test_unknown_placeholder_is_named(github, pr):
    with pytest.raises(ActionFailed, match=r"config.template: unknown placeholder \{isues_count\}"):
        run_node(_node("post_comment", template="{isues_count}"), make_ctx(EVENT))
    assert github.requests == []


def test_label_pr_adds_and_removes(github, pr):
    out = run_node(_node("label_pr", labels=["autopr", "quality"], remove=["needs-review", "absent"]), make_ctx(EVENT))
    assert out == {"pr_number": 7, "added": ["autopr", "quality"], "removed": ["needs-review"]}
    [add] = github.calls("POST", r"/repos/acme/app/issues/7/labels")
    assert add.body in (["autopr", "quality"], {"labels": ["autopr", "quality"]})
    assert [c.status for c in github.calls("DELETE")] == [200, 404]  # absent label: 404, tolerated
    assert github.repos["acme/app"].issues[7].labels == ["autopr", "quality"]


def test_request_review(github, pr):
    out = run_node(_node("request_review", reviewers=["alice"], team_reviewers=["core"]), make_ctx(EVENT))
    [call] = github.calls("POST", r"/repos/acme/app/pulls/7/requested_reviewers")
    assert call.body == {"reviewers": ["alice"], "team_reviewers": ["core"]} and call.status == 201
    assert out["requested_reviewers"] == ["alice"]
    assert github.repos["acme/app"].pulls[7].requested_reviewers == ["alice"]


def test_github_validation_errors_fail_without_retry(github, pr):
    with pytest.raises(ActionFailed, match="HTTP 422.*author") as info:
        run_node(_node("request_review", reviewers=["octocat"]), make_ctx(EVENT))
    assert not info.value.retryable


def test_create_issue(github):
    github.add_repo("acme/app")
    event = {"kind": "push", "repository": "acme/app", "ref": "main", "sha": HEAD}
    out = run_node(
        _node(
            "create_issue",
            title_template="Quality {quality_score} on {branch}",
            body_template="{summary}",
            labels=["quality"],
        ),
        make_ctx(event, QUALITY),
    )
    [call] = github.calls("POST", r"/repos/acme/app/issues")
    assert call.body == {
        "title": "Quality 62.9 on main",
        "body": "**AutoPR review**: 6 issue(s)",
        "labels": ["quality"],
    }
    assert out["issue_number"] == 1


def test_merge_pr_when_required_checks_passed(github, pr):
    github.set_check_runs(
        "acme/app",
        HEAD,
        [
            {"name": "ci", "conclusion": "failure"},  # re-run below replaces it
            {"name": "ci", "conclusion": "success"},
            {"name": "lint", "conclusion": "success"},
        ],
    )
    out = run_node(_node("merge_pr", method="squash", required_checks=["ci", "lint"]), make_ctx(EVENT))
    assert out["merged"] is True and out["head_sha"] == HEAD
    assert [(c.method, c.path) for c in github.requests] == [
        ("GET", "/repos/acme/app/pulls/7"),
        ("GET", f"/repos/acme/app/commits/{HEAD}/check-runs"),
        ("PUT", "/repos/acme/app/pulls/7/merge"),
    ]
    assert github.requests[-1].body == {"merge_method": "squash", "sha": HEAD}


@pytest.mark.parametrize(
    ("runs", "message"),
    [
        ([{"name": "ci", "conclusion": "failure"}], "'ci' concluded failure"),
        ([{"name": "ci", "status": "in_progress", "conclusion": None}], "'ci' is in_progress"),
        ([{"name": "lint", "conclusion": "success"}], "'ci' has not run"),
    ],
)
def test_merge_pr_refuses_unless_required_checks_succeeded(github, pr, runs, message):
    github.set_check_runs("acme/app", HEAD, runs)
    with pytest.raises(ActionFailed, match=message):
        run_node(_node("merge_pr", method="merge", required_checks=["ci"]), make_ctx(EVENT))
    assert github.calls("PUT") == []
    assert github.repos["acme/app"].pulls[7].merged is False


def test_merge_pr_refuses_when_the_head_moved(github, pr):
    with pytest.raises(ActionFailed, match="head moved"):
        run_node(_node("merge_pr"), make_ctx({**EVENT, "sha": "f" * 40}))
    assert github.calls("PUT") == []


def test_actions_need_a_pull_request(github):
    with pytest.raises(ActionFailed, match="event.pr_number"):
        run_node(_node("merge_pr"), make_ctx({"kind": "push", "repository": "acme/app"}))


def test_enterprise_base_url_from_the_connection_host(monkeypatch):
    with GitHubStandIn(prefix="/api/v3") as ghe:
        ghe.add_pull("acme/app", 7, head_sha=HEAD)
        monkeypatch.setenv("AIRFLOW_CONN_GHE", ghe.connection_uri_json())
        run_node(_node("post_comment", template="hi", connection_id="ghe"), make_ctx(EVENT))
        [call] = ghe.calls("POST", r"/repos/acme/app/issues/7/comments")
        assert call.status == 201


def test_settings_base_url_when_the_connection_has_no_host(monkeypatch, settings):
    with GitHubStandIn() as gh:
        gh.add_pull("acme/app", 7, head_sha=HEAD)
        conn = json.loads(gh.connection_uri_json())
        del conn["host"]
        monkeypatch.setenv("AIRFLOW_CONN_GITHUB_DEFAULT", json.dumps(conn))
        monkeypatch.setenv("AUTOPR_GITHUB_API_URL", gh.url)
        from include.settings import get_settings

        get_settings.cache_clear()
        run_node(_node("post_comment", template="hi"), make_ctx(EVENT))
        assert gh.calls("POST", r"/repos/acme/app/issues/7/comments", status=201)


def test_bad_token_is_reported(monkeypatch, github, pr):
    conn = json.loads(github.connection_uri_json())
    conn["password"] = "wrong"
    monkeypatch.setenv("AIRFLOW_CONN_GITHUB_DEFAULT", json.dumps(conn))
    with pytest.raises(ActionFailed, match="HTTP 401: Bad credentials"):
        run_node(_node("post_comment", template="hi"), make_ctx(EVENT))


def test_request_review_with_recommendations_from_the_project_history(project, github, pr):
    from datetime import datetime, timedelta

    from sqlalchemy import select

    from include.db.models import CodeChange, Project
    from include.db.session import session_scope

    start = datetime(2026, 1, 1, tzinfo=UTC)
    with session_scope() as session:
        pid = session.scalar(select(Project.id).where(Project.slug == "acme"))
        for i in range(6):
            session.add(
                CodeChange(
                    project_id=pid,
                    repository="acme/app",
                    change_key=str(i),
                    author="bob",
                    files=["app/bad.py" if i % 2 else "app/util.py"],
                    reviewers=["alice"] if i < 5 else ["carol"],
                    status="merged",
                    created_at=start + timedelta(days=i),
                )
            )
    upstream = {"review": {"issues_count": 3, "changed_files": ["app/bad.py"]}}
    out = run_node(_node("request_review", use_recommendations=True), make_ctx(EVENT, upstream))
    assert out["recommendation_source"] in ("learned", "path-share")
    assert out["requested_reviewers"][0] == "alice"
    [call] = github.calls("POST", r"/repos/acme/app/pulls/7/requested_reviewers", status=201)
    assert call.body["reviewers"][0] == "alice" and "octocat" not in call.body["reviewers"]


def test_request_review_without_history_sends_nothing(project, github, pr):
    out = run_node(_node("request_review", use_recommendations=True), make_ctx(EVENT))
    assert out["requested_reviewers"] == [] and out["recommendation_source"] == "no-files"
    assert github.requests == []
