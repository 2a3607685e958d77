"""publish_review with ``upload_sarif``: the stored review reaches GitHub code scanning as SARIF.

The review is stored the way a quality_check or code_review node stores it
(``record_review``), publish_review runs against the GitHub stand-in, and the
stand-in unpacks what arrived (base64, then gzip) the way code scanning does;
every exchange is checked against GitHub's OpenAPI description on exit.
"""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from include.actions import run_node
from tests.actions.conftest import make_ctx
from tests.support.github_standin import GitHubStandIn

HEAD = "5a21f0" + "0" * 34
EVENT = {"kind": "pr_opened", "repository": "acme/app", "pr_number": 7, "sha": HEAD, "ref": "feature"}
PATCH = "@@ -1,4 +1,5 @@\n import os\n-x = 1\n+x = 2\n+y = 3\n def f():\n     return x"  # new lines 2, 3 added
FINDINGS = [
    {"file_path": "app/mod.py", "line": 2, "rule": "S307", "analyzer": "ruff", "severity": "high",
     "message": "Use of possibly insecure function eval"},
    {"file_path": "app/mod.py", "line": 3, "rule": "F841", "analyzer": "ruff", "severity": "low",
     "message": "Local variable y is assigned to but never used"},
    {"file_path": "app/mod.py", "line": 40, "rule": "C901", "analyzer": "radon", "severity": "medium",
     "message": "f is too complex"},
]  # fmt: skip
SARIFS = r"/repos/acme/app/code-scanning/sarifs"


def _node(**config):
    return {"id": "publish", "type": "action", "label": "publish", "config": {"action": "publish_review", **config}}


@pytest.fixture()
def review(project, github: GitHubStandIn) -> dict:
    """PR 7 with a change to app/mod.py and a stored review of it: the upstream outputs publish_review reads."""
    from include.db.session import session_scope
    from include.reviews.store import record_review

    github.add_pull("acme/app", 7, head_sha=HEAD)
    github.push("acme/app", 7, HEAD, {"app/mod.py": PATCH})
    with session_scope() as session:
        stored = record_review(session, project, "acme/app", FINDINGS, pr_number=7, commit_sha=HEAD)
        return {"review": {"session_id": stored.id, "issues_count": len(FINDINGS)}}


def _unpacked(encoded: str) -> dict:
    return json.loads(gzip.decompress(base64.b64decode(encoded, validate=True)))


def _results(log: dict) -> list[tuple]:
    return sorted(
        (r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
         r["locations"][0]["physicalLocation"]["region"]["startLine"], r["ruleId"], run["tool"]["driver"]["name"],
         r["properties"]["severity"], r["message"]["text"])
        for run in log["runs"] for r in run["results"]
    )  # fmt: skip


def test_the_reviews_sarif_is_uploaded_gzipped_and_base64_encoded(github, review):
    out = run_node(_node(upload_sarif=True), make_ctx(EVENT, review))
    [call] = github.calls("POST", SARIFS)
    assert call.status == 202
    assert (call.body["commit_sha"], call.body["ref"], call.body["tool_name"]) == (HEAD, "refs/pull/7/head",
                                                                                   "AutoPR review")  # fmt: skip
    sent = _unpacked(call.body["sarif"])
    assert sent["version"] == "2.1.0"
    assert _results(sent) == sorted((f["file_path"], f["line"], f["rule"], f["analyzer"], f["severity"], f["message"])
                                    for f in FINDINGS)  # fmt: skip
    [upload] = github.repos["acme/app"].sarif_uploads
    assert upload["sarif"] == sent and (upload["commit_sha"], upload["ref"]) == (HEAD, "refs/pull/7/head")
    assert (out["sarif_upload"], out["sarif_id"]) == ("uploaded", upload["id"])
    # the rest of the review went out as before, and the summary says where the SARIF went
    assert out["comments_added"] == 2 and out["check_run_id"]
    [summary] = github.repos["acme/app"].issues[7].comments
    assert "SARIF uploaded to code scanning." in summary["body"]


def test_without_upload_sarif_code_scanning_is_not_called(github, review):
    out = run_node(_node(), make_ctx(EVENT, review))
    assert github.calls(path_regex=SARIFS) == [] and github.repos["acme/app"].sarif_uploads == []
    assert "sarif_upload" not in out and out["comments_added"] == 2
    assert "SARIF" not in github.repos["acme/app"].issues[7].comments[0]["body"]


def test_a_repository_without_code_scanning_still_gets_its_review(github, review):
    github.repos["acme/app"].code_scanning = False  # GitHub answers 403: Advanced Security not enabled
    out = run_node(_node(upload_sarif=True), make_ctx(EVENT, review))
    [call] = github.calls("POST", SARIFS)
    assert call.status == 403
    assert out["sarif_upload"].startswith("refused: POST /repos/acme/app/code-scanning/sarifs failed with HTTP 403")
    assert "sarif_id" not in out
    # published all the same: the comments, the check run and the summary, which names the refusal
    assert out["comments_added"] == 2 and len(github.repos["acme/app"].review_comments) == 2
    [run] = github.repos["acme/app"].check_runs.values()
    assert run["status"] == "completed"
    [summary] = github.repos["acme/app"].issues[7].comments
    assert "SARIF not uploaded to code scanning (refused:" in summary["body"] and "HTTP 403" in summary["body"]


def test_findings_that_were_never_stored_have_no_sarif_to_upload(github, project):
    github.add_pull("acme/app", 7, head_sha=HEAD)
    github.push("acme/app", 7, HEAD, {"app/mod.py": PATCH})
    out = run_node(_node(upload_sarif=True, check_run=False, summary_comment=False),
                   make_ctx(EVENT, {"review": {"issues": FINDINGS[:1]}}))  # fmt: skip
    assert out["sarif_upload"].startswith("skipped:") and github.calls(path_regex=SARIFS) == []
