"""Feedback given on the code host, into the one feedback path: which finding, which user, once.

Why this module exists: a reply command, a polled reaction, a resolved thread
and a fixed finding all name a finding the way the code host sees it — a
repository, a pull request and the fingerprint in the bot's hidden marker
(``include.codehost.review_output``) — and a user by their code-host login.
This module turns that into an issue row and a platform user, and hands the
feedback to :func:`include.reviews.feedback.record_feedback` with an
idempotency key, so each event counts once whatever replays it.

Which issue: the newest review session of that pull request, in a project
bound to the repository, whose shown (not hidden) findings have that
fingerprint — the comment stays in place across pushes while each push stores
a new session, and the newest is the finding as reviewers see it now.

Which user (decided here, once): a code-host login linked in
``codehost_identities`` is that platform user; otherwise a login equal
(case-insensitively) to a member's username of the issue's project is that
member — the platform's usernames are Airflow's, which teams often keep equal
to their GitHub logins; otherwise the row is written as ``github:<login>``.
The login itself is always kept in ``codehost_login``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from include.db.models import CodeHostIdentity, ProjectMember, ProjectRepository, ReviewIssue, ReviewSession
from include.db.models import repository_key as key_of
from include.reviews.feedback import FeedbackIn, FeedbackSource, feedback_by_key, record_feedback

PROVIDER = "github"
#: How many of a pull request's newest review sessions are searched for a fingerprint.
SESSIONS_SEARCHED = 50


class FeedbackOutcome(BaseModel):
    """What one code-host event did as feedback: stored with its delivery and returned by the poll."""

    outcome: Literal["recorded", "duplicate", "ignored", "rejected", "failed"]
    reason: str = ""
    source: str | None = None
    login: str | None = None
    username: str | None = None
    issue_id: int | None = None
    feedback_id: int | None = None
    feedback_type: str | None = None
    corrected_severity: str | None = None
    acknowledged: bool | None = None  # answered on the code host (a 👍 on the reply)


def rejected(reason: str, **fields) -> FeedbackOutcome:
    return FeedbackOutcome(outcome="rejected", reason=reason, **fields)


def bound_project_ids(session: Session, repository: str) -> list[int]:
    return list(session.scalars(
        select(ProjectRepository.project_id).where(ProjectRepository.full_name_key == key_of(repository))
    ))


def bound_repositories(session: Session) -> list[str]:
    """Every repository some project reviews (one spelling per repository)."""
    rows = session.execute(
        select(ProjectRepository.full_name_key, func.min(ProjectRepository.full_name))
        .group_by(ProjectRepository.full_name_key).order_by(ProjectRepository.full_name_key)
    ).all()
    return [name for _key, name in rows]


def shown_findings(session: Session, session_id: int) -> list[tuple[ReviewIssue, str]]:
    """A review session's shown issues with the fingerprint the bot's marker carries for each."""
    from include.codehost.review_output import fingerprinted

    rows = [r for r in session.scalars(
        select(ReviewIssue).where(ReviewIssue.session_id == session_id).order_by(ReviewIssue.id)
    ) if not (r.context or {}).get("hidden")]
    by_content: dict[tuple, list[ReviewIssue]] = defaultdict(list)
    for row in rows:
        by_content[(row.file_path, row.line, row.rule, row.message)].append(row)
    located = fingerprinted([{"file_path": r.file_path, "line": r.line, "rule": r.rule, "message": r.message,
                              "severity": r.severity.value} for r in rows])
    # equal findings on one line are interchangeable: hand them out in id order
    return [(by_content[(f.path, f.line, f.rule, f.message)].pop(0), f.fingerprint) for f in located]


def _pull_sessions(session: Session, repository: str, pr_number: int, project_ids: list[int]) -> list[int]:
    return list(session.scalars(
        select(ReviewSession.id)
        .where(func.lower(ReviewSession.repository) == key_of(repository), ReviewSession.pr_number == pr_number,
               ReviewSession.project_id.in_(project_ids))
        .order_by(ReviewSession.created_at.desc(), ReviewSession.id.desc()).limit(SESSIONS_SEARCHED)
    ))


def finding_issue(session: Session, repository: str, pr_number: int, fingerprint: str) -> ReviewIssue | None:
    """The issue behind the bot's comment with ``fingerprint`` on ``repository#pr_number`` (see module doc)."""
    for session_id in _pull_sessions(session, repository, pr_number, bound_project_ids(session, repository)):
        for issue, fp in shown_findings(session, session_id):
            if fp == fingerprint:
                return issue
    return None


def findings_at(session: Session, repository: str, pr_number: int, path: str,
                line: int | None) -> list[tuple[ReviewIssue, str]]:
    """The newest review's shown findings of the pull request at ``path`` (and ``line``, when given)."""
    for session_id in _pull_sessions(session, repository, pr_number, bound_project_ids(session, repository))[:1]:
        return [(i, fp) for i, fp in shown_findings(session, session_id)
                if i.file_path == path and (line is None or i.line == line)]
    return []


def platform_user(session: Session, login: str, project_id: int) -> str | None:
    """The platform user behind a code-host login, when one is linked (see module doc)."""
    linked = session.scalar(select(CodeHostIdentity.username).where(
        CodeHostIdentity.provider == PROVIDER, CodeHostIdentity.login_key == login.lower()))
    if linked is not None:
        return linked
    return session.scalar(select(ProjectMember.username).where(
        ProjectMember.project_id == project_id, func.lower(ProjectMember.username) == login.lower()))


def link_identity(session: Session, login: str, username: str) -> CodeHostIdentity:
    """Link a code-host login to a platform user (replacing an earlier link of that login)."""
    row = session.scalar(select(CodeHostIdentity).where(
        CodeHostIdentity.provider == PROVIDER, CodeHostIdentity.login_key == login.lower()))
    if row is None:
        row = CodeHostIdentity(provider=PROVIDER, login=login, login_key=login.lower(), username=username)
        session.add(row)
    row.login, row.username = login, username
    session.flush()
    return row


def record_codehost_feedback(
    session: Session,
    *,
    repository: str,
    pr_number: int,
    fingerprint: str,
    login: str,
    feedback: FeedbackIn,
    source: FeedbackSource,
    idempotency_key: str,
) -> FeedbackOutcome:
    """Record what ``login`` said (or did) about the finding with ``fingerprint``, once per ``idempotency_key``."""
    said = {"source": source.value, "login": login, "feedback_type": feedback.feedback_type.value,
            "corrected_severity": feedback.corrected_severity.value if feedback.corrected_severity else None}
    seen = feedback_by_key(session, idempotency_key)
    if seen is not None:
        return FeedbackOutcome(outcome="duplicate", reason="this event was recorded before", issue_id=seen.issue_id,
                               feedback_id=seen.id, username=seen.username, **said)
    issue = finding_issue(session, repository, pr_number, fingerprint)
    if issue is None:
        return rejected(f"no stored finding of {repository}#{pr_number} in a bound project has fingerprint "
                        f"{fingerprint}", **said)
    username = platform_user(session, login, issue.session.project_id)
    row = record_feedback(session, issue, username or f"{PROVIDER}:{login}", feedback, source=source,
                          idempotency_key=idempotency_key, codehost_login=login)
    return FeedbackOutcome(outcome="recorded", issue_id=issue.id, feedback_id=row.id, username=username, **said)
