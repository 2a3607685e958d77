"""👍/👎 on the bot's finding comments, polled: GitHub sends no webhook for reactions.

Why this module exists: a reaction is the cheapest feedback a reviewer can
give, and the only way to see one is to ask.  One poll of a repository:

1. lists its review comments updated since the repository's cursor
   (``GET /pulls/comments?sort=updated&direction=asc&since=``) and remembers
   the bot's finding comments among them (``codehost_finding_comments``) — a
   reaction does not touch its comment's ``updated_at``, so the comments must
   be remembered to be asked again; a comment the bot has since marked fixed
   is a *weak* ``helpful`` (``line_changed``: the next push changed the
   finding's line and the finding went away);
2. lists the open pull requests and, for each remembered finding comment on
   one of them, its reactions: ``+1`` → ``helpful``, ``-1`` → ``not_helpful``,
   once per reaction id; reactions by the comment's author (the bot itself)
   and other contents are left alone;
3. moves the cursor to the newest ``updated_at`` it saw (``since`` is
   inclusive: the next poll sees that comment again, which the idempotency
   keys make harmless).

The Airflow DAG ``codehost_feedback_poll`` runs :func:`poll_repository` for each
bound repository on a schedule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from include.codehost.feedback_commands import finding_fingerprint
from include.codehost.github import GitHubActions
from include.db.models import FeedbackPollCursor, FindingComment, repository_key, utcnow
from include.db.session import session_scope
from include.enums import FeedbackType
from include.reviews.feedback import FeedbackIn, FeedbackSource
from include.reviews.feedback_sources import record_codehost_feedback

#: Reaction contents that are feedback, and what they say.
REACTION_FEEDBACK = {"+1": FeedbackType.helpful, "-1": FeedbackType.not_helpful}


class PollResult(BaseModel):
    repository: str
    comments_seen: int = 0
    finding_comments: int = 0
    reactions_seen: int = 0
    recorded: int = 0
    duplicates: int = 0
    rejected: list[str] = []
    cursor: datetime | None = None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value)


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def _count(result: PollResult, outcome) -> None:
    if outcome.outcome == "recorded":
        result.recorded += 1
    elif outcome.outcome == "duplicate":
        result.duplicates += 1
    else:
        result.rejected.append(outcome.reason)


def _remember(repository: str, comments: list[dict[str, Any]], result: PollResult) -> None:
    """Step 1: the bot's finding comments among ``comments``; newly fixed ones are weak feedback."""
    key = repository_key(repository)
    for comment in comments:
        marked = finding_fingerprint(comment)
        author = (comment.get("user") or {}).get("login")
        pr_number = _pull_number(comment)
        if marked is None or not author or pr_number is None:
            continue
        fingerprint, fixed = marked
        with session_scope() as session:
            same = list(session.scalars(select(FindingComment).where(
                FindingComment.repository_key == key, FindingComment.pr_number == pr_number,
                FindingComment.fingerprint == fingerprint)))
            if any(r.comment_id < int(comment["id"]) for r in same):
                continue  # a later comment with the bot's marker quotes the bot's (see finding_fingerprint)
            for quote in same:
                if quote.comment_id > int(comment["id"]):
                    session.delete(quote)  # seen first, but the bot's comment is older
            row = next((r for r in same if r.comment_id == int(comment["id"])), None)
            if row is None:
                row = FindingComment(repository_key=key, comment_id=int(comment["id"]), pr_number=pr_number,
                                     fingerprint=fingerprint, author_login=author)
                session.add(row)
            row.fixed, row.updated_at = fixed, utcnow()
            if fixed:
                _count(result, record_codehost_feedback(
                    session, repository=repository, pr_number=pr_number, fingerprint=fingerprint, login=author,
                    feedback=FeedbackIn(feedback_type=FeedbackType.helpful), source=FeedbackSource.line_changed,
                    idempotency_key=f"github:fixed:{comment['id']}",
                ))
        result.finding_comments += 1


def _pull_number(comment: dict[str, Any]) -> int | None:
    url = comment.get("pull_request_url") or ""
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def poll_repository(gh: GitHubActions, repository: str) -> PollResult:
    """One incremental poll of ``repository`` (see module doc); safe to repeat."""
    key = repository_key(repository)
    result = PollResult(repository=repository)
    with session_scope() as session:
        cursor = session.get(FeedbackPollCursor, key)
        since = cursor.comments_since if cursor is not None else None

    comments = gh.repo_review_comments(since=_iso(since))
    result.comments_seen = len(comments)
    _remember(repository, comments, result)
    newest = max((t for t in (_time(c.get("updated_at")) for c in comments) if t is not None), default=since)

    open_numbers = {int(p["number"]) for p in gh.open_pulls()}
    with session_scope() as session:
        tracked = [(r.comment_id, r.pr_number, r.fingerprint, r.author_login) for r in session.scalars(
            select(FindingComment).where(FindingComment.repository_key == key).order_by(FindingComment.comment_id))
            if r.pr_number in open_numbers]
    for comment_id, pr_number, fingerprint, author in tracked:
        for reaction in gh.review_comment_reactions(comment_id):
            feedback_type = REACTION_FEEDBACK.get(reaction.get("content"))
            login = (reaction.get("user") or {}).get("login")
            if feedback_type is None or not login or login == author:
                continue
            result.reactions_seen += 1
            with session_scope() as session:
                _count(result, record_codehost_feedback(
                    session, repository=repository, pr_number=pr_number, fingerprint=fingerprint, login=login,
                    feedback=FeedbackIn(feedback_type=feedback_type), source=FeedbackSource.reaction,
                    idempotency_key=f"github:reaction:{comment_id}:{reaction['id']}",
                ))

    with session_scope() as session:
        cursor = session.get(FeedbackPollCursor, key) or FeedbackPollCursor(repository_key=key)
        cursor.comments_since, cursor.polled_at = newest, utcnow()
        session.add(cursor)
    result.cursor = newest
    return result


def repositories_to_poll() -> list[str]:
    """The repositories some project reviews (the DAG maps one poll over them)."""
    from include.reviews.feedback_sources import bound_repositories

    with session_scope() as session:
        return bound_repositories(session)


def poll(repository: str, conn_id: str | None = None) -> dict[str, Any]:
    """One poll through the Airflow GitHub connection ``conn_id`` (default ``github_default``), as JSON."""
    from include.codehost.github import DEFAULT_CONN_ID, github_client

    gh = GitHubActions(github_client(conn_id or DEFAULT_CONN_ID), repository)
    return poll_repository(gh, repository).model_dump(mode="json")
