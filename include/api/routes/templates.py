"""The template library: public templates plus the caller's own, saved from and instantiated into projects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from include.api.airflow_service import parse_after_response
from include.api.deps import CurrentUser, DbSession, authorize
from include.api.errors import problem_responses
from include.api.types import SLUG_PATTERN, Name, ProjectSlug, Text, WorkflowSlug
from include.api.workflow_http import ITEM, WorkflowOut, declare_etag, load_workflow, respond, store_errors
from include.enums import Role
from include.workflows import records, service, templates_store
from include.workflows.validation import WorkflowInvalid

router = APIRouter(tags=["templates"])

TemplateId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", max_length=63,
                                  description="The template's numeric id or its slug (basic-quality-check); "
                                              "digits are an id")]


class TemplateSave(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Text | None = None
    category: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00]+$")] = "custom"
    is_public: bool = False


class TemplateInstantiate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: Annotated[str, Field(pattern=SLUG_PATTERN, max_length=63)]
    id: Annotated[str, Field(pattern=SLUG_PATTERN, max_length=63, description="The new workflow's id")]
    name: Name | None = None


@router.get("/api/v1/templates", response_model=list[records.TemplateRecord],
            summary="Templates: the public library plus the caller's own", responses=problem_responses(401))
def list_templates(user: CurrentUser, session: DbSession):
    return templates_store.list_templates(session, user.username)


@router.get("/api/v1/templates/{template_id}", response_model=records.TemplateRecord,
            summary="One template, by id or slug", responses=problem_responses(401, 404, 409))
def get_template(template_id: TemplateId, user: CurrentUser, session: DbSession):
    try:
        return templates_store.get_template(session, template_id, user.username)
    except records.StoreError as exc:
        raise store_errors(exc) from None


@router.post(ITEM + "/template", status_code=status.HTTP_201_CREATED, response_model=records.TemplateRecord,
             summary="Save a workflow as a template (editor)", responses=problem_responses(401, 403, 404, 409, 422))
def save_as_template(project: ProjectSlug, workflow: WorkflowSlug, body: TemplateSave, user: CurrentUser,
                     session: DbSession, response: Response):
    record = load_workflow(session, user, project, workflow, Role.editor)
    try:
        template = templates_store.save_as_template(session, record.spec, body.name, body.is_public, user.username,
                                                    description=body.description, category=body.category)
    except (records.StoreError, WorkflowInvalid) as exc:
        raise store_errors(exc) from None
    session.commit()
    response.headers["Location"] = f"/api/v1/templates/{template.id}"
    return template


class InstantiatedWorkflow(WorkflowOut):
    """The new workflow (disabled) and what to do before it runs on real pull requests."""

    next_steps: list[str] = Field(description="How to try the workflow and enable it")


def next_steps(project: str, workflow_id: str, revision: int) -> list[str]:
    item = f"/api/v1/projects/{project}/workflows/{workflow_id}"
    return [
        "The workflow starts disabled: no DAG is compiled and no webhook starts it.",
        (f"Try it first with a dry run on a stored delivery or a past pull request: POST {item}/dry-runs "
         "(nothing is posted; the editor's Dry run shows what it would have posted)."),
        (f"Then enable it: tick Enabled in the editor and save, or PUT {item} with the spec and \"enabled\": true "
         f"(If-Match: \"{revision}\")."),
    ]


@router.post("/api/v1/templates/{template_id}/instantiate", status_code=status.HTTP_201_CREATED,
             response_model=InstantiatedWorkflow,
             summary="Create a workflow in a project from a template (editor there); it starts disabled",
             description="The template is named by its id or its slug (`/templates/basic-quality-check/instantiate`). "
                         "The new workflow is disabled (no DAG, no webhook runs) until enabled; `next_steps` says "
                         "how to dry-run and enable it.",
             responses=problem_responses(401, 403, 404, 409, 422))
def instantiate(template_id: TemplateId, body: TemplateInstantiate, user: CurrentUser, session: DbSession,
                request: Request, response: Response, background: BackgroundTasks) -> InstantiatedWorkflow:
    authorize(session, user, body.project, Role.editor)
    try:
        record = service.instantiate_template(session, template_id, body.project, body.id, user.username,
                                              name=body.name, request_parse=parse_after_response(background, request))
    except (records.StoreError, WorkflowInvalid) as exc:
        raise store_errors(exc) from None
    response.headers["Location"] = f"/api/v1/projects/{body.project}/workflows/{record.id}"
    out = respond(response, record)
    return InstantiatedWorkflow(**out.model_dump(), next_steps=next_steps(record.project, record.id, record.revision))


declare_etag(router)
for _route in router.routes:  # the instantiated workflow carries its ETag too (declare_etag matches WorkflowOut only)
    if getattr(_route, "response_model", None) is InstantiatedWorkflow:
        _route.responses.setdefault(201, {}).setdefault("headers", {})["ETag"] = {
            "description": "The workflow's revision; send it back in If-Match to change it",
            "schema": {"type": "string", "pattern": r'^"\d+"$'}}
