"""Read models of stored reviews for people: pull requests with their latest review, one review's findings, trends.

Why this module exists: the dashboard's review view (``dashboard_server.reviews``)
shows what the platform API stores (``include.api.routes.reviews``) in the shape a
reviewer reads it — per pull request, the newest review with its score, gate and
counts; per finding what the analyser said, what the model said and whether the
threshold hid it, with the feedback already given.  The queries live here, in the
domain layer, so any reader (the sidecar today, the API if it wants the same
view) gets one answer.  Every function takes the caller's SQLAlchemy session and
only reads.

Where the numbers come from (what the review actions store, ``include.actions.quality``):

* ``quality_score``, ``passed``, ``errors_count``, ``min_confidence`` are in the
  session's ``stats``; ``passed`` is missing for ``code_review`` sessions, whose
  gate is "no error-level finding shown" (``errors_count == 0``);
* a finding below the confidence threshold is stored with ``context.hidden``:
  kept for the learning system, never posted — the view shows it as hidden;
* the confidence compared with the threshold is ``context.shown_confidence``
  (the calibrated P(helpful) when a helpfulness model is served, flagged by
  ``context.helpfulness``), else the analyser's own ``confidence``;
  ``context.model_confidence`` is the severity model's probability of its class.

Feedback is append-only (a reviewer changing their mind adds a row), so counts
take each user's latest row per finding; a row with a ``corrected_severity`` is
"wrong severity" whatever its type (the reply command stores it as ``helpful``
with the correction, :mod:`include.codehost.feedback_commands`), and a
``good_catch`` counts as helpful; a ``missed_issue`` is about a finding the tool
did not make, so no rule's rate counts it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from include.db.models import MLFeedback, Project, ReviewIssue, ReviewSession
from include.enums import FeedbackType, Severity

#: What a reviewer can say from the view; ``wrong_severity`` carries the severity they pick.
FEEDBACK_KINDS = ("helpful", "not_helpful", "false_positive", "wrong_severity")


def feedback_kind(feedback_type: FeedbackType | str, corrected_severity: Severity | str | None) -> str:
    """How a feedback row reads in the view: ``wrong_severity`` when it corrects the severity, else its type."""
    if corrected_severity not in (None, ""):
        return "wrong_severity"
    kind = FeedbackType(feedback_type)
    return "helpful" if kind is FeedbackType.good_catch else kind.value


def project_id_of(session: Session, project_slug: str) -> int | None:
    return session.scalar(select(Project.id).where(Project.slug == project_slug))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def passed_of(stats: dict[str, Any]) -> bool | None:
    """The review's gate: ``stats.passed`` when the action decided one, else no error-level finding shown."""
    if isinstance(stats.get("passed"), bool):
        return stats["passed"]
    errors = stats.get("errors_count")
    return errors == 0 if isinstance(errors, int) and not isinstance(errors, bool) else None


def _counts(session: Session, session_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per review: shown findings by severity, and how many the threshold hid."""
    hidden = ReviewIssue.context["hidden"].as_boolean()
    is_hidden = case((hidden.is_(True), 1), else_=0).label("is_hidden")
    rows = session.execute(
        select(ReviewIssue.session_id, ReviewIssue.severity, is_hidden, func.count())
        .where(ReviewIssue.session_id.in_(session_ids))
        .group_by(ReviewIssue.session_id, ReviewIssue.severity, is_hidden)
    ).all()
    out = {sid: {"by_severity": {s.value: 0 for s in Severity}, "shown": 0, "hidden": 0} for sid in session_ids}
    for session_id, severity, hidden_flag, count in rows:
        entry = out[session_id]
        if hidden_flag:
            entry["hidden"] += count
        else:
            entry["shown"] += count
            entry["by_severity"][Severity(severity).value] += count
    return out


def _review_head(row: ReviewSession, counts: dict[str, Any]) -> dict[str, Any]:
    stats = row.stats or {}
    return {
        "id": row.id,
        "repository": row.repository,
        "pr_number": row.pr_number,
        "ref": row.ref,
        "commit_sha": row.commit_sha,
        "source": row.source,
        "status": row.status,
        "dag_id": row.dag_id,
        "run_id": row.run_id,
        "created_at": row.created_at.isoformat(),
        "quality_score": _number(stats.get("quality_score")),
        "passed": passed_of(stats),
        "threshold": _number(stats.get("min_confidence")),
        "model_version": stats.get("model_version") if isinstance(stats.get("model_version"), str) else None,
        "by_severity": counts["by_severity"],
        "shown_count": counts["shown"],
        "hidden_count": counts["hidden"],
    }


def pull_requests(
    session: Session, project_id: int, *, repository: str | None = None, before: int | None = None, limit: int = 25
) -> list[dict[str, Any]]:
    """The project's pull requests, newest review first, each with its latest review (``reviews``: how many it had).

    A review without a pull request number (a push to a branch) stands for its ref.
    Page on with ``before`` (the ``id`` of the last latest review on the page).
    """
    change = (
        ReviewSession.repository,
        ReviewSession.pr_number,
        case((ReviewSession.pr_number.is_(None), ReviewSession.ref), else_=None),
    )
    ranked = select(
        ReviewSession.id.label("id"),
        func.row_number().over(partition_by=change, order_by=ReviewSession.id.desc()).label("rank"),
        func.count().over(partition_by=change).label("reviews"),
    ).where(ReviewSession.project_id == project_id)
    if repository is not None:
        ranked = ranked.where(ReviewSession.repository == repository)
    ranked = ranked.subquery()
    latest = select(ranked.c.id, ranked.c.reviews).where(ranked.c.rank == 1)
    if before is not None:
        latest = latest.where(ranked.c.id < before)
    picked = session.execute(latest.order_by(ranked.c.id.desc()).limit(limit)).all()
    if not picked:
        return []
    ids = [r.id for r in picked]
    rows = {r.id: r for r in session.scalars(select(ReviewSession).where(ReviewSession.id.in_(ids)))}
    counts = _counts(session, ids)
    return [{**_review_head(rows[r.id], counts[r.id]), "reviews": int(r.reviews)} for r in picked]


def _confidence(issue: ReviewIssue) -> dict[str, Any]:
    context = issue.context or {}
    shown = _number(context.get("shown_confidence"))
    return {
        "confidence": shown if shown is not None else float(issue.confidence),
        "calibrated": _number(context.get("helpfulness")) is not None,
        "model_confidence": _number(context.get("model_confidence")),
    }


def feedback_on(
    session: Session, issue_ids: list[int], username: str
) -> tuple[dict[int, dict[str, int]], dict[int, dict[str, Any]]]:
    """Per issue: counts by kind of each user's latest feedback, and ``username``'s latest (``mine``)."""
    latest: dict[tuple[int, str], MLFeedback] = {}
    if issue_ids:
        for fb in session.scalars(select(MLFeedback).where(MLFeedback.issue_id.in_(issue_ids)).order_by(MLFeedback.id)):
            latest[(fb.issue_id, fb.username)] = fb
    counts = {issue_id: {k: 0 for k in FEEDBACK_KINDS} for issue_id in issue_ids}
    mine: dict[int, dict[str, Any]] = {}
    for (issue_id, user), fb in latest.items():
        kind = feedback_kind(fb.feedback_type, fb.corrected_severity)
        if kind in FEEDBACK_KINDS:
            counts[issue_id][kind] += 1
        if user == username:
            mine[issue_id] = {
                "id": fb.id, "kind": kind, "source": fb.source,
                "corrected_severity": fb.corrected_severity.value if fb.corrected_severity else None,
            }  # fmt: skip
    return counts, mine


def review_detail(session: Session, project_id: int, review_id: int, username: str) -> dict[str, Any] | None:
    """One review of the project with every finding (shown ones first, worst first), or None when not there.

    Each finding carries the feedback on it: counts by kind (each user's latest
    row) and ``mine``, what ``username`` said last.
    """
    row = session.scalar(
        select(ReviewSession).where(ReviewSession.id == review_id, ReviewSession.project_id == project_id)
    )
    if row is None:
        return None
    issues = list(session.scalars(select(ReviewIssue).where(ReviewIssue.session_id == row.id)))
    by_issue, mine = feedback_on(session, [i.id for i in issues], username)
    findings = []
    for issue in issues:
        context = issue.context or {}
        findings.append({
            "id": issue.id,
            "file_path": issue.file_path,
            "line": issue.line,
            "rule": issue.rule,
            "analyzer": issue.analyzer,
            "severity": issue.severity.value,
            "message": issue.message,
            "predicted_severity": issue.predicted_severity.value if issue.predicted_severity else None,
            "model_version": issue.model_version,
            **_confidence(issue),
            "hidden": bool(context.get("hidden")),
            "feedback": by_issue[issue.id],
            "mine": mine.get(issue.id),
        })  # fmt: skip
    findings.sort(key=lambda f: (f["hidden"], -Severity(f["severity"]).rank, f["file_path"], f["line"] or 0, f["id"]))
    counts = _counts(session, [row.id])[row.id]
    return {**_review_head(row, counts), "findings": findings}


def issue_in_project(session: Session, project_id: int, issue_id: int) -> ReviewIssue | None:
    """The issue when it belongs to a review of the project (the same rule as the API's feedback route)."""
    return session.scalar(
        select(ReviewIssue)
        .join(ReviewSession, ReviewSession.id == ReviewIssue.session_id)
        .where(ReviewIssue.id == issue_id, ReviewSession.project_id == project_id)
    )


#: At most this many reviews feed the quality plot (the newest in the window).
QUALITY_POINTS_MAX = 2000
#: Rules shown in the feedback plot (the ones with the most feedback).
RULES_MAX = 20


def quality_over_time(session: Session, project_id: int, since: datetime) -> list[dict[str, Any]]:
    """Per repository, the quality score of each scored review since ``since``, oldest first."""
    rows = session.execute(
        select(ReviewSession.id, ReviewSession.repository, ReviewSession.created_at, ReviewSession.stats)
        .where(ReviewSession.project_id == project_id, ReviewSession.created_at >= since)
        .order_by(ReviewSession.id.desc())
        .limit(QUALITY_POINTS_MAX)
    ).all()
    series: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for review_id, repository, created_at, stats in reversed(rows):
        score = _number((stats or {}).get("quality_score"))
        if score is not None:
            series[repository].append({"review_id": review_id, "at": created_at.isoformat(), "score": score,
                                       "passed": passed_of(stats or {})})  # fmt: skip
    return [{"repository": repo, "points": points} for repo, points in sorted(series.items())]


def feedback_by_rule(session: Session, project_id: int, since: datetime) -> list[dict[str, Any]]:
    """Per rule (most feedback first): findings since ``since``, and each user's latest feedback on them by kind."""
    in_window = (
        select(ReviewIssue.id, ReviewIssue.rule)
        .join(ReviewSession, ReviewSession.id == ReviewIssue.session_id)
        .where(ReviewSession.project_id == project_id, ReviewIssue.created_at >= since)
        .subquery()
    )
    findings = dict(session.execute(select(in_window.c.rule, func.count()).group_by(in_window.c.rule)).all())
    latest_ids = (
        select(func.max(MLFeedback.id).label("id"))
        .join(in_window, in_window.c.id == MLFeedback.issue_id)
        .group_by(MLFeedback.issue_id, MLFeedback.username)
        .subquery()
    )
    rows = session.execute(
        select(in_window.c.rule, MLFeedback.feedback_type, MLFeedback.corrected_severity)
        .join(MLFeedback, MLFeedback.issue_id == in_window.c.id)
        .where(MLFeedback.id.in_(select(latest_ids.c.id)))
    ).all()
    per_rule: dict[str, dict[str, int]] = defaultdict(lambda: {k: 0 for k in FEEDBACK_KINDS})
    for rule, feedback_type, corrected in rows:
        kind = feedback_kind(feedback_type, corrected)
        if kind in FEEDBACK_KINDS:
            per_rule[rule][kind] += 1
    out = []
    for rule, kinds in per_rule.items():
        given = sum(kinds.values())
        out.append({
            "rule": rule, "findings": int(findings.get(rule, 0)), "feedback": given, "counts": kinds,
            "rates": {k: round(v / given, 4) for k, v in kinds.items()},
        })  # fmt: skip
    out.sort(key=lambda r: (-r["feedback"], r["rule"]))
    return out[:RULES_MAX]
