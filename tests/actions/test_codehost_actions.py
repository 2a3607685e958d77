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


# --- publish_review: comments on the changed lines, a check run, one summary edited in place --------------

PATCH = "@@ -1,4 +1,5 @@\n import os\n-x = 1\n+x = 2\n+y = 3\n def f():\n     return x"  # new lines 2, 3 added


def _finding(path, line, severity="high", rule="R1", message=None):
    return {"file_path": path, "line": line, "rule": rule, "analyzer": "ruff", "severity": severity,
            "message": message or f"{rule} at {path}:{line}"}  # fmt: skip


def _reviewed(*findings):
    return {"review": {"issues_count": len(findings), "issues": list(findings)}}


ON_ADDED, ON_CONTEXT, UNTOUCHED, OTHER_FILE = (
    _finding("app/mod.py", 2, "high", "E1"),
    _finding("app/mod.py", 4, "medium", "E2"),
    _finding("app/mod.py", 40, "low", "E3"),
    _finding("app/other.py", 3, "low", "E4"),
)


@pytest.fixture()
def changed_pr(github: GitHubStandIn):
    pull = github.add_pull("acme/app", 7, head_sha=HEAD, author="octocat")
    github.push("acme/app", 7, HEAD, {"app/mod.py": PATCH})
    return pull


@pytest.mark.parametrize(
    ("mode", "commented", "outside_filter", "outside_diff"),
    [("added", [2], 3, 0), ("diff_context", [2, 4], 2, 0), ("file", [2, 4], 1, 1), ("nofilter", [2, 4], 0, 2)],
)
def test_publish_review_comments_on_the_lines_its_filter_keeps(github, changed_pr, mode, commented, outside_filter,
                                                               outside_diff):  # fmt: skip
    out = run_node(_node("publish_review", filter_mode=mode), make_ctx(EVENT, _reviewed(ON_ADDED, ON_CONTEXT,
                                                                                       UNTOUCHED, OTHER_FILE)))  # fmt: skip
    [review] = github.calls("POST", r"/repos/acme/app/pulls/7/reviews", status=200)
    assert review.body["event"] == "COMMENT" and review.body["commit_id"] == HEAD
    placed = sorted((c["path"], c["line"], c["side"]) for c in review.body["comments"])
    assert placed == [("app/mod.py", line, "RIGHT") for line in commented]
    assert (out["comments_added"], out["outside_filter"], out["outside_diff"]) == (len(commented), outside_filter,
                                                                                   outside_diff)  # fmt: skip
    stored = github.repos["acme/app"].review_comments.values()
    assert sorted(c["line"] for c in stored) == commented
    [summary] = github.repos["acme/app"].issues[7].comments
    assert f"{outside_filter} finding(s) outside the `{mode}` filter" in summary["body"] or not outside_filter
    assert summary["body"].startswith("<!-- autopr:summary acme/pr-review -->")
    assert ("`app/mod.py:40` **low** `E3`" in summary["body"]) == (mode in ("file", "nofilter"))
    assert ("`app/other.py:3`" in summary["body"]) == (mode == "nofilter")


def test_check_run_with_more_than_fifty_annotations_arrives_complete(github, changed_pr):
    findings = [_finding("app/mod.py", i, "medium" if i % 2 else "high", f"R{i}") for i in range(1, 121)]
    out = run_node(_node("publish_review", fail_level="high", inline_comments=False, summary_comment=False),
                   make_ctx(EVENT, _reviewed(*findings)))  # fmt: skip
    [create] = github.calls("POST", r"/repos/acme/app/check-runs", status=201)
    updates = github.calls("PATCH", r"/repos/acme/app/check-runs/\d+", status=200)
    assert [len(r.body["output"]["annotations"]) for r in [create, *updates]] == [50, 50, 20]
    assert create.body["status"] == "in_progress" and "conclusion" not in create.body
    assert create.body["details_url"].endswith("project=acme&workflow=pr-review")
    [run] = github.repos["acme/app"].check_runs.values()
    assert len(run["annotations"]) == 120 and {a["start_line"] for a in run["annotations"]} == set(range(1, 121))
    assert (run["status"], run["conclusion"], run["head_sha"]) == ("completed", "failure", HEAD)
    assert out["conclusion"] == "failure" and out["annotations"] == 120 and out["check_run_requests"] == 3


def test_fail_level_sets_the_conclusion(github, changed_pr):
    run_node(_node("publish_review", fail_level="critical", inline_comments=False, summary_comment=False),
             make_ctx(EVENT, _reviewed(ON_ADDED)))  # fmt: skip
    [create] = github.calls("POST", r"/repos/acme/app/check-runs", status=201)
    assert (create.body["status"], create.body["conclusion"]) == ("completed", "success")


def test_a_second_push_edits_the_summary_and_marks_the_fixed_finding(github, changed_pr):
    run_node(_node("publish_review"), make_ctx(EVENT, _reviewed(ON_ADDED, _finding("app/mod.py", 3, "low", "E5"))))
    first = {c["line"]: c["id"] for c in github.repos["acme/app"].review_comments.values()}
    assert sorted(first) == [2, 3]
    [summary] = github.repos["acme/app"].issues[7].comments

    second_sha = "d00d" + "0" * 36
    github.push("acme/app", 7, second_sha, {"app/mod.py": PATCH + "\n+z = 4"})  # adds new line 6
    out = run_node(_node("publish_review"),
                   make_ctx({**EVENT, "sha": second_sha},
                            _reviewed(_finding("app/mod.py", 3, "low", "E5"), _finding("app/mod.py", 6, "high", "E6"))))  # fmt: skip
    assert (out["comments_added"], out["comments_unchanged"], out["comments_fixed"]) == (1, 1, 1)
    comments = github.repos["acme/app"].review_comments
    assert "Fixed in d00d00000000" in comments[first[2]]["body"] and "fixed -->" in comments[first[2]]["body"]
    assert "Fixed" not in comments[first[3]]["body"]  # still there: neither edited nor commented again
    assert sorted(c["line"] for c in comments.values()) == [2, 3, 6]
    [reviewed_again] = github.calls("POST", r"/repos/acme/app/pulls/7/reviews")[1:]
    assert [c["line"] for c in reviewed_again.body["comments"]] == [6]
    assert github.repos["acme/app"].issues[7].comments == [summary]  # the one summary, edited in place
    [edit] = github.calls("PATCH", r"/repos/acme/app/issues/comments/\d+", status=200)
    assert edit.path.endswith(f"/{summary['id']}") and "d00d00000000" in summary["body"]
    assert out["summary_edited"] is True

    run_node(_node("publish_review"), make_ctx({**EVENT, "sha": second_sha}, _reviewed(
        _finding("app/mod.py", 3, "low", "E5"), _finding("app/mod.py", 6, "high", "E6"))))  # fmt: skip
    assert len(github.calls("POST", r"/repos/acme/app/pulls/7/reviews")) == 2  # nothing new: no third review


def test_quoted_markers_in_other_peoples_comments_are_left_alone(github, changed_pr):
    quote = "> <!-- autopr:summary acme/pr-review -->\n> **AutoPR review** ...\n\nWhy is this high?"
    theirs = github.add_comment("acme/app", 7, quote, author="alice")  # listed before the bot's summary
    first = run_node(_node("publish_review", check_run=False), make_ctx(EVENT, _reviewed(ON_ADDED)))
    second = run_node(_node("publish_review", check_run=False), make_ctx(EVENT, _reviewed(ON_ADDED)))
    assert (first["summary_edited"], second["summary_edited"]) == (False, True)
    assert second["summary_comment_id"] == first["summary_comment_id"] != theirs["id"]
    assert theirs["body"] == quote and github.calls("PATCH", status=403) == []
    assert len(github.repos["acme/app"].issues[7].comments) == 2
    assert len(github.calls("POST", r"/repos/acme/app/pulls/7/reviews")) == 1  # the finding is already commented


def test_publish_review_of_a_real_code_review(project, github, git_repo):
    """code_review on a real checkout, then publish_review: every shown finding, read from the stored session."""
    import subprocess

    from sqlalchemy import select

    from include.db.models import ReviewIssue
    from include.db.session import session_scope

    diff = subprocess.run(["git", "diff", git_repo.first_sha, git_repo.bad_sha, "--", "app/bad.py"],
                          cwd=git_repo.path, capture_output=True, text=True, check=True).stdout  # fmt: skip
    patch = diff[diff.index("@@") :]  # GitHub's "patch" is the hunks, without the file headers
    github.add_pull("acme/app", 7, head_sha=git_repo.bad_sha)
    github.push("acme/app", 7, git_repo.bad_sha, {"app/bad.py": patch})
    event = {**EVENT, "clone_url": git_repo.url, "sha": git_repo.bad_sha, "ref": "main", "base_ref": "main"}
    review = run_node({"id": "review", "type": "action", "label": "r",
                       "config": {"action": "code_review", "min_confidence": 0.0}}, make_ctx(event))  # fmt: skip
    out = run_node(_node("publish_review"), make_ctx(event, {"review": review}))
    with session_scope() as session:
        stored = session.scalars(select(ReviewIssue).where(ReviewIssue.session_id == review["session_id"])).all()
        lines = sorted(r.line for r in stored if r.file_path == "app/bad.py" and r.line)
    assert lines and out["comments_added"] == len(lines) and out["outside_filter"] == 0
    comments = github.repos["acme/app"].review_comments.values()
    assert sorted(c["line"] for c in comments) == lines and {c["path"] for c in comments} == {"app/bad.py"}
    [run] = github.repos["acme/app"].check_runs.values()
    assert len(run["annotations"]) == len(stored) and run["conclusion"] == "failure"  # eval() is critical
    assert run["details_url"].endswith(f"&review={review['session_id']}")
