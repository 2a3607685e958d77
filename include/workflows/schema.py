"""JSON Schemas of the workflow document and of every node type's config.

The editor generates its side-panel forms from these (react-jsonschema-form),
and the API publishes them.  Form generators render ``anyOf: [X, null]`` as a
type picker, so optional fields are emitted as plain ``X`` without a
``null`` default: absent means "not set", which is what the model does too.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from include.workflows.model import Edge, Workflow
from include.workflows.nodes import (
    NODE_TYPES,
    TEMPLATE_PLACEHOLDERS,
    ActionConfig,
    ConditionConfig,
    IntegrationConfig,
    NotificationConfig,
    TriggerConfig,
)

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

NODE_TYPE_INFO: dict[str, dict[str, str]] = {
    "trigger": {"title": "Trigger", "description": "What starts the workflow (exactly one per workflow)."},
    "action": {"title": "Action", "description": "A review step: quality check, code review, comment, labels, ..."},
    "condition": {"title": "Condition", "description": "Branches on a CEL expression; needs a true and a false edge."},
    "integration": {"title": "Integration", "description": "An HTTP call through an Airflow connection."},
    "notification": {"title": "Notification", "description": "Slack, email or live-dashboard message."},
}

_CONFIG_TYPES: dict[str, Any] = {
    "trigger": TriggerConfig,
    "action": ActionConfig,
    "condition": ConditionConfig,
    "integration": IntegrationConfig,
    "notification": NotificationConfig,
}


class PlainOptionalJsonSchema(GenerateJsonSchema):
    """Render ``X | None = None`` as an optional ``X`` (no anyOf-null, no null default)."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        result = super().default_schema(schema)
        if result.get("default", ...) is None:
            result.pop("default")
        return result


def json_schema_of(tp: Any, title: str | None = None) -> dict[str, Any]:
    schema = TypeAdapter(tp).json_schema(schema_generator=PlainOptionalJsonSchema, mode="validation")
    schema = {"$schema": JSON_SCHEMA_DIALECT, **schema}
    if title:
        schema.setdefault("title", title)
    return schema


@lru_cache(maxsize=1)
def node_type_schemas() -> dict[str, Any]:
    """Per node type: title, description, the config schema and, for typed configs, one schema per subtype.

    ``{"action": {"title", "description", "discriminator": "action", "config": {...oneOf...},
    "subtypes": {"quality_check": {...}, ...}, "subtype_outputs": {"quality_check": {"quality_score": "..."}}},
    "trigger": {..., "discriminator": null, "config": {...}, "outputs": {"event": "..."}}}``

    The outputs (what ``nodes.<id>.<output>`` may read) are the models' ``OUTPUTS``, the same
    declaration the validator checks conditions against.
    """
    out: dict[str, Any] = {}
    for node_type, tp in _CONFIG_TYPES.items():
        key, models = NODE_TYPES[node_type]
        entry: dict[str, Any] = {
            **NODE_TYPE_INFO[node_type],
            "discriminator": key,
            "config": json_schema_of(tp, title=f"{NODE_TYPE_INFO[node_type]['title']} config"),
        }
        if isinstance(models, dict):
            entry["subtypes"] = {name: json_schema_of(model) for name, model in models.items()}
            entry["subtype_outputs"] = {name: dict(model.OUTPUTS) for name, model in models.items()}
        else:
            entry["outputs"] = dict(models.OUTPUTS)
        out[node_type] = entry
    return out


@lru_cache(maxsize=1)
def workflow_schema() -> dict[str, Any]:
    """JSON Schema of a whole workflow document (what import/export and the API exchange)."""
    schema = json_schema_of(Workflow, title="AutoPR workflow")
    schema["x-template-placeholders"] = dict(TEMPLATE_PLACEHOLDERS)
    return schema


@lru_cache(maxsize=1)
def edge_schema() -> dict[str, Any]:
    return json_schema_of(Edge, title="Edge")
