"""What a review looks like on the pull request: inline comments, check-run annotations, one summary.

Pure planning, no HTTP: given the findings, the pull request's diff and what
the bot already wrote there, decide which review comments to add, which earlier
ones to mark fixed, which annotations the check run gets (in GitHub's batches)
and its conclusion.  State lives on the code host itself: every comment the bot
writes carries a hidden marker — ``<!-- autopr:finding <fingerprint> -->`` on an
inline comment, ``<!-- autopr:summary <project>/<workflow> -->`` on the summary —
so a later push finds its own earlier output without a table of its own.

A finding's fingerprint is its file, rule and message (and its rank among equal
ones in that file), not its line: a finding that only moved is the same finding
and is not commented again.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from include.codehost.diff import FileDiff, FilterMode, commentable, in_filter
from include.enums import Severity

#: The Checks API takes at most this many annotations per request (create or update).
ANNOTATIONS_PER_REQUEST = 50
# The bot ends each inline comment with this marker; a marker elsewhere (someone quoting one) is not the bot's.
FINDING_MARKER = re.compile(r"<!-- autopr:finding (?P<fp>[0-9a-f]{16})(?P<fixed> fixed)? -->\s*\Z")
_LEVELS = {"critical": "failure", "high": "failure", "medium": "warning", "low": "notice", "info": "notice"}


def summary_marker(project: str, workflow: str) -> str:
    """The first line of the bot's summary comment (only a comment starting with it is the bot's)."""
    return f"<!-- autopr:summary {project}/{workflow} -->"


@dataclass(frozen=True)
class Located:
    """A finding as the review output needs it."""

    path: str
    line: int | None
    rule: str
    severity: str
    message: str
    analyzer: str = ""
    fingerprint: str = ""


def fingerprinted(findings: list[dict[str, Any]]) -> list[Located]:
    """The findings with a line-independent fingerprint each (equal findings in one file ranked by line)."""
    ordered = sorted(findings, key=lambda f: (str(f["file_path"]), f.get("line") or 0, str(f["rule"])))
    seen: Counter[tuple[str, str, str]] = Counter()
    out = []
    for f in ordered:
        key = (str(f["file_path"]), str(f["rule"]), str(f["message"]))
        seen[key] += 1
        digest = hashlib.sha256("\x1f".join((*key, str(seen[key]))).encode()).hexdigest()[:16]
        out.append(
            Located(key[0], f.get("line"), key[1], str(f["severity"]), key[2], str(f.get("analyzer", "")), digest)
        )
    return out


def _rank(severity: str) -> int:
    return Severity(severity).rank


def fails(findings: list[Located], fail_level: str) -> bool:
    """Whether the check run fails: a finding at ``fail_level`` or above (``never``: it never fails)."""
    if fail_level == "never":
        return False
    return any(_rank(f.severity) >= _rank(fail_level) for f in findings)


def comment_body(finding: Located) -> str:
    return (
        f"**{finding.severity}** · `{finding.rule}`{f' ({finding.analyzer})' if finding.analyzer else ''}\n\n"
        f"{finding.message}\n\n<!-- autopr:finding {finding.fingerprint} -->"
    )


def fixed_body(body: str, fingerprint: str, sha: str) -> str:
    """An earlier inline comment, marked fixed: struck through, with the commit that no longer has the finding."""
    kept = FINDING_MARKER.sub("", body).strip()
    struck = "\n".join(f"~~{line}~~" if line.strip() else line for line in kept.splitlines())
    return f"✅ Fixed in {sha[:12]}.\n\n{struck}\n\n<!-- autopr:finding {fingerprint} fixed -->"


def annotation(finding: Located) -> dict[str, Any]:
    line = finding.line or 1
    return {
        "path": finding.path,
        "start_line": line,
        "end_line": line,
        "annotation_level": _LEVELS.get(finding.severity, "warning"),
        "title": f"{finding.rule} ({finding.severity})",
        "message": finding.message[:64000] or finding.rule,
    }


def batches(items: list[dict[str, Any]], size: int = ANNOTATIONS_PER_REQUEST) -> list[list[dict[str, Any]]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


@dataclass
class ReviewPlan:
    """What to write on the pull request for one review."""

    new_comments: list[dict[str, Any]] = field(default_factory=list)  # review comments (path/line/side/body)
    fixed: list[tuple[int, str]] = field(default_factory=list)  # (comment id, new body) of earlier comments
    unchanged: int = 0  # findings already commented by an earlier push
    outside_filter: int = 0  # findings the filter mode leaves out: counted, not posted
    outside_diff: list[Located] = field(default_factory=list)  # kept by the filter but not on a diff line
    kept: list[Located] = field(default_factory=list)


def plan_review(
    findings: list[Located],
    diffs: dict[str, FileDiff],
    mode: FilterMode,
    existing: list[dict[str, Any]],
    head_sha: str,
) -> ReviewPlan:
    """Decide new inline comments and which of the bot's earlier ones (``existing``) are now fixed."""
    plan = ReviewPlan()
    active: dict[str, dict[str, Any]] = {}
    for comment in existing:
        match = FINDING_MARKER.search(comment.get("body") or "")
        if match and not match.group("fixed") and comment.get("in_reply_to_id") is None:
            active.setdefault(match.group("fp"), comment)
    current = {f.fingerprint for f in findings}
    for finding in findings:
        if not in_filter(diffs, finding.path, finding.line, mode):
            plan.outside_filter += 1
            continue
        plan.kept.append(finding)
        if finding.fingerprint in active:
            plan.unchanged += 1
        elif commentable(diffs, finding.path, finding.line):
            plan.new_comments.append(
                {"path": finding.path, "line": finding.line, "side": "RIGHT", "body": comment_body(finding)}
            )
        else:
            plan.outside_diff.append(finding)
    for fingerprint, comment in active.items():
        if fingerprint not in current:
            plan.fixed.append((int(comment["id"]), fixed_body(comment.get("body") or "", fingerprint, head_sha)))
    return plan


def review_body(plan: ReviewPlan, mode: FilterMode) -> str:
    """The body of a review that adds inline comments (the details live in the one summary comment)."""
    return f"**AutoPR review**: {len(plan.new_comments)} new comment(s) on the changed lines (filter: `{mode}`)."


def summary_details(plan: ReviewPlan, mode: FilterMode) -> str:
    """What the summary comment says about placement: counts, and the kept findings no diff line can hold."""
    counts = (f"{len(plan.kept)} finding(s) kept by the `{mode}` filter: {len(plan.new_comments)} newly commented, "
              f"{plan.unchanged} already commented, {len(plan.fixed)} fixed since the last push.")  # fmt: skip
    lines = [counts]
    if plan.outside_filter:
        lines.append(f"{plan.outside_filter} finding(s) outside the `{mode}` filter, not commented.")
    if plan.outside_diff:
        lines.append("\nNot on a line of the diff:")
        lines += [f"- `{f.path}:{f.line or '-'}` **{f.severity}** `{f.rule}`: {f.message}" for f in plan.outside_diff]
    return "\n".join(lines)
