"""Reviewer feedback on flagged issues — the learning system's labels.

Why this module exists: feedback is the only ground truth the severity model
gets, so it must be stored exactly once, validated, and be readable by the
export DAG in one shape.  The API route, the advisory importer
(``ml.ingest``) and tests all go through :func:`record_feedback`.

What a feedback row means for the severity label (see ``ml.export``):

* ``corrected_severity`` set → that is the label, whatever the type;
* ``helpful`` / ``good_catch`` → the issue's own severity is confirmed;
* ``missed_issue`` → the reviewer reports an issue the tool missed; its own
  severity (or the correction) is the label;
* ``not_helpful`` / ``false_positive`` → no severity label (they feed the
  helpfulness calibration of part 2 instead).

Analysers and external tools grade findings on their own scales; the platform
has one (``include.enums.Severity``).  :func:`severity_from_level` maps the
common foreign levels (SARIF, SonarQube, ESLint, syslog-ish words) onto it, so
a tool can post its native level and reviewers still see one scale.

Where feedback comes from (``source``) and how much it says (``strength``):
the API and the dashboard's buttons, a reply command and a 👍/👎 reaction on
the bot's comment are a person's word (``explicit``); a thread resolved without
a code change and a finding whose line the next push changed are inferred
(``weak``) and never become labels unless the export is told to use them.
Code-host feedback carries an ``idempotency_key`` naming the event it came from
(unique in the table), so replaying a delivery or a poll adds nothing.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from include.db.models import MLFeedback, ReviewIssue
from include.enums import FeedbackType, Severity

#: Feedback types that confirm the issue's own severity when no correction is given.
CONFIRMING_TYPES = frozenset({FeedbackType.helpful, FeedbackType.good_catch, FeedbackType.missed_issue})
#: Feedback types that say the issue was worth showing (helpfulness target of part 2).
HELPFUL_TYPES = frozenset({FeedbackType.helpful, FeedbackType.good_catch})
UNHELPFUL_TYPES = frozenset({FeedbackType.not_helpful, FeedbackType.false_positive})



class FeedbackSource(str, enum.Enum):
    """Where a feedback row came from."""

    api = "api"
    dashboard = "dashboard"
    reply_command = "reply_command"
    reaction = "reaction"
    thread_resolved = "thread_resolved"
    line_changed = "line_changed"


class FeedbackStrength(str, enum.Enum):
    """Whether a person said it (``explicit``) or the platform inferred it from what they did (``weak``)."""

    explicit = "explicit"
    weak = "weak"


#: The sources whose rows are inferred, not said.
WEAK_SOURCES = frozenset({FeedbackSource.thread_resolved, FeedbackSource.line_changed})


def strength_of(source: FeedbackSource | str) -> FeedbackStrength:
    return FeedbackStrength.weak if FeedbackSource(source) in WEAK_SOURCES else FeedbackStrength.explicit


# Foreign severity words → platform scale.  Lower-cased keys; platform values map to themselves.
_LEVELS: dict[str, Severity] = {
    **{s.value: s for s in Severity},
    # SARIF result.level
    "error": Severity.high,
    "warning": Severity.medium,
    "note": Severity.low,
    "none": Severity.info,
    # SonarQube
    "blocker": Severity.critical,
    "major": Severity.medium,
    "minor": Severity.low,
    "trivial": Severity.info,
    # common words
    "fatal": Severity.critical,
    "severe": Severity.high,
    "moderate": Severity.medium,
    "warn": Severity.medium,
    "information": Severity.info,
    "informational": Severity.info,
    "hint": Severity.info,
    "style": Severity.info,
    "unknown": Severity.info,
    # ESLint numeric levels (0 off, 1 warn, 2 error)
    "1": Severity.medium,
    "2": Severity.high,
}


class UnknownSeverityLevel(ValueError):
    def __init__(self, level: object):
        super().__init__(
            f"unknown severity level {level!r}; use one of {[s.value for s in Severity]} "
            "or a SARIF/SonarQube/ESLint level"
        )


def severity_from_level(level: str | int | Severity) -> Severity:
    """Map a platform or foreign severity level onto the platform scale (raises UnknownSeverityLevel)."""
    if isinstance(level, Severity):
        return level
    key = str(level).strip().lower()
    try:
        return _LEVELS[key]
    except KeyError:
        raise UnknownSeverityLevel(level) from None


class FeedbackIn(BaseModel):
    """What a reviewer says about one issue."""

    model_config = ConfigDict(extra="forbid")

    feedback_type: FeedbackType
    corrected_severity: Severity | None = Field(
        default=None, description="The severity the reviewer thinks is right, when it differs."
    )
    comment: str = Field(default="", max_length=20000, pattern=r"^[^\x00]*$")


def severity_label(
    issue_severity: Severity | str, feedback_type: FeedbackType | str, corrected: Severity | str | None
) -> str | None:
    """The severity label one (latest) feedback row gives its issue, or None (see module doc)."""
    if corrected not in (None, ""):
        return Severity(corrected).value
    if FeedbackType(feedback_type) in CONFIRMING_TYPES:
        return Severity(issue_severity).value
    return None


def feedback_by_key(session: Session, idempotency_key: str) -> MLFeedback | None:
    """The row an event already produced, if any."""
    return session.scalar(select(MLFeedback).where(MLFeedback.idempotency_key == idempotency_key))


def record_feedback(
    session: Session,
    issue: ReviewIssue,
    username: str,
    feedback: FeedbackIn | dict[str, Any],
    *,
    created_at: datetime | None = None,
    source: FeedbackSource | str = FeedbackSource.api,
    idempotency_key: str | None = None,
    codehost_login: str | None = None,
) -> MLFeedback:
    """Store one feedback row on ``issue``; the caller owns the transaction.

    Feedback is append-only: a reviewer changing their mind adds a row, and
    the export takes the latest one, so history is never lost.  With an
    ``idempotency_key`` already stored, nothing is added and the stored row is
    returned (concurrent replays are settled by the unique key, in a savepoint).
    """
    if not isinstance(feedback, FeedbackIn):
        feedback = FeedbackIn.model_validate(feedback)
    source = FeedbackSource(source)
    if idempotency_key is not None and (seen := feedback_by_key(session, idempotency_key)) is not None:
        return seen
    row = MLFeedback(
        issue_id=issue.id,
        feedback_type=feedback.feedback_type,
        corrected_severity=feedback.corrected_severity,
        username=username,
        comment=feedback.comment,
        source=source.value,
        strength=strength_of(source).value,
        idempotency_key=idempotency_key,
        codehost_login=codehost_login,
    )
    if created_at is not None:
        row.created_at = created_at
    if idempotency_key is None:
        session.add(row)
        session.flush()
        return row
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # the same event, recorded by a concurrent replay
        return feedback_by_key(session, idempotency_key)
    return row
