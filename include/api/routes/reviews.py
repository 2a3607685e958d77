"""Review sessions, their issues, and reviewer feedback (learning system input).

External review tools POST a session with its issues; reviewers read issues
and POST feedback on them.  Every write is one transaction committed before
the response is sent, so a 201 means the data is stored; any invalid item
refuses the whole request with a problem+json naming the field.

A session can also arrive as a SARIF 2.1.0 log (``"format": "sarif"`` with the
log in ``sarif``): its results become the issues, and a result the platform
cannot store is named by its JSON pointer in the request (``/sarif/runs/0/results/3/...``).
``GET .../reviews/{id}/sarif`` gives any review back as SARIF (``include.reviews.sarif``).

Roles: reading needs ``viewer``; posting sessions and feedback needs ``editor``
(feedback becomes training labels, so it is not open to read-only members).

Imports stay light (no pandas/mlflow/sklearn): the Airflow plugin imports this
module in every Airflow process.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from include.api.deps import CurrentUser, DbSession, authorize
from include.api.errors import NotFound, Unprocessable, problem_responses
from include.api.types import ProjectSlug
from include.db.models import MLFeedback, ReviewIssue, ReviewSession
from include.enums import FeedbackType, Role, Severity
from include.reviews import sarif
from include.reviews.feedback import FeedbackIn, UnknownSeverityLevel, record_feedback, severity_from_level
from include.reviews.store import ReviewInputError, record_review

router = APIRouter(prefix="/api/v1/projects/{project}", tags=["reviews"])

NoNul = r"^[^\x00]*$"
MAX_ISSUES_PER_SESSION = 5000


class IssueCreate(BaseModel):
    """One issue as an external tool reports it; ``severity`` may be a SARIF/SonarQube/ESLint level."""

    model_config = ConfigDict(extra="forbid")

    file_path: str = Field(min_length=1, max_length=1000, pattern=NoNul)
    line: int | None = Field(default=None, ge=0)
    rule: str = Field(min_length=1, max_length=200, pattern=NoNul)
    analyzer: str = Field(min_length=1, max_length=64, pattern=NoNul)
    severity: Severity = Field(description="Platform level, or a foreign level mapped onto it (error → high, ...)")
    message: str = Field(min_length=1, max_length=20000, pattern=NoNul)
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    context: dict[str, Any] = Field(default_factory=dict, description="pr_size, complexity, file_lines, ...")

    @field_validator("severity", mode="before")
    @classmethod
    def _map_level(cls, value: Any) -> Any:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            try:
                return severity_from_level(value)
            except UnknownSeverityLevel as exc:
                raise ValueError(str(exc)) from None
        return value


class ReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repository: str = Field(min_length=1, max_length=300, pattern=NoNul, description="owner/name")
    source: str = Field(default="api", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                        description="The tool that produced the review")
    ref: str | None = Field(default=None, max_length=300, pattern=NoNul)
    commit_sha: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{7,64}$")
    pr_number: int | None = Field(default=None, ge=1)
    issues: list[IssueCreate] = Field(default_factory=list, max_length=MAX_ISSUES_PER_SESSION)
    format: Literal["issues", "sarif"] = Field(
        default="issues", description="`sarif`: the issues are the results of the SARIF 2.1.0 log in `sarif`")
    sarif: dict[str, Any] | None = Field(
        default=None, description="A SARIF 2.1.0 log (with `format: sarif`); its commit and branch fill "
        "`commit_sha`/`ref` when those are not given")


class FeedbackOut(BaseModel):
    id: int
    issue_id: int
    feedback_type: FeedbackType
    corrected_severity: Severity | None
    username: str
    comment: str
    created_at: datetime


class IssueOut(BaseModel):
    id: int
    session_id: int
    repository: str
    file_path: str
    line: int | None
    rule: str
    analyzer: str
    severity: Severity
    message: str
    confidence: float
    predicted_severity: Severity | None
    model_version: str | None
    context: dict[str, Any]
    created_at: datetime
    feedback: list[FeedbackOut] | None = None


class ReviewOut(BaseModel):
    id: int
    project: str
    repository: str
    source: str
    ref: str | None
    commit_sha: str | None
    pr_number: int | None
    status: str
    stats: dict[str, Any]
    created_at: datetime
    issues: list[IssueOut]


def _feedback_out(row: MLFeedback) -> FeedbackOut:
    return FeedbackOut(id=row.id, issue_id=row.issue_id, feedback_type=row.feedback_type,
                       corrected_severity=row.corrected_severity, username=row.username, comment=row.comment,
                       created_at=row.created_at)


def _issue_out(row: ReviewIssue, repository: str, with_feedback: bool = False) -> IssueOut:
    return IssueOut(
        id=row.id, session_id=row.session_id, repository=repository, file_path=row.file_path, line=row.line,
        rule=row.rule, analyzer=row.analyzer, severity=row.severity, message=row.message, confidence=row.confidence,
        predicted_severity=row.predicted_severity, model_version=row.model_version, context=row.context or {},
        created_at=row.created_at,
        feedback=[_feedback_out(f) for f in sorted(row.feedback, key=lambda f: f.id)] if with_feedback else None,
    )


def _review_out(row: ReviewSession, project: str) -> ReviewOut:
    return ReviewOut(id=row.id, project=project, repository=row.repository, source=row.source, ref=row.ref,
                     commit_sha=row.commit_sha, pr_number=row.pr_number, status=row.status, stats=row.stats or {},
                     created_at=row.created_at,
                     issues=[_issue_out(i, row.repository) for i in sorted(row.issues, key=lambda i: i.id)])


def _issue_in_project(session, project_id: int, issue_id: int) -> tuple[ReviewIssue, str]:
    found = session.execute(
        select(ReviewIssue, ReviewSession.repository)
        .join(ReviewSession, ReviewSession.id == ReviewIssue.session_id)
        .where(ReviewIssue.id == issue_id, ReviewSession.project_id == project_id)
    ).one_or_none()
    if found is None:
        raise NotFound(f"Issue {issue_id} not found in this project")
    return found[0], found[1]


@router.post("/reviews", status_code=status.HTTP_201_CREATED, response_model=ReviewOut,
             summary="Store a review session with its issues (editor)",
             responses=problem_responses(401, 403, 404, 422))
def create_review(project: ProjectSlug, body: ReviewCreate, user: CurrentUser, session: DbSession,
                  response: Response) -> ReviewOut:
    authorize(session, user, project, Role.editor)
    issues = [issue.model_dump() for issue in body.issues]
    ref, commit_sha, source = body.ref, body.commit_sha, body.source
    if body.format == "sarif" or body.sarif is not None:
        issues, found = _sarif_issues(body)
        ref, commit_sha = ref or found.get("ref"), commit_sha or found.get("commit_sha")
        source = source if "source" in body.model_fields_set else "sarif"
    try:
        row = record_review(
            session, project, body.repository, issues,
            ref=ref, commit_sha=commit_sha, pr_number=body.pr_number, source=source,
            stats={"posted_by": user.username},
        )
    except ReviewInputError as exc:
        raise Unprocessable(f"Invalid review: {exc}", errors=[{"pointer": "/issues", "message": str(exc)}]) from None
    session.commit()  # stored before we answer 201
    response.headers["Location"] = f"/api/v1/projects/{project}/reviews/{row.id}"
    return _review_out(row, project)


def _sarif_issues(body: ReviewCreate) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The issues of the SARIF log in the body, each checked like a posted issue; errors point into ``/sarif``."""
    if body.format != "sarif" or body.sarif is None or body.issues:
        raise Unprocessable("A SARIF review has `format: sarif`, the log in `sarif` and no `issues`",
                            errors=[{"pointer": "/format" if body.format != "sarif" else "/sarif",
                                     "message": "give `format: sarif` with a `sarif` log, or `issues`"}])
    try:
        found = sarif.issues_from_log(body.sarif)
    except sarif.SarifInputError as exc:
        raise Unprocessable("Invalid SARIF log", errors=[
            {"pointer": "/sarif" + e["pointer"], "message": e["message"]} for e in exc.errors]) from None
    if len(found) > MAX_ISSUES_PER_SESSION:
        raise Unprocessable("Too many results", errors=[
            {"pointer": "/sarif/runs", "message": f"at most {MAX_ISSUES_PER_SESSION} results per review"}])
    issues, problems = [], []
    for item in found:
        try:
            issues.append(IssueCreate.model_validate(item.issue).model_dump())
        except ValidationError as exc:
            problems += [{"pointer": "/sarif" + item.sources.get(str(err["loc"][0]), ""), "message": err["msg"]}
                         for err in exc.errors()]
    if problems:
        raise Unprocessable("Invalid SARIF log", errors=problems)
    return issues, sarif.provenance(body.sarif)


@router.get("/reviews/{review_id}/sarif", response_class=Response,
            summary="One review session as a SARIF 2.1.0 log (one run per analyser)",
            responses={200: {"content": {sarif.MEDIA_TYPE: {"schema": {"type": "object"}}},
                             "description": "SARIF 2.1.0 log"}, **problem_responses(401, 404)})
def get_review_sarif(project: ProjectSlug, review_id: int, user: CurrentUser, session: DbSession) -> Response:
    from include.settings import get_settings

    owner = authorize(session, user, project, Role.viewer)
    row = session.scalar(
        select(ReviewSession).where(ReviewSession.id == review_id, ReviewSession.project_id == owner.id))
    if row is None:
        raise NotFound(f"Review {review_id} not found in this project")
    log = sarif.review_log(session, row, sarif.repository_uri(get_settings().github_api_url, row.repository))
    return Response(content=json.dumps(log), media_type=sarif.MEDIA_TYPE)


@router.get("/reviews/{review_id}", response_model=ReviewOut, summary="One review session with its issues",
            responses=problem_responses(401, 404))
def get_review(project: ProjectSlug, review_id: int, user: CurrentUser, session: DbSession) -> ReviewOut:
    owner = authorize(session, user, project, Role.viewer)
    row = session.scalar(
        select(ReviewSession).options(selectinload(ReviewSession.issues))
        .where(ReviewSession.id == review_id, ReviewSession.project_id == owner.id)
    )
    if row is None:
        raise NotFound(f"Review {review_id} not found in this project")
    return _review_out(row, project)


@router.get("/issues", response_model=list[IssueOut], summary="Issues of a project, newest first",
            responses=problem_responses(401, 404, 422))
def list_issues(
    project: ProjectSlug,
    user: CurrentUser,
    session: DbSession,
    repository: Annotated[str | None, Query(max_length=300)] = None,
    severity: Severity | None = None,
    review_id: int | None = None,
    before_id: Annotated[int | None, Query(ge=1, description="Keyset pagination: issues with a smaller id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[IssueOut]:
    owner = authorize(session, user, project, Role.viewer)
    stmt = (
        select(ReviewIssue, ReviewSession.repository)
        .join(ReviewSession, ReviewSession.id == ReviewIssue.session_id)
        .where(ReviewSession.project_id == owner.id)
    )
    if repository is not None:
        stmt = stmt.where(ReviewSession.repository == repository)
    if severity is not None:
        stmt = stmt.where(ReviewIssue.severity == severity)
    if review_id is not None:
        stmt = stmt.where(ReviewIssue.session_id == review_id)
    if before_id is not None:
        stmt = stmt.where(ReviewIssue.id < before_id)
    rows = session.execute(stmt.order_by(ReviewIssue.id.desc()).limit(limit)).all()
    return [_issue_out(issue, repo) for issue, repo in rows]


@router.get("/issues/{issue_id}", response_model=IssueOut, summary="One issue with its feedback history",
            responses=problem_responses(401, 404))
def get_issue(project: ProjectSlug, issue_id: int, user: CurrentUser, session: DbSession) -> IssueOut:
    owner = authorize(session, user, project, Role.viewer)
    issue, repository = _issue_in_project(session, owner.id, issue_id)
    return _issue_out(issue, repository, with_feedback=True)


@router.post("/issues/{issue_id}/feedback", status_code=status.HTTP_201_CREATED, response_model=FeedbackOut,
             summary="Give feedback on an issue (editor)", responses=problem_responses(401, 403, 404, 422))
def create_feedback(project: ProjectSlug, issue_id: int, body: FeedbackIn, user: CurrentUser, session: DbSession,
                    response: Response) -> FeedbackOut:
    owner = authorize(session, user, project, Role.editor)
    issue, _ = _issue_in_project(session, owner.id, issue_id)
    row = record_feedback(session, issue, user.username, body)
    session.commit()  # stored before we answer 201
    response.headers["Location"] = f"/api/v1/projects/{project}/issues/{issue_id}"
    return _feedback_out(row)


@router.get("/issues/{issue_id}/feedback", response_model=list[FeedbackOut], summary="Feedback on an issue",
            responses=problem_responses(401, 404))
def list_feedback(project: ProjectSlug, issue_id: int, user: CurrentUser, session: DbSession) -> list[FeedbackOut]:
    owner = authorize(session, user, project, Role.viewer)
    issue, _ = _issue_in_project(session, owner.id, issue_id)
    return [_feedback_out(f) for f in sorted(issue.feedback, key=lambda f: f.id)]
