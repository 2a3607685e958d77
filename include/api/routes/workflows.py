"""Workflows over HTTP: CRUD with optimistic concurrency, node/edge edits, versions, validate, import/export.

The rules live in :mod:`include.workflows.store` (validate, version, compile
after commit); this module maps them onto HTTP:

* ``ETag`` is the workflow's revision; every write needs ``If-Match`` with it
  (``428`` without, ``409`` with a stale one — the stored workflow is
  untouched and the response carries the current ETag, so nothing is lost);
* every save — whole document, one node, one edge, a restore — is a new
  immutable version, recompiled into the DAG folder after the commit; then
  Airflow is asked to re-parse the file (best effort, in the background) so
  the DAG shows up within seconds;
* validation problems are 422 problem+json whose ``errors`` carry a JSON
  pointer into the submitted document plus the node/edge id and field.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Body, Header, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from include.airflow_client import AirflowError, ui_url
from include.api.deps import CurrentUser, DbSession, _token_from, authorize
from include.api.errors import (
    PROBLEM_JSON,
    BadRequest,
    Conflict,
    NotFound,
    PreconditionRequired,
    ProblemError,
    Unprocessable,
    problem_responses,
    workflow_problem_items,
)
from include.api.types import NO_NUL, SLUG_PATTERN, ProjectSlug, WorkflowSlug
from include.auth.access import projects_of
from include.auth.tokens import Identity
from include.enums import Role
from include.workflows import store
from include.workflows.model import DAG_ID_PREFIX, NODE_ID_PATTERN, dag_id_for
from include.workflows.serialization import WorkflowParseError, dump, parse_text, to_dict
from include.workflows.validation import WorkflowInvalid, validate_workflow

log = logging.getLogger(__name__)

router = APIRouter(tags=["workflows"])

PREFIX = "/api/v1/projects/{project}/workflows"
ITEM = PREFIX + "/{workflow}"

NodeIdPath = Annotated[str, Path(pattern=NODE_ID_PATTERN, max_length=100, description="Node id")]
EdgeIdPath = Annotated[str, Path(pattern=NO_NUL, min_length=1, max_length=200, description="Edge id")]
IfMatch = Annotated[str | None, Header(max_length=100, description='The ETag of the revision being changed ("3")')]
DocBody = Annotated[dict[str, Any], Body(description="A workflow document (see GET /api/v1/schemas/workflow)")]
FormatQuery = Annotated[Literal["json", "yaml"] | None, Query(alias="format", description="json or yaml")]

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
ETAG_RE = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


# --- response models ------------------------------------------------------------------------------


class WorkflowOut(store.WorkflowRecord):
    model_config = ConfigDict(extra="forbid")

    dag_id: str
    airflow_url: str


class WorkflowPage(BaseModel):
    items: list[WorkflowOut]
    total: int
    offset: int
    limit: int


class ValidationResult(BaseModel):
    valid: bool
    problems: list[dict[str, Any]] = []


class Position(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: float = Field(allow_inf_nan=False, ge=-1e9, le=1e9)
    y: float = Field(allow_inf_nan=False, ge=-1e9, le=1e9)


# --- helpers -----------------------------------------------------------------------------------------


def etag(revision: int) -> str:
    return f'"{revision}"'


def parse_if_match(value: str | None, *, required: bool) -> int | None:
    """The revision named by If-Match (None for ``*`` or when optional and absent)."""
    if value is None or not value.strip():
        if required:
            raise PreconditionRequired(
                "This write needs If-Match with the workflow's ETag (from GET); it prevents overwriting someone else's save"
            )
        return None
    if value.strip() == "*":
        return None
    match = ETAG_RE.match(value.split(",")[0])
    if not match:
        raise BadRequest(f"If-Match {value!r} is not an ETag of this API (e.g. \"3\")")
    return int(match.group(1))


def _out(record: store.WorkflowRecord) -> WorkflowOut:
    dag_id = dag_id_for(record.project, record.id)
    return WorkflowOut(**record.model_dump(), dag_id=dag_id, airflow_url=ui_url(dag_id))


def _respond(response: Response, record: store.WorkflowRecord) -> WorkflowOut:
    response.headers["ETag"] = etag(record.revision)
    return _out(record)


def store_errors(exc: Exception, document: Any = None) -> ProblemError:
    """Map the store's exceptions onto problem+json errors."""
    if isinstance(exc, WorkflowInvalid):
        return Unprocessable(str(exc), errors=workflow_problem_items(exc.problems, document or {}))
    if isinstance(exc, store.StaleRevision):
        return Conflict(
            f"{exc}. Reload the workflow (GET) and apply your change to revision {exc.current}; nothing was saved.",
            headers={"ETag": etag(exc.current)},
        )
    if isinstance(exc, (store.WorkflowExists, store.TemplateExists)):
        return Conflict(str(exc), errors=[{"pointer": f"/{exc.field}", "message": str(exc)}] if exc.field else None)
    if isinstance(exc, (store.WorkflowNotFound, store.VersionNotFound, store.TemplateNotFound, store.ProjectNotFound)):
        return NotFound(str(exc))
    raise exc


def commit_and_reparse(session: Session, background: BackgroundTasks, request: Request,
                       record: store.WorkflowRecord) -> None:
    """Commit now (the store compiles after commit), then ask Airflow to re-parse in the background."""
    session.commit()
    background.add_task(request_reparse, record.project, record.id, _token_from(request))


def request_reparse(project: str, workflow_id: str, user_token: str | None) -> None:
    """Best effort: ask Airflow to parse the workflow's DAG file now instead of at its next scan.

    A DAG Airflow already knows is re-parsed through its own file token.  A new
    workflow's stub is a new file the DAG processor finds on its next folder
    scan (``[dag_processor] refresh_interval``); when the workflows are loaded
    through ``dags/workflow_loader.py`` (workflows_dir outside the DAG folder),
    re-parsing the loader's file picks the new spec up right away.
    """
    from include.api.routes.runs import airflow_client

    try:
        with airflow_client(user_token) as client:
            if client.request_reparse(dag_id_for(project, workflow_id)):
                return
            tokens = {d["file_token"] for d in client.list_dags(dag_id_pattern=DAG_ID_PREFIX, limit=100)
                      if str(d.get("fileloc", "")).endswith("workflow_loader.py") and d.get("file_token")}
            for token in tokens:
                client.reparse_file(token)
            if tokens:
                return
    except (AirflowError, ProblemError) as exc:
        log.info("re-parse request for %s/%s not sent: %s", project, workflow_id, exc)
    _queue_new_file_inside_airflow(project, workflow_id)


def _queue_new_file_inside_airflow(project: str, workflow_id: str) -> None:
    """Inside Airflow's API server, queue a never-parsed file the way ``PUT /parseDagFile`` does.

    Airflow's endpoint only takes files it has already parsed, so the first
    save of a workflow would otherwise wait for the next folder scan.  The
    request row is exactly what that endpoint writes; outside the API server
    this does nothing.
    """
    from include.api.deps import _airflow_auth_manager

    if _airflow_auth_manager() is None:
        return
    try:
        from pathlib import Path as FsPath

        from airflow.configuration import conf
        from airflow.models.dagbag import DagPriorityParsingRequest
        from airflow.utils.session import create_session

        from include.workflows.compiler import compiled_paths

        dags_folder = FsPath(conf.get("core", "dags_folder")).resolve()
        stub = compiled_paths(project, workflow_id)[1].resolve()
        target = stub if dags_folder in stub.parents else dags_folder / "workflow_loader.py"
        if not target.exists():
            return
        with create_session() as session:
            session.merge(DagPriorityParsingRequest(bundle_name="dags-folder",
                                                    relative_fileloc=str(target.relative_to(dags_folder))))
    except Exception as exc:  # noqa: BLE001 - best effort; the folder scan still picks the file up
        log.info("could not queue a parse of %s/%s: %s", project, workflow_id, exc)


def _load(session: Session, user: Identity, project: str, workflow: str, needed: Role,
          include_deleted: bool = False) -> store.WorkflowRecord:
    authorize(session, user, project, needed)
    try:
        return store.get_workflow(session, project, workflow, include_deleted=include_deleted)
    except store.StoreError as exc:
        raise store_errors(exc) from None


def _save(session: Session, user: Identity, project: str, workflow: str, document: dict[str, Any],
          expected: int | None, comment: str) -> store.WorkflowRecord:
    try:
        return store.save_new_version(session, project, workflow, document, user.username,
                                      expected_revision=expected, comment=comment)
    except (store.StoreError, WorkflowInvalid) as exc:
        raise store_errors(exc, document) from None


def _mutate(session: Session, user: Identity, project: str, workflow: str, if_match: str | None,
            change, comment: str) -> store.WorkflowRecord:
    """Apply ``change(document)`` to the current spec and save it as a new version (If-Match required)."""
    expected = parse_if_match(if_match, required=True)
    record = _load(session, user, project, workflow, Role.editor)
    if expected is not None and expected != record.revision:
        raise store_errors(store.StaleRevision(expected, record.revision))
    document = to_dict(record.spec)
    change(document)
    return _save(session, user, project, workflow, document, record.revision, comment)


WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 422, 428)


# --- collection ------------------------------------------------------------------------------------


@router.get("/api/v1/workflows", response_model=WorkflowPage, summary="Workflows the caller can see (paged)",
            responses=problem_responses(401, 404))
def list_workflows(
    user: CurrentUser, session: DbSession,
    project: Annotated[str | None, Query(pattern=SLUG_PATTERN, max_length=63, description="Only this project")] = None,
    include_deleted: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> WorkflowPage:
    if project is not None:
        authorize(session, user, project, Role.viewer)
        scope: str | list[str] = project
    else:
        scope = sorted(projects_of(session, user.username))
    page = store.list_workflows(session, scope, offset=offset, limit=limit, include_deleted=include_deleted)
    return WorkflowPage(items=[_out(r) for r in page.items], total=page.total, offset=page.offset, limit=page.limit)


@router.post("/api/v1/workflows/validate", response_model=ValidationResult,
             summary="Validate a workflow document without saving it",
             description="200 with `valid: true`, or 422 problem+json listing every problem with a JSON pointer.",
             responses=problem_responses(400, 401, 422))
def validate(document: DocBody, user: CurrentUser) -> ValidationResult:
    problems = validate_workflow(document)
    if problems:
        raise Unprocessable(f"Workflow has {len(problems)} problem(s)",
                            errors=workflow_problem_items(problems, document))
    return ValidationResult(valid=True)


@router.post(PREFIX, status_code=status.HTTP_201_CREATED, response_model=WorkflowOut,
             summary="Create a workflow (editor)", responses=problem_responses(400, 401, 403, 404, 409, 422))
def create_workflow(project: ProjectSlug, document: DocBody, user: CurrentUser, session: DbSession,
                    request: Request, response: Response, background: BackgroundTasks) -> WorkflowOut:
    authorize(session, user, project, Role.editor)
    return _create(session, user, project, document, request, response, background)


def _create(session: Session, user: Identity, project: str, document: dict[str, Any], request: Request,
            response: Response, background: BackgroundTasks, comment: str = "created") -> WorkflowOut:
    document = dict(document)
    if document.setdefault("project", project) != project:
        raise Unprocessable(f"Document belongs to project {document['project']!r}, not {project!r}",
                            errors=[{"pointer": "/project", "message": f"must be {project!r} (or left out)"}])
    try:
        record = store.create_workflow(session, document, user.username, comment=comment)
    except (store.StoreError, WorkflowInvalid) as exc:
        raise store_errors(exc, document) from None
    commit_and_reparse(session, background, request, record)
    response.headers["Location"] = f"/api/v1/projects/{project}/workflows/{record.id}"
    return _respond(response, record)


@router.post(PREFIX + "/import", status_code=status.HTTP_201_CREATED, response_model=WorkflowOut,
             summary="Import a workflow from JSON or YAML (editor)",
             description="The format comes from `?format=` or the Content-Type (application/json, application/yaml).",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": {"type": "object"}},
                 "application/yaml": {"schema": {"type": "string"}}}}},
             responses=problem_responses(400, 401, 403, 404, 409, 415, 422))
async def import_workflow(project: ProjectSlug, user: CurrentUser, request: Request, response: Response,
                          background: BackgroundTasks, fmt: FormatQuery = None) -> WorkflowOut:
    from starlette.concurrency import run_in_threadpool

    from include.db.session import session_scope

    def check_role() -> None:  # who may import is decided before the body is even parsed
        with session_scope() as session:
            authorize(session, user, project, Role.editor)

    await run_in_threadpool(check_role)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if fmt is None:
        if content_type in YAML_TYPES:
            fmt = "yaml"
        elif content_type in ("application/json", "") or content_type.endswith("+json"):
            fmt = "json"
        else:
            problem = ProblemError(f"Cannot import {content_type!r}: send application/json or application/yaml")
            problem.status, problem.title, problem.slug = 415, "Unsupported media type", "unsupported-media-type"
            raise problem
    text = await request.body()
    try:
        document = parse_text(text, fmt)
    except WorkflowParseError as exc:
        raise BadRequest(f"Not valid {fmt.upper()}: {exc}") from None
    if not isinstance(document, dict):
        raise Unprocessable("A workflow document must be an object", errors=[{"pointer": "/", "message": "not an object"}])

    def work() -> WorkflowOut:
        with session_scope() as session:
            authorize(session, user, project, Role.editor)
            return _create(session, user, project, document, request, response, background, comment=f"imported ({fmt})")

    return await run_in_threadpool(work)


# --- one workflow ------------------------------------------------------------------------------------


@router.get(ITEM, response_model=WorkflowOut, summary="One workflow with its current spec (ETag = revision)",
            responses=problem_responses(401, 404))
def get_workflow(project: ProjectSlug, workflow: WorkflowSlug, user: CurrentUser, session: DbSession,
                 response: Response, include_deleted: bool = False) -> WorkflowOut:
    return _respond(response, _load(session, user, project, workflow, Role.viewer, include_deleted))


@router.put(ITEM, response_model=WorkflowOut, summary="Replace a workflow's spec: a new version (editor, If-Match)",
            responses=WRITE_ERRORS)
def update_workflow(project: ProjectSlug, workflow: WorkflowSlug, document: DocBody, user: CurrentUser,
                    session: DbSession, request: Request, response: Response, background: BackgroundTasks,
                    if_match: IfMatch = None,
                    comment: Annotated[str, Query(max_length=500, pattern=NO_NUL)] = "") -> WorkflowOut:
    expected = parse_if_match(if_match, required=True)
    authorize(session, user, project, Role.editor)
    record = _save(session, user, project, workflow, document, expected, comment or "updated")
    commit_and_reparse(session, background, request, record)
    return _respond(response, record)


@router.delete(ITEM, status_code=status.HTTP_204_NO_CONTENT, summary="Delete a workflow (soft; restorable) (editor)",
               responses=problem_responses(400, 401, 403, 404, 409))
def delete_workflow(project: ProjectSlug, workflow: WorkflowSlug, user: CurrentUser, session: DbSession,
                    request: Request, background: BackgroundTasks, if_match: IfMatch = None) -> Response:
    expected = parse_if_match(if_match, required=False)
    authorize(session, user, project, Role.editor)
    try:
        record = store.soft_delete(session, project, workflow, user.username, expected_revision=expected)
    except store.StoreError as exc:
        raise store_errors(exc) from None
    commit_and_reparse(session, background, request, record)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(ITEM + "/undelete", response_model=WorkflowOut, summary="Restore a deleted workflow (editor)",
             responses=problem_responses(401, 403, 404, 409))
def undelete_workflow(project: ProjectSlug, workflow: WorkflowSlug, user: CurrentUser, session: DbSession,
                      request: Request, response: Response, background: BackgroundTasks) -> WorkflowOut:
    authorize(session, user, project, Role.editor)
    try:
        record = store.undelete(session, project, workflow, user.username)
    except store.StoreError as exc:
        raise store_errors(exc) from None
    commit_and_reparse(session, background, request, record)
    return _respond(response, record)


@router.get(ITEM + "/export", summary="Export the current spec as JSON or YAML",
            description="Format from `?format=` or the Accept header (application/yaml or application/json).",
            response_class=Response,
            responses={200: {"description": "The workflow document",
                             "content": {"application/json": {"schema": {"type": "object"}},
                                         "application/yaml": {"schema": {"type": "string"}}}},
                       **problem_responses(401, 404)})
def export_workflow(project: ProjectSlug, workflow: WorkflowSlug, user: CurrentUser, session: DbSession,
                    request: Request, fmt: FormatQuery = None) -> Response:
    record = _load(session, user, project, workflow, Role.viewer)
    if fmt is None:
        accept = request.headers.get("accept", "")
        fmt = "yaml" if any(t in accept for t in YAML_TYPES) else "json"
    media = "application/yaml" if fmt == "yaml" else "application/json"
    return Response(dump(record.spec, fmt), media_type=media, headers={
        "ETag": etag(record.revision),
        "Content-Disposition": f'attachment; filename="{project}__{workflow}.{fmt}"',
    })


# --- nodes and edges ---------------------------------------------------------------------------------


def _index(items: list[dict[str, Any]], item_id: str, what: str) -> int:
    for i, item in enumerate(items):
        if item.get("id") == item_id:
            return i
    raise NotFound(f"{what} {item_id!r} not found")


def _body_id(body: dict[str, Any], item_id: str, what: str) -> dict[str, Any]:
    body = dict(body)
    if body.setdefault("id", item_id) != item_id:
        raise Unprocessable(f"{what} id in the body ({body['id']!r}) differs from the URL ({item_id!r})",
                            errors=[{"pointer": "/id", "message": f"must be {item_id!r} (or left out)"}])
    return body


def _node_write(route: str, method: str, summary: str, status_code: int = 200):
    return router.api_route(ITEM + route, methods=[method], response_model=WorkflowOut, summary=summary,
                            status_code=status_code, responses=WRITE_ERRORS)


@_node_write("/nodes", "POST", "Add a node: a new version (editor, If-Match)", status.HTTP_201_CREATED)
def add_node(project: ProjectSlug, workflow: WorkflowSlug, node: DocBody, user: CurrentUser, session: DbSession,
             request: Request, response: Response, background: BackgroundTasks, if_match: IfMatch = None,
             after: Annotated[str | None, Query(pattern=NODE_ID_PATTERN, max_length=100,
                                                description="Also connect this existing node to the new one")] = None,
             branch: Annotated[Literal["true", "false"] | None,
                               Query(description="Branch of the edge when `after` is a condition")] = None,
             ) -> WorkflowOut:
    """Every saved version must be a valid graph, so a new node is normally added *after* an existing one
    (``?after=<node_id>``, plus ``&branch=true|false`` out of a condition): node and edge land in one version."""

    def change(doc: dict[str, Any]) -> None:
        node_id = node.get("id")
        if any(n.get("id") == node_id for n in doc["nodes"]):
            raise Conflict(f"Node {node_id!r} already exists; PUT /nodes/{node_id} to change it",
                           errors=[{"pointer": "/id", "message": "already used in this workflow"}])
        doc["nodes"].append(node)
        if after is not None:
            _index(doc["nodes"], after, "Node")
            edge: dict[str, Any] = {"id": f"{after}-{node_id}", "source": after, "target": node_id}
            if branch is not None:
                edge["branch"] = branch
            doc["edges"].append(edge)

    record = _mutate(session, user, project, workflow, if_match, change, f"added node {node.get('id')!r}")
    commit_and_reparse(session, background, request, record)
    return _respond(response, record)


@_node_write("/nodes/{node_id}", "PUT", "Replace a node (editor, If-Match)")
def update_node(project: ProjectSlug, workflow: WorkflowSlug, node_id: NodeIdPath, node: DocBody, user: CurrentUser,
                session: DbSession, request: Request, response: Response, background: BackgroundTasks,
                if_match: IfMatch = None) -> WorkflowOut:
    node = _body_id(node, node_id, "Node")

    def change(doc: dict[str, Any]) -> None:
        doc["nodes"][_index(doc["nodes"], node_id, "Node")] = node

    record = _mutate(session, user, project, workflow, if_match, change, f"updated node {node_id!r}")
    commit_and_reparse(session, background, request, record)
    return _respond(response, record)


@_node_write("/nodes/{node_id}/position", "PUT", "Move a node on the canvas (editor, If-Match)")
def move_node(project: ProjectSlug, workflow: WorkflowSlug, node_id: NodeIdPath, position: Position,
              user: CurrentUser, session: DbSession, request: Request, response: Response,
              background: BackgroundTasks, if_match: IfMatch = None) -> WorkflowOut:
    def change(doc: dict[str, Any]) -> None:
        doc["nodes"][_index(doc["nodes"], node_id, "Node")]["position"] = position.model_dump()

    record = _mutate(session, user, project, workflow, if_match, change, f"moved node {node_id!r}")
    commit_and_reparse(session, background, request, record)
    return _respond(response, record)


@_node_write("/nodes/{node_id}", "DELETE", "Remove a node and its edges (editor, If-Match)")
def remove_node(project: ProjectSlug, workflow: WorkflowSlug, node_id: NodeIdPath, user: CurrentUser,
                session: DbSession, request: Request, response: Response, background: BackgroundTasks,
                if_match: IfMatch = None,
                reconnect: Annotated[bool, Query(description="Connect the node's predecessors to its successors")] = False,
                ) -> WorkflowOut:
    def change(doc: dict[str, Any]) -> None:
        del doc["nodes"][_index(doc["nodes"], node_id, "Node")]
        incoming = [e for e in doc["edges"] if e.get("target") == node_id]
        outgoing = [e for e in doc["edges"] if e.get("source") == node_id]
        doc["edges"] = [e for e in doc["edges"] if node_id not in (e.get("source"), e.get("target"))]
        if reconnect:
            existing = {(e.get("source"), e.get("target")) for e in doc["edges"]}
            for inc in incoming:
                for out in outgoing:
                    if (inc["source"], out["target"]) not in existing:
                        bridged = {"id": f"{inc['source']}-{out['target']}", "source": inc["source"],
                                   "target": out["target"]}
                        if inc.get("branch"):
                            bridged["branch"] = inc["branch"]
                        doc["edges"].append(bridged)
                        existing.add((inc["source"], out["target"]))

    record = _mutate(session, user, project, workflow, if_match, change, f"removed node {node_id!r}")
    commit_and_reparse(session, background, request, record)
    return _respond(response, record)


@_node_write("/edges", "POST", "Add an edge (editor, If-Match)", status.HTTP_201_CREATED)
def add_edge(project: ProjectSlug, workflow: WorkflowSlug, edge: DocBody, user: CurrentUser, session: DbSession,
             request: Request, response: Response, background: BackgroundTasks, if_match: IfMatch = None) -> WorkflowOut:
    def change(doc: dict[str, Any]) -> None:
        if any(e.get("id") == edge.get("id") for e in doc["edges"]):
            raise Conflict(f"Edge {edge.get('id')!r} already exists",
                           errors=[{"pointer": "/id", "message": "already used in this workflow"}])
        doc["edges"].append(edge)

    record = _mutate(session, user, project, workflow, if_match, change, f"added edge {edge.get('id')!r}")
    commit_and_reparse(session, background, request, record)
    return _respond(response, record)


@_node_write("/edges/{edge_id}", "PUT", "Replace an edge (editor, If-Match)")
def update_edge(project: ProjectSlug, workflow: WorkflowSlug, edge_id: EdgeIdPath, edge: DocBody, user: CurrentUser,
                session: DbSession, request: Request, response: Response, background: BackgroundTasks,
                if_match: IfMatch = None) -> WorkflowOut:
    edge = _body_id(edge, edge_id, "Edge")

    def change(doc: dict[str, Any]) -> None:
        doc["edges"][_index(doc["edges"], edge_id, "Edge")] = edge

    record = _mutate(session, user, project, workflow, if_match, change, f"updated edge {edge_id!r}")
    commit_and_reparse(session, background, request, record)
    return _respond(response, record)


@_node_write("/edges/{edge_id}", "DELETE", "Remove an edge (editor, If-Match)")
def remove_edge(project: ProjectSlug, workflow: WorkflowSlug, edge_id: EdgeIdPath, user: CurrentUser,
                session: DbSession, request: Request, response: Response, background: BackgroundTasks,
                if_match: IfMatch = None) -> WorkflowOut:
    def change(doc: dict[str, Any]) -> None:
        del doc["edges"][_index(doc["edges"], edge_id, "Edge")]

    record = _mutate(session, user, project, workflow, if_match, change, f"removed edge {edge_id!r}")
    commit_and_reparse(session, background, request, record)
    return _respond(response, record)


# --- versions ------------------------------------------------------------------------------------------

VersionPath = Annotated[int, Path(ge=1, le=1_000_000)]


@router.get(ITEM + "/versions", response_model=list[store.VersionInfo], summary="Versions, newest first",
            responses=problem_responses(401, 404))
def list_versions(project: ProjectSlug, workflow: WorkflowSlug, user: CurrentUser, session: DbSession):
    authorize(session, user, project, Role.viewer)
    try:
        return store.list_versions(session, project, workflow)
    except store.StoreError as exc:
        raise store_errors(exc) from None


@router.get(ITEM + "/versions/{version}", response_model=store.VersionRecord, summary="One version's spec",
            responses=problem_responses(401, 404))
def get_version(project: ProjectSlug, workflow: WorkflowSlug, version: VersionPath, user: CurrentUser,
                session: DbSession):
    authorize(session, user, project, Role.viewer)
    try:
        return store.get_version(session, project, workflow, version)
    except store.StoreError as exc:
        raise store_errors(exc) from None


@router.post(ITEM + "/versions/{version}/restore", response_model=WorkflowOut,
             summary="Make an old version current (saved as a new version) (editor, If-Match)",
             responses=WRITE_ERRORS)
def restore_version(project: ProjectSlug, workflow: WorkflowSlug, version: VersionPath, user: CurrentUser,
                    session: DbSession, request: Request, response: Response, background: BackgroundTasks,
                    if_match: IfMatch = None) -> WorkflowOut:
    expected = parse_if_match(if_match, required=True)
    authorize(session, user, project, Role.editor)
    try:
        record = store.restore_version(session, project, workflow, version, user.username, expected_revision=expected)
    except (store.StoreError, WorkflowInvalid) as exc:
        raise store_errors(exc) from None
    commit_and_reparse(session, background, request, record)
    return _respond(response, record)


def declare_etag(api_router: APIRouter) -> None:
    """Document the ETag header on every response that returns a workflow (schemathesis checks it)."""
    header = {"description": "The workflow's revision; send it back in If-Match to change it",
              "schema": {"type": "string", "pattern": r'^"\d+"$'}}
    for route in api_router.routes:
        if getattr(route, "response_model", None) is WorkflowOut:
            code = route.status_code or 200
            route.responses.setdefault(code, {}).setdefault("headers", {})["ETag"] = header


declare_etag(router)

__all__ = ["PROBLEM_JSON", "WorkflowOut", "_create", "_respond", "commit_and_reparse", "router", "store_errors"]
