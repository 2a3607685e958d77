"""Dry runs: any workflow, enabled or not, on a real event, with what it would have posted and nothing sent.

``POST …/workflows/{workflow}/dry-runs`` takes one event source:

* ``{"delivery": <stored delivery id>}`` — a webhook delivery of a repository
  bound to the workflow's project (``GET /api/v1/webhooks/deliveries``), its
  payload normalised exactly as the webhook endpoint does;
* ``{"pull_request": 7, "repository": "owner/name"}`` — a past pull request:
  its newest stored ``pull_request`` delivery in the project;
* ``{"event": {...}}`` — an event typed by hand (the editor's run dialog).

It stores a :class:`include.db.models.DryRun` row pinned to the workflow's
current version (or ``version``), starts the one dry-run DAG
(:data:`include.dag_factory.dry_run.DRY_RUN_DAG_ID`) with that row's id and
the event, and answers 202 with the run id.  ``GET …/dry-runs/{run_id}`` is
the row: its state, each node's state, every captured write in order and the
same writes grouped as a reviewer reads them (``would_post``: the review
comments on their lines, the check run with its conclusion and annotations,
the summary comment, labels, …; :func:`include.codehost.capture.summarize`).

Unlike ``POST …/runs``, a dry run needs the workflow neither enabled nor
compiled: the dry-run DAG runs the stored version itself, and it only ever
captures.  Starting one needs the editor role, like a run; reading one, viewer.
"""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import func, select

from include.airflow_client import AirflowError, AirflowUnavailable, ui_url
from include.api.airflow_service import airflow_client
from include.api.deps import CurrentUser, DbSession, _token_from, authorize
from include.api.errors import BadGateway, Conflict, NotFound, ServiceUnavailable, Unprocessable, problem_responses
from include.api.types import NO_NUL, REPOSITORY_PATTERN, ProjectSlug, WorkflowSlug
from include.dag_factory.dry_run import DRY_RUN_DAG_ID, dry_run_conf
from include.db.models import (
    DryRun,
    WebhookDelivery,
    WebhookDeliveryProject,
    Workflow,
    WorkflowVersion,
    repository_key,
    utcnow,
)
from include.enums import Role

router = APIRouter(prefix="/api/v1/projects/{project}/workflows/{workflow}/dry-runs", tags=["runs"])

RunId = Annotated[str, Path(pattern=NO_NUL, min_length=1, max_length=250)]
#: How many of a repository's newest deliveries are searched for a past pull request's event.
PULL_REQUEST_SEARCH = 500


class DryRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delivery: int | None = Field(None, ge=1, le=2**63 - 1, description="A stored webhook delivery's id")
    pull_request: int | None = Field(None, ge=1, le=2**31 - 1, description="A past pull request's number")
    repository: str | None = Field(None, pattern=REPOSITORY_PATTERN, max_length=140,
                                   description='The pull request\'s repository ("owner/name")')
    event: dict[str, Any] | None = Field(None, description="An event typed by hand (CodeHostEvent shape)")
    version: int | None = Field(None, ge=1, le=2**31 - 1,
                                description="The workflow version to run (default: the current one)")

    @model_validator(mode="after")
    def _one_source(self) -> DryRunCreate:
        given = [name for name in ("delivery", "pull_request", "event") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of delivery, pull_request or event")
        if self.pull_request is not None and not self.repository:
            raise ValueError("repository is required with pull_request")
        return self


class DryRunOut(BaseModel):
    id: int
    run_id: str
    dag_id: str = DRY_RUN_DAG_ID
    project: str
    workflow: str
    workflow_version: int
    state: str
    source: dict[str, Any]
    event: dict[str, Any]
    detail: str
    created_by: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    writes_count: int
    url: str


class DryRunDetail(DryRunOut):
    nodes: dict[str, Any]
    writes: list[dict[str, Any]] = Field(description="Every captured write, in order: method, path, body, node_id")
    would_post: dict[str, Any] = Field(description="The writes grouped: review comments on their lines, check "
                                                   "runs, summary comment, labels, reviewers, issues, merges, ...")


class DryRunList(BaseModel):
    items: list[DryRunOut]
    total: int
    limit: int
    offset: int


def _out(row: DryRun, project: str, workflow: str, model: type[DryRunOut] = DryRunOut, **extra: Any) -> DryRunOut:
    return model(id=row.id, run_id=row.run_id, project=project, workflow=workflow,
                 workflow_version=row.workflow_version, state=row.state, source=row.source or {},
                 event=row.event or {}, detail=row.detail, created_by=row.created_by, created_at=row.created_at,
                 started_at=row.started_at, finished_at=row.finished_at, writes_count=len(row.writes or []),
                 url=ui_url(DRY_RUN_DAG_ID, row.run_id), **extra)


def _workflow(session, user, project: str, workflow: str, needed: Role) -> tuple[Any, Workflow]:
    proj = authorize(session, user, project, needed)
    row = session.scalar(select(Workflow).where(Workflow.project_id == proj.id, Workflow.slug == workflow))
    if row is None:
        raise NotFound(f"Workflow {workflow!r} not found in project {project!r}")
    return proj, row


def _invalid(pointer: str, message: str) -> Unprocessable:
    return Unprocessable(message, errors=[{"pointer": pointer, "message": message}])


def _event_of_delivery(row: WebhookDelivery, pointer: str) -> dict[str, Any]:
    from include.codehost.events import UnsupportedEvent, from_github

    if not isinstance(row.payload, dict):
        raise _invalid(pointer, f"delivery {row.id} has no JSON payload")
    try:
        event = from_github(row.event, row.payload, delivery_id=row.delivery_id)
    except UnsupportedEvent as exc:
        raise _invalid(pointer, f"delivery {row.id} starts no workflow: {exc}") from None
    except ValueError as exc:
        raise _invalid(pointer, f"delivery {row.id} is a malformed {row.event} payload: {exc}") from None
    return event.to_conf()["event"]


def _delivery_event(session, project_id: int, delivery: int) -> tuple[dict[str, Any], dict[str, Any]]:
    row = session.get(WebhookDelivery, delivery)
    concerned = row is not None and session.scalar(select(func.count()).select_from(WebhookDeliveryProject).where(
        WebhookDeliveryProject.delivery_id == row.id, WebhookDeliveryProject.project_id == project_id))
    if not concerned:
        raise NotFound(f"delivery: stored delivery {delivery} not found in this project",
                       errors=[{"pointer": "/delivery", "message": f"no stored delivery {delivery} in this project"}])
    return _event_of_delivery(row, "/delivery"), {"delivery": row.id, "delivery_id": row.delivery_id}


def _pull_request_event(session, project_id: int, repository: str, number: int) -> tuple[dict, dict]:
    """The newest stored ``pull_request`` delivery of that pull request that normalises to an event."""
    from include.codehost.events import from_github

    rows = session.scalars(
        select(WebhookDelivery)
        .where(func.lower(WebhookDelivery.repository) == repository_key(repository),
               WebhookDelivery.event == "pull_request",
               WebhookDelivery.id.in_(select(WebhookDeliveryProject.delivery_id)
                                      .where(WebhookDeliveryProject.project_id == project_id)))
        .order_by(WebhookDelivery.received_at.desc(), WebhookDelivery.id.desc()).limit(PULL_REQUEST_SEARCH)
    ).all()
    for row in rows:
        payload = row.payload if isinstance(row.payload, dict) else {}
        pull = payload.get("pull_request") if isinstance(payload.get("pull_request"), dict) else {}
        if payload.get("number") != number and pull.get("number") != number:
            continue
        try:
            event = from_github(row.event, payload, delivery_id=row.delivery_id)
        except ValueError:  # UnsupportedEvent too: a closed or labelled event says nothing to review
            continue
        return event.to_conf()["event"], {"pull_request": number, "repository": repository, "delivery": row.id,
                                          "delivery_id": row.delivery_id}
    message = (f"no stored pull_request delivery of {repository}#{number} in this project "
               "(a past pull request is dry-run on its newest webhook delivery)")
    raise NotFound(f"pull_request: {message}", errors=[{"pointer": "/pull_request", "message": message}])


def _typed_event(raw: dict[str, Any]) -> dict[str, Any]:
    from include.codehost.events import CodeHostEvent

    try:
        return CodeHostEvent.model_validate(raw).to_conf()["event"]
    except ValidationError as exc:
        errors = [{"pointer": "/event/" + "/".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise Unprocessable("Invalid event", errors=errors) from None


def _start(conf: dict[str, Any], run_id: str, note: str, user_token: str | None) -> None:
    """Start the dry-run DAG (unpaused first); Airflow's problems become 502/503 naming the DAG."""
    with airflow_client(user_token) as client:
        try:
            dag = client.get_dag(DRY_RUN_DAG_ID)
            if dag is None:
                raise ServiceUnavailable(f"Airflow has not loaded DAG {DRY_RUN_DAG_ID!r} (dags/autopr_dry_run.py) yet; "
                                         "retry shortly", headers={"Retry-After": "5"})
            if dag.get("is_paused"):
                client.set_paused(DRY_RUN_DAG_ID, False)
            client.trigger_dag_run(DRY_RUN_DAG_ID, conf, run_id=run_id, note=note)
        except AirflowUnavailable as exc:
            raise ServiceUnavailable(f"Airflow is unreachable: {exc.detail}") from None
        except AirflowError as exc:
            raise BadGateway(f"Airflow refused to start {DRY_RUN_DAG_ID!r}: {exc.status} {exc.detail}") from None


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=DryRunOut,
             summary="Dry-run a workflow (enabled or not) on a stored delivery, a past pull request or an event",
             description="Every code-host write is captured instead of sent; `GET …/dry-runs/{run_id}` shows them.",
             responses=problem_responses(401, 403, 404, 409, 422, 502, 503))
def create_dry_run(project: ProjectSlug, workflow: WorkflowSlug, body: DryRunCreate, user: CurrentUser,
                   session: DbSession, request: Request, response: Response) -> DryRunOut:
    proj, wf = _workflow(session, user, project, workflow, Role.editor)
    if wf.deleted_at is not None:
        raise Conflict(f"Workflow {workflow!r} is deleted; restore it first")
    version = body.version or wf.current_version
    if session.scalar(select(WorkflowVersion.id).where(WorkflowVersion.workflow_id == wf.id,
                                                       WorkflowVersion.version == version)) is None:
        raise NotFound(f"version: workflow {workflow!r} has no version {version}",
                       errors=[{"pointer": "/version", "message": f"no version {version}"}])
    if body.delivery is not None:
        event, source = _delivery_event(session, proj.id, body.delivery)
    elif body.pull_request is not None:
        event, source = _pull_request_event(session, proj.id, body.repository or "", body.pull_request)
    else:
        event, source = _typed_event(body.event or {}), {"event": "typed"}
    row = DryRun(project_id=proj.id, workflow_id=wf.id, workflow_version=version, run_id=f"pending-{uuid4().hex}",
                 source=source, event=event, state="queued", created_by=user.username)
    session.add(row)
    session.flush()
    row.run_id = f"dry_run__{project}__{workflow}__{row.id}"
    session.commit()
    row_id, run_id = row.id, row.run_id
    conf = dry_run_conf(row_id, project, workflow, version, event)
    try:
        _start(conf, run_id, f"dry run of {project}/{workflow} v{version} by {user.username}", _token_from(request))
    except (ServiceUnavailable, BadGateway) as exc:
        failed = session.get(DryRun, row_id)
        failed.state, failed.detail, failed.finished_at = "failed", f"could not start: {exc.detail}"[:2000], utcnow()
        session.commit()
        raise
    session.refresh(row)
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{run_id}"
    return _out(row, project, workflow)


@router.get("", response_model=DryRunList, summary="Dry runs of a workflow, newest first",
            responses=problem_responses(401, 404))
def list_dry_runs(project: ProjectSlug, workflow: WorkflowSlug, user: CurrentUser, session: DbSession,
                  limit: Annotated[int, Query(ge=1, le=100)] = 25,
                  offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> DryRunList:
    _proj, wf = _workflow(session, user, project, workflow, Role.viewer)
    stmt = select(DryRun).where(DryRun.workflow_id == wf.id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(DryRun.id.desc()).offset(offset).limit(limit)).all()
    return DryRunList(items=[_out(r, project, workflow) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/{run_id}", response_model=DryRunDetail,
            summary="One dry run: its state, every captured write and what it would have posted",
            responses=problem_responses(401, 404))
def get_dry_run(project: ProjectSlug, workflow: WorkflowSlug, run_id: RunId, user: CurrentUser,
                session: DbSession) -> DryRunDetail:
    from include.codehost.capture import summarize

    _proj, wf = _workflow(session, user, project, workflow, Role.viewer)
    row = session.scalar(select(DryRun).where(DryRun.workflow_id == wf.id, DryRun.run_id == run_id))
    if row is None:
        raise NotFound(f"Dry run {run_id!r} of workflow {workflow!r} not found")
    writes = list(row.writes or [])
    return _out(row, project, workflow, DryRunDetail, nodes=row.nodes or {}, writes=writes,
                would_post=summarize(writes))
