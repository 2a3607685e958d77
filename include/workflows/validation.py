"""Validate a workflow document: every node config, then the graph — all problems at once.

The editor and the API show problems on the node, edge or form field they
belong to, so each :class:`Problem` carries ``node_id`` / ``edge_id`` and a
``field`` path (inside the node's ``config`` for config errors, e.g.
``quality_threshold`` or ``analyzers.0``).  Nothing is stored or compiled
until :func:`validate_workflow` returns an empty list.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from include.workflows import expressions
from include.workflows.graph import WorkflowGraph, find_cycle
from include.workflows.model import NODE_ID_PATTERN, Edge, Workflow, _NodeBase
from include.workflows.nodes import NODE_TYPES, config_model


class Problem(BaseModel):
    """One thing wrong with a workflow, pointing at where it is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    node_id: str | None = None
    edge_id: str | None = None
    field: str | None = None
    message: str

    def __str__(self) -> str:
        where = []
        if self.node_id:
            where.append(f"node {self.node_id!r}")
        if self.edge_id:
            where.append(f"edge {self.edge_id!r}")
        if self.field:
            where.append(self.field)
        return f"{', '.join(where)}: {self.message}" if where else self.message


class WorkflowInvalid(ValueError):
    """Raised when a workflow has problems; ``problems`` lists all of them."""

    def __init__(self, problems: list[Problem], what: str = "workflow"):
        self.problems = list(problems)
        shown = "; ".join(str(p) for p in self.problems[:10])
        more = f" (and {len(self.problems) - 10} more)" if len(self.problems) > 10 else ""
        super().__init__(f"{what} is invalid: {shown}{more}")


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


_SHOW_INPUT = {"literal_error", "enum", "string_pattern_mismatch", "less_than_equal", "greater_than_equal",
               "less_than", "greater_than", "int_parsing", "float_parsing", "bool_parsing", "value_error"}


def _pydantic_problems(exc: ValidationError, *, prefix: str = "", **where: Any) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        msg = err["msg"]
        msg = msg.removeprefix("Value error, ")
        field = _loc(err["loc"])
        # Model-level checks name their field as "<field>: message"; lift it into the pointer.
        head, sep, rest = msg.partition(": ")
        if sep and not field and head.isidentifier():
            field, msg = head, rest
        value = err.get("input")
        if err["type"] in _SHOW_INPUT and isinstance(value, (str, int, float, bool)) and len(repr(value)) <= 80:
            msg = f"{msg} (got {value!r})"
        full = ".".join(p for p in (prefix, field) if p) or None
        problems.append(Problem(field=full, message=msg, **where))
    return problems


class _NodeShape(_NodeBase):
    """A node without its config: checks id, label, position and that type is known."""

    model_config = ConfigDict(extra="forbid")
    type: str
    config: Any = None


_HEADER_FIELDS = {name for name in Workflow.model_fields if name not in ("nodes", "edges")}


def _check_header(data: dict[str, Any]) -> list[Problem]:
    header = {k: v for k, v in data.items() if k not in ("nodes", "edges")}
    header["nodes"], header["edges"] = [], []
    try:
        Workflow.model_validate(header)
    except ValidationError as exc:
        return _pydantic_problems(exc)
    return []


def _check_node(index: int, raw: Any) -> tuple[str | None, list[Problem]]:
    """(node id if usable, problems) for one raw node."""
    if not isinstance(raw, dict):
        return None, [Problem(field=f"nodes.{index}", message="node must be an object")]
    node_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    where = {"node_id": node_id} if node_id else {}
    prefix = "" if node_id else f"nodes.{index}"
    problems: list[Problem] = []
    try:
        _NodeShape.model_validate(raw)
    except ValidationError as exc:
        problems += _pydantic_problems(exc, prefix=prefix, **where)
    node_type = raw.get("type")
    if node_type not in NODE_TYPES:
        if not any(p.field and p.field.endswith("type") for p in problems):
            problems.append(
                Problem(
                    field=f"{prefix}.type" if prefix else "type",
                    message=f"unknown node type {node_type!r}; use one of: {', '.join(NODE_TYPES)}",
                    **where,
                )
            )
        return node_id, problems
    config = raw.get("config")
    if not isinstance(config, dict):
        problems.append(Problem(field=f"{prefix}.config" if prefix else "config", message="config must be an object", **where))
        return node_id, problems
    try:
        model = config_model(node_type, config)
    except ValueError as exc:
        key = NODE_TYPES[node_type][0]
        problems.append(Problem(field=f"{prefix}.config.{key}" if prefix else key, message=str(exc).split(": ", 1)[-1], **where))
        return node_id, problems
    try:
        model.model_validate(config)
    except ValidationError as exc:
        # Config errors point at the field inside config (what the editor's form shows).
        problems += _pydantic_problems(exc, prefix=f"{prefix}.config" if prefix else "", **where)
    return node_id, problems


def _check_edge(index: int, raw: Any) -> tuple[str | None, list[Problem]]:
    if not isinstance(raw, dict):
        return None, [Problem(field=f"edges.{index}", message="edge must be an object")]
    edge_id = raw.get("id") if isinstance(raw.get("id"), str) and raw.get("id") else None
    where = {"edge_id": edge_id} if edge_id else {}
    try:
        Edge.model_validate(raw)
    except ValidationError as exc:
        return edge_id, _pydantic_problems(exc, prefix="" if edge_id else f"edges.{index}", **where)
    return edge_id, []


def check_graph(workflow: Workflow) -> list[Problem]:
    """Graph-level rules on a workflow whose nodes and edges are individually valid."""
    problems: list[Problem] = []
    node_types: dict[str, str] = {}
    for node in workflow.nodes:
        if node.id in node_types:
            problems.append(Problem(node_id=node.id, field="id", message=f"duplicate node id {node.id!r}"))
        node_types[node.id] = node.type

    triggers = [n.id for n in workflow.nodes if n.type == "trigger"]
    if not triggers:
        problems.append(Problem(field="nodes", message="a workflow needs exactly one trigger node; it has none"))
    for extra in triggers[1:]:
        problems.append(
            Problem(node_id=extra, field="type", message=f"a workflow has exactly one trigger; {triggers[0]!r} is already one")
        )

    seen_edge_ids: set[str] = set()
    seen_pairs: dict[tuple[str, str], str] = {}
    branches: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    good_edges: list[Edge] = []
    for edge in workflow.edges:
        ok = True
        if edge.id in seen_edge_ids:
            problems.append(Problem(edge_id=edge.id, field="id", message=f"duplicate edge id {edge.id!r}"))
            ok = False
        seen_edge_ids.add(edge.id)
        for end in ("source", "target"):
            ref = getattr(edge, end)
            if ref not in node_types:
                problems.append(Problem(edge_id=edge.id, field=end, message=f"{end} {ref!r} is not a node of this workflow"))
                ok = False
        if edge.source == edge.target:
            problems.append(Problem(edge_id=edge.id, field="target", message="an edge cannot connect a node to itself"))
            ok = False
        if not ok:
            continue
        pair = (edge.source, edge.target)
        if pair in seen_pairs:
            problems.append(
                Problem(edge_id=edge.id, message=f"duplicates edge {seen_pairs[pair]!r} ({edge.source} -> {edge.target})")
            )
            continue
        seen_pairs[pair] = edge.id
        if node_types[edge.target] == "trigger":
            problems.append(Problem(edge_id=edge.id, field="target", message="no edge may lead into the trigger"))
            continue
        if node_types[edge.source] == "condition":
            if edge.branch is None:
                problems.append(
                    Problem(edge_id=edge.id, field="branch", message="edges out of a condition need branch 'true' or 'false'")
                )
                continue
            branches[edge.source][edge.branch].append(edge.id)
        elif edge.branch is not None:
            problems.append(
                Problem(edge_id=edge.id, field="branch", message="only edges leaving a condition node carry a branch")
            )
            continue
        good_edges.append(edge)

    for node in workflow.nodes:
        if node.type != "condition":
            continue
        for branch in ("true", "false"):
            edge_ids = branches[node.id][branch]
            if not edge_ids:
                problems.append(Problem(node_id=node.id, message=f"condition needs an edge for its {branch!r} branch"))
            for extra in edge_ids[1:]:
                problems.append(
                    Problem(edge_id=extra, field="branch", message=f"condition {node.id!r} already has a {branch!r} edge")
                )

    cycle = find_cycle(list(node_types), [(e.source, e.target, e.id) for e in good_edges])
    if cycle:
        path = " -> ".join([src for src, _, _ in cycle] + [cycle[0][0]])
        problems.append(Problem(edge_id=cycle[-1][2], message=f"edge closes a cycle: {path}"))
        return problems  # reachability and ancestry are meaningless on a cyclic graph

    if len(triggers) == 1:
        graph = WorkflowGraph.build(list(node_types), [(e.source, e.target) for e in good_edges])
        reachable = graph.descendants(triggers[0]) | {triggers[0]}
        for node in workflow.nodes:
            if node.id not in reachable:
                problems.append(Problem(node_id=node.id, message=f"not reachable from the trigger {triggers[0]!r}"))
        if len(node_types) > 1 and not graph.children(triggers[0]):
            problems.append(Problem(node_id=triggers[0], message="the trigger has no outgoing edge"))
        for node in workflow.nodes:
            if node.type != "condition":
                continue
            ancestors = graph.ancestors(node.id)
            for ref in sorted(expressions.referenced_nodes(node.config.expression)):
                if ref not in node_types:
                    problems.append(
                        Problem(node_id=node.id, field="expression", message=f"nodes.{ref}: no node {ref!r} in this workflow")
                    )
                elif ref not in ancestors:
                    problems.append(
                        Problem(node_id=node.id, field="expression", message=f"nodes.{ref}: {ref!r} does not run before this condition")
                    )
    return problems


def validate_workflow(data: Any) -> list[Problem]:
    """Every problem of a workflow document (a dict as parsed from JSON/YAML); [] when valid."""
    if isinstance(data, Workflow):
        return check_graph(data)
    if not isinstance(data, dict):
        return [Problem(message="a workflow must be an object")]
    try:
        workflow = Workflow.model_validate(data)
    except ValidationError:
        workflow = None
    if workflow is not None:  # fast path: every piece is valid, only the graph is left
        return check_graph(workflow)

    problems = _check_header(data)
    nodes_raw, edges_raw = data.get("nodes", []), data.get("edges", [])
    if not isinstance(nodes_raw, list):
        problems.append(Problem(field="nodes", message="nodes must be a list"))
        nodes_raw = []
    if not isinstance(edges_raw, list):
        problems.append(Problem(field="edges", message="edges must be a list"))
        edges_raw = []
    good_nodes, good_edges = [], []
    for i, raw in enumerate(nodes_raw):
        _node_id, node_problems = _check_node(i, raw)
        problems += node_problems
        if not node_problems:
            good_nodes.append(raw)
        elif (
            isinstance(raw, dict)
            and isinstance(raw.get("id"), str)
            and re.match(NODE_ID_PATTERN, raw["id"])
            and raw.get("type") in NODE_TYPES
        ):
            # keep a placeholder so edges to this node are not reported as dangling as well
            good_nodes.append({"id": raw["id"], "type": raw["type"], "config": _STAND_IN_CONFIGS[raw["type"]]})
    for i, raw in enumerate(edges_raw):
        _edge_id, edge_problems = _check_edge(i, raw)
        problems += edge_problems
        if not edge_problems:
            good_edges.append(raw)
    problems += _partial_graph_problems(good_nodes, good_edges, problems)
    return problems


def _partial_graph_problems(nodes: list[dict], edges: list[dict], known: list[Problem]) -> list[Problem]:
    """Graph checks on the parts that parsed, so a bad config does not hide a cycle or a dangling edge."""
    try:
        stand_in = Workflow.model_validate({"id": "x", "name": "x", "project": "x", "nodes": nodes, "edges": edges})
    except ValidationError:
        return []
    return [p for p in check_graph(stand_in) if p not in known]


#: Minimal valid configs standing in for nodes whose own config is broken (graph checks only).
_STAND_IN_CONFIGS: dict[str, dict[str, Any]] = {
    "trigger": {"event": "manual"},
    "action": {"action": "label_pr", "labels": ["x"]},
    "condition": {"expression": "true"},
    "integration": {"connection_id": "x"},
    "notification": {"channel": "dashboard", "message": "x"},
}


def load_workflow(data: Any) -> Workflow:
    """A valid Workflow from a dict, or WorkflowInvalid listing every problem."""
    if isinstance(data, Workflow):
        problems = check_graph(data)
        if problems:
            raise WorkflowInvalid(problems)
        return data
    problems = validate_workflow(data)
    if problems:
        raise WorkflowInvalid(problems)
    return Workflow.model_validate(data)
