"""Code-host events in: GitHub webhook deliveries start the workflows they match.

The endpoint does what GitHub's documentation asks of a receiver:

1. verify ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body with the shared
   secret, constant-time comparison) before looking at the payload;
2. de-duplicate by ``X-GitHub-Delivery``: the delivery is recorded first (a
   unique row), so a redelivery never starts runs twice;
3. normalise the payload (:func:`include.codehost.events.from_github`) and start
   every enabled workflow whose trigger event and filters (branches, paths,
   labels) match, through Airflow's REST API with ``conf={"event": ...}``.

If Airflow cannot start any of the matched runs, the delivery record is
dropped and the answer is 503, so GitHub's redelivery can try again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from include.api import metrics
from include.api.errors import (
    BadRequest,
    NotFound,
    ProblemError,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
    problem_responses,
)
from include.api.types import SLUG_PATTERN
from include.db.models import Project, WebhookDelivery, Workflow, WorkflowVersion
from include.db.session import session_scope
from include.settings import get_settings
from include.workflows.triggers import trigger_matches

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

SIGNATURE_PREFIX = "sha256="


class StartedRun(BaseModel):
    workflow_id: int
    project: str
    dag_id: str
    run_id: str | None = None
    url: str | None = None
    error: str | None = None


class DeliveryResult(BaseModel):
    delivery_id: str
    event: str
    status: Literal["pong", "ignored", "dispatched", "duplicate", "partial"]
    detail: str = ""
    runs: list[StartedRun] = []
    received_at: datetime | None = None


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


# --- matching ------------------------------------------------------------------------------------


def trigger_of(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The trigger node's config of a stored workflow spec (None if it has none)."""
    for node in spec.get("nodes") or []:
        if isinstance(node, dict) and node.get("type") == "trigger":
            return node.get("config") or {}
    return None


def matching_workflows(session, event: Any, project_slug: str | None) -> list[tuple[Workflow, str]]:
    """Enabled, live workflows whose current version's trigger matches (with their project slug)."""
    stmt = (
        select(Workflow, Project.slug, WorkflowVersion.spec)
        .join(Project, Project.id == Workflow.project_id)
        .join(WorkflowVersion, (WorkflowVersion.workflow_id == Workflow.id)
              & (WorkflowVersion.version == Workflow.current_version))
        .where(Workflow.enabled.is_(True), Workflow.deleted_at.is_(None))
        .order_by(Workflow.id)
    )
    if project_slug:
        stmt = stmt.where(Project.slug == project_slug)
    matched = []
    for workflow, slug, spec in session.execute(stmt).all():
        trigger = trigger_of(spec or {})
        if trigger is not None and trigger_matches(trigger, event, delivery=True)[0]:
            matched.append((workflow, slug))
    return matched


# --- the endpoint ----------------------------------------------------------------------------------


@router.post(
    "/github",
    response_model=DeliveryResult,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Receive a GitHub webhook delivery",
    description=(
        "Verifies `X-Hub-Signature-256` with `AUTOPR_WEBHOOK_SECRET`, ignores deliveries already seen "
        "(`X-GitHub-Delivery`), and starts every enabled workflow whose trigger matches the event. "
        "`?project=` limits the workflows considered to one project. Authenticated by the signature, "
        "not by a token."
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
    project: Annotated[str | None, Query(pattern=SLUG_PATTERN, max_length=100)] = None,
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
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"Payload is not JSON ({exc}); configure the webhook with content type application/json") from None

    if x_github_event == "ping":
        response.status_code = status.HTTP_200_OK
        return DeliveryResult(delivery_id=x_github_delivery, event="ping", status="pong")

    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_dispatch, x_github_event, x_github_delivery, payload, project, response)


def _dispatch(event_name: str, delivery_id: str, payload: Any, project: str | None, response: Response) -> DeliveryResult:
    from include.codehost.events import UnsupportedEvent, from_github

    if project is not None:
        with session_scope() as session:
            if session.scalar(select(Project.id).where(Project.slug == project)) is None:
                raise NotFound(f"Project {project!r} not found")

    # 1. Record the delivery first: the unique delivery id is the de-duplication lock.
    try:
        with session_scope() as session:
            session.add(WebhookDelivery(delivery_id=delivery_id, event=event_name, status="received"))
    except IntegrityError:
        with session_scope() as session:
            seen = session.scalar(select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id))
            response.status_code = status.HTTP_200_OK
            return DeliveryResult(
                delivery_id=delivery_id, event=seen.event, status="duplicate",
                detail=f"delivery already received ({seen.status})",
                runs=[StartedRun(**r) for r in seen.runs or []], received_at=seen.received_at,
            )

    # 2. Normalise; unsupported actions are acknowledged, malformed payloads refused.
    try:
        event = from_github(event_name, payload, delivery_id=delivery_id)
    except UnsupportedEvent as exc:
        _finish(delivery_id, "ignored", str(exc), [])
        return DeliveryResult(delivery_id=delivery_id, event=event_name, status="ignored", detail=str(exc))
    except ValueError as exc:
        _forget(delivery_id)
        raise Unprocessable(f"Malformed {event_name} payload: {exc}") from None

    # 3. Start every matching workflow.
    with session_scope() as session:
        matched = [(wf.id, wf.project_id, slug, wf.current_version) for wf, slug in matching_workflows(session, event, project)]
    if not matched:
        detail = f"no enabled workflow is triggered by {event.kind}"
        _finish(delivery_id, "ignored", detail, [])
        return DeliveryResult(delivery_id=delivery_id, event=event_name, status="ignored", detail=detail)

    from include.api.routes.runs import start_run

    runs: list[StartedRun] = []
    for workflow_id, _project_id, slug, _version in matched:
        try:
            started = start_run(workflow_id, {**event.to_conf(), "workflow_version": _version},
                                run_id=webhook_run_id(delivery_id, workflow_id),
                                note=f"GitHub {event_name} delivery {delivery_id}")
            runs.append(StartedRun(workflow_id=workflow_id, project=slug, **started))
        except ProblemError as exc:  # one workflow's failure must not stop the others
            log.warning("webhook %s: starting workflow %s failed: %s", delivery_id, workflow_id, exc.detail)
            runs.append(StartedRun(workflow_id=workflow_id, project=slug, dag_id="", error=exc.detail))

    started = [r for r in runs if r.error is None]
    if not started:
        _forget(delivery_id)  # let GitHub's redelivery retry
        raise ServiceUnavailable(
            "Matched workflows could not be started: " + "; ".join(f"workflow {r.workflow_id}: {r.error}" for r in runs)
        )
    state = "dispatched" if len(started) == len(runs) else "partial"
    _finish(delivery_id, state, "", [r.model_dump() for r in runs])
    return DeliveryResult(delivery_id=delivery_id, event=event_name, status=state, runs=runs)


def webhook_run_id(delivery_id: str, workflow_id: int) -> str:
    """A deterministic Airflow run id per (delivery, workflow): a retried delivery cannot run twice."""
    safe = re.sub(r"[^A-Za-z0-9_.~:+-]", "_", delivery_id)[:120]
    return f"webhook__{safe}__{workflow_id}"


def _finish(delivery_id: str, state: str, detail: str, runs: list[dict[str, Any]]) -> None:
    with session_scope() as session:
        row = session.scalar(select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id))
        row.status, row.detail, row.runs = state, detail[:2000], runs
    metrics.WEBHOOK_DELIVERIES.labels(state).inc()


def _forget(delivery_id: str) -> None:
    with session_scope() as session:
        row = session.scalar(select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id))
        if row is not None:
            session.delete(row)
