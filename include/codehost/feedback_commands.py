"""What comment webhooks say as feedback: ``/autopr`` reply commands and resolved review threads.

Why this module exists: reviewers give feedback where they are — replying to
the bot's inline comment, or in the pull request's conversation — not through
a REST call.  A delivery of ``pull_request_review_comment`` or
``issue_comment`` (action ``created``) whose body has a line starting with
``/autopr`` is a command:

* ``/autopr helpful``, ``not-helpful``, ``false-positive``, ``good-catch``;
* ``/autopr severity <level>`` — the severity the reviewer thinks is right
  (any level :func:`include.reviews.feedback.severity_from_level` knows); the
  finding counts as helpful, with the corrected severity as its label.

A review-comment command must reply (``in_reply_to_id``) to the bot's finding
comment — a top-level review comment ending with the finding marker, written
by someone else than the replier; the parent is fetched from the code host.  A
conversation comment has no parent, so it names the finding after the command:
its fingerprint (16 hex digits) or ``path:line`` when one finding of the newest
review sits there.  The text after the command line is kept as the comment.

``pull_request_review_thread`` (action ``resolved``) on the bot's finding
comment whose finding is neither marked fixed nor on an outdated line (so no
push changed it) is a *weak* ``not_helpful``: the reviewer set it aside
without acting on it.

Each event counts once (the idempotency key names the comment, or the thread);
anything that is not usable feedback changes nothing and its outcome says why.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from include.codehost.github import DEFAULT_CONN_ID, CodeHostError, GitHubActions, github_client
from include.codehost.review_output import FINDING_MARKER
from include.db.session import session_scope
from include.enums import FeedbackType, Severity
from include.reviews.feedback import FeedbackIn, FeedbackSource, UnknownSeverityLevel, severity_from_level
from include.reviews.feedback_sources import (
    FeedbackOutcome,
    bound_project_ids,
    findings_at,
    record_codehost_feedback,
    rejected,
)

log = logging.getLogger(__name__)

#: Webhook events that may carry feedback.
FEEDBACK_EVENTS = frozenset({"issue_comment", "pull_request_review_comment", "pull_request_review_thread"})
COMMAND_PREFIX = "/autopr"
_COMMAND_LINE = re.compile(rf"^\s*{re.escape(COMMAND_PREFIX)}(?:\s+(?P<args>.*))?$", re.MULTILINE)
_TYPES = {"helpful": FeedbackType.helpful, "not-helpful": FeedbackType.not_helpful,
          "false-positive": FeedbackType.false_positive, "good-catch": FeedbackType.good_catch}
COMMANDS = (*_TYPES, "severity <level>")
_FINGERPRINT = re.compile(r"[0-9a-f]{16}")
_PATH_LINE = re.compile(r"(?P<path>[^\s:]+):(?P<line>\d+)")
#: The reaction the bot answers an accepted command with.
ACK_REACTION = "+1"


class CommandError(ValueError):
    """A ``/autopr`` line the platform cannot act on; the message says why."""


@dataclass(frozen=True)
class Command:
    name: str  # canonical, part of the idempotency key
    feedback: FeedbackIn
    target: str | None  # what follows the command (conversation comments name their finding with it)


def parse_command(body: str) -> Command | None:
    """The ``/autopr`` command of a comment body (None when it has none; CommandError when it is not one)."""
    match = _COMMAND_LINE.search(body or "")
    if match is None:
        return None
    args = (match.group("args") or "").split()
    if not args:
        raise CommandError(f"{COMMAND_PREFIX} needs a command: one of {', '.join(COMMANDS)}")
    word = args[0].lower().replace("_", "-")
    comment = (body[match.end():].strip())[:20000]
    if word in ("severity", "wrong-severity"):
        if len(args) < 2:
            raise CommandError(f"{COMMAND_PREFIX} severity needs a level: one of {[s.value for s in Severity]}")
        try:
            level = severity_from_level(args[1])
        except UnknownSeverityLevel as exc:
            raise CommandError(str(exc)) from None
        feedback = FeedbackIn(feedback_type=FeedbackType.helpful, corrected_severity=level, comment=comment)
        return Command(f"severity-{level.value}", feedback, " ".join(args[2:]) or None)
    if word not in _TYPES:
        raise CommandError(f"unknown command {args[0]!r}; use one of {', '.join(COMMANDS)}")
    return Command(word, FeedbackIn(feedback_type=_TYPES[word], comment=comment), " ".join(args[1:]) or None)


def finding_fingerprint(comment: dict[str, Any]) -> tuple[str, bool] | None:
    """(fingerprint, fixed) of a top-level comment ending with the finding marker; None for any other comment.

    Which of several such comments is the bot's: the first (lowest id) of the pull request with
    that fingerprint — the one publish_review itself takes as its own; a later one quotes it.
    """
    if comment.get("in_reply_to_id") is not None:
        return None
    match = FINDING_MARKER.search(comment.get("body") or "")
    return (match.group("fp"), bool(match.group("fixed"))) if match else None


def _login(obj: Any) -> str | None:
    user = obj.get("user") if isinstance(obj, dict) else None
    login = user.get("login") if isinstance(user, dict) else None
    return login if isinstance(login, str) and login else None


def _is_bot(obj: dict[str, Any]) -> bool:
    return ((obj.get("user") or {}).get("type") == "Bot") or (_login(obj) or "").endswith("[bot]")


Client = Callable[[str], GitHubActions]


def default_client(repository: str) -> GitHubActions:
    return GitHubActions(github_client(DEFAULT_CONN_ID), repository)


def feedback_from_delivery(event: str, payload: Any, delivery_id: str,
                           client: Client = default_client) -> FeedbackOutcome | None:
    """The feedback a comment delivery carries, recorded once; None when it carries none (an ordinary comment)."""
    if event not in FEEDBACK_EVENTS or not isinstance(payload, dict):
        return None
    repository = (payload.get("repository") or {}).get("full_name")
    if not isinstance(repository, str) or not repository:
        return None
    if event == "pull_request_review_thread":
        return _thread_resolved(repository, payload)
    comment = payload.get("comment")
    if not isinstance(comment, dict):
        return None
    try:
        command = parse_command(comment.get("body") or "")
    except CommandError as exc:
        command, error = None, str(exc)
    else:
        error = None
        if command is None:
            return None
    login = _login(comment)
    if payload.get("action") != "created":
        return FeedbackOutcome(outcome="ignored", login=login,
                               reason=f"{event} action {payload.get('action')!r} is not a new command")
    if error:
        return rejected(error, login=login, source=FeedbackSource.reply_command.value)
    if login is None or _is_bot(comment):
        return FeedbackOutcome(outcome="ignored", login=login, reason="commands by bots are not feedback")
    with session_scope() as session:
        bound = bound_project_ids(session, repository)
    if not bound:
        return rejected(f"repository {repository} is not bound to any project", login=login,
                        source=FeedbackSource.reply_command.value)
    if event == "pull_request_review_comment":
        return _review_reply(repository, payload, comment, login, command, client)
    return _conversation_command(repository, payload, comment, login, command, client)


def _review_reply(repository: str, payload: dict[str, Any], comment: dict[str, Any], login: str, command: Command,
                  client: Client) -> FeedbackOutcome:
    source = FeedbackSource.reply_command.value
    parent_id = comment.get("in_reply_to_id")
    if not isinstance(parent_id, int):
        return rejected("a review-comment command must reply to the bot's finding comment", login=login,
                        source=source)
    pr_number = (payload.get("pull_request") or {}).get("number")
    try:
        gh = client(repository)
        parent = gh.review_comment(parent_id)
    except CodeHostError as exc:
        if exc.status == 404:
            return rejected(f"the replied-to comment {parent_id} does not exist", login=login, source=source)
        return FeedbackOutcome(outcome="failed", reason=str(exc), login=login, source=source)
    except Exception as exc:  # noqa: BLE001 - no connection configured, host unreachable: retried on redelivery
        return FeedbackOutcome(outcome="failed", reason=f"cannot reach the code host: {exc}", login=login,
                               source=source)
    not_bots = rejected(f"comment {parent_id} is not the bot's finding comment", login=login, source=source)
    marked = finding_fingerprint(parent)
    if marked is None or _login(parent) == login:
        return not_bots
    try:
        first = min((c["id"] for c in gh.review_comments(int(pr_number or 0))
                     if (finding_fingerprint(c) or ("",))[0] == marked[0]), default=None)
    except CodeHostError as exc:
        return FeedbackOutcome(outcome="failed", reason=str(exc), login=login, source=source)
    if first != parent_id:
        return not_bots
    return _record(gh.react_to_review_comment, comment, repository, int(pr_number or 0), marked[0], login, command)


def _conversation_command(repository: str, payload: dict[str, Any], comment: dict[str, Any], login: str,
                          command: Command, client: Client) -> FeedbackOutcome:
    source = FeedbackSource.reply_command.value
    issue = payload.get("issue") or {}
    if not issue.get("pull_request"):
        return rejected("commands on issues give no feedback: only pull requests carry findings", login=login,
                        source=source)
    pr_number = int(issue.get("number") or 0)
    target = command.target or ""
    if _FINGERPRINT.fullmatch(target):
        fingerprint = target
    elif match := _PATH_LINE.fullmatch(target):
        with session_scope() as session:
            found = findings_at(session, repository, pr_number, match.group("path"), int(match.group("line")))
            candidates = [fp for _issue, fp in found]
        if len(candidates) != 1:
            what = "no finding" if not candidates else f"{len(candidates)} findings ({', '.join(candidates)})"
            return rejected(f"{what} of the newest review at {target}; name one by its fingerprint", login=login,
                            source=source)
        fingerprint = candidates[0]
    else:
        return rejected(f"name the finding after the command: {COMMAND_PREFIX} {command.name} <path:line> or "
                        "<fingerprint> (or reply to the bot's comment on the line)", login=login, source=source)
    try:
        gh = client(repository)
    except Exception as exc:  # noqa: BLE001 - the answer is optional; the feedback is not
        log.warning("no code-host client for %s: %s", repository, exc)
        gh = None
    return _record(gh.react_to_issue_comment if gh else None, comment, repository, pr_number, fingerprint, login,
                   command)


def _record(react: Callable[[int, str], Any] | None, comment: dict[str, Any], repository: str, pr_number: int,
            fingerprint: str, login: str, command: Command) -> FeedbackOutcome:
    with session_scope() as session:
        outcome = record_codehost_feedback(
            session, repository=repository, pr_number=pr_number, fingerprint=fingerprint, login=login,
            feedback=command.feedback, source=FeedbackSource.reply_command,
            idempotency_key=f"github:comment:{comment.get('id')}:{command.name}",
        )
    if outcome.outcome == "recorded" and react is not None:
        try:
            react(int(comment["id"]), ACK_REACTION)
            outcome.acknowledged = True
        except Exception as exc:  # noqa: BLE001 - the answer is a courtesy; the feedback is stored
            log.warning("answering comment %s on %s failed: %s", comment.get("id"), repository, exc)
            outcome.acknowledged = False
    return outcome


def _thread_resolved(repository: str, payload: dict[str, Any]) -> FeedbackOutcome | None:
    source = FeedbackSource.thread_resolved.value
    if payload.get("action") != "resolved":
        return None
    comments = (payload.get("thread") or {}).get("comments") or []
    root = comments[0] if comments and isinstance(comments[0], dict) else {}
    marked = finding_fingerprint(root)
    if marked is None:
        return None  # a thread the bot did not start
    login = (payload.get("sender") or {}).get("login")
    if not isinstance(login, str) or not login:
        return rejected("the delivery names no sender", source=source)
    fingerprint, fixed = marked
    if fixed or root.get("line") is None:
        return FeedbackOutcome(outcome="ignored", login=login, source=source,
                               reason="resolved after a push changed the finding's line: that is no feedback")
    pr_number = int((payload.get("pull_request") or {}).get("number") or 0)
    with session_scope() as session:
        if not bound_project_ids(session, repository):
            return rejected(f"repository {repository} is not bound to any project", login=login, source=source)
        return record_codehost_feedback(
            session, repository=repository, pr_number=pr_number, fingerprint=fingerprint, login=login,
            feedback=FeedbackIn(feedback_type=FeedbackType.not_helpful), source=FeedbackSource.thread_resolved,
            idempotency_key=f"github:thread-resolved:{root.get('id')}",
        )
