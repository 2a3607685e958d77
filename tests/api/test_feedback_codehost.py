"""Feedback from where reviewers are: reply commands and resolved threads by webhook, reactions by poll.

A real review is stored (record_review), the bot's finding comments are posted to
the GitHub stand-in through the platform's own client, and reviewers answer there;
every exchange with the stand-in is checked against GitHub's OpenAPI description
and every webhook payload against GitHub's webhooks description.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.api.conftest import auth
from tests.api.test_webhooks import bind, deliver, hook_client, stored  # noqa: F401 - hook_client: a fixture

REPO = "o/r"
PR = 7
SHA = "a" * 40
PATCH = "@@ -0,0 +1,4 @@\n+import os\n+x = eval(input())\n+y = 1\n+print(x)"
FINDINGS = [
    {"file_path": "src/app.py", "line": 2, "rule": "S307", "analyzer": "ruff", "severity": "high",
     "message": "Use of possibly insecure function eval"},
    {"file_path": "src/app.py", "line": 1, "rule": "F401", "analyzer": "ruff", "severity": "low",
     "message": "os imported but unused"},
]


def _hooks():
    from tests.contracts.github_openapi import webhook_contract

    return webhook_contract()


def _repository() -> dict:
    owner, name = REPO.split("/")
    return {"full_name": REPO, "name": name, "owner": {"login": owner}}


def review_reply_payload(comment: dict, action: str = "created") -> dict:
    """A ``pull_request_review_comment`` delivery for ``comment`` (the stand-in's JSON of it)."""
    fields = {k: comment[k] for k in ("id", "body", "path", "line", "side", "commit_id", "user", "created_at",
                                      "updated_at", "in_reply_to_id") if comment.get(k) is not None}
    return _hooks().payload("pull_request_review_comment", action, comment=fields, pull_request={"number": PR},
                            repository=_repository(), sender={"login": comment["user"]["login"]})


def conversation_payload(body: str, login: str, comment_id: int = 555, pull: bool = True) -> dict:
    issue = {"number": PR, **({"pull_request": {"url": "https://github.example/pulls/7"}} if pull else {})}
    return _hooks().payload("issue_comment", "created", issue=issue,
                            comment={"id": comment_id, "body": body, "user": {"login": login, "type": "User"}},
                            repository=_repository(), sender={"login": login})


def thread_payload(root: dict, login: str) -> dict:
    """A ``pull_request_review_thread`` (resolved) delivery for the thread ``root`` starts."""
    hooks = _hooks()
    comment = hooks.payload("pull_request_review_comment", "created")["comment"]
    comment.update({k: root[k] for k in ("id", "body", "path", "line", "commit_id") if k in root},
                   user={**comment["user"], "login": root["user"]["login"]})
    sender = {**hooks.payload("pull_request_review_comment", "created")["sender"], "login": login}
    return hooks.payload("pull_request_review_thread", "resolved", thread={"node_id": "PRRT_1", "comments": [comment]},
                         pull_request={"number": PR}, repository=_repository(), sender=sender)


@pytest.fixture()
def reviewed(hook_client, project, github):  # noqa: F811 - the fixture imported above
    """acme reviews o/r; PR 7 has a stored review with two findings and the bot's comment on each line."""
    from include.codehost.github import GitHubActions, github_client
    from include.codehost.review_output import comment_body, fingerprinted
    from include.db.session import session_scope
    from include.reviews.store import record_review

    bind(hook_client, "acme", REPO)
    with session_scope() as session:
        record_review(session, "acme", REPO, FINDINGS, pr_number=PR, commit_sha=SHA)
    github.add_pull(REPO, PR, SHA, files={"src/app.py": PATCH})
    located = {f.rule: f for f in fingerprinted(FINDINGS)}
    gh = GitHubActions(github_client(), REPO)
    gh.create_review(PR, SHA, "review", [
        {"path": f.path, "line": f.line, "side": "RIGHT", "body": comment_body(f)} for f in located.values()])
    comments = {c["path"] + ":" + str(c["line"]): c for c in gh.review_comments(PR)}
    return {"gh": gh, "located": located, "eval": comments["src/app.py:2"], "unused": comments["src/app.py:1"],
            "client": hook_client, "github": github}


def _feedback_rows():
    from include.db.models import MLFeedback, ReviewIssue
    from include.db.session import session_scope

    with session_scope() as session:
        rows = session.execute(select(MLFeedback, ReviewIssue.rule).join(ReviewIssue)
                               .order_by(MLFeedback.id)).all()
        return [{"rule": rule, "type": f.feedback_type.value, "corrected": f.corrected_severity and
                 f.corrected_severity.value, "source": f.source, "strength": f.strength, "username": f.username,
                 "login": f.codehost_login, "key": f.idempotency_key} for f, rule in rows]


def test_the_payloads_these_tests_deliver_are_githubs(reviewed):
    hooks = _hooks()
    reply = reviewed["github"].add_review_reply(REPO, reviewed["eval"]["id"], "/autopr helpful", "ed")
    assert hooks.problems("pull_request_review_comment", review_reply_payload(reply)) == []
    assert hooks.problems("issue_comment", conversation_payload("/autopr helpful 0123456789abcdef", "ed")) == []
    assert hooks.problems("pull_request_review_thread", thread_payload(reviewed["eval"], "ed")) == []


def test_a_reply_command_lands_once_on_the_right_issue(reviewed):
    client, github = reviewed["client"], reviewed["github"]
    reply = github.add_review_reply(REPO, reviewed["eval"]["id"], "/autopr false-positive\ninput is trusted", "ed")
    r = deliver(client, "pull_request_review_comment", review_reply_payload(reply), delivery="reply-1")
    assert r.status_code == 202, r.text
    said = r.json()["feedback"]
    assert said["outcome"] == "recorded" and said["username"] == "ed" and said["acknowledged"] is True, said
    assert _feedback_rows() == [{"rule": "S307", "type": "false_positive", "corrected": None, "source": "reply_command",
                                 "strength": "explicit", "username": "ed", "login": "ed",
                                 "key": f"github:comment:{reply['id']}:false-positive"}]
    row = stored(client, "reply-1")
    assert row["feedback"]["outcome"] == "recorded" and row["feedback"]["issue_id"] == said["issue_id"]
    # the bot answered the reply with a 👍, through a documented call
    [ack] = github.calls("POST", rf"/repos/{REPO}/pulls/comments/{reply['id']}/reactions", 201)
    assert ack.body == {"content": "+1"}
    # the API lists it with the issue's other feedback
    listed = client.get(f"/api/v1/projects/acme/issues/{said['issue_id']}/feedback", headers=auth("alice"))
    assert [(f["feedback_type"], f["username"]) for f in listed.json()] == [("false_positive", "ed")], listed.text

    # replayed: GitHub's redelivery (same delivery id), and the same comment under a new delivery id
    again = deliver(client, "pull_request_review_comment", review_reply_payload(reply), delivery="reply-1")
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    other = deliver(client, "pull_request_review_comment", review_reply_payload(reply), delivery="reply-2")
    assert other.json()["feedback"]["outcome"] == "duplicate", other.text
    assert len(_feedback_rows()) == 1
    assert len(github.calls("POST", rf"/repos/{REPO}/pulls/comments/{reply['id']}/reactions")) == 1


def test_a_conversation_command_names_its_finding_and_maps_the_login(reviewed):
    from include.db.session import session_scope
    from include.reviews.feedback_sources import link_identity

    client, github = reviewed["client"], reviewed["github"]

    def say(body: str, login: str, **kwargs) -> dict:
        comment = github.add_comment(REPO, PR, body, login)
        return conversation_payload(body, login, comment["id"], **kwargs)

    first = say("/autopr severity critical src/app.py:2", "OctoDev")
    said = deliver(client, "issue_comment", first).json()["feedback"]
    assert said["outcome"] == "recorded" and said["username"] is None and said["acknowledged"] is True, said
    with session_scope() as session:
        link_identity(session, "octodev", "vic")
    fp = reviewed["located"]["F401"].fingerprint
    r = deliver(client, "issue_comment", say(f"/autopr not-helpful {fp}", "OctoDev"))
    assert r.json()["feedback"]["username"] == "vic"
    rows = _feedback_rows()
    assert [(x["rule"], x["type"], x["corrected"], x["username"], x["login"]) for x in rows] == [
        ("S307", "helpful", "critical", "github:OctoDev", "OctoDev"),
        ("F401", "not_helpful", None, "vic", "OctoDev"),
    ]
    [ack] = github.calls("POST", rf"/repos/{REPO}/issues/comments/{first['comment']['id']}/reactions")
    assert ack.status == 201 and ack.body == {"content": "+1"}
    # a line with no finding, or no finding named: nothing, and the delivery says why
    r = deliver(client, "issue_comment", say("/autopr helpful src/app.py:4", "ed"), delivery="conv-none")
    assert r.json()["feedback"]["outcome"] == "rejected" and "no finding" in r.json()["feedback"]["reason"]
    r = deliver(client, "issue_comment", say("/autopr helpful", "ed"))
    assert "name the finding" in r.json()["feedback"]["reason"]
    r = deliver(client, "issue_comment", conversation_payload(f"/autopr helpful {fp}", "ed", 9999, pull=False))
    assert "only pull requests" in r.json()["feedback"]["reason"]
    assert len(_feedback_rows()) == 2
    assert stored(client, "conv-none")["feedback"]["outcome"] == "rejected"


def test_bad_commands_change_nothing_and_the_delivery_says_why(reviewed, project):
    client, github = reviewed["client"], reviewed["github"]
    unknown = github.add_review_reply(REPO, reviewed["eval"]["id"], "/autopr lgtm", "ed")
    r = deliver(client, "pull_request_review_comment", review_reply_payload(unknown), delivery="bad-cmd")
    assert r.status_code == 202 and r.json()["status"] == "ignored"
    row = stored(client, "bad-cmd")
    assert row["feedback"]["outcome"] == "rejected" and "unknown command 'lgtm'" in row["feedback"]["reason"]

    level = github.add_review_reply(REPO, reviewed["eval"]["id"], "/autopr severity enormous", "ed")
    r = deliver(client, "pull_request_review_comment", review_reply_payload(level))
    assert "unknown severity level 'enormous'" in r.json()["feedback"]["reason"]

    human = github.add_review_comment(REPO, PR, "src/app.py", 3, "Why y = 1?", "vic")
    reply = github.add_review_reply(REPO, human["id"], "/autopr helpful", "ed")
    r = deliver(client, "pull_request_review_comment", review_reply_payload(reply), delivery="not-bot")
    assert stored(client, "not-bot")["feedback"]["reason"] == f"comment {human['id']} is not the bot's finding comment"

    # someone quoting the bot's marker at the end of their own top-level comment is not the bot either
    quoted = github.add_review_comment(REPO, PR, "src/app.py", 3, reviewed["eval"]["body"], "ed")
    own = github.add_review_reply(REPO, quoted["id"], "/autopr helpful", "ed")
    r = deliver(client, "pull_request_review_comment", review_reply_payload(own))
    assert "is not the bot's finding comment" in r.json()["feedback"]["reason"]
    third = github.add_review_reply(REPO, quoted["id"], "/autopr helpful", "vic")
    r = deliver(client, "pull_request_review_comment", review_reply_payload(third))
    assert "is not the bot's finding comment" in r.json()["feedback"]["reason"]

    top = github.add_review_comment(REPO, PR, "src/app.py", 3, "/autopr helpful", "ed")
    r = deliver(client, "pull_request_review_comment", review_reply_payload(top))
    assert "must reply to the bot's finding comment" in r.json()["feedback"]["reason"]

    # an ordinary comment is no feedback at all; an edited command is not a new one
    plain = github.add_review_reply(REPO, reviewed["eval"]["id"], "thanks, fixing", "ed")
    assert deliver(client, "pull_request_review_comment", review_reply_payload(plain)).json()["feedback"] is None
    edited = github.add_review_reply(REPO, reviewed["eval"]["id"], "/autopr helpful", "ed")
    r = deliver(client, "pull_request_review_comment", review_reply_payload(edited, action="edited"))
    assert r.json()["feedback"]["outcome"] == "ignored"

    # the repository no longer bound to any project: nothing lands
    r = client.delete(f"/api/v1/projects/acme/repositories/{REPO}", headers=auth("alice"))
    assert r.status_code == 204, r.text
    good = github.add_review_reply(REPO, reviewed["eval"]["id"], "/autopr helpful", "ed")
    r = deliver(client, "pull_request_review_comment", review_reply_payload(good), delivery="unbound-cmd")
    assert "not bound to any project" in stored(client, "unbound-cmd")["feedback"]["reason"]
    assert _feedback_rows() == []
    assert github.calls("POST", rf"/repos/{REPO}/pulls/comments/\d+/reactions") == []


def test_a_resolved_thread_is_a_weak_signal_the_export_leaves_out(reviewed):
    from include.db.session import get_engine
    from ml.export import extract_since

    client = reviewed["client"]
    r = deliver(client, "pull_request_review_thread", thread_payload(reviewed["eval"], "ed"), delivery="thr-1")
    assert r.json()["feedback"]["outcome"] == "recorded", r.text
    again = deliver(client, "pull_request_review_thread", thread_payload(reviewed["eval"], "ed"), delivery="thr-2")
    assert again.json()["feedback"]["outcome"] == "duplicate"
    assert [(x["rule"], x["type"], x["source"], x["strength"]) for x in _feedback_rows()] == [
        ("S307", "not_helpful", "thread_resolved", "weak")]
    assert extract_since(get_engine()).empty  # weak rows are no labels ...
    assert list(extract_since(get_engine(), strengths=("explicit", "weak"))["rule"]) == ["S307"]  # ... unless asked
    # a thread whose finding a push changed (outdated line) is no signal
    outdated = {**reviewed["unused"], "line": None}
    r = deliver(client, "pull_request_review_thread", thread_payload(outdated, "ed"))
    assert r.json()["feedback"]["outcome"] == "ignored"
    assert len(_feedback_rows()) == 1


def test_polled_reactions_land_once_incrementally(reviewed):
    from include.codehost.reactions import poll, repositories_to_poll
    from include.db.models import FeedbackPollCursor
    from include.db.session import session_scope

    github, gh = reviewed["github"], reviewed["gh"]
    eval_id, unused_id = reviewed["eval"]["id"], reviewed["unused"]["id"]
    github.react(REPO, eval_id, "+1", "ed")
    github.react(REPO, eval_id, "heart", "ed")  # not feedback
    github.react(REPO, unused_id, "-1", "vic")
    github.react(REPO, unused_id, "+1", github.bot_login)  # the bot's own: left alone
    quote = github.add_review_comment(REPO, PR, "src/app.py", 3, reviewed["eval"]["body"], "mallory")
    github.react(REPO, quote["id"], "+1", "vic")  # a reaction on someone else's comment: not feedback
    assert repositories_to_poll() == [REPO]

    first = poll(REPO)
    assert (first["finding_comments"], first["recorded"], first["duplicates"]) == (2, 2, 0), first
    assert sorted((x["rule"], x["type"], x["source"], x["username"]) for x in _feedback_rows()) == [
        ("F401", "not_helpful", "reaction", "vic"), ("S307", "helpful", "reaction", "ed")]

    again = poll(REPO)  # replayed: nothing new
    assert (again["recorded"], again["duplicates"]) == (0, 2)
    assert len(_feedback_rows()) == 2
    with session_scope() as session:
        assert session.get(FeedbackPollCursor, REPO.lower()).comments_since is not None
    since = github.calls("GET", rf"/repos/{REPO}/pulls/comments")[-1].query
    assert since["since"] and since["sort"] == ["updated"]  # the second listing started from the cursor

    # a reaction on an old comment (its updated_at unchanged) is still found; a fixed finding is a weak signal
    github.react(REPO, unused_id, "+1", "ed")
    gh.edit_review_comment(eval_id, reviewed["eval"]["body"].replace(" -->", " fixed -->"))
    third = poll(REPO)
    assert third["recorded"] == 2, third
    rows = _feedback_rows()
    assert [(x["rule"], x["type"], x["source"], x["strength"]) for x in rows[2:]] == sorted(
        [("S307", "helpful", "line_changed", "weak"), ("F401", "helpful", "reaction", "explicit")],
        key=lambda x: x[2])

    # a closed pull request's reactions are not asked for any more
    github.repos[REPO].pulls[PR].state = "closed"
    github.react(REPO, eval_id, "-1", "vic")
    calls = len(github.calls("GET", rf"/repos/{REPO}/pulls/comments/\d+/reactions"))
    assert poll(REPO)["reactions_seen"] == 0
    assert len(github.calls("GET", rf"/repos/{REPO}/pulls/comments/\d+/reactions")) == calls
    assert len(_feedback_rows()) == 4


def test_the_poll_dag_records_reactions(airflow_db, reviewed):
    """The scheduled DAG, run for real (``dag.test()``): one mapped poll per bound repository."""
    from pathlib import Path

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags" / "codehost_feedback_poll.py"))
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags["codehost_feedback_poll"]
    assert set(dag.task_ids) == {"repositories", "poll"}
    reviewed["github"].react(REPO, reviewed["eval"]["id"], "-1", "ed")
    run = dag.test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "success", states
    assert [(x["rule"], x["type"], x["source"]) for x in _feedback_rows()] == [("S307", "not_helpful", "reaction")]


def test_a_reply_the_code_host_could_not_check_is_retried_by_redelivery(reviewed, monkeypatch):
    import json

    from tests.support.ports import free_port

    client, github = reviewed["client"], reviewed["github"]
    reply = github.add_review_reply(REPO, reviewed["eval"]["id"], "/autopr good-catch", "ed")
    reachable = json.loads(github.connection_uri_json())
    monkeypatch.setenv("AIRFLOW_CONN_GITHUB_DEFAULT", json.dumps({**reachable, "host": f"http://127.0.0.1:{free_port()}"}))
    r = deliver(client, "pull_request_review_comment", review_reply_payload(reply), delivery="down-1")
    assert r.status_code == 202 and r.json()["feedback"]["outcome"] == "failed", r.text
    assert _feedback_rows() == []
    monkeypatch.setenv("AIRFLOW_CONN_GITHUB_DEFAULT", json.dumps(reachable))
    row_id = stored(client, "down-1")["id"]
    r = client.post(f"/api/v1/webhooks/deliveries/{row_id}/redeliver", headers=auth("admin"))
    assert r.json()["feedback"]["outcome"] == "recorded", r.text
    assert stored(client, "down-1")["feedback"]["outcome"] == "recorded"
    assert [x["type"] for x in _feedback_rows()] == ["good_catch"]
