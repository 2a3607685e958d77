"""SARIF 2.1.0, both ways: a stored review as a SARIF log, and an external analyser's SARIF log as review issues.

Why this module exists: SARIF is what code scanning, IDEs and most analysers
speak, so a review must leave the platform in it and an external tool must be
able to hand its log in unchanged.  One mapping, here; the API route only
translates HTTP.

Out: one run per analyser (``tool.driver.name``, its rules by id); each issue a
result with the SARIF level of its platform severity, the platform severity and
the model's prediction and confidence in ``properties``, its location relative
to the repository root, and in ``partialFingerprints`` the fingerprint the bot's
pull-request comments carry (``include.codehost.review_output``), so code
scanning and the comments name a finding alike.  Issues hidden by the
confidence threshold are results with an external suppression.

In: every result of every run becomes an issue (level → severity through
:func:`include.reviews.feedback.severity_from_level`; a platform severity in
``properties.severity``, as this module writes it, wins, so a log read back
keeps ``critical``).  A result the platform cannot store is refused with the
JSON pointer of that result's part inside the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from include.db.models import ReviewIssue, ReviewSession
from include.enums import Severity
from include.reviews.feedback import UnknownSeverityLevel, severity_from_level
from include.reviews.feedback_sources import shown_findings

MEDIA_TYPE = "application/sarif+json"
SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
#: The key of the platform's fingerprint in ``partialFingerprints`` (versioned, as SARIF asks).
FINGERPRINT_KEY = "autopr/v1"
SARIF_LEVELS = {Severity.critical: "error", Severity.high: "error", Severity.medium: "warning",
                Severity.low: "note", Severity.info: "none"}  # fmt: skip
#: A result without a level has the level of its rule's default configuration, else this (SARIF §3.27.10).
DEFAULT_LEVEL = "warning"


def repository_uri(api_url: str, repository: str) -> str:
    """The web address of ``owner/name`` on the code host whose REST API is ``api_url``."""
    parts = urlsplit(api_url)
    host = parts.netloc.removeprefix("api.")
    base = parts.path.removesuffix("/").removesuffix("/api/v3")
    return f"{parts.scheme}://{host}{base}/{repository}"


def _location(issue: ReviewIssue) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": quote(issue.file_path.lstrip("/"))}}
    if issue.line:  # SARIF lines start at 1; line 0 / none means the whole file
        physical["region"] = {"startLine": issue.line}
    return {"physicalLocation": physical}


def _result(issue: ReviewIssue, rule_index: int, fingerprint: str | None) -> dict[str, Any]:
    properties: dict[str, Any] = {"severity": issue.severity.value, "confidence": issue.confidence,
                                  "issue_id": issue.id}  # fmt: skip
    if issue.predicted_severity is not None:
        properties["predicted_severity"] = issue.predicted_severity.value
    if issue.model_version:
        properties["model_version"] = issue.model_version
    result: dict[str, Any] = {
        "ruleId": issue.rule,
        "ruleIndex": rule_index,
        "level": SARIF_LEVELS[issue.severity],
        "message": {"text": issue.message},
        "locations": [_location(issue)],
        "properties": properties,
    }
    if fingerprint:
        result["partialFingerprints"] = {FINGERPRINT_KEY: fingerprint}
    else:
        result["suppressions"] = [{"kind": "external", "justification": "hidden by the confidence threshold"}]
    return result


def review_log(session: Session, review: ReviewSession, repo_uri: str | None = None) -> dict[str, Any]:
    """The SARIF log of one stored review: one run per analyser (one empty run named after the source if none)."""
    issues = list(session.scalars(
        select(ReviewIssue).where(ReviewIssue.session_id == review.id).order_by(ReviewIssue.id)
    ))  # fmt: skip
    fingerprints = {issue.id: fp for issue, fp in shown_findings(session, review.id)}
    by_analyzer: dict[str, list[ReviewIssue]] = {}
    for issue in issues:
        by_analyzer.setdefault(issue.analyzer, []).append(issue)
    provenance = None
    if repo_uri and review.commit_sha:
        provenance = {"repositoryUri": repo_uri, "revisionId": review.commit_sha}
        if review.ref:
            provenance["branch"] = review.ref
    runs = []
    for analyzer, found in sorted(by_analyzer.items()) or [(review.source, [])]:
        rules = list(dict.fromkeys(i.rule for i in found))
        index = {rule: n for n, rule in enumerate(rules)}
        run: dict[str, Any] = {
            "tool": {"driver": {"name": analyzer, "rules": [{"id": rule} for rule in rules]}},
            "results": [_result(i, index[i.rule], fingerprints.get(i.id)) for i in found],
            "properties": {"review_id": review.id, "repository": review.repository,
                           **({"pr_number": review.pr_number} if review.pr_number else {})},
        }  # fmt: skip
        if provenance:
            run["versionControlProvenance"] = [provenance]
        runs.append(run)
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": runs}


class SarifInputError(ValueError):
    """A SARIF log the platform cannot store; ``errors`` name each culprit by JSON pointer inside the log."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{e['pointer']}: {e['message']}" for e in errors))


@dataclass
class SarifIssue:
    """One result as a review issue, with where each of its fields came from in the log (for error pointers)."""

    issue: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)


def _at(node: Any, *keys: str | int) -> Any:
    for key in keys:
        if isinstance(key, int):
            node = node[key] if isinstance(node, list) and len(node) > key else None
        else:
            node = node.get(key) if isinstance(node, Mapping) else None
    return node


def _file_path(uri: str) -> str:
    """A repository-relative path from an artifact URI (``file:`` URIs and leading ``./`` or ``/`` dropped)."""
    path = urlsplit(uri).path if uri.startswith("file:") else uri
    path = unquote(path)
    while path.startswith(("./", "/")):
        path = path[2:] if path.startswith("./") else path[1:]
    return path


def _one(run_ptr: str, analyzer: str, rules: list[Any], j: int, result: Any,
         problems: list[dict[str, str]]) -> SarifIssue | None:
    ptr = f"{run_ptr}/results/{j}"
    if not isinstance(result, Mapping):
        problems.append({"pointer": ptr, "message": "a result must be an object"})
        return None
    rule_index = result.get("ruleIndex", _at(result, "rule", "index"))
    rule_def = rules[rule_index] if isinstance(rule_index, int) and 0 <= rule_index < len(rules) else None
    rule = result.get("ruleId") or _at(result, "rule", "id") or _at(rule_def, "id")
    if rule_def is None:  # a result naming its rule by id only: the driver's rule of that id, if any
        rule_def = next((r for r in rules if isinstance(r, Mapping) and r.get("id") == rule), None)
    message = _at(result, "message", "text")
    if message is None and isinstance(_at(result, "message", "id"), str):
        message = _at(rule_def, "messageStrings", result["message"]["id"], "text")
    uri = _at(result, "locations", 0, "physicalLocation", "artifactLocation", "uri")
    line = _at(result, "locations", 0, "physicalLocation", "region", "startLine")
    level = result.get("level") or _at(rule_def, "defaultConfiguration", "level") or DEFAULT_LEVEL
    stated = _at(result, "properties", "severity")
    before = len(problems)
    if not isinstance(rule, str) or not rule:
        problems.append({"pointer": f"{ptr}/ruleId", "message": "a result needs a rule (ruleId, rule.id or ruleIndex)"})
    if not isinstance(message, str) or not message:
        problems.append({"pointer": f"{ptr}/message/text", "message": "a result needs a message text"})
    if not isinstance(uri, str) or not _file_path(uri):
        problems.append({"pointer": f"{ptr}/locations/0/physicalLocation/artifactLocation/uri",
                         "message": "a result needs a file location (the review issue's file)"})
    if line is not None and (not isinstance(line, int) or isinstance(line, bool) or line < 1):
        problems.append({"pointer": f"{ptr}/locations/0/physicalLocation/region/startLine",
                         "message": "startLine must be an integer >= 1"})
    try:
        severity = Severity(stated) if stated in Severity._value2member_map_ else severity_from_level(level)
    except UnknownSeverityLevel as exc:
        severity = None
        problems.append({"pointer": f"{ptr}/level", "message": str(exc)})
    if len(problems) > before:
        return None
    confidence = _at(result, "properties", "confidence")
    fingerprints = result.get("partialFingerprints") or {}
    issue = {"file_path": _file_path(uri), "line": line, "rule": rule, "analyzer": analyzer, "severity": severity,
             "message": message, "context": {"sarif_fingerprints": fingerprints} if fingerprints else {}}
    if isinstance(confidence, (int, float)) and not isinstance(confidence, bool) and 0 <= confidence <= 1:
        issue["confidence"] = float(confidence)
    sources = {"file_path": f"{ptr}/locations/0/physicalLocation/artifactLocation/uri",
               "line": f"{ptr}/locations/0/physicalLocation/region/startLine", "rule": f"{ptr}/ruleId",
               "analyzer": f"{run_ptr}/tool/driver/name", "severity": f"{ptr}/level",
               "message": f"{ptr}/message/text", "confidence": f"{ptr}/properties/confidence",
               "context": f"{ptr}/partialFingerprints"}  # fmt: skip
    return SarifIssue(issue, sources)


def issues_from_log(log: Any) -> list[SarifIssue]:
    """Every result of a SARIF 2.1.0 log as a review issue (raises SarifInputError naming every bad part)."""
    if not isinstance(log, Mapping):
        raise SarifInputError([{"pointer": "", "message": "a SARIF log must be an object"}])
    if log.get("version") != SARIF_VERSION:
        raise SarifInputError([{"pointer": "/version", "message": f"only SARIF {SARIF_VERSION} is accepted"}])
    runs = log.get("runs")
    if not isinstance(runs, list):
        raise SarifInputError([{"pointer": "/runs", "message": "runs must be an array"}])
    problems: list[dict[str, str]] = []
    out: list[SarifIssue] = []
    for i, run in enumerate(runs):
        analyzer = _at(run, "tool", "driver", "name")
        if not isinstance(analyzer, str) or not analyzer:
            problems.append({"pointer": f"/runs/{i}/tool/driver/name", "message": "a run needs its tool's name"})
            continue
        rules = _at(run, "tool", "driver", "rules") or []
        results = _at(run, "results") or []
        if not isinstance(results, list):
            problems.append({"pointer": f"/runs/{i}/results", "message": "results must be an array"})
            continue
        for j, result in enumerate(results):
            found = _one(f"/runs/{i}", analyzer, rules if isinstance(rules, list) else [], j, result, problems)
            if found is not None:
                out.append(found)
    if problems:
        raise SarifInputError(problems)
    return out


def provenance(log: Mapping[str, Any]) -> dict[str, str]:
    """The commit and branch the log's first run names in ``versionControlProvenance`` (what of them is given)."""
    first = _at(log, "runs", 0, "versionControlProvenance", 0) or {}
    out = {}
    if isinstance(first.get("revisionId"), str):
        out["commit_sha"] = first["revisionId"]
    if isinstance(first.get("branch"), str):
        out["ref"] = first["branch"]
    return out
