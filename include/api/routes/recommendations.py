"""Issue-type and reviewer recommendations, and the change history reviewers are learned from.

* ``POST /recommendations/issue-types`` — for a repository and files, issue
  types ranked by calibrated helpfulness (:mod:`ml.issue_recommendations`).
* ``PUT /changes/{change_key}`` — record a change (author, files, reviewers,
  open/merged/closed): the platform's own review history.
* ``POST /recommendations/reviewers`` — ranked reviewers with reasons for a
  change (:mod:`ml.reviewers`), learned from the project's recorded changes;
  open changes give each reviewer's current load.

Roles: recommendations need ``viewer``; recording changes needs ``editor``.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from include.api.deps import CurrentUser, DbSession, authorize
from include.api.errors import problem_responses
from include.api.types import NO_NUL, SLUG_PATTERN
from include.db.models import CodeChange
from include.enums import Role

router = APIRouter(prefix="/api/v1/projects/{project}", tags=["recommendations"])

ProjectSlug = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=100, description="Project slug")]
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
    from ml.serving import get_service

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


# -- reviewer model per project, rebuilt when the history grows ---------------------------------
_models: dict[int, tuple[tuple[int, int], Any]] = {}
_models_lock = threading.Lock()


def _recommender(session: Any, project_id: int) -> Any:
    from ml.reviewers import Change, ReviewerRecommender

    stamp = tuple(session.execute(
        select(func.count(CodeChange.id), func.coalesce(func.max(CodeChange.id), 0))
        .where(CodeChange.project_id == project_id, CodeChange.status != "open")).one())
    with _models_lock:
        cached = _models.get(project_id)
        if cached and cached[0] == stamp:
            return cached[1]
        started = time.perf_counter()
        rows = session.execute(
            select(CodeChange.created_at, CodeChange.author, CodeChange.files, CodeChange.reviewers, CodeChange.change_key)
            .where(CodeChange.project_id == project_id, CodeChange.status != "open")
            .order_by(CodeChange.created_at, CodeChange.id)).all()
        changes = [Change.of(r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC),
                             r.author, r.files, r.reviewers, r.change_key) for r in rows]
        from include.settings import get_settings

        rec = ReviewerRecommender(load_penalty=get_settings().reviewer_load_penalty).fit(changes)
        rec.fit_seconds = time.perf_counter() - started
        _models[project_id] = (stamp, rec)
        return rec


def _open_requests(session: Any, project_id: int) -> dict[str, int]:
    load: dict[str, int] = {}
    for (reviewers,) in session.execute(select(CodeChange.reviewers).where(
            CodeChange.project_id == project_id, CodeChange.status == "open")):
        for r in reviewers or []:
            load[r] = load.get(r, 0) + 1
    return load


@router.post("/recommendations/reviewers", summary="Ranked reviewers with reasons for a change",
             responses=problem_responses(401, 404, 422))
def reviewers(project: ProjectSlug, body: ReviewersRequest, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    proj = authorize(session, user, project, Role.viewer)
    rec = _recommender(session, proj.id)
    recs = rec.recommend(body.files, body.author, open_requests=_open_requests(session, proj.id),
                         limit=body.limit, exclude=body.exclude)
    return {
        "project": project,
        "method": "learned" if rec.model is not None else "path_share_fallback",
        "history_changes": rec.history.n_changes,
        "reviewers": [{"reviewer": r.reviewer, "score": r.score, "open_requests": r.open_requests,
                       "reasons": r.reasons} for r in recs],
    }
