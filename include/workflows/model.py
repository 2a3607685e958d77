"""The workflow document: a graph of typed nodes joined by edges.

This is the one shape every entry point agrees on: YAML/JSON files, the REST
API, the visual editor, the app database (as a version's ``spec``) and the
compiled file the DAG loader reads.  The model checks each piece on its own
(ids, ranges, node configs); whether the pieces form a sound graph is
``include.workflows.validation``'s job, so that it can report every problem
at once with a pointer to the node or edge.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from include.workflows.nodes import (
    ActionConfig,
    ConditionConfig,
    IntegrationConfig,
    NotificationConfig,
    TriggerConfig,
)

FORMAT_VERSION = "1"
#: Project and workflow slugs, everywhere one is accepted (the platform API, the dashboard sidecar,
#: the store): the project slug and the workflow id make up the DAG id, so they keep to what a
#: DAG id, a URL path segment and a lower-case Airflow tag hold without escaping.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
# Node ids become Airflow task ids and CEL member names: letters, digits, "_" and "-".
NODE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"

#: Every workflow's DAG id starts with this (see :func:`dag_id_for`).
DAG_ID_PREFIX = "autopr__"


def dag_id_for(project: str, workflow_id: str) -> str:
    """The Airflow dag_id of a workflow (stable across versions): ``autopr__<project>__<workflow id>``."""
    return f"{DAG_ID_PREFIX}{project}__{workflow_id}"


Slug = Annotated[str, Field(pattern=SLUG_PATTERN, description="lower-case letters, digits, '_' and '-'")]
NodeId = Annotated[str, Field(pattern=NODE_ID_PATTERN, description="letters, digits, '_' and '-' (max 100)")]
NodeType = Literal["trigger", "action", "condition", "integration", "notification"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Position(_Strict):
    """Where the editor draws the node; no effect on execution."""

    x: float = Field(0.0, allow_inf_nan=False)
    y: float = Field(0.0, allow_inf_nan=False)


class _NodeBase(_Strict):
    id: NodeId
    label: str = Field("", max_length=200, description="Display name; defaults to the id.")
    position: Position = Field(default_factory=Position)

    @property
    def display_name(self) -> str:
        return self.label or self.id


class TriggerNode(_NodeBase):
    type: Literal["trigger"]
    config: TriggerConfig


class ActionNode(_NodeBase):
    type: Literal["action"]
    config: ActionConfig


class ConditionNode(_NodeBase):
    type: Literal["condition"]
    config: ConditionConfig


class IntegrationNode(_NodeBase):
    type: Literal["integration"]
    config: IntegrationConfig


class NotificationNode(_NodeBase):
    type: Literal["notification"]
    config: NotificationConfig


Node = Annotated[
    TriggerNode | ActionNode | ConditionNode | IntegrationNode | NotificationNode,
    Field(discriminator="type"),
]


class Edge(_Strict):
    """A dependency: ``target`` runs after ``source``.  Out of a condition it carries the branch."""

    id: Annotated[str, Field(min_length=1, max_length=200)]
    source: NodeId
    target: NodeId
    label: str | None = Field(None, max_length=200)
    branch: Literal["true", "false"] | None = Field(
        None, description="Only on edges leaving a condition: which outcome follows this edge."
    )


class Workflow(_Strict):
    """A complete workflow document (``format_version`` lets future readers migrate old files)."""

    format_version: Literal["1"] = FORMAT_VERSION
    id: Slug
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10000)
    project: Slug
    version: int = Field(1, ge=1, description="Set by the store on every save.")
    enabled: bool = True
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)

    def node(self, node_id: str) -> TriggerNode | ActionNode | ConditionNode | IntegrationNode | NotificationNode:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    @property
    def trigger(self) -> TriggerNode:
        return next(n for n in self.nodes if isinstance(n, TriggerNode))

    def to_dict(self) -> dict:
        """Plain JSON-able dict; unset optionals are left out so exports stay short and lossless."""
        return self.model_dump(mode="json", exclude_none=True)


AnyNode = TriggerNode | ActionNode | ConditionNode | IntegrationNode | NotificationNode
