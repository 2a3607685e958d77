"""The API's calls into Airflow, shared by several routes: which credentials, starting a run, a parse after a save.

Routes only translate HTTP; what the workflow, template, run and webhook
routes all need from Airflow lives here, so no route module imports another.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import BackgroundTasks, Request
from sqlalchemy import select

from include.airflow_client import AirflowClient, AirflowError, AirflowUnavailable, _q, ui_url
from include.api import metrics
from include.api.deps import _airflow_auth_manager, _token_from
from include.api.errors import BadGateway, Conflict, NotFound, ServiceUnavailable
from include.db.models import Project, Workflow
from include.db.session import session_scope
from include.settings import get_settings
from include.workflows import parse_requests
from include.workflows.model import dag_id_for
from include.workflows.service import RequestParse


def airflow_client(user_token: str | None = None) -> AirflowClient:
    """The service user when configured, else the caller's own Airflow token."""
    settings = get_settings()
    if settings.airflow_api_username:
        return AirflowClient(settings=settings)
    if user_token:
        return AirflowClient(token=user_token, settings=settings)
    raise ServiceUnavailable(
        "No Airflow credentials to start runs with: set AUTOPR_AIRFLOW_API_USERNAME and AUTOPR_AIRFLOW_API_PASSWORD"
    )


# --- a parse after a save -------------------------------------------------------------------------


def parse_after_response(background: BackgroundTasks, request: Request) -> RequestParse:
    """The save service's ``request_parse`` for a request: ask Airflow once the response is sent."""
    token = _token_from(request)
    return lambda project, workflow_id: background.add_task(_request_parse, project, workflow_id, token)


def _request_parse(project: str, workflow_id: str, user_token: str | None) -> None:
    try:
        client = airflow_client(user_token)
    except ServiceUnavailable:  # no credentials: only the in-process queue is left
        client = None
    parse_requests.request_parse(project, workflow_id, client, inside_api_server=_airflow_auth_manager() is not None)


# --- starting a run -------------------------------------------------------------------------------


def parsed_version(dag: dict[str, Any]) -> int | None:
    """The workflow version of the DAG Airflow has parsed, from its ``version:N`` tag (the DAG builder sets it)."""
    for tag in dag.get("tags") or []:
        name = tag.get("name", "") if isinstance(tag, dict) else str(tag)
        if name.startswith("version:") and name[len("version:"):].isdigit():
            return int(name[len("version:"):])
    return None


# How long starting a run waits for Airflow to parse a just-saved version before answering 503: a person who
# presses Run right after Save should get the run, not a retry.
PARSE_WAIT_SECONDS = 20.0


def _wait_for_parsed(client: Any, dag_id: str, dag: dict[str, Any], version: int) -> dict[str, Any]:
    deadline = time.monotonic() + PARSE_WAIT_SECONDS
    while (parsed := parsed_version(dag)) is not None and parsed < version and time.monotonic() < deadline:
        time.sleep(0.5)
        dag = client.get_dag(dag_id) or dag
    return dag


def start_run(workflow_id: int, conf: dict[str, Any], *, run_id: str | None = None, note: str | None = None,
              user_token: str | None = None) -> dict[str, Any]:
    """Start one run of a stored workflow; returns ``{"dag_id", "run_id", "url"}``.

    The DAG is unpaused first (Airflow creates DAGs paused, and a run of a
    paused DAG would sit queued).  A ``run_id`` Airflow already has counts as
    started: webhook redeliveries with the same id never run twice.
    """
    with session_scope() as session:
        row = session.execute(
            select(Workflow, Project.slug).join(Project, Project.id == Workflow.project_id).where(Workflow.id == workflow_id)
        ).one_or_none()
        if row is None:
            raise NotFound(f"Workflow {workflow_id} not found")
        workflow, project_slug = row
        if workflow.deleted_at is not None:
            raise Conflict(f"Workflow {workflow.slug!r} is deleted; restore it first")
        if not workflow.enabled:
            raise Conflict(f"Workflow {workflow.slug!r} is disabled")
        dag_id = dag_id_for(project_slug, workflow.slug)
        stored_version = workflow.current_version
    with airflow_client(user_token) as client:
        try:
            dag = client.get_dag(dag_id)
            if dag is None:
                raise ServiceUnavailable(
                    f"Airflow has not loaded DAG {dag_id!r} yet (it appears within seconds of a save); retry shortly",
                    headers={"Retry-After": "5"},
                )
            dag = _wait_for_parsed(client, dag_id, dag, stored_version)
            parsed = parsed_version(dag)
            if parsed is not None and parsed < stored_version:
                # A run is pinned to the DAG version Airflow has parsed: started now it would execute the older
                # version while the platform records the newer one.
                raise ServiceUnavailable(
                    f"Airflow still runs version {parsed} of {dag_id!r}; version {stored_version} appears within "
                    "seconds of its save; retry shortly",
                    headers={"Retry-After": "5"},
                )
            if dag.get("is_paused"):
                client.set_paused(dag_id, False)
            try:
                run = client.trigger_dag_run(dag_id, conf, run_id=run_id, note=note)
                metrics.WORKFLOW_RUNS_STARTED.labels(project_slug, workflow.slug).inc()
            except AirflowError as exc:
                if exc.status == 409 and run_id:
                    run = client.get_dag_run(dag_id, run_id)
                else:
                    raise
        except AirflowUnavailable as exc:
            raise ServiceUnavailable(f"Airflow is unreachable: {exc.detail}") from None
        except AirflowError as exc:
            raise BadGateway(f"Airflow refused to start {dag_id!r}: {exc.status} {exc.detail}") from None
    return {"dag_id": dag_id, "run_id": run["dag_run_id"], "url": ui_url(dag_id, run["dag_run_id"])}


# --- what Airflow knows about a workflow's DAG file and a run's failures ------------------------------

# A workflow's GET and list ask Airflow for import errors while the request is served; a slow or absent
# Airflow must cost a read only this long, and then the workflow is shown without Airflow's verdict.
IMPORT_ERRORS_TIMEOUT_SECONDS = 3.0


def compiled_file_name(project: str, workflow: str) -> str:
    """The compiled DAG file's name (``include.workflows.compiler`` writes ``<project>__<workflow>.py``)."""
    return f"{project}__{workflow}.py"


def import_errors_by_file(user_token: str | None = None) -> dict[str, dict[str, Any]] | None:
    """Airflow's current import errors keyed by file name (no directory), read now; None when Airflow can't say.

    Read at request time, never while a DAG is parsed: the error belongs to
    the last parse of the compiled file, which only Airflow knows.
    """
    settings = get_settings()
    try:
        if settings.airflow_api_username:
            client = AirflowClient(settings=settings, timeout=IMPORT_ERRORS_TIMEOUT_SECONDS)
        elif user_token:
            client = AirflowClient(token=user_token, settings=settings, timeout=IMPORT_ERRORS_TIMEOUT_SECONDS)
        else:
            return None
        with client:
            errors = client.import_errors()
    except (AirflowUnavailable, AirflowError):
        return None
    found: dict[str, dict[str, Any]] = {}
    for error in errors:
        filename = error.get("filename") or ""
        name = filename.replace("\\", "/").rsplit("/", 1)[-1]
        found[name] = {"message": error.get("stack_trace") or "", "filename": filename,
                       "timestamp": error.get("timestamp"), "bundle_name": error.get("bundle_name")}
    return found


def failure_reasons(session: Any, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
    """Per failed task: the error the Airflow listener recorded (``execution_events`` payload ``error``).

    The listener captures the task's exception when it fails (the same text
    the dashboard shows), so the reason needs no log parsing; the latest try
    wins.  Returns ``{task_id: {"reason": str, "try_number": int}}``.
    """
    from include.db.models import ExecutionEvent

    rows = session.execute(
        select(ExecutionEvent.task_id, ExecutionEvent.try_number, ExecutionEvent.payload)
        .where(ExecutionEvent.dag_id == dag_id, ExecutionEvent.run_id == run_id,
               ExecutionEvent.task_id.is_not(None), ExecutionEvent.state.in_(("failed", "up_for_retry")))
        .order_by(ExecutionEvent.id)
    ).all()
    reasons: dict[str, dict[str, Any]] = {}
    for task_id, try_number, payload in rows:
        error = (payload or {}).get("error")
        if error and (task_id not in reasons or try_number >= reasons[task_id]["try_number"]):
            reasons[task_id] = {"reason": str(error), "try_number": try_number}
    return reasons


def reason_from_log(client: AirflowClient, dag_id: str, run_id: str, task_id: str, try_number: int) -> str | None:
    """The last error line of a task's log (Airflow 3 structured log), when the listener recorded nothing."""
    try:
        response = client.request(
            "GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}/logs/{try_number}",
            params={"full_content": "true"},
        )
        content = response.json().get("content")
    except (AirflowUnavailable, AirflowError, ValueError, AttributeError):  # no log (yet), or not JSON
        return None
    if not isinstance(content, list):
        return None
    for entry in reversed(content):
        if isinstance(entry, dict) and str(entry.get("level", "")).lower() in ("error", "critical"):
            text = str(entry.get("event") or "")
            error_detail = entry.get("error_detail")
            if isinstance(error_detail, list) and error_detail and isinstance(error_detail[-1], dict):
                last = error_detail[-1]
                text = f"{last.get('exc_type', '')}: {last.get('exc_value', '')}".strip(": ") or text
            if text:
                return text[:2000]
    return None


def log_url(dag_id: str, run_id: str, task_id: str, try_number: int | None) -> str:
    """The Airflow UI page of one task try, which opens on its log."""
    url = ui_url(dag_id, run_id, task_id)
    return f"{url}?try_number={try_number}" if try_number else url
