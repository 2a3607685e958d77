"""What changed between two versions of a workflow: nodes and edges added, removed or changed, and settings.

Nodes and edges are matched by id, as the editor and the node/edge routes
address them.  Both sides are compared in the complete form (defaults filled
in), so writing a default out or leaving it to the default is no change;
a changed node names the node fields that differ (label, position, type,
config) and the top-level config keys that differ, so a reader sees
"quality_threshold changed" rather than two whole configs.  Settings are the
workflow's own fields besides its graph and version number.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from include.workflows.model import Workflow
from include.workflows.serialization import to_dict

#: The workflow's own fields a diff reports (``version`` differs between any two versions, so it is no change).
SETTINGS = ("name", "description", "enabled")


class SettingChange(BaseModel):
    field: str
    before: Any = None
    after: Any = None


class NodeChange(BaseModel):
    id: str
    fields: list[str] = Field(description="Node fields that differ: type, label, position, config")
    config_keys: list[str] = Field(description="Top-level config keys whose values differ (added or removed too)")
    before: dict[str, Any]
    after: dict[str, Any]


class EdgeChange(BaseModel):
    id: str
    fields: list[str] = Field(description="Edge fields that differ: source, target, branch, label")
    before: dict[str, Any]
    after: dict[str, Any]


class NodesDiff(BaseModel):
    added: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    changed: list[NodeChange] = []


class EdgesDiff(BaseModel):
    added: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    changed: list[EdgeChange] = []


class WorkflowDiff(BaseModel):
    """From version ``base`` to version ``head``: what a reader of ``base`` needs to know to get ``head``."""

    base: int
    head: int
    identical: bool = Field(description="True when the two versions hold the same workflow")
    settings: list[SettingChange] = []
    nodes: NodesDiff = NodesDiff()
    edges: EdgesDiff = EdgesDiff()


def _differing_keys(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Keys whose values differ, including keys only one side has, in the order they appear."""
    keys = list(before) + [k for k in after if k not in before]
    return [k for k in keys if before.get(k) != after.get(k)]


def _by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items}


def diff_workflows(base: Workflow, head: Workflow) -> WorkflowDiff:
    """What changed from ``base`` to ``head`` (each keeps its list order: added in head's, removed in base's)."""
    before, after = to_dict(base), to_dict(head)
    settings = [SettingChange(field=f, before=before.get(f), after=after.get(f))
                for f in SETTINGS if before.get(f) != after.get(f)]

    old_nodes, new_nodes = _by_id(before["nodes"]), _by_id(after["nodes"])
    nodes = NodesDiff(
        added=[n for i, n in new_nodes.items() if i not in old_nodes],
        removed=[n for i, n in old_nodes.items() if i not in new_nodes],
        changed=[
            NodeChange(id=i, fields=fields, before=old_nodes[i], after=n,
                       config_keys=_differing_keys(old_nodes[i]["config"], n["config"]) if "config" in fields else [])
            for i, n in new_nodes.items()
            if i in old_nodes and (fields := _differing_keys(old_nodes[i], n))
        ],
    )

    old_edges, new_edges = _by_id(before["edges"]), _by_id(after["edges"])
    edges = EdgesDiff(
        added=[e for i, e in new_edges.items() if i not in old_edges],
        removed=[e for i, e in old_edges.items() if i not in new_edges],
        changed=[EdgeChange(id=i, fields=fields, before=old_edges[i], after=e)
                 for i, e in new_edges.items() if i in old_edges and (fields := _differing_keys(old_edges[i], e))],
    )
    identical = not (settings or nodes.added or nodes.removed or nodes.changed
                     or edges.added or edges.removed or edges.changed)
    return WorkflowDiff(base=base.version, head=head.version, identical=identical, settings=settings,
                        nodes=nodes, edges=edges)
