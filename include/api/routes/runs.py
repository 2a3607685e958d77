"""Workflow runs: start one through Airflow's REST API, list runs and per-node states.

A workflow compiles to one DAG (``include.workflows.model.dag_id_for``);
each node is one task, so a run's task instances are the per-node states.
Runs are started with ``conf={"event": ...}`` — the same shape a webhook
delivery produces — so a manual run and a code-host event run the same code.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from include.airflow_client import AirflowError, AirflowUnavailable, ui_url
from include.api import metrics
from include.api.airflow_service import airflow_client, failure_reasons, log_url, reason_from_log, start_run
from include.api.deps import CurrentUser, DbSession, _token_from, authorize
from include.api.errors import BadGateway, Conflict, NotFound, ServiceUnavailable, Unprocessable, problem_responses
from include.api.types import NO_NUL, ProjectSlug, WorkflowSlug
from include.db.models import Workflow, WorkflowVersion
from include.enums import Role
from include.workflows.model import dag_id_for

router = APIRouter(prefix="/api/v1/projects/{project}/workflows/{workflow}/runs", tags=["runs"])

RunId = Annotated[str, Path(pattern=NO_NUL, min_length=1, max_length=250)]


# --- API models -----------------------------------------------------------------------------------


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: dict[str, Any] | None = Field(
        None, description="A code-host event (CodeHostEvent shape); default: a manual event with no repository."
    )
    note: str | None = Field(None, max_length=1000, pattern=NO_NUL)


class RunOut(BaseModel):
    dag_id: str
    run_id: str
    state: str | None = None
    run_type: str | None = None
    conf: dict[str, Any] | None = None
    queued_at: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    url: str


class RunList(BaseModel):
    items: list[RunOut]
    total: int
    limit: int
    offset: int


class NodeState(BaseModel):
    node_id: str = Field(description="The workflow node (Airflow task id)")
    state: str | None
    try_number: int | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    duration: float | None = None
    url: str
    reason: str | None = Field(None, description="Why the node failed: the task's error (failed nodes only)")
    log_url: str | None = Field(None, description="The Airflow UI page of the failed try, opened on its log")


FAILED_STATES = ("failed", "up_for_retry")


class RunDetail(RunOut):
    nodes: list[NodeState]


def _run_out(dag_id: str, run: dict[str, Any]) -> dict[str, Any]:
    return {
        "dag_id": dag_id, "run_id": run["dag_run_id"], "state": run.get("state"), "run_type": run.get("run_type"),
        "conf": run.get("conf"), "queued_at": run.get("queued_at"), "start_date": run.get("start_date"),
        "end_date": run.get("end_date"), "url": ui_url(dag_id, run["dag_run_id"]),
    }


def _workflow_row(session, user, project: str, workflow: str, needed: Role) -> Workflow:
    proj = authorize(session, user, project, needed)
    row = session.scalar(select(Workflow).where(Workflow.project_id == proj.id, Workflow.slug == workflow))
    if row is None:
        raise NotFound(f"Workflow {workflow!r} not found in project {project!r}")
    return row


#: Trigger events whose runs read a code-host event: without one every task after the trigger is skipped.
CODE_HOST_EVENTS = ("pr_opened", "pr_updated", "push", "issue_created")
#: The event fields a run of such a trigger needs to check out and report on a change.
NEEDED_FIELDS = {"pr_opened": ("repository", "pr_number"), "pr_updated": ("repository", "pr_number"),
                 "push": ("repository",), "issue_created": ("repository", "issue_number")}


def example_event(kind: str) -> dict[str, Any]:
    """A well-formed event of ``kind`` to start a run with (shown in the 422 that asks for one)."""
    if kind in ("pr_opened", "pr_updated"):
        return {"kind": kind, "repository": "owner/name", "pr_number": 1, "ref": "feature-branch",
                "base_ref": "main", "sha": "<head commit sha>"}
    if kind == "push":
        return {"kind": kind, "repository": "owner/name", "ref": "main", "sha": "<pushed commit sha>"}
    return {"kind": kind, "repository": "owner/name", "issue_number": 1}


def _trigger_config(session, row: Workflow) -> dict[str, Any] | None:
    spec = session.scalar(select(WorkflowVersion.spec).where(WorkflowVersion.workflow_id == row.id,
                                                            WorkflowVersion.version == row.current_version))
    for node in (spec or {}).get("nodes") or []:
        if isinstance(node, dict) and node.get("type") == "trigger":
            return node.get("config") or {}
    return None


def _event_for(trigger: dict[str, Any] | None, given: dict[str, Any] | None, username: str):
    """The run's event, or a 422 saying which event this workflow's trigger needs.

    A run started without the event its trigger reads would "succeed" with
    every task skipped, so code-host triggers refuse it here instead.
    """
    from include.codehost.events import CodeHostEvent
    from include.workflows.triggers import trigger_matches

    needed = (trigger or {}).get("event")
    if needed not in CODE_HOST_EVENTS:
        data = given or {"kind": "manual", "author": username}
    elif not given:
        example = example_event(needed)
        raise Unprocessable(
            f"This workflow starts on {needed!r} events: send one as \"event\", e.g. {json.dumps({'event': example})}",
            errors=[{"pointer": "/event", "message": f"a {needed!r} event is required", "example": example}])
    else:
        data = {"kind": needed, **given}
    try:
        event = CodeHostEvent.model_validate(data)
    except ValidationError as exc:
        errors = [{"pointer": "/event/" + "/".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise Unprocessable("Invalid event", errors=errors) from None
    if needed in CODE_HOST_EVENTS:
        example = example_event(needed)
        if event.kind != needed:
            raise Unprocessable(
                f"This workflow starts on {needed!r} events, not {event.kind!r}: every task would be skipped",
                errors=[{"pointer": "/event/kind", "message": f"must be {needed!r}", "example": example}])
        missing = [f for f in NEEDED_FIELDS[needed] if getattr(event, f) is None]
        if missing:
            raise Unprocessable(
                f"A {needed!r} event needs {', '.join(missing)} to run this workflow",
                errors=[{"pointer": f"/event/{f}", "message": f"required for a {needed!r} event", "example": example}
                        for f in missing])
        matches, why = trigger_matches(trigger, event)
        if not matches:
            raise Unprocessable(f"This event does not start the workflow ({why}): every task would be skipped",
                                errors=[{"pointer": "/event", "message": why}])
    return event


def _airflow_call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except AirflowUnavailable as exc:
        raise ServiceUnavailable(f"Airflow is unreachable: {exc.detail}") from None
    except AirflowError as exc:
        if exc.status == 404:
            return None
        raise BadGateway(f"Airflow: {exc.status} {exc.detail}") from None


# --- routes ------------------------------------------------------------------------------------------


@router.post("", status_code=status.HTTP_201_CREATED, response_model=RunOut, summary="Run a workflow now (editor)",
             responses=problem_responses(401, 403, 404, 409, 422, 502, 503))
def trigger_run(project: ProjectSlug, workflow: WorkflowSlug, body: RunCreate, user: CurrentUser,
                session: DbSession, request: Request, response: Response) -> RunOut:
    row = _workflow_row(session, user, project, workflow, Role.editor)
    if not row.enabled and row.deleted_at is None:  # a disabled workflow runs in no case: say that, not what event it lacks
        raise Conflict(f"Workflow {workflow!r} is disabled")
    event = _event_for(_trigger_config(session, row), body.event, user.username)
    workflow_id = row.id
    session.commit()  # release the row before the (slow) Airflow round trips
    started = start_run(workflow_id, {**event.to_conf(), "workflow_version": row.current_version},
                        note=body.note or f"started by {user.username} via AutoPR",
                        user_token=_token_from(request))
    with airflow_client(_token_from(request)) as client:
        run = _airflow_call(client.get_dag_run, started["dag_id"], started["run_id"]) or {"dag_run_id": started["run_id"]}
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{started['run_id']}"
    return RunOut(**_run_out(started["dag_id"], run))


@router.get("", response_model=RunList, summary="Runs of a workflow, newest first",
            responses=problem_responses(401, 404, 502, 503))
def list_runs(project: ProjectSlug, workflow: WorkflowSlug, user: CurrentUser, session: DbSession, request: Request,
              limit: Annotated[int, Query(ge=1, le=100)] = 25,
              offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> RunList:
    _workflow_row(session, user, project, workflow, Role.viewer)
    dag_id = dag_id_for(project, workflow)
    session.commit()
    with airflow_client(_token_from(request)) as client:
        data = _airflow_call(client.list_dag_runs, dag_id, limit=limit, offset=offset)
    if data is None:  # Airflow has not parsed the DAG yet: no runs
        return RunList(items=[], total=0, limit=limit, offset=offset)
    for r in data["dag_runs"]:
        metrics.observe_run(dag_id, r)
    return RunList(items=[RunOut(**_run_out(dag_id, r)) for r in data["dag_runs"]],
                   total=data["total_entries"], limit=limit, offset=offset)


@router.get("/{run_id}", response_model=RunDetail, summary="One run with the state of every node",
            responses=problem_responses(401, 404, 502, 503))
def get_run(project: ProjectSlug, workflow: WorkflowSlug, run_id: RunId, user: CurrentUser, session: DbSession,
            request: Request) -> RunDetail:
    _workflow_row(session, user, project, workflow, Role.viewer)
    dag_id = dag_id_for(project, workflow)
    reasons = failure_reasons(session, dag_id, run_id)
    session.commit()
    with airflow_client(_token_from(request)) as client:
        run = _airflow_call(client.get_dag_run, dag_id, run_id)
        if run is None:
            raise NotFound(f"Run {run_id!r} of workflow {workflow!r} not found")
        tasks = _airflow_call(client.task_instances, dag_id, run_id) or []
        nodes = []
        for t in tasks:
            reason = link = None
            if t.get("state") == "upstream_failed":
                reason = "not run: a node it depends on failed"
            elif t.get("state") in FAILED_STATES:
                recorded = reasons.get(t["task_id"])
                reason = recorded["reason"] if recorded else None
                if reason is None and t.get("try_number"):  # the listener missed it: Airflow's log says why
                    reason = reason_from_log(client, dag_id, run_id, t["task_id"], t["try_number"])
                link = log_url(dag_id, run_id, t["task_id"], t.get("try_number"))
            nodes.append(NodeState(node_id=t["task_id"], state=t.get("state"), try_number=t.get("try_number"),
                                   start_date=t.get("start_date"), end_date=t.get("end_date"),
                                   duration=t.get("duration"), url=ui_url(dag_id, run_id, t["task_id"]),
                                   reason=reason, log_url=link))
    metrics.observe_run(dag_id, run)
    return RunDetail(**_run_out(dag_id, run), nodes=nodes)
