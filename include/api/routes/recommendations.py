"""Issue-type and reviewer recommendations, and the change history reviewers are learned from.

* ``POST /recommendations/issue-types`` — for a repository and files, issue
  types ranked by calibrated helpfulness (:mod:`ml.issue_recommendations`).
* ``PUT /changes/{change_key}`` — record a change (author, files, reviewers,
  open/merged/closed): the platform's own review history.
* ``POST /recommendations/reviewers`` — ranked reviewers with reasons for a
  change, learned from the project's recorded changes; open changes give each
  reviewer's current load (:mod:`ml.reviewer_service`, which the
  ``request_review`` action asks too).

Roles: recommendations need ``viewer``; recording changes needs ``editor``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from include.api.deps import CurrentUser, DbSession, authorize
from include.api.errors import problem_responses
from include.api.types import NO_NUL, ProjectSlug
from include.db.models import CodeChange
from include.enums import Role

router = APIRouter(prefix="/api/v1/projects/{project}", tags=["recommendations"])

FilePath = Annotated[str, Field(min_length=1, max_length=1000, pattern=NO_NUL)]
Person = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00\s]+$")]


class IssueTypesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repository: str = Field(min_length=1, max_length=300, pattern=NO_NUL)
    files: list[FilePath] = Field(min_length=1, max_length=200)
    limit: int = Field(default=20, ge=1, le=200)


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repository: str = Field(min_length=1, max_length=300, pattern=NO_NUL)
    author: Person
    files: list[FilePath] = Field(min_length=1, max_length=5000)
    reviewers: list[Person] = Field(default_factory=list, max_length=50)
    status: Literal["open", "merged", "closed"] = "merged"
    created_at: datetime | None = None
    closed_at: datetime | None = None


class ReviewersRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    author: Person
    files: list[FilePath] = Field(min_length=1, max_length=5000)
    repository: str | None = Field(default=None, max_length=300, pattern=NO_NUL)
    limit: int = Field(default=5, ge=1, le=50)
    exclude: list[Person] = Field(default_factory=list, max_length=50)


@router.post("/recommendations/issue-types", summary="Issue types worth surfacing for these files",
             responses=problem_responses(401, 404, 422))
def issue_types(project: ProjectSlug, body: IssueTypesRequest, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    from ml.issue_recommendations import issue_type_catalogue, recommend_issue_types
    from ml.serving.service import get_service

    proj = authorize(session, user, project, Role.viewer)
    service = get_service()
    model = service.helpfulness_model()
    result = recommend_issue_types(
        issue_type_catalogue(session, proj.id), body.repository, body.files,
        model=model.model if model else None, model_version=model.version if model else None,
        threshold=service.settings.confidence_threshold, limit=body.limit)
    return {"project": project, "repository": body.repository, **result}


@router.put("/changes/{change_key}", summary="Record a change and its reviewers (review history)",
            responses={201: {"description": "The change was new and is now recorded"},
                       **problem_responses(401, 403, 404, 422)})
def put_change(project: ProjectSlug, change_key: Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00/]+$")],
               body: ChangeIn, user: CurrentUser, session: DbSession, response: Response) -> dict[str, Any]:
    proj = authorize(session, user, project, Role.editor)
    row = session.execute(select(CodeChange).where(
        CodeChange.project_id == proj.id, CodeChange.repository == body.repository,
        CodeChange.change_key == change_key)).scalar_one_or_none()
    created = row is None
    if row is None:
        row = CodeChange(project_id=proj.id, repository=body.repository, change_key=change_key)
        session.add(row)
    row.author = body.author
    row.files = list(body.files)
    row.reviewers = [r for r in dict.fromkeys(body.reviewers) if r != body.author]
    row.status = body.status
    row.created_at = body.created_at or row.created_at or datetime.now(UTC)
    row.closed_at = body.closed_at or (datetime.now(UTC) if body.status != "open" and row.closed_at is None else row.closed_at)
    session.flush()
    response.status_code = 201 if created else 200
    return {"id": row.id, "repository": row.repository, "change_key": row.change_key, "author": row.author,
            "files": row.files, "reviewers": row.reviewers, "status": row.status,
            "created_at": row.created_at, "closed_at": row.closed_at}


@router.post("/recommendations/reviewers", summary="Ranked reviewers with reasons for a change",
             responses=problem_responses(401, 404, 422))
def reviewers(project: ProjectSlug, body: ReviewersRequest, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    from ml.reviewer_service import recommend_reviewers

    proj = authorize(session, user, project, Role.viewer)
    answer = recommend_reviewers(session, proj.id, body.files, body.author, limit=body.limit, exclude=body.exclude)
    return {
        "project": project,
        "method": "learned" if answer.learned else "path_share_fallback",
        "history_changes": answer.history_changes,
        "reviewers": [{"reviewer": r.reviewer, "score": r.score, "open_requests": r.open_requests,
                       "reasons": r.reasons} for r in answer.reviewers],
    }
