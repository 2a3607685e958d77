"""How the API shows a workflow over HTTP, for every route that returns or changes one (workflows, templates).

* a workflow is a :class:`WorkflowOut`: the stored record plus its DAG id and
  Airflow link; its ``ETag`` is the revision, and a write names the revision
  it changes in ``If-Match`` (``428`` without one, ``409`` with a stale one —
  the stored workflow is untouched and the response carries the current ETag);
* a workflow, node or edge in a request body is taken as any JSON object, so
  validation can report every problem at once with a pointer (pydantic
  would stop at the shape), yet the OpenAPI document shows its real schema
  (:class:`DocumentedAs`);
* the stores' and the graph edits' errors map onto problem+json statuses, and
  validation problems become 422 errors with a JSON pointer into the
  submitted document plus the node/edge id and field.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Response
from pydantic import ConfigDict, GetJsonSchemaHandler, TypeAdapter
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from sqlalchemy.orm import Session

from include.airflow_client import ui_url
from include.api.deps import authorize
from include.api.errors import (
    BadRequest,
    Conflict,
    NotFound,
    ProblemError,
    Unprocessable,
    escape_pointer_part,
    if_match_required,
)
from include.auth.tokens import Identity
from include.enums import Role
from include.workflows import edits, records, store
from include.workflows.model import dag_id_for
from include.workflows.validation import WorkflowInvalid

PREFIX = "/api/v1/projects/{project}/workflows"
ITEM = PREFIX + "/{workflow}"

ETAG_RE = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


class WorkflowOut(records.WorkflowRecord):
    model_config = ConfigDict(extra="forbid")

    dag_id: str
    airflow_url: str


class DocumentedAs:
    """``Annotated`` metadata: the body is parsed as it is declared (a dict), but documented as ``shape``.

    The routes validate workflow documents themselves, every problem at once;
    the OpenAPI document (and the editor's types generated from it) still says
    what a valid body looks like instead of a bare ``object``.
    """

    def __init__(self, shape: Any):
        self.core_schema = TypeAdapter(shape).core_schema

    def __get_pydantic_json_schema__(self, _declared: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return handler(self.core_schema)


def etag(revision: int) -> str:
    return f'"{revision}"'


def parse_if_match(value: str | None, *, required: bool) -> int | None:
    """The revision named by If-Match (None for ``*`` or when optional and absent)."""
    if value is None or not value.strip():
        if required:
            raise if_match_required()
        return None
    if value.strip() == "*":
        return None
    match = ETAG_RE.match(value.split(",")[0])
    if not match:
        raise BadRequest(f"If-Match {value!r} is not an ETag of this API (e.g. \"3\")")
    return int(match.group(1))


def workflow_out(record: records.WorkflowRecord) -> WorkflowOut:
    dag_id = dag_id_for(record.project, record.id)
    return WorkflowOut(**record.model_dump(), dag_id=dag_id, airflow_url=ui_url(dag_id))


def respond(response: Response, record: records.WorkflowRecord) -> WorkflowOut:
    response.headers["ETag"] = etag(record.revision)
    return workflow_out(record)


def store_errors(exc: Exception, document: Any = None) -> ProblemError:
    """Map the stores' and the graph edits' exceptions onto problem+json errors."""
    if isinstance(exc, WorkflowInvalid):
        return Unprocessable(str(exc), errors=workflow_problem_items(exc.problems, document or {}))
    if isinstance(exc, records.StaleRevision):
        return Conflict(
            f"{exc}. Reload the workflow (GET) and apply your change to revision {exc.current}; nothing was saved.",
            headers={"ETag": etag(exc.current)},
        )
    if isinstance(exc, edits.ItemExists):
        return Conflict(str(exc), errors=[{"pointer": exc.pointer, "message": "already used in this workflow"}])
    if isinstance(exc, records.AmbiguousTemplate):
        return Conflict(str(exc))
    if isinstance(exc, (records.WorkflowExists, records.TemplateExists)):
        return Conflict(str(exc), errors=[{"pointer": f"/{exc.field}", "message": str(exc)}] if exc.field else None)
    if isinstance(exc, (records.WorkflowNotFound, records.VersionNotFound, records.TemplateNotFound,
                        records.ProjectNotFound, edits.ItemNotFound)):
        return NotFound(str(exc))
    raise exc


def load_workflow(session: Session, user: Identity, project: str, workflow: str, needed: Role,
                  include_deleted: bool = False) -> records.WorkflowRecord:
    """The workflow, if ``user`` holds at least ``needed`` in its project (404 when it does not exist)."""
    authorize(session, user, project, needed)
    try:
        return store.get_workflow(session, project, workflow, include_deleted=include_deleted)
    except records.StoreError as exc:
        raise store_errors(exc) from None


def declare_etag(api_router: APIRouter) -> None:
    """Document the ETag header on every response that returns a workflow (schemathesis checks it)."""
    header = {"description": "The workflow's revision; send it back in If-Match to change it",
              "schema": {"type": "string", "pattern": r'^"\d+"$'}}
    for route in api_router.routes:
        if getattr(route, "response_model", None) is WorkflowOut:
            code = route.status_code or 200
            route.responses.setdefault(code, {}).setdefault("headers", {})["ETag"] = header


_NODE_LEVEL_FIELDS = {"id", "type", "label", "position", "config"}


def workflow_problem_items(problems: list[Any], document: Any, base: str = "") -> list[dict[str, Any]]:
    """Workflow validation problems → problem+json ``errors`` with JSON pointers into ``document``.

    A problem names a node or edge by id and a dotted ``field`` (inside the
    node's config for config errors); the pointer names the array position in
    the submitted document (``/nodes/2/config/cron``) so a client can highlight
    the exact input, while ``node_id``/``edge_id``/``field`` stay for editors
    that work by id.
    """
    nodes = document.get("nodes") if isinstance(document, dict) else None
    edges = document.get("edges") if isinstance(document, dict) else None

    def index_of(items: Any, item_id: str) -> int | None:
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, dict) and item.get("id") == item_id:
                    return i
        return None

    out = []
    for p in problems:
        parts: list[str] = []
        field_parts = [f for f in (p.field or "").split(".") if f]
        if p.node_id is not None and (i := index_of(nodes, p.node_id)) is not None:
            parts = ["nodes", str(i)]
            if field_parts and field_parts[0] not in _NODE_LEVEL_FIELDS:
                parts.append("config")
        elif p.edge_id is not None and (i := index_of(edges, p.edge_id)) is not None:
            parts = ["edges", str(i)]
        parts += field_parts
        item: dict[str, Any] = {"pointer": base + "/" + "/".join(escape_pointer_part(x) for x in parts) if parts else base or "/",
                                "message": p.message}
        for key in ("node_id", "edge_id", "field"):
            if getattr(p, key, None) is not None:
                item[key] = getattr(p, key)
        out.append(item)
    return out
