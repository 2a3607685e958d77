"""SARIF 2.1.0 through the reviews API: a stored review out as SARIF, a SARIF log in as a review.

Every log the API writes, and every log these tests post, is validated against
the official SARIF 2.1.0 JSON schema, pinned in ``tests/contracts`` (Microsoft's
SARIF multitool package ships it).
"""

from __future__ import annotations

import copy
import functools
import json

import jsonschema
import pytest

from tests.api.conftest import auth
from tests.contracts.github_openapi import MODULES, ensure_installed

SCHEMA = MODULES / "@microsoft" / "sarif-multitool-linux" / "sarif-2.1.0.json"

ISSUES = [
    {"file_path": "app/db.py", "line": 12, "rule": "S608", "analyzer": "ruff", "severity": "critical",
     "message": "Possible SQL injection"},
    {"file_path": "app/db.py", "line": 40, "rule": "E501", "analyzer": "ruff", "severity": "medium",
     "message": "Line too long"},
    {"file_path": "app/web.py", "line": 3, "rule": "B101", "analyzer": "bandit", "severity": "low",
     "message": "assert used"},
    {"file_path": "app/web.py", "line": 9, "rule": "B311", "analyzer": "bandit", "severity": "info",
     "message": "random is not for security", "context": {"hidden": True}},
]


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    ensure_installed()
    schema = json.loads(SCHEMA.read_text(encoding="utf-8-sig"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def assert_valid_sarif(log: dict) -> None:
    errors = sorted(_validator().iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]]


def _post(client, body, user="ed"):
    return client.post("/api/v1/projects/acme/reviews", headers=auth(user), json=body)


def _sarif_of(client, review_id):
    r = client.get(f"/api/v1/projects/acme/reviews/{review_id}/sarif", headers=auth("vic"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/sarif+json")
    log = r.json()
    assert_valid_sarif(log)
    return log


def _results(log):
    return {(run["tool"]["driver"]["name"], res["ruleId"]): res for run in log["runs"] for res in run["results"]}


SHA = "a" * 40


def test_a_stored_review_as_sarif(client, project):
    from include.codehost.review_output import fingerprinted

    r = _post(client, {"repository": "acme/api", "commit_sha": SHA, "ref": "feature", "pr_number": 7,
                       "issues": ISSUES})
    assert r.status_code == 201, r.text
    log = _sarif_of(client, r.json()["id"])

    assert log["version"] == "2.1.0"
    assert sorted(run["tool"]["driver"]["name"] for run in log["runs"]) == ["bandit", "ruff"]
    ruff = next(run for run in log["runs"] if run["tool"]["driver"]["name"] == "ruff")
    assert [rule["id"] for rule in ruff["tool"]["driver"]["rules"]] == ["S608", "E501"]
    assert ruff["versionControlProvenance"] == [
        {"repositoryUri": "https://github.com/acme/api", "revisionId": SHA, "branch": "feature"}]
    results = _results(log)
    assert {k: r["level"] for k, r in results.items()} == {
        ("ruff", "S608"): "error", ("ruff", "E501"): "warning", ("bandit", "B101"): "note", ("bandit", "B311"): "none"}
    s608 = results[("ruff", "S608")]
    assert s608["properties"]["severity"] == "critical"
    assert s608["locations"][0]["physicalLocation"] == {"artifactLocation": {"uri": "app/db.py"},
                                                       "region": {"startLine": 12}}
    assert s608["message"]["text"] == "Possible SQL injection"
    # the fingerprint of the bot's pull-request comments, over the shown findings only
    shown = {(f.rule): f.fingerprint for f in fingerprinted([i for i in ISSUES if "context" not in i])}
    for (_, rule), result in results.items():
        if rule == "B311":
            assert "partialFingerprints" not in result and result["suppressions"][0]["kind"] == "external"
        else:
            assert result["partialFingerprints"] == {"autopr/v1": shown[rule]}


def test_sarif_shows_the_models_prediction(client, project, db):
    from sqlalchemy import update

    from include.db.models import ReviewIssue

    review = _post(client, {"repository": "acme/api", "issues": ISSUES[:1]}).json()
    with db.begin() as conn:
        conn.execute(update(ReviewIssue).where(ReviewIssue.session_id == review["id"])
                     .values(predicted_severity="high", confidence=0.8, model_version="3"))
    log = _sarif_of(client, review["id"])
    props = log["runs"][0]["results"][0]["properties"]
    assert (props["severity"], props["predicted_severity"], props["confidence"]) == ("critical", "high", 0.8)
    assert "versionControlProvenance" not in log["runs"][0]  # no commit known


EXTERNAL = {
    "version": "2.1.0",
    "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
    "runs": [{
        "tool": {"driver": {"name": "semgrep", "rules": [
            {"id": "py.sql", "defaultConfiguration": {"level": "error"}},
            {"id": "py.todo", "messageStrings": {"default": {"text": "a TODO is left"}}}]}},
        "versionControlProvenance": [{"repositoryUri": "https://github.com/acme/api", "revisionId": SHA,
                                      "branch": "main"}],
        "results": [
            {"ruleId": "py.sql", "message": {"text": "SQL built from input"},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": "src/q%20x.py"},
                                                 "region": {"startLine": 5}}}]},
            {"ruleIndex": 1, "level": "note", "message": {"id": "default"},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": "file:///src/a.py"}}}]},
            {"ruleId": "py.warn", "level": "warning", "message": {"text": "w"},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": "./src/b.py"},
                                                 "region": {"startLine": 2}}}]},
        ],
    }],
}


def test_posting_a_sarif_log_stores_its_results(client, project):
    assert_valid_sarif(EXTERNAL)
    r = _post(client, {"repository": "acme/api", "pr_number": 3, "format": "sarif", "sarif": EXTERNAL})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["source"], body["commit_sha"], body["ref"]) == ("sarif", SHA, "main")
    got = [(i["analyzer"], i["rule"], i["severity"], i["file_path"], i["line"], i["message"]) for i in body["issues"]]
    assert got == [
        ("semgrep", "py.sql", "high", "src/q x.py", 5, "SQL built from input"),  # level from the rule's default
        ("semgrep", "py.todo", "low", "src/a.py", None, "a TODO is left"),
        ("semgrep", "py.warn", "medium", "src/b.py", 2, "w"),
    ]


@pytest.mark.parametrize(("mutate", "pointer"), [
    (lambda log: log["runs"][0]["results"][2].pop("ruleId"), "/sarif/runs/0/results/2/ruleId"),
    (lambda log: log["runs"][0]["results"][0]["locations"].clear(),
     "/sarif/runs/0/results/0/locations/0/physicalLocation/artifactLocation/uri"),
    (lambda log: log["runs"][0]["results"][2].update(level="catastrophic"), "/sarif/runs/0/results/2/level"),
    (lambda log: log["runs"][0]["results"][0].update(message={"text": ""}), "/sarif/runs/0/results/0/message/text"),
    (lambda log: log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"].update(
        uri="x" * 1001), "/sarif/runs/0/results/0/locations/0/physicalLocation/artifactLocation/uri"),
    (lambda log: log.update(version="2.0.0"), "/sarif/version"),
])
def test_a_malformed_result_is_refused_with_its_pointer(client, project, db, mutate, pointer):
    from sqlalchemy import func, select

    from include.db.models import ReviewSession

    log = copy.deepcopy(EXTERNAL)
    mutate(log)
    r = _post(client, {"repository": "acme/api", "format": "sarif", "sarif": log})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert pointer in [e["pointer"] for e in r.json()["errors"]]
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ReviewSession)).scalar() == 0


def test_format_and_body_must_agree(client, project):
    r = _post(client, {"repository": "acme/api", "format": "sarif", "issues": ISSUES[:1]})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/sarif"
    r = _post(client, {"repository": "acme/api", "sarif": EXTERNAL})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/format"
    assert _post(client, {"repository": "acme/api", "format": "sarif", "sarif": EXTERNAL}, user="vic").status_code == 403


def test_round_trip_keeps_rule_level_and_location(client, project):
    first = _post(client, {"repository": "acme/api", "commit_sha": SHA, "issues": ISSUES}).json()
    out = _sarif_of(client, first["id"])
    again = _post(client, {"repository": "acme/api", "format": "sarif", "sarif": out})
    assert again.status_code == 201, again.text
    assert again.json()["commit_sha"] == SHA
    back = _sarif_of(client, again.json()["id"])

    def kept(log):
        return sorted((run["tool"]["driver"]["name"], r["ruleId"], r["level"], r["properties"]["severity"],
                       json.dumps(r["locations"]), r["message"]["text"]) for run in log["runs"] for r in run["results"])

    assert kept(back) == kept(out)
    assert sorted(i["severity"] for i in again.json()["issues"]) == sorted(i["severity"] for i in first["issues"])
