"""SQLAlchemy 2 models of the app database.

One model set serves SQLite (the embedded default) and PostgreSQL
(production and tests).  Alembic migrations in ``include/db/migrations`` are
the source of truth for the schema; these models must match them (a test
compares the two).

Design notes:
* ``projects`` scope everything: workflows, review sessions and execution
  events carry a project so access control is one membership check.
* Workflow versions are immutable rows; ``workflows.current_version`` points
  at the live one and ``workflows.revision`` is the optimistic-concurrency
  counter behind the API's ETag.
* ``execution_events.id`` is the monotonic event id clients replay from; the
  unique ``event_key`` makes persisting the same event twice a no-op.
* Every point in time is a ``UTCDateTime`` column: held as UTC from the
  moment it is assigned, written as UTC and read back as an aware UTC
  datetime on both backends (SQLite alone would hand back naive values), so
  no reader has to guess a time zone.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from include.db.types import UTCDateTime, convert_on_assignment
from include.enums import FeedbackType, Role, Severity

# JSONB on PostgreSQL (indexable, compact), plain JSON elsewhere.
JsonType = JSON().with_variant(JSONB(), "postgresql")
# BIGINT ids on PostgreSQL; SQLite only auto-increments INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # native_enum=False keeps the column a VARCHAR + CHECK: adding a value later
    # is a plain migration on both SQLite and PostgreSQL.
    return Enum(cls, name=name, native_enum=False, validate_strings=True, length=32)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    members: Mapped[list["ProjectMember"]] = relationship(back_populates="project", cascade="all, delete-orphan")


class ProjectMember(Base):
    __tablename__ = "project_members"
    __table_args__ = (UniqueConstraint("project_id", "username", name="uq_project_members_project_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    username: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "project_role"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    project: Mapped[Project] = relationship(back_populates="members")


class ProjectRepository(Base):
    """A code-host repository a project reviews: its webhook deliveries start the project's workflows.

    GitHub treats ``owner/name`` case-insensitively, so uniqueness and lookups
    use ``full_name_key`` (lower case) while ``full_name`` keeps the spelling
    the admin gave.  One repository may be bound to several projects.
    """

    __tablename__ = "project_repositories"
    __table_args__ = (UniqueConstraint("project_id", "full_name_key", name="uq_project_repositories_project_repo"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    full_name: Mapped[str] = mapped_column(String(300), nullable=False)
    full_name_key: Mapped[str] = mapped_column(String(300), nullable=False, index=True)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


def repository_key(full_name: str) -> str:
    """The case-insensitive form of ``owner/name`` that bindings and deliveries are matched by."""
    return full_name.lower()


class Workflow(Base):
    __tablename__ = "workflows"
    __table_args__ = (UniqueConstraint("project_id", "slug", name="uq_workflows_project_slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True)
    slug: Mapped[str] = mapped_column(String(100), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    current_version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    revision: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    versions: Mapped[list["WorkflowVersion"]] = relationship(
        back_populates="workflow", cascade="all, delete-orphan", order_by="WorkflowVersion.version"
    )


class WorkflowVersion(Base):
    """An immutable snapshot of a workflow spec; never updated after insert."""

    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("workflow_id", "version", name="uq_workflow_versions_workflow_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    spec: Mapped[dict[str, Any]] = mapped_column(JsonType, nullable=False)
    comment: Mapped[str] = mapped_column(Text, default="", nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    workflow: Mapped[Workflow] = relationship(back_populates="versions")


class WorkflowTemplate(Base):
    __tablename__ = "workflow_templates"
    __table_args__ = (UniqueConstraint("slug", "created_by", name="uq_workflow_templates_slug_owner"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    category: Mapped[str] = mapped_column(String(100), default="general", nullable=False)
    spec: Mapped[dict[str, Any]] = mapped_column(JsonType, nullable=False)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class ExecutionEvent(Base):
    """One task-instance or DAG-run state change, persisted before it is broadcast."""

    __tablename__ = "execution_events"
    __table_args__ = (
        Index("ix_execution_events_project_id_id", "project", "id"),
        Index("ix_execution_events_dag_run", "dag_id", "run_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_key: Mapped[str] = mapped_column(String(512), unique=True, nullable=False)
    event_type: Mapped[str] = mapped_column(String(64), nullable=False)
    project: Mapped[str] = mapped_column(String(100), nullable=False)
    dag_id: Mapped[str] = mapped_column(String(250), nullable=False)
    run_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    task_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    map_index: Mapped[int] = mapped_column(Integer, default=-1, nullable=False)
    try_number: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    state: Mapped[str] = mapped_column(String(32), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class ReviewSession(Base):
    """One review of one change: from a workflow run or posted by an external tool."""

    __tablename__ = "review_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True)
    workflow_id: Mapped[int | None] = mapped_column(ForeignKey("workflows.id", ondelete="SET NULL"), nullable=True)
    workflow_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source: Mapped[str] = mapped_column(String(64), default="workflow", nullable=False)
    repository: Mapped[str] = mapped_column(String(300), nullable=False)
    ref: Mapped[str | None] = mapped_column(String(300), nullable=True)
    commit_sha: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pr_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    dag_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    status: Mapped[str] = mapped_column(String(32), default="completed", nullable=False)
    stats: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    issues: Mapped[list["ReviewIssue"]] = relationship(back_populates="session", cascade="all, delete-orphan")


class ReviewIssue(Base):
    __tablename__ = "review_issues"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("review_sessions.id", ondelete="CASCADE"), nullable=False, index=True)
    file_path: Mapped[str] = mapped_column(String(1000), nullable=False)
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rule: Mapped[str] = mapped_column(String(200), nullable=False)
    analyzer: Mapped[str] = mapped_column(String(64), nullable=False)
    severity: Mapped[Severity] = mapped_column(_enum(Severity, "severity"), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    confidence: Mapped[float] = mapped_column(Float, default=1.0, nullable=False)
    # What the model said, when a model scored the issue (learning system).
    predicted_severity: Mapped[Severity | None] = mapped_column(_enum(Severity, "predicted_severity"), nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    context: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False, index=True)

    session: Mapped[ReviewSession] = relationship(back_populates="issues")
    feedback: Mapped[list["MLFeedback"]] = relationship(back_populates="issue", cascade="all, delete-orphan")


class MLFeedback(Base):
    """One piece of feedback on one issue, from wherever the reviewer gave it (see ``include.reviews.feedback``).

    ``source`` says where it came from (the API, the dashboard, a reply command, a
    reaction, a resolved thread, a changed line) and ``strength`` whether a person
    said it (``explicit``) or the platform inferred it (``weak``); the export labels
    from explicit rows only.  ``idempotency_key`` (unique when set) names the
    code-host event the row came from, so a replayed delivery or poll adds nothing.
    ``username`` is the platform user (for code-host feedback without a linked
    identity: ``github:<login>``); ``codehost_login`` the code-host user, when there is one.
    """

    __tablename__ = "ml_feedback"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_ml_feedback_idempotency_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("review_issues.id", ondelete="CASCADE"), nullable=False, index=True)
    feedback_type: Mapped[FeedbackType] = mapped_column(_enum(FeedbackType, "feedback_type"), nullable=False)
    corrected_severity: Mapped[Severity | None] = mapped_column(_enum(Severity, "corrected_severity"), nullable=True)
    username: Mapped[str] = mapped_column(String(200), nullable=False)
    comment: Mapped[str] = mapped_column(Text, default="", nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False, index=True)
    source: Mapped[str] = mapped_column(String(32), default="api", nullable=False)
    strength: Mapped[str] = mapped_column(String(16), default="explicit", nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    codehost_login: Mapped[str | None] = mapped_column(String(200), nullable=True)

    issue: Mapped[ReviewIssue] = relationship(back_populates="feedback")


class CodeHostIdentity(Base):
    """A code-host login linked to a platform user: feedback given on the code host is then theirs.

    Without a link, a login that equals a member's username of the issue's
    project is taken as that member (see ``include.reviews.feedback_sources``).
    Logins compare case-insensitively, like GitHub's (``login_key``).
    """

    __tablename__ = "codehost_identities"
    __table_args__ = (UniqueConstraint("provider", "login_key", name="uq_codehost_identities_login"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32), default="github", nullable=False)
    login: Mapped[str] = mapped_column(String(200), nullable=False)
    login_key: Mapped[str] = mapped_column(String(200), nullable=False)
    username: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class FindingComment(Base):
    """A review comment of the bot carrying a finding marker, as the reaction poll last saw it.

    GitHub sends no webhook for reactions and a reaction does not change its
    comment's ``updated_at``, so the poll remembers the finding comments it
    found (incrementally, through ``FeedbackPollCursor``) and asks for the
    reactions of those on open pull requests.
    """

    __tablename__ = "codehost_finding_comments"
    __table_args__ = (UniqueConstraint("repository_key", "comment_id", name="uq_codehost_finding_comments_comment"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repository_key: Mapped[str] = mapped_column(String(300), nullable=False, index=True)
    comment_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    pr_number: Mapped[int] = mapped_column(Integer, nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(32), nullable=False)
    author_login: Mapped[str] = mapped_column(String(200), nullable=False)
    fixed: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class FeedbackPollCursor(Base):
    """Per repository: the ``since`` of the next review-comments listing of the reaction poll."""

    __tablename__ = "codehost_feedback_cursors"

    repository_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    comments_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookDelivery(Base):
    """One code-host webhook delivery: what arrived, which projects it concerned, what it started.

    The unique ``delivery_id`` (GitHub's ``X-GitHub-Delivery``) is the
    de-duplication key: the row is inserted before any run starts.  ``outcomes``
    holds one entry per workflow considered (started with its run id, failed
    with the error, or skipped with the reason), so a redelivery retries
    exactly the failed starts.  ``headers`` and ``payload`` are what GitHub
    sent (the signature header is not kept), so a delivery can be inspected
    and retried later.
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    provider: Mapped[str] = mapped_column(String(32), default="github", nullable=False)
    event: Mapped[str] = mapped_column(String(64), nullable=False)
    repository: Mapped[str | None] = mapped_column(String(300), nullable=True)
    status: Mapped[str] = mapped_column(String(32), default="received", nullable=False)
    outcomes: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list, nullable=False)
    detail: Mapped[str] = mapped_column(Text, default="", nullable=False)
    headers: Mapped[dict[str, str]] = mapped_column(JsonType, default=dict, nullable=False)
    payload: Mapped[Any] = mapped_column(JsonType, nullable=True)
    # What a comment event said as feedback (recorded, duplicate, or why nothing was recorded).
    feedback: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False, index=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    projects: Mapped[list["WebhookDeliveryProject"]] = relationship(cascade="all, delete-orphan")


class WebhookDeliveryProject(Base):
    """A project a delivery concerned (bound to its repository, or named by ``?project=``): who may see it."""

    __tablename__ = "webhook_delivery_projects"

    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True,
                                            index=True)


class MLPrediction(Base):
    """One served severity prediction: which model version and A/B arm answered it.

    The learning metrics join these to feedback (by issue) to compare model
    versions and A/B arms on what reviewers said afterwards.
    """

    __tablename__ = "ml_predictions"
    __table_args__ = (Index("ix_ml_predictions_model", "model_name", "model_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=True, index=True)
    repository: Mapped[str] = mapped_column(String(300), nullable=False, index=True)
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("review_issues.id", ondelete="SET NULL"), nullable=True, index=True)
    model_name: Mapped[str] = mapped_column(String(200), nullable=False)
    model_version: Mapped[str] = mapped_column(String(100), nullable=False)
    arm: Mapped[str] = mapped_column(String(32), nullable=False)
    predicted_severity: Mapped[Severity] = mapped_column(_enum(Severity, "ml_prediction_severity"), nullable=False)
    confidence: Mapped[float] = mapped_column(Float, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False, index=True)


class CodeChange(Base):
    """A change (pull request) with its author, files and reviewers.

    The history reviewer recommendations learn from; open changes give each
    reviewer's current load of review requests.
    """

    __tablename__ = "code_changes"
    __table_args__ = (UniqueConstraint("project_id", "repository", "change_key", name="uq_code_changes_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True)
    repository: Mapped[str] = mapped_column(String(300), nullable=False)
    change_key: Mapped[str] = mapped_column(String(200), nullable=False)
    author: Mapped[str] = mapped_column(String(200), nullable=False)
    files: Mapped[list[str]] = mapped_column(JsonType, default=list, nullable=False)
    reviewers: Mapped[list[str]] = mapped_column(JsonType, default=list, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="merged", nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DryRun(Base):
    """One dry run of a workflow on a real event: what it would have written to the code host, not sent.

    Created by the API when the dry run is asked for (``queued``); the dry-run
    DAG's task (:mod:`include.dag_factory.dry_run`) marks it ``running``, keeps
    each node's state and the captured writes up to date after every node, and
    ends it ``success`` or ``failed``.  ``source`` says which stored event it
    ran on (a delivery, or a past pull request and the delivery found for it);
    ``event`` is that event as the run got it.  ``writes`` are the captured
    requests in order (:class:`include.codehost.capture.CapturedWrite`), the
    one record of what the run would have posted.
    """

    __tablename__ = "dry_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False,
                                             index=True)
    workflow_version: Mapped[int] = mapped_column(Integer, nullable=False)
    run_id: Mapped[str] = mapped_column(String(250), unique=True, nullable=False)
    source: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict, nullable=False)
    event: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict, nullable=False)
    state: Mapped[str] = mapped_column(String(32), default="queued", nullable=False)
    nodes: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict, nullable=False)
    writes: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list, nullable=False)
    detail: Mapped[str] = mapped_column(Text, default="", nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class MLDriftWindow(Base):
    """What one serving process saw of one model version over a short span: counts per drift feature.

    The serving side (:mod:`ml.serving.drift_window`) folds its predictions
    into these counts off the request path and writes one row per model
    version per flush; the drift watch (:mod:`ml.drift_watch`) sums the rows
    of its window and compares them with the version's training reference
    (:mod:`ml.drift`).  Counts, not records: the table grows with time, not
    with traffic, and holds no issue text.
    """

    __tablename__ = "ml_drift_windows"
    __table_args__ = (Index("ix_ml_drift_windows_model", "model_name", "model_version", "ended_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(200), nullable=False)
    model_version: Mapped[str] = mapped_column(String(100), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    predictions: Mapped[int] = mapped_column(Integer, nullable=False)
    #: feature -> {bin: count}, the shape :func:`ml.drift.profile_records` gives
    counts: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict, nullable=False)


class MLDriftReport(Base):
    """One drift check of a served model version against its training reference (:func:`ml.drift.compare`).

    Written by the drift watch DAG; the API's drift endpoint and the live
    dashboard's drift panel show the newest one.
    """

    __tablename__ = "ml_drift_reports"
    __table_args__ = (Index("ix_ml_drift_reports_model", "model_name", "computed_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(200), nullable=False)
    model_version: Mapped[str] = mapped_column(String(100), nullable=False)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    max_psi: Mapped[float | None] = mapped_column(Float, nullable=True)
    report: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict, nullable=False)


convert_on_assignment(Base)
