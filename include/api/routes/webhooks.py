"""Code-host events in: a GitHub webhook delivery starts the workflows of the projects bound to its repository.

The endpoint does what GitHub's documentation asks of a receiver:

1. verify ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body with the shared
   secret, constant-time comparison) before looking at the payload;
2. record the delivery first, with the headers GitHub sent and the payload: the
   unique ``X-GitHub-Delivery`` row is the de-duplication lock, and the stored
   delivery is what the deliveries API lists and what a redelivery retries;
3. normalise the payload (:func:`include.codehost.events.from_github`), find the
   projects bound to ``repository.full_name`` (``?project=`` narrows them to
   one) and start each of their enabled workflows whose trigger event and
   filters (branches, paths, labels) match, through Airflow's REST API with
   ``conf={"event": ...}``.

Every workflow considered gets an outcome in the stored delivery: ``started``
(with its run id), ``failed`` (with the error) or ``skipped`` (with the reason).
A redelivery — GitHub's, with the same ``X-GitHub-Delivery``, or ``POST
/api/v1/webhooks/deliveries/{id}/redeliver`` — starts again exactly the failed
workflows, under the same deterministic run ids, and leaves started runs alone;
a delivery with nothing failed answers ``duplicate``.  When nothing could
start, the answer is 503 so that GitHub's redelivery tries again; the row is
kept with status ``failed``.  Bad input (an unbound repository, an action that
starts nothing, a malformed payload) starts nothing and says so in the row.

Comment events carry feedback beside any workflow starts: an ``/autopr`` reply
command (``issue_comment``, ``pull_request_review_comment``) or a resolved
review thread (``pull_request_review_thread``) goes through
:func:`include.codehost.feedback_commands.feedback_from_delivery` into
``ml_feedback``, once per comment or thread; what it did — recorded, duplicate,
or why nothing was (an unknown command, a reply to a comment that is not the
bot's, an unbound repository) — is the stored delivery's ``feedback``.  A
feedback step that could not reach the code host (``failed``) is retried by a
redelivery.

Of GitHub's headers the ``X-GitHub-*`` ones, ``User-Agent`` and ``Content-Type``
are kept; the signature headers are not: they sign the body alone, not the
delivery id, so a stored body with its signature would let whoever reads the
table replay the payload under a new delivery id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from include.api import metrics
from include.api.deps import CurrentUser, DbSession, authorize
from include.api.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    ProblemError,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
    problem_responses,
)
from include.api.types import REPOSITORY_PATTERN, SLUG_PATTERN
from include.auth.access import projects_of
from include.auth.tokens import Identity
from include.db.models import (
    Project,
    ProjectRepository,
    WebhookDelivery,
    WebhookDeliveryProject,
    Workflow,
    WorkflowVersion,
    repository_key,
    utcnow,
)
from include.db.session import session_scope
from include.enums import Role
from include.reviews.feedback_sources import FeedbackOutcome
from include.settings import get_settings
from include.workflows.triggers import trigger_matches

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

SIGNATURE_PREFIX = "sha256="
#: Headers kept with a stored delivery besides GitHub's own ``X-GitHub-*`` ones.
KEPT_HEADERS = frozenset({"user-agent", "content-type"})

StoredStatus = Literal["received", "ignored", "rejected", "dispatched", "partial", "failed"]
#: Statuses whose failed starts a redelivery retries.
RETRIED = frozenset({"partial", "failed"})


class WorkflowOutcome(BaseModel):
    """What one delivery did with one workflow of a project bound to its repository."""

    workflow_id: int
    project: str
    workflow: str = ""
    dag_id: str = ""
    outcome: Literal["started", "failed", "skipped"]
    run_id: str | None = None
    url: str | None = None
    error: str | None = None
    reason: str | None = None


class DeliveryResult(BaseModel):
    id: int | None = None
    delivery_id: str
    event: str
    status: Literal["pong", "ignored", "dispatched", "duplicate", "partial", "failed", "rejected"]
    detail: str = ""
    repository: str | None = None
    projects: list[str] = []
    runs: list[WorkflowOutcome] = []
    skipped: list[WorkflowOutcome] = []
    feedback: FeedbackOutcome | None = None
    received_at: datetime | None = None


class DeliveryOut(BaseModel):
    id: int
    delivery_id: str
    provider: str
    event: str
    action: str | None = None
    repository: str | None
    status: StoredStatus
    detail: str
    projects: list[str]
    outcomes: list[WorkflowOutcome]
    feedback: FeedbackOutcome | None = None
    attempts: int
    received_at: datetime
    updated_at: datetime | None


class DeliveryDetail(DeliveryOut):
    headers: dict[str, str]
    payload: Any = None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    total: int
    limit: int
    offset: int


def signature_for(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body`` (also used by tests and tools)."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> None:
    if not header:
        raise Unauthorized("Missing X-Hub-Signature-256 header", headers={})
    if not header.startswith(SIGNATURE_PREFIX):
        raise Unauthorized("X-Hub-Signature-256 must be 'sha256=<hex digest>'", headers={})
    if not hmac.compare_digest(signature_for(secret, body), header.strip()):
        raise Unauthorized("X-Hub-Signature-256 does not match the payload", headers={})


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers stored with a delivery (names in lower case; never the signatures)."""
    kept = {}
    for name, value in headers.items():
        name = name.lower()
        if name.startswith("x-github-") or name in KEPT_HEADERS:
            kept[name] = value
    return kept


def webhook_run_id(delivery_id: str, workflow_id: int) -> str:
    """A deterministic Airflow run id per (delivery, workflow): a retried delivery cannot run twice."""
    safe = re.sub(r"[^A-Za-z0-9_.~:+-]", "_", delivery_id)[:120]
    return f"webhook__{safe}__{workflow_id}"


# --- which workflows a delivery concerns --------------------------------------------------------------


def trigger_of(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The trigger node's config of a stored workflow spec (None if it has none)."""
    for node in spec.get("nodes") or []:
        if isinstance(node, dict) and node.get("type") == "trigger":
            return node.get("config") or {}
    return None


def bound_projects(session, repository: str) -> list[Project]:
    """The projects that review ``repository`` (compared case-insensitively, like GitHub)."""
    return list(session.scalars(
        select(Project).join(ProjectRepository, ProjectRepository.project_id == Project.id)
        .where(ProjectRepository.full_name_key == repository_key(repository)).order_by(Project.slug)
    ))


def considered_workflows(session, event: Any, project_ids: list[int]) -> list[WorkflowOutcome]:
    """Every live workflow of the projects: to start (outcome ``failed`` until it has started) or skipped, with why."""
    stmt = (
        select(Workflow, Project.slug, WorkflowVersion.spec)
        .join(Project, Project.id == Workflow.project_id)
        .join(WorkflowVersion, (WorkflowVersion.workflow_id == Workflow.id)
              & (WorkflowVersion.version == Workflow.current_version))
        .where(Workflow.project_id.in_(project_ids), Workflow.deleted_at.is_(None))
        .order_by(Workflow.id)
    )
    outcomes = []
    for workflow, slug, spec in session.execute(stmt).all():
        trigger = trigger_of(spec or {})
        if not workflow.enabled:
            reason = "workflow is disabled"
        elif trigger is None:
            reason = "workflow has no trigger node"
        else:
            matched, why = trigger_matches(trigger, event, delivery=True)
            reason = None if matched else why
        outcomes.append(WorkflowOutcome(
            workflow_id=workflow.id, project=slug, workflow=workflow.slug,
            outcome="skipped" if reason else "failed", reason=reason,
        ))
    return outcomes


def status_of(outcomes: list[WorkflowOutcome]) -> StoredStatus:
    attempted = [o for o in outcomes if o.outcome != "skipped"]
    started = [o for o in attempted if o.outcome == "started"]
    if not attempted:
        return "ignored"
    if len(started) == len(attempted):
        return "dispatched"
    return "partial" if started else "failed"


# --- the endpoint ----------------------------------------------------------------------------------


@router.post(
    "/github",
    response_model=DeliveryResult,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Receive a GitHub webhook delivery",
    description=(
        "Verifies `X-Hub-Signature-256` with `AUTOPR_WEBHOOK_SECRET`, stores the delivery, and starts every "
        "enabled workflow of the projects bound to the payload's `repository.full_name` whose trigger matches. "
        "`?project=` narrows those projects to one. The same `X-GitHub-Delivery` again retries the workflows "
        "whose start failed and answers `duplicate` when none did. Comment events (`/autopr` reply commands, "
        "resolved review threads) are also recorded as feedback, once each; `feedback` says what that did. "
        "Authenticated by the signature, not by a token."
    ),
    responses={
        200: {"description": "Ping answered, or a delivery already processed", "model": DeliveryResult},
        **problem_responses(400, 401, 404, 422, 503),
    },
)
async def github_webhook(
    request: Request,
    response: Response,
    x_github_event: Annotated[str | None, Header(max_length=64)] = None,
    x_github_delivery: Annotated[str | None, Header(max_length=200)] = None,
    x_hub_signature_256: Annotated[str | None, Header(max_length=200)] = None,
    project: Annotated[str | None, Query(pattern=SLUG_PATTERN, max_length=63,
                                         description="Only this project's workflows")] = None,
) -> DeliveryResult:
    body = await request.body()
    secret = get_settings().webhook_secret
    if not secret:
        raise ServiceUnavailable("Webhooks are disabled: set AUTOPR_WEBHOOK_SECRET to the secret configured on GitHub")
    verify_signature(secret, body, x_hub_signature_256)
    if not x_github_event:
        raise BadRequest("Missing X-GitHub-Event header")
    if not x_github_delivery or "\x00" in x_github_delivery:
        raise BadRequest("Missing X-GitHub-Delivery header")
    if x_github_event == "ping":
        response.status_code = status.HTTP_200_OK
        return DeliveryResult(delivery_id=x_github_delivery, event="ping", status="pong")

    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_receive, x_github_event, x_github_delivery, kept_headers(request.headers),
                                   body, project, response)


def _parsed(body: bytes) -> tuple[Any, str | None]:
    """The JSON payload, or None and why it is not one."""
    try:
        return json.loads(body), None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"Payload is not JSON ({exc}); configure the webhook with content type application/json"


def _repository_in(payload: Any) -> str | None:
    repo = payload.get("repository") if isinstance(payload, dict) else None
    name = repo.get("full_name") if isinstance(repo, dict) else None
    return name[:300] if isinstance(name, str) and name else None


def _receive(event_name: str, delivery_id: str, headers: dict[str, str], body: bytes, project: str | None,
             response: Response) -> DeliveryResult:
    from include.codehost.events import UnsupportedEvent, from_github

    payload, not_json = _parsed(body)
    repository = _repository_in(payload)
    # 1. Record the delivery first: the unique delivery id is the de-duplication lock.
    try:
        with session_scope() as session:
            narrowed = None
            if project is not None:
                narrowed = session.scalar(select(Project).where(Project.slug == project))
                if narrowed is None:
                    raise NotFound(f"Project {project!r} not found")
            bound = bound_projects(session, repository) if repository else []
            considered = [p for p in bound if narrowed is None or p.id == narrowed.id]
            concerned = [narrowed] if narrowed is not None else bound
            row = WebhookDelivery(delivery_id=delivery_id, event=event_name, status="received", headers=headers,
                                  payload=payload, repository=repository,
                                  projects=[WebhookDeliveryProject(project_id=p.id) for p in concerned])
            session.add(row)
            session.flush()
            row_id, project_slugs, project_ids = row.id, [p.slug for p in concerned], [p.id for p in considered]
    except IntegrityError:
        return _redelivered(delivery_id, response)
    result = DeliveryResult(id=row_id, delivery_id=delivery_id, event=event_name, status="ignored",
                            repository=repository, projects=project_slugs,
                            feedback=None if not_json else _feedback(row_id, event_name, payload, delivery_id))

    # 2. Normalise; unsupported actions are acknowledged, malformed payloads refused (and both recorded).
    if not_json:
        _settle(row_id, "rejected", not_json, [])
        raise BadRequest(not_json)
    try:
        event = from_github(event_name, payload, delivery_id=delivery_id)
    except UnsupportedEvent as exc:
        _settle(row_id, "ignored", str(exc), [])
        return result.model_copy(update={"detail": str(exc)})
    except ValueError as exc:
        detail = f"Malformed {event_name} payload: {exc}"
        _settle(row_id, "rejected", detail, [])
        raise Unprocessable(detail) from None

    if not project_ids:
        where = f"project {project!r}" if project else "any project"
        detail = (f"repository {repository} is not bound to {where}; "
                  "an admin binds it with POST /api/v1/projects/{project}/repositories")
        _settle(row_id, "ignored", detail, [])
        return result.model_copy(update={"detail": detail})

    # 3. Start every matching workflow of the bound projects.
    with session_scope() as session:
        outcomes = considered_workflows(session, event, project_ids)
    return _start_failed(row_id, delivery_id, event_name, event, outcomes, result, response)


def _start_failed(row_id: int, delivery_id: str, event_name: str, event: Any, outcomes: list[WorkflowOutcome],
                  result: DeliveryResult, response: Response, *, retry: bool = False) -> DeliveryResult:
    """Start each workflow whose outcome is ``failed``, record what happened, answer (503 if none could start)."""
    from include.api.airflow_service import start_run

    outcomes = list(outcomes)
    for i, outcome in enumerate(outcomes):
        if outcome.outcome != "failed":
            continue
        with session_scope() as session:
            version = session.scalar(select(Workflow.current_version).where(Workflow.id == outcome.workflow_id))
        try:
            started = start_run(outcome.workflow_id, {**event.to_conf(), "workflow_version": version},
                                run_id=webhook_run_id(delivery_id, outcome.workflow_id),
                                note=f"GitHub {event_name} delivery {delivery_id}")
        except ProblemError as exc:  # one workflow's failure must not stop the others
            log.warning("webhook %s: starting workflow %s failed: %s", delivery_id, outcome.workflow_id, exc.detail)
            outcomes[i] = outcome.model_copy(update={"error": exc.detail})
        else:
            outcomes[i] = outcome.model_copy(update={"outcome": "started", "error": None, **started})

    state = status_of(outcomes)
    detail = ""
    if state == "ignored":
        detail = (f"no enabled workflow of {', '.join(result.projects) or 'the bound projects'} "
                  f"is triggered by {event.kind}")
    elif retry:
        detail = "redelivered: retried the workflows whose start had failed"
    _settle(row_id, state, detail, outcomes, retry=retry)
    if state == "failed":
        raise ServiceUnavailable(
            "Matched workflows could not be started: "
            + "; ".join(f"workflow {o.workflow_id}: {o.error}" for o in outcomes if o.outcome == "failed")
        )
    response.status_code = status.HTTP_202_ACCEPTED
    return result.model_copy(update={
        "status": state, "detail": detail,
        "runs": [o for o in outcomes if o.outcome != "skipped"], "skipped": [o for o in outcomes if o.outcome == "skipped"],
    })


def _redelivered(delivery_id: str, response: Response) -> DeliveryResult:
    """A delivery seen before: retry its failed starts, or answer ``duplicate`` when none failed."""
    from include.codehost.events import from_github

    with session_scope() as session:
        seen = session.scalar(select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id))
        projects = _project_slugs(session, [seen.id]).get(seen.id, [])
    outcomes = [WorkflowOutcome(**o) for o in seen.outcomes or []]
    result = DeliveryResult(id=seen.id, delivery_id=delivery_id, event=seen.event, status="duplicate",
                            repository=seen.repository, projects=projects, received_at=seen.received_at,
                            runs=[o for o in outcomes if o.outcome != "skipped"],
                            skipped=[o for o in outcomes if o.outcome == "skipped"])
    if seen.feedback and seen.feedback.get("outcome") == "failed":
        result.feedback = _feedback(seen.id, seen.event, seen.payload, delivery_id)
    elif seen.feedback:
        result.feedback = FeedbackOutcome(**seen.feedback)
    if seen.status not in RETRIED:
        response.status_code = status.HTTP_200_OK
        return result.model_copy(update={"detail": f"delivery already received ({seen.status})"})
    event = from_github(seen.event, seen.payload, delivery_id=delivery_id)  # parsed once already: it parses again
    return _start_failed(seen.id, delivery_id, seen.event, event, outcomes, result, response, retry=True)


def _feedback(row_id: int, event_name: str, payload: Any, delivery_id: str) -> FeedbackOutcome | None:
    """The feedback a comment delivery carries (recorded once), kept with the stored delivery."""
    from include.codehost.feedback_commands import feedback_from_delivery

    try:
        outcome = feedback_from_delivery(event_name, payload, delivery_id)
    except Exception as exc:  # feedback must not stop the workflow starts; a redelivery retries it
        log.exception("webhook %s: recording its feedback failed", delivery_id)
        outcome = FeedbackOutcome(outcome="failed", reason=f"{type(exc).__name__}: {exc}")
    if outcome is not None:
        with session_scope() as session:
            session.get(WebhookDelivery, row_id).feedback = outcome.model_dump(mode="json")
    return outcome


def _settle(row_id: int, state: str, detail: str, outcomes: list[WorkflowOutcome], *, retry: bool = False) -> None:
    with session_scope() as session:
        row = session.get(WebhookDelivery, row_id)
        row.status, row.detail, row.updated_at = state, detail[:2000], utcnow()
        row.outcomes = [o.model_dump() for o in outcomes]
        if retry:
            row.attempts += 1
    metrics.WEBHOOK_DELIVERIES.labels(state).inc()


# --- stored deliveries ---------------------------------------------------------------------------------


def sees_every_delivery(user: Identity) -> bool:
    """The platform's admin (the Airflow admin the run command creates) sees deliveries of no or any project."""
    return user.username == get_settings().admin_username


def _project_slugs(session, row_ids: list[int]) -> dict[int, list[str]]:
    rows = session.execute(
        select(WebhookDeliveryProject.delivery_id, Project.slug)
        .join(Project, Project.id == WebhookDeliveryProject.project_id)
        .where(WebhookDeliveryProject.delivery_id.in_(row_ids)).order_by(WebhookDeliveryProject.delivery_id, Project.slug)
    ).all()
    return {row_id: [slug for _, slug in group] for row_id, group in groupby(rows, key=itemgetter(0))}


def _readable(session, user: Identity) -> set[str] | None:
    """The project slugs whose deliveries the caller may read (None: every delivery)."""
    return None if sees_every_delivery(user) else set(projects_of(session, user.username))


def _delivery_out(row: WebhookDelivery, projects: list[str], readable: set[str] | None,
                  model: type[DeliveryOut] = DeliveryOut, **extra: Any) -> DeliveryOut:
    """A stored delivery as the caller may see it: only the projects (and their workflows) they can read."""
    shown = [p for p in projects if readable is None or p in readable]
    outcomes = [WorkflowOutcome(**o) for o in row.outcomes or []]
    action = row.payload.get("action") if isinstance(row.payload, dict) else None
    return model(
        id=row.id, delivery_id=row.delivery_id, provider=row.provider, event=row.event,
        action=action if isinstance(action, str) else None, repository=row.repository, status=row.status,
        detail=row.detail, projects=shown, outcomes=[o for o in outcomes if readable is None or o.project in readable],
        feedback=FeedbackOutcome(**row.feedback) if row.feedback else None, attempts=row.attempts, received_at=row.received_at, updated_at=row.updated_at, **extra,
    )


def _visible_delivery(session, user: Identity, row_id: int) -> tuple[WebhookDelivery, list[str], set[str] | None]:
    row = session.get(WebhookDelivery, row_id)
    readable = _readable(session, user)
    projects = _project_slugs(session, [row_id]).get(row_id, []) if row is not None else []
    if row is None or (readable is not None and not readable.intersection(projects)):
        raise NotFound(f"Delivery {row_id} not found")
    return row, projects, readable


DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The stored delivery's id (not GitHub's GUID)")]


@router.get("/deliveries", response_model=DeliveryPage, summary="Stored webhook deliveries (newest first, paged)",
            description="Deliveries of the projects the caller can read; the platform's admin sees all, "
                        "including deliveries for repositories no project is bound to.",
            responses=problem_responses(401, 404))
def list_deliveries(
    user: CurrentUser, session: DbSession,
    project: Annotated[str | None, Query(pattern=SLUG_PATTERN, max_length=63, description="Only this project")] = None,
    repository: Annotated[str | None, Query(pattern=REPOSITORY_PATTERN, max_length=140,
                                            description="Only this repository (owner/name, any case)")] = None,
    status_: Annotated[StoredStatus | None, Query(alias="status", description="Only this status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> DeliveryPage:
    readable = _readable(session, user)
    stmt = select(WebhookDelivery)
    if project is not None:
        if readable is None:
            scope = session.scalar(select(Project).where(Project.slug == project))
            if scope is None:
                raise NotFound(f"Project {project!r} not found")
        else:
            scope = authorize(session, user, project, Role.viewer)
        stmt = stmt.where(WebhookDelivery.id.in_(
            select(WebhookDeliveryProject.delivery_id).where(WebhookDeliveryProject.project_id == scope.id)))
    elif readable is not None:
        stmt = stmt.where(WebhookDelivery.id.in_(
            select(WebhookDeliveryProject.delivery_id).join(Project, Project.id == WebhookDeliveryProject.project_id)
            .where(Project.slug.in_(readable))))
    if repository is not None:
        stmt = stmt.where(func.lower(WebhookDelivery.repository) == repository_key(repository))
    if status_ is not None:
        stmt = stmt.where(WebhookDelivery.status == status_)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(WebhookDelivery.received_at.desc(), WebhookDelivery.id.desc())
                           .offset(offset).limit(limit)).all()
    slugs = _project_slugs(session, [r.id for r in rows])
    return DeliveryPage(items=[_delivery_out(r, slugs.get(r.id, []), readable) for r in rows],
                        total=total, limit=limit, offset=offset)


@router.get("/deliveries/{delivery}", response_model=DeliveryDetail, summary="One stored delivery, with its payload",
            responses=problem_responses(401, 404))
def get_delivery(delivery: DeliveryId, user: CurrentUser, session: DbSession) -> DeliveryDetail:
    row, projects, readable = _visible_delivery(session, user, delivery)
    return _delivery_out(row, projects, readable, DeliveryDetail, headers=row.headers or {}, payload=row.payload)


@router.post("/deliveries/{delivery}/redeliver", response_model=DeliveryResult, status_code=status.HTTP_202_ACCEPTED,
             summary="Retry the workflows whose start failed (editor of their projects)",
             description="Starts again exactly the failed workflows, under the same run ids; started runs are left "
                         "alone. A delivery with nothing failed answers `duplicate` (200) and starts nothing.",
             responses={200: {"description": "Nothing had failed", "model": DeliveryResult},
                        **problem_responses(401, 403, 404, 503)})
def redeliver(delivery: DeliveryId, user: CurrentUser, session: DbSession, response: Response) -> DeliveryResult:
    row, _projects, readable = _visible_delivery(session, user, delivery)
    if readable is not None:
        failed_in = sorted({o["project"] for o in row.outcomes or [] if o.get("outcome") == "failed"})
        for slug in failed_in:
            if slug not in readable:
                raise Forbidden(f"Role 'editor' in project {slug!r} is required to retry its workflows")
            authorize(session, user, slug, Role.editor)
    delivery_id = row.delivery_id
    session.close()  # the retry uses sessions of its own; holding this one idle would only pin a connection
    return _redelivered(delivery_id, response)
