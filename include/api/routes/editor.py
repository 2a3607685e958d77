"""Serve the visual workflow editor (the Vite build of ``editor/``) at ``/editor/``.

The Airflow plugin mounts the platform app at ``/autopr``, so the editor lives
at ``/autopr/editor/``, same-origin with the Airflow UI that embeds it as an
``external_views`` iframe.  Same origin matters: the editor's API calls carry
the Airflow UI's ``_token`` cookie and need no credential of their own.

The page itself is only served to a signed-in user; anyone else is sent to
Airflow's login (``/api/v2/auth/login`` picks the configured auth manager's
login page) and comes back here afterwards.  The hashed bundle files under
``assets/`` hold no data and are cached for a year.  Paths that are not files
fall back to ``index.html`` so the editor's own URLs survive a reload.

It also answers the editor's dry run (``POST /api/v1/workflows/dry-run``):
the DAG the workflow compiles to, built by the same code Airflow's DAG
loader runs, described as tasks, branches and schedule — before saving.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from include.api.deps import CurrentUser, current_user
from include.api.errors import (
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
    problem_responses,
)
from include.api.workflow_http import workflow_problem_items
from include.settings import get_settings
from include.workflows.validation import load_workflow, validate_workflow

EDITOR_DIR = Path(__file__).resolve().parent.parent / "static" / "editor"
BUILD_COMMAND = "npm ci --prefix editor && npm run build --prefix editor"
AIRFLOW_LOGIN_PATH = "/api/v2/auth/login"

router = APIRouter(tags=["editor"])


def _built_dir() -> Path:
    if not (EDITOR_DIR / "index.html").is_file():
        raise ServiceUnavailable(
            f"The workflow editor has not been built yet: run `{BUILD_COMMAND}` in the repository."
        )
    return EDITOR_DIR


def _login_redirect(request: Request) -> RedirectResponse:
    """Send the browser to Airflow's login, returning to this page afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{AIRFLOW_LOGIN_PATH}?{urlencode({'next': here})}", status_code=303)


async def _index(request: Request) -> Response:
    root = _built_dir()
    try:
        await current_user(request)
    except Unauthorized:
        return _login_redirect(request)
    # The HTML names the hashed bundles: never cache it, or a rebuilt editor is not picked up.
    return FileResponse(root / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/editor/config.json", include_in_schema=False)
def editor_config(user: CurrentUser, request: Request) -> dict[str, str]:
    """Where the editor links to: the Airflow UI (run grid) and the live dashboard."""
    settings = get_settings()
    host = settings.dashboard_host
    if host in ("", "0.0.0.0", "::"):  # bound to every interface: reachable under the name the user typed
        host = request.url.hostname or "127.0.0.1"
    return {
        "user": user.username,
        "airflow_ui_url": settings.airflow_ui_url.rstrip("/"),
        "dashboard_url": f"{request.url.scheme}://{host}:{settings.dashboard_port}",
    }


@router.get("/editor", include_in_schema=False)
def editor_without_slash(request: Request) -> RedirectResponse:
    return RedirectResponse(request.url.path + "/", status_code=308)


@router.get("/editor/", include_in_schema=False)
async def editor_index(request: Request) -> Response:
    return await _index(request)


@router.get("/editor/{path:path}", include_in_schema=False)
async def editor_file(path: str, request: Request) -> Response:
    root = _built_dir()
    candidate = (root / path).resolve()
    if not candidate.is_relative_to(root):
        raise NotFound(f"No editor file {path!r}")
    if candidate.is_file():
        cache = "public, max-age=31536000, immutable" if path.startswith("assets/") else "no-cache"
        return FileResponse(candidate, headers={"Cache-Control": cache})
    if "." in Path(path).name:
        raise NotFound(f"No editor file {path!r}")
    return await _index(request)  # a client-side route: let the editor read the URL


# --- dry run: the DAG Airflow would build, before saving -------------------------------------------


class DryRunTask(BaseModel):
    task_id: str
    label: str
    node_type: str
    subtype: str | None
    operator: str
    upstream: list[str]
    downstream: list[str]
    trigger_rule: str
    retries: int
    retry_delay_seconds: float | None
    retry_exponential_backoff: bool
    timeout_seconds: float | None


class DryRunOut(BaseModel):
    dag_id: str
    schedule: str | None = Field(description="Cron of a schedule trigger; null: runs only when triggered")
    tags: list[str]
    tasks: list[DryRunTask] = Field(description="In topological order")
    branches: dict[str, dict[str, list[str]]] = Field(description="condition id -> {true: [...], false: [...]}")


@router.post(
    "/api/v1/workflows/dry-run",
    response_model=DryRunOut,
    summary="Compile a workflow document without saving it: the DAG, tasks, branches and schedule",
    description="Built by the same code the DAG loader runs in Airflow. 422 problem+json when the workflow is invalid.",
    responses=problem_responses(400, 401, 422),
)
def dry_run(document: Annotated[dict[str, Any], Body()], user: CurrentUser) -> DryRunOut:
    problems = validate_workflow(document)
    if problems:
        raise Unprocessable(
            f"Workflow has {len(problems)} problem(s)", errors=workflow_problem_items(problems, document)
        )
    from include.dag_factory.dag_builder import build_dag  # imports the Airflow SDK: only when asked
    from include.workflows.graph import CompiledGraph, subtype

    workflow = load_workflow(document)
    compiled = CompiledGraph.from_workflow(workflow)
    dag = build_dag(workflow)
    tasks = []
    for node_id in compiled.order:
        op = dag.get_task(node_id)
        node = compiled.nodes[node_id]
        delay, timeout = op.retry_delay, op.execution_timeout
        tasks.append(
            DryRunTask(
                task_id=node_id,
                label=node.display_name,
                node_type=node.type,
                subtype=subtype(node),
                operator=type(op).__name__,
                upstream=sorted(op.upstream_task_ids),
                downstream=sorted(op.downstream_task_ids),
                trigger_rule=str(getattr(op.trigger_rule, "value", op.trigger_rule)),
                retries=int(op.retries or 0),
                retry_delay_seconds=delay.total_seconds() if delay is not None else None,
                retry_exponential_backoff=bool(op.retry_exponential_backoff),
                timeout_seconds=timeout.total_seconds() if timeout is not None else None,
            )
        )
    trigger = workflow.trigger.config
    return DryRunOut(
        dag_id=dag.dag_id,
        schedule=trigger.cron if trigger.event == "schedule" else None,
        tags=sorted(dag.tags),
        tasks=tasks,
        branches=compiled.branches,
    )
