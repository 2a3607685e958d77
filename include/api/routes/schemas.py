"""JSON Schemas of the workflow document and of every node type (the editor builds forms from them)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter

from include.api.deps import CurrentUser
from include.api.errors import problem_responses

router = APIRouter(prefix="/api/v1/schemas", tags=["schemas"])

NodeTypeName = Literal["trigger", "action", "condition", "integration", "notification"]


@router.get("/node-types", summary="JSON Schemas of every node type's config",
            response_model=dict[str, Any], responses=problem_responses(401))
def node_types(user: CurrentUser) -> dict[str, Any]:
    """Per node type: title, description, subtype discriminator, the config schema and per-subtype schemas."""
    from include.workflows.schema import node_type_schemas

    return node_type_schemas()


@router.get("/node-types/{node_type}", summary="JSON Schema of one node type's config",
            response_model=dict[str, Any], responses=problem_responses(401))
def node_type(node_type: NodeTypeName, user: CurrentUser) -> dict[str, Any]:
    from include.workflows.schema import node_type_schemas

    return node_type_schemas()[node_type]


@router.get("/workflow", summary="JSON Schema of a whole workflow document",
            response_model=dict[str, Any], responses=problem_responses(401))
def workflow(user: CurrentUser) -> dict[str, Any]:
    from include.workflows.schema import workflow_schema

    return workflow_schema()
