"""Workflows over HTTP: CRUD with optimistic concurrency, node/edge edits, versions, validate, import/export.

Each route translates a request into a call of the save service
(:mod:`include.workflows.service`: validate, store a new immutable version,
commit, compile, publish, ask Airflow to parse), of a graph edit
(:mod:`include.workflows.edits`) saved the same way, or of the store's reads,
and the result back into HTTP (:mod:`include.api.workflow_http`: ETag and
If-Match, problem+json).  Airflow's parse is requested after the response is
sent (best effort), so a new DAG shows up within seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Header, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from include.api.airflow_service import compiled_file_name, import_errors_by_file, parse_after_response
from include.api.deps import CurrentUser, DbSession, _token_from, authorize
from include.api.errors import (
    BadRequest,
    ProblemError,
    Unprocessable,
    problem_responses,
)
from include.api.types import NO_NUL, SLUG_PATTERN, ProjectSlug, WorkflowSlug
from include.api.workflow_http import (
    ITEM,
    PREFIX,
    DocumentedAs,
    WorkflowOut,
    declare_etag,
    etag,
    load_workflow,
    parse_if_match,
    respond,
    store_errors,
    workflow_out,
    workflow_problem_items,
)
from include.auth.access import projects_of
from include.auth.tokens import Identity
from include.enums import Role
from include.workflows import edits, records, service, store
from include.workflows.diff import WorkflowDiff, diff_workflows
from include.workflows.model import NODE_ID_PATTERN, Edge, Node, Workflow
from include.workflows.serialization import WorkflowParseError, dump, parse_text, to_dict
from include.workflows.validation import WorkflowInvalid, validate_workflow

log = logging.getLogger(__name__)



async def refuse_duplicate_json_keys(request: Request) -> None:
    """A JSON body that gives a key twice is refused: parsed as usual, the last copy would silently win.

    The same rule as for imported documents (``parse_text``), which already refuse it in JSON and YAML.
    """
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    if not request.headers.get("content-type", "").startswith("application/json"):
        return
    body = await request.body()  # read once by FastAPI already; this is the cached copy
    if not body:
        return
    try:
        parse_text(body, "json")
    except WorkflowParseError as exc:
        if "duplicate key" in str(exc):
            raise Unprocessable(f"Invalid request body: {exc}",
                                errors=[{"pointer": "/", "message": str(exc)}]) from None
        # any other syntax error is FastAPI's to report, as for every route


router = APIRouter(tags=["workflows"], dependencies=[Depends(refuse_duplicate_json_keys)])

NodeIdPath = Annotated[str, Path(pattern=NODE_ID_PATTERN, max_length=100, description="Node id")]
EdgeIdPath = Annotated[str, Path(pattern=NO_NUL, min_length=1, max_length=200, description="Edge id")]
IfMatch = Annotated[str | None, Header(max_length=100, description='The ETag of the revision being changed ("3")')]
#: Writes that make a new version name the revision they change: 428 (not 422) when the header is missing.
IfMatchRequired = Annotated[str, Header(max_length=100, description='The ETag of the revision being changed ("3"); '
                                                                    "428 without it")]
DocBody = Annotated[dict[str, Any], DocumentedAs(Workflow),
                    Body(description="A workflow document (see GET /api/v1/schemas/workflow)")]
NodeBody = Annotated[dict[str, Any], DocumentedAs(Node), Body(description="A node: id, type, config, label, position")]
EdgeBody = Annotated[dict[str, Any], DocumentedAs(Edge), Body(description="An edge: id, source, target, branch, label")]
FormatQuery = Annotated[Literal["json", "yaml"] | None, Query(alias="format", description="json or yaml")]

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


# --- response models ------------------------------------------------------------------------------


class ImportErrorOut(BaseModel):
    message: str = Field(description="Airflow's error for the compiled DAG file (its stack trace)")
    filename: str = Field(description="The DAG file Airflow could not import")
    timestamp: str | None = None


class WorkflowState(WorkflowOut):
    import_error: ImportErrorOut | None = Field(
        None, description="Airflow's import error of the compiled workflow, read when asked; while it is set the "
                          "workflow does not run and webhooks cannot start it")


def _with_state(items: list[WorkflowOut], request: Request) -> list[WorkflowState]:
    """Add what Airflow says about each workflow's compiled file now (nothing when Airflow cannot be asked)."""
    errors = import_errors_by_file(_token_from(request)) or {} if items else {}
    out = []
    for item in items:
        found = errors.get(compiled_file_name(item.project, item.id))
        out.append(WorkflowState(**item.model_dump(), import_error=ImportErrorOut(
            message=found["message"], filename=found["filename"],
            timestamp=str(found["timestamp"]) if found.get("timestamp") else None) if found else None))
    return out


class WorkflowPage(BaseModel):
    items: list[WorkflowState]
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


def _edit(session: Session, user: Identity, project: str, workflow: str, if_match: str | None,
          edit: Callable[[dict[str, Any]], None], comment: str, background: BackgroundTasks,
          request: Request) -> records.WorkflowRecord:
    """Apply a graph edit to the current spec and save the result as a new version (If-Match required)."""
    expected = parse_if_match(if_match, required=True)
    record = load_workflow(session, user, project, workflow, Role.editor)
    if expected is not None and expected != record.revision:
        raise store_errors(records.StaleRevision(expected, record.revision))
    document = to_dict(record.spec)
    try:
        edit(document)
        return service.update_workflow(session, project, workflow, document, user.username,
                                       expected_revision=record.revision, comment=comment,
                                       request_parse=parse_after_response(background, request))
    except (records.StoreError, edits.EditError, WorkflowInvalid) as exc:
        raise store_errors(exc, document) from None


WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 422, 428)


EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The workflow document in its export form: what differs from the defaults",
          "content": {media: {"schema": {"$ref": "#/components/schemas/Workflow"}}
                      for media in ("application/json", "application/yaml")}}}


def _export(spec: Any, fmt: Literal["json", "yaml"] | None, request: Request, filename: str,
            headers: dict[str, str] | None = None) -> Response:
    """The export of ``spec`` as a file download, in ``fmt`` or else the format the Accept header asks for."""
    if fmt is None:
        accept = request.headers.get("accept", "")
        fmt = "yaml" if any(t in accept for t in YAML_TYPES) else "json"
    media = "application/yaml" if fmt == "yaml" else "application/json"
    return Response(dump(spec, fmt), media_type=media, headers={
        **(headers or {}), "Content-Disposition": f'attachment; filename="{filename}.{fmt}"'})


# --- collection ------------------------------------------------------------------------------------


@router.get("/api/v1/workflows", response_model=WorkflowPage, summary="Workflows the caller can see (paged)",
            responses=problem_responses(401, 404))
def list_workflows(
    user: CurrentUser, session: DbSession, request: Request,
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
    session.commit()  # release the rows before asking Airflow
    return WorkflowPage(items=_with_state([workflow_out(r) for r in page.items], request), total=page.total, offset=page.offset,
                        limit=page.limit)


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


@router.post("/api/v1/workflows/export", summary="Export a workflow document (saved or not) as JSON or YAML",
             description="The same export form as `GET …/export`, for a document the caller holds (the editor's "
                         "unsaved work); 422 problem+json when it is not a valid workflow.",
             response_class=Response, responses={**EXPORT_RESPONSES, **problem_responses(400, 401, 422)})
def export_document(document: DocBody, user: CurrentUser, request: Request, fmt: FormatQuery = None) -> Response:
    try:
        spec = store.validated(document)
    except WorkflowInvalid as exc:
        raise store_errors(exc, document) from None
    return _export(spec, fmt, request, f"{spec.project}__{spec.id}")


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
        record = service.create_workflow(session, document, user.username, comment=comment,
                                         request_parse=parse_after_response(background, request))
    except (records.StoreError, WorkflowInvalid) as exc:
        raise store_errors(exc, document) from None
    response.headers["Location"] = f"/api/v1/projects/{project}/workflows/{record.id}"
    return respond(response, record)


@router.post(PREFIX + "/import", status_code=status.HTTP_201_CREATED, response_model=WorkflowOut,
             summary="Import a workflow from JSON or YAML (editor)",
             description="The format comes from `?format=` or the Content-Type (application/json, application/yaml).",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": {"$ref": "#/components/schemas/Workflow"}},
                 "application/yaml": {"schema": {"type": "string", "description": "The document as YAML"}}}}},
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


@router.get(ITEM, response_model=WorkflowState, summary="One workflow with its current spec (ETag = revision)",
            responses=problem_responses(401, 404))
def get_workflow(project: ProjectSlug, workflow: WorkflowSlug, user: CurrentUser, session: DbSession,
                 request: Request, response: Response, include_deleted: bool = False) -> WorkflowState:
    out = respond(response, load_workflow(session, user, project, workflow, Role.viewer, include_deleted))
    session.commit()  # release the row before asking Airflow
    return _with_state([out], request)[0]


@router.put(ITEM, response_model=WorkflowOut, summary="Replace a workflow's spec: a new version (editor, If-Match)",
            responses=WRITE_ERRORS)
def update_workflow(project: ProjectSlug, workflow: WorkflowSlug, document: DocBody, user: CurrentUser,
                    session: DbSession, request: Request, response: Response, background: BackgroundTasks,
                    if_match: IfMatchRequired,
                    comment: Annotated[str, Query(max_length=500, pattern=NO_NUL)] = "") -> WorkflowOut:
    expected = parse_if_match(if_match, required=True)
    authorize(session, user, project, Role.editor)
    try:
        record = service.update_workflow(session, project, workflow, document, user.username,
                                         expected_revision=expected, comment=comment or "updated",
                                         request_parse=parse_after_response(background, request))
    except (records.StoreError, WorkflowInvalid) as exc:
        raise store_errors(exc, document) from None
    return respond(response, record)


@router.delete(ITEM, status_code=status.HTTP_204_NO_CONTENT, summary="Delete a workflow (soft; restorable) (editor)",
               responses=problem_responses(400, 401, 403, 404, 409))
def delete_workflow(project: ProjectSlug, workflow: WorkflowSlug, user: CurrentUser, session: DbSession,
                    request: Request, background: BackgroundTasks, if_match: IfMatch = None) -> Response:
    expected = parse_if_match(if_match, required=False)
    authorize(session, user, project, Role.editor)
    try:
        service.delete_workflow(session, project, workflow, user.username, expected_revision=expected,
                                request_parse=parse_after_response(background, request))
    except records.StoreError as exc:
        raise store_errors(exc) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(ITEM + "/undelete", response_model=WorkflowOut, summary="Restore a deleted workflow (editor)",
             responses=problem_responses(401, 403, 404, 409))
def undelete_workflow(project: ProjectSlug, workflow: WorkflowSlug, user: CurrentUser, session: DbSession,
                      request: Request, response: Response, background: BackgroundTasks) -> WorkflowOut:
    authorize(session, user, project, Role.editor)
    try:
        record = service.undelete_workflow(session, project, workflow, user.username,
                                           request_parse=parse_after_response(background, request))
    except records.StoreError as exc:
        raise store_errors(exc) from None
    return respond(response, record)


@router.get(ITEM + "/export", summary="Export the current spec as JSON or YAML",
            description="Format from `?format=` or the Accept header (application/yaml or application/json). Only "
                        "what differs from the defaults is written (no empty labels, no 0,0 positions); importing "
                        "the file gives the same workflow.",
            response_class=Response, responses={**EXPORT_RESPONSES, **problem_responses(401, 404)})
def export_workflow(project: ProjectSlug, workflow: WorkflowSlug, user: CurrentUser, session: DbSession,
                    request: Request, fmt: FormatQuery = None) -> Response:
    record = load_workflow(session, user, project, workflow, Role.viewer)
    return _export(record.spec, fmt, request, f"{project}__{workflow}", {"ETag": etag(record.revision)})


# --- nodes and edges ---------------------------------------------------------------------------------


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
def add_node(project: ProjectSlug, workflow: WorkflowSlug, node: NodeBody, user: CurrentUser, session: DbSession,
             request: Request, response: Response, background: BackgroundTasks, if_match: IfMatchRequired,
             after: Annotated[str | None, Query(pattern=NODE_ID_PATTERN, max_length=100,
                                                description="Also connect this existing node to the new one")] = None,
             branch: Annotated[Literal["true", "false"] | None,
                               Query(description="Branch of the edge when `after` is a condition")] = None,
             ) -> WorkflowOut:
    """Every saved version must be a valid graph, so a new node is normally added *after* an existing one
    (``?after=<node_id>``, plus ``&branch=true|false`` out of a condition): node and edge land in one version."""

    def add(doc: dict[str, Any]) -> None:
        try:
            edits.add_node(doc, node, after=after, branch=branch)
        except edits.ItemExists as exc:
            raise store_errors(edits.ItemExists(f"{exc}; PUT /nodes/{node.get('id')} to change it")) from None

    record = _edit(session, user, project, workflow, if_match, add, f"added node {node.get('id')!r}", background,
                   request)
    return respond(response, record)


@_node_write("/nodes/{node_id}", "PUT", "Replace a node (editor, If-Match)")
def update_node(project: ProjectSlug, workflow: WorkflowSlug, node_id: NodeIdPath, node: NodeBody, user: CurrentUser,
                session: DbSession, request: Request, response: Response, background: BackgroundTasks,
                if_match: IfMatchRequired) -> WorkflowOut:
    node = _body_id(node, node_id, "Node")

    record = _edit(session, user, project, workflow, if_match, lambda doc: edits.replace_node(doc, node),
                   f"updated node {node_id!r}", background, request)
    return respond(response, record)


@_node_write("/nodes/{node_id}/position", "PUT", "Move a node on the canvas (editor, If-Match)")
def move_node(project: ProjectSlug, workflow: WorkflowSlug, node_id: NodeIdPath, position: Position,
              user: CurrentUser, session: DbSession, request: Request, response: Response,
              background: BackgroundTasks, if_match: IfMatchRequired) -> WorkflowOut:
    record = _edit(session, user, project, workflow, if_match,
                   lambda doc: edits.move_node(doc, node_id, position.model_dump()), f"moved node {node_id!r}",
                   background, request)
    return respond(response, record)


@_node_write("/nodes/{node_id}", "DELETE", "Remove a node and its edges (editor, If-Match)")
def remove_node(project: ProjectSlug, workflow: WorkflowSlug, node_id: NodeIdPath, user: CurrentUser,
                session: DbSession, request: Request, response: Response, background: BackgroundTasks,
                if_match: IfMatchRequired,
                reconnect: Annotated[bool, Query(description="Connect the node's predecessors to its successors")] = False,
                ) -> WorkflowOut:
    record = _edit(session, user, project, workflow, if_match,
                   lambda doc: edits.remove_node(doc, node_id, reconnect=reconnect), f"removed node {node_id!r}",
                   background, request)
    return respond(response, record)


@_node_write("/edges", "POST", "Add an edge (editor, If-Match)", status.HTTP_201_CREATED)
def add_edge(project: ProjectSlug, workflow: WorkflowSlug, edge: EdgeBody, user: CurrentUser, session: DbSession,
             request: Request, response: Response, background: BackgroundTasks, if_match: IfMatchRequired) -> WorkflowOut:
    record = _edit(session, user, project, workflow, if_match, lambda doc: edits.add_edge(doc, edge),
                   f"added edge {edge.get('id')!r}", background, request)
    return respond(response, record)


@_node_write("/edges/{edge_id}", "PUT", "Replace an edge (editor, If-Match)")
def update_edge(project: ProjectSlug, workflow: WorkflowSlug, edge_id: EdgeIdPath, edge: EdgeBody, user: CurrentUser,
                session: DbSession, request: Request, response: Response, background: BackgroundTasks,
                if_match: IfMatchRequired) -> WorkflowOut:
    edge = _body_id(edge, edge_id, "Edge")

    record = _edit(session, user, project, workflow, if_match, lambda doc: edits.replace_edge(doc, edge),
                   f"updated edge {edge_id!r}", background, request)
    return respond(response, record)


@_node_write("/edges/{edge_id}", "DELETE", "Remove an edge (editor, If-Match)")
def remove_edge(project: ProjectSlug, workflow: WorkflowSlug, edge_id: EdgeIdPath, user: CurrentUser,
                session: DbSession, request: Request, response: Response, background: BackgroundTasks,
                if_match: IfMatchRequired) -> WorkflowOut:
    record = _edit(session, user, project, workflow, if_match, lambda doc: edits.remove_edge(doc, edge_id),
                   f"removed edge {edge_id!r}", background, request)
    return respond(response, record)


# --- versions ------------------------------------------------------------------------------------------

VersionPath = Annotated[int, Path(ge=1, le=1_000_000)]


@router.get(ITEM + "/versions", response_model=list[records.VersionInfo], summary="Versions, newest first",
            responses=problem_responses(401, 404))
def list_versions(project: ProjectSlug, workflow: WorkflowSlug, user: CurrentUser, session: DbSession):
    authorize(session, user, project, Role.viewer)
    try:
        return store.list_versions(session, project, workflow)
    except records.StoreError as exc:
        raise store_errors(exc) from None


@router.get(ITEM + "/versions/{version}", response_model=records.VersionRecord, summary="One version's spec",
            responses=problem_responses(401, 404))
def get_version(project: ProjectSlug, workflow: WorkflowSlug, version: VersionPath, user: CurrentUser,
                session: DbSession):
    authorize(session, user, project, Role.viewer)
    try:
        return store.get_version(session, project, workflow, version)
    except records.StoreError as exc:
        raise store_errors(exc) from None


@router.get(ITEM + "/versions/{version}/diff", response_model=WorkflowDiff,
            summary="What changed from a version to another one (by default the current version)",
            description="Nodes and edges added, removed or changed (with the node fields and config keys that "
                        "differ) and the workflow's settings changed, going from `{version}` (`base`) to "
                        "`against` (`head`; the current version when left out). `against` may be older.",
            responses=problem_responses(401, 404))
def diff_versions(project: ProjectSlug, workflow: WorkflowSlug, version: VersionPath, user: CurrentUser,
                  session: DbSession,
                  against: Annotated[int | None, Query(ge=1, le=1_000_000,
                                                       description="The version to compare with")] = None,
                  ) -> WorkflowDiff:
    record = load_workflow(session, user, project, workflow, Role.viewer)
    try:
        base = store.get_version(session, project, workflow, version)
        head = store.get_version(session, project, workflow, against or record.current_version)
    except records.StoreError as exc:
        raise store_errors(exc) from None
    return diff_workflows(base.spec, head.spec)


@router.post(ITEM + "/versions/{version}/restore", response_model=WorkflowOut,
             summary="Make an old version current (saved as a new version) (editor, If-Match)",
             responses=WRITE_ERRORS)
def restore_version(project: ProjectSlug, workflow: WorkflowSlug, version: VersionPath, user: CurrentUser,
                    session: DbSession, request: Request, response: Response, background: BackgroundTasks,
                    if_match: IfMatchRequired) -> WorkflowOut:
    expected = parse_if_match(if_match, required=True)
    authorize(session, user, project, Role.editor)
    try:
        record = service.restore_version(session, project, workflow, version, user.username,
                                         expected_revision=expected,
                                         request_parse=parse_after_response(background, request))
    except (records.StoreError, WorkflowInvalid) as exc:
        raise store_errors(exc) from None
    return respond(response, record)


declare_etag(router)

__all__ = ["router"]
