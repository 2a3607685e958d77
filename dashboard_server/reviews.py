"""The page's review view: pull requests with their latest review, a review's findings, feedback buttons, trends.

Routes (each authenticates like :mod:`dashboard_server.http`: the Airflow JWT as
``Authorization: Bearer``, project membership checked on every request):

* ``GET /api/reviews?project=&repository=&before=&limit=`` — pull requests, newest
  review first, each with its latest review's score, gate and counts by severity;
* ``GET /api/reviews/{id}?project=`` — one review with every finding: file:line,
  rule, severity, the model's predicted severity and confidence, hidden by the
  threshold or not, and the feedback already given (yours marked);
* ``POST /api/reviews/feedback`` — a feedback button: ``{project, issue_id, kind,
  severity?, comment?, key}``;
* ``GET /api/reviews/trends?project=&days=`` — the plots' data: quality score per
  repository over time, feedback rates per rule.

The reads are :mod:`include.reviews.views` (one read model for anyone who shows reviews).

Feedback goes through the one feedback path,
:func:`include.reviews.feedback.record_feedback` with ``source=dashboard``: the
same ``ml_feedback`` rows the API, reply commands and reactions write, so the
learning system reads one shape.  Who may give it is the platform API's rule for
``POST .../issues/{id}/feedback`` (``include.api.routes.reviews``): the
``editor`` role in the issue's project, since feedback becomes training labels;
viewers read only.  Each press carries the key the page made for that button
(``key``; ``static/reviews.js`` makes one per drawn button); the stored
idempotency key is that key bound to the user and the issue, so a double click,
a retried request or a replayed one adds nothing (the answer says
``duplicate``), and no one's key can stand in for another user's click or
another issue.

Why the page refreshes the list on execution events instead of being pushed a
"review recorded" event: the events this sidecar relays are Airflow state
changes (:mod:`include.events.schema`: task instances, DAG runs and their
notifications), each persisted with its monotonic id and replayed by it.  A
workflow's review is stored by its review task before that task succeeds, so
the task's terminal event already says "a review may have landed" — in order,
replayed after an outage, with no second kind of message to keep in step.  The
page asks this list again (debounced) when such an event of its project arrives;
reviews posted by external tools through the API have no run, so the page also
asks again now and then while the view is open.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dashboard_server import db
from dashboard_server.history import code_host_web_url
from dashboard_server.http import HttpRoutes, _int_param, _problem
from dashboard_server.payloads import describe
from dashboard_server.sidecar import Sidecar
from include.auth.access import role_in_project
from include.auth.tokens import Identity
from include.db.session import session_scope
from include.enums import FeedbackType, Role, Severity
from include.reviews import views
from include.reviews.feedback import FeedbackIn, FeedbackSource, feedback_by_key, record_feedback
from include.workflows.model import SLUG_PATTERN

#: The role feedback needs: the platform API's for POST /api/v1/projects/{p}/issues/{id}/feedback.
FEEDBACK_ROLE = Role.editor
REVIEWS_MAX = 100
TRENDS_DAYS_MAX = 365


class FeedbackClick(BaseModel):
    """One press of a feedback button (unknown fields are refused, like every client payload)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    project: str = Field(pattern=SLUG_PATTERN)
    issue_id: int = Field(ge=1)
    kind: Literal["helpful", "not_helpful", "false_positive", "wrong_severity"]
    severity: Severity | None = Field(
        default=None, validate_default=True, description="The right severity (with kind wrong_severity)."
    )
    comment: str = Field(default="", max_length=20000, pattern=r"^[^\x00]*$")
    key: str = Field(
        pattern=r"^[A-Za-z0-9_-]{8,128}$", description="The page's key of one button press (see module doc)."
    )

    @field_validator("severity")
    @classmethod
    def _with_wrong_severity(cls, value: Severity | None, info: ValidationInfo) -> Severity | None:
        kind = info.data.get("kind")
        if kind == "wrong_severity" and value is None:
            raise ValueError("required with kind 'wrong_severity' (pick the right one)")
        if kind is not None and kind != "wrong_severity" and value is not None:
            raise ValueError("only with kind 'wrong_severity'")
        return value

    def feedback(self) -> FeedbackIn:
        """As the one feedback shape; a wrong severity is stored like the reply command's (helpful + correction)."""
        if self.kind == "wrong_severity":
            return FeedbackIn(feedback_type=FeedbackType.helpful, corrected_severity=self.severity,
                              comment=self.comment)  # fmt: skip
        return FeedbackIn(feedback_type=FeedbackType(self.kind), comment=self.comment)


def idempotency_key(username: str, issue_id: int, click_key: str) -> str:
    """The stored key of one click: the page's key bound to the user and the issue (fits the column)."""
    digest = hashlib.sha256(f"{username}\n{issue_id}\n{click_key}".encode()).hexdigest()[:40]
    return f"dashboard:{issue_id}:{digest}"


class FeedbackRefused(Exception):
    def __init__(self, status: int, detail: str, field: str):
        super().__init__(detail)
        self.status, self.detail, self.field = status, detail, field


def store_click(username: str, click: FeedbackClick) -> dict[str, Any]:
    """Store one click through :func:`record_feedback` (committed before the answer); raises FeedbackRefused."""
    with session_scope() as session:
        role = role_in_project(session, username, click.project)
        if role is None:
            raise FeedbackRefused(403, f"not a member of project {click.project!r}", "project")
        if role.rank < FEEDBACK_ROLE.rank:
            raise FeedbackRefused(
                403, f"role {FEEDBACK_ROLE.value!r} in project {click.project!r} is required (you are "
                f"{role.value!r})", "project",
            )  # fmt: skip
        project_id = views.project_id_of(session, click.project)
        issue = views.issue_in_project(session, project_id, click.issue_id)
        if issue is None:
            raise FeedbackRefused(404, f"issue {click.issue_id} not found in project {click.project!r}", "issue_id")
        key = idempotency_key(username, issue.id, click.key)
        duplicate = feedback_by_key(session, key) is not None
        row = record_feedback(session, issue, username, click.feedback(), source=FeedbackSource.dashboard,
                              idempotency_key=key)  # fmt: skip
        counts, mine = views.feedback_on(session, [issue.id], username)
        return {
            "duplicate": duplicate,
            "feedback": {"id": row.id, "issue_id": issue.id, "kind": views.feedback_kind(row.feedback_type,
                         row.corrected_severity), "source": row.source},
            "finding": {"id": issue.id, "feedback": counts[issue.id], "mine": mine.get(issue.id)},
        }  # fmt: skip


class ReviewRoutes(HttpRoutes):
    """The review view's routes (authenticated and answered like every route of :mod:`dashboard_server.http`)."""

    def __init__(self, sidecar: Sidecar):
        super().__init__(sidecar)
        self.web_url = code_host_web_url(self.settings.github_api_url)
        self.airflow_url = self.settings.airflow_ui_url.rstrip("/")

    async def _member(self, request: Request, project: str) -> Identity | JSONResponse:
        identity = self._identity(request)
        if isinstance(identity, JSONResponse):
            return identity
        if not re.match(SLUG_PATTERN, project):
            return _problem(422, "required: a project slug", "project")
        if await asyncio.to_thread(db.role_of, identity.username, project) is None:
            return _problem(403, f"not a member of project {project!r}", "project")
        return identity

    def _links(self, review: dict[str, Any]) -> dict[str, str | None]:
        pull = None
        if review["repository"] and review["pr_number"]:
            pull = f"{self.web_url}/{review['repository']}/pull/{review['pr_number']}"
        run = None
        if review["dag_id"] and review["run_id"]:
            run = f"{self.airflow_url}/dags/{review['dag_id']}/runs/{review['run_id']}"
        return {"pull_request": pull, "airflow_run": run}

    async def pulls(self, request: Request) -> JSONResponse:
        """``GET /api/reviews``: pull requests with their latest review, newest first; page on with ``before``."""
        params = request.query_params
        project = params.get("project", "")
        identity = await self._member(request, project)
        if isinstance(identity, JSONResponse):
            return identity
        before = _int_param(request, "before", None, 1)
        limit = _int_param(request, "limit", 25, 1, REVIEWS_MAX)
        for value in (before, limit):
            if isinstance(value, JSONResponse):
                return value
        repository = params.get("repository") or None
        if repository is not None and len(repository) > 300:
            return _problem(422, "at most 300 characters", "repository")

        def read() -> list[dict[str, Any]]:
            with session_scope() as session:
                project_id = views.project_id_of(session, project)
                return views.pull_requests(session, project_id, repository=repository, before=before, limit=limit)

        items = await asyncio.to_thread(read)
        for item in items:
            item["links"] = self._links(item)
        next_before = items[-1]["id"] if len(items) == limit else None
        return JSONResponse({"project": project, "pull_requests": items, "next_before": next_before},
                            headers={"Cache-Control": "no-store"})  # fmt: skip

    async def detail(self, request: Request) -> JSONResponse:
        """``GET /api/reviews/{id}?project=``: one review with every finding and the feedback on each."""
        project = request.query_params.get("project", "")
        identity = await self._member(request, project)
        if isinstance(identity, JSONResponse):
            return identity
        review_id = request.path_params["review_id"]

        def read() -> dict[str, Any] | None:
            with session_scope() as session:
                project_id = views.project_id_of(session, project)
                return views.review_detail(session, project_id, review_id, identity.username)

        review = await asyncio.to_thread(read)
        if review is None:
            return _problem(404, f"review {review_id} not found in project {project!r}", "review_id")
        review["links"] = self._links(review)
        return JSONResponse({"project": project, "review": review}, headers={"Cache-Control": "no-store"})

    async def trends(self, request: Request) -> JSONResponse:
        """``GET /api/reviews/trends?project=&days=``: quality score per repository over time, feedback per rule."""
        project = request.query_params.get("project", "")
        identity = await self._member(request, project)
        if isinstance(identity, JSONResponse):
            return identity
        days = _int_param(request, "days", 30, 1, TRENDS_DAYS_MAX)
        if isinstance(days, JSONResponse):
            return days
        since = datetime.now(UTC) - timedelta(days=days)

        def read() -> dict[str, Any]:
            with session_scope() as session:
                project_id = views.project_id_of(session, project)
                return {"quality": views.quality_over_time(session, project_id, since),
                        "rules": views.feedback_by_rule(session, project_id, since)}  # fmt: skip

        body = await asyncio.to_thread(read)
        return JSONResponse({"project": project, "days": days, "since": since.isoformat(), **body},
                            headers={"Cache-Control": "no-store"})  # fmt: skip

    async def feedback(self, request: Request) -> JSONResponse:
        """``POST /api/reviews/feedback``: one button press, stored once (201; a replay answers 200, ``duplicate``)."""
        identity = self._identity(request)
        if isinstance(identity, JSONResponse):
            return identity
        try:
            click = FeedbackClick.model_validate(await request.json())
        except ValidationError as exc:
            problem = describe(exc)
            return _problem(422, problem["message"], problem["field"])
        except ValueError:
            return _problem(422, "body must be JSON {project, issue_id, kind, severity?, comment?, key}", "body")
        try:
            stored = await asyncio.to_thread(store_click, identity.username, click)
        except FeedbackRefused as exc:
            return _problem(exc.status, exc.detail, exc.field)
        return JSONResponse(stored, status_code=200 if stored["duplicate"] else 201)


def mount_reviews(http_app: Starlette, sidecar: Sidecar) -> Starlette:
    """Put the review routes in front of ``http_app``'s (its last route serves the page at ``/``)."""
    routes_of = ReviewRoutes(sidecar)
    http_app.router.routes[0:0] = [
        Route("/api/reviews", routes_of.pulls),
        Route("/api/reviews/trends", routes_of.trends),
        Route("/api/reviews/feedback", routes_of.feedback, methods=["POST"]),
        Route("/api/reviews/{review_id:int}", routes_of.detail),
    ]
    return http_app
