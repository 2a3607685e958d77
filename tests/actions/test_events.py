"""GitHub webhook payloads normalise into CodeHostEvent."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from include.codehost.events import CodeHostEvent, UnsupportedEvent, from_github

REPO = {"full_name": "acme/app", "clone_url": "https://github.com/acme/app.git", "default_branch": "main"}


def _pr(action, **pr):
    return {
        "action": action,
        "number": 7,
        "repository": REPO,
        "sender": {"login": "bob"},
        "pull_request": {
            "number": 7,
            "title": "Add risky code",
            "user": {"login": "octocat"},
            "labels": [{"name": "bug"}],
            "head": {"ref": "feature", "sha": "a" * 40, "repo": {"clone_url": "https://github.com/fork/app.git"}},
            "base": {"ref": "main", "sha": "b" * 40},
            **pr,
        },
    }


def test_pull_request_opened_and_synchronize():
    opened = from_github("pull_request", _pr("opened"), delivery_id="d-1")
    assert opened.kind == "pr_opened"
    assert (opened.repository, opened.pr_number, opened.sha, opened.ref, opened.base_ref) == (
        "acme/app",
        7,
        "a" * 40,
        "feature",
        "main",
    )
    assert opened.clone_url == "https://github.com/fork/app.git"  # the head repo holds the commit (forks)
    assert opened.author == "octocat" and opened.labels == ["bug"] and opened.delivery_id == "d-1"
    assert from_github("pull_request", _pr("synchronize")).kind == "pr_updated"
    assert from_github("pull_request", _pr("reopened")).kind == "pr_opened"
    conf = opened.to_conf()
    assert conf["event"]["kind"] == "pr_opened" and "issue_number" not in conf["event"]
    assert CodeHostEvent.model_validate(conf["event"]) == opened  # round-trips through DAG-run conf


def test_push_collects_changed_files():
    payload = {
        "ref": "refs/heads/main",
        "after": "c" * 40,
        "repository": REPO,
        "pusher": {"name": "alice"},
        "commits": [{"added": ["a.py"], "modified": ["b.py"]}, {"modified": ["a.py", "c.md"]}],
    }
    event = from_github("push", payload)
    assert (event.kind, event.ref, event.sha, event.author) == ("push", "main", "c" * 40, "alice")
    assert event.files == ["a.py", "b.py", "c.md"]
    with pytest.raises(UnsupportedEvent):
        from_github("push", {**payload, "deleted": True, "after": "0" * 40})


def test_issue_opened():
    event = from_github(
        "issues",
        {
            "action": "opened",
            "repository": REPO,
            "issue": {"number": 12, "title": "Bug", "user": {"login": "eve"}, "labels": [{"name": "triage"}]},
        },
    )
    assert (event.kind, event.issue_number, event.author, event.labels) == ("issue_created", 12, "eve", ["triage"])


def test_unsupported_and_malformed_payloads():
    with pytest.raises(UnsupportedEvent):
        from_github("pull_request", _pr("closed"))
    with pytest.raises(UnsupportedEvent):
        from_github("star", {"repository": REPO})
    with pytest.raises(ValueError, match="repository.full_name"):
        from_github("push", {"ref": "refs/heads/main"})
    with pytest.raises(ValidationError, match="owner/name"):
        CodeHostEvent(kind="manual", repository="just-a-name")
    with pytest.raises(ValidationError):
        CodeHostEvent(kind="manual", unknown_field=1)
