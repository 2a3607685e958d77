"""Validate a workflow document: every node config, then the graph — all problems at once.

The editor and the API show problems on the node, edge or form field they
belong to, so each :class:`Problem` carries ``node_id`` / ``edge_id`` and a
``field`` path (inside the node's ``config`` for config errors, e.g.
``quality_threshold`` or ``analyzers.0``).  Nothing is stored or compiled
until :func:`validate_workflow` returns an empty list.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from include.workflows import expressions
from include.workflows.graph import WorkflowGraph, find_cycle
from include.workflows.model import NODE_ID_PATTERN, Edge, Workflow, _NodeBase
from include.workflows.nodes import NODE_TYPES, config_model, did_you_mean, is_node_type, outputs_of


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
               "less_than", "greater_than", "int_parsing", "float_parsing", "bool_parsing"}
# Not "value_error": those messages are this package's own checks, which name the value where it helps.


def _known_fields(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) model an unknown field at ``loc`` was found in."""
    for part in loc[:-1]:
        if model is None:
            return []
        info = model.model_fields.get(str(part))
        annotation = getattr(info, "annotation", None)
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return list(model.model_fields) if model is not None else []


def _pydantic_problems(exc: ValidationError, *, prefix: str = "", model: type[BaseModel] | None = None,
                       **where: Any) -> list[Problem]:
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
        if err["type"] == "extra_forbidden" and err["loc"]:
            known = _known_fields(model, err["loc"])
            hint = did_you_mean(str(err["loc"][-1]), known)
            if not hint and known:
                hint = f"; known fields: {', '.join(known)}"
            msg = f"unknown field, not permitted here{hint}"
        elif (err["type"] in _SHOW_INPUT and isinstance(value, (str, int, float, bool)) and len(repr(value)) <= 80
              and repr(value) not in msg and str(value) not in msg):  # the check's own message may name it already
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
        return _pydantic_problems(exc, model=Workflow)
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
        problems += _pydantic_problems(exc, prefix=prefix, model=_NodeShape, **where)
    node_type = raw.get("type")
    if not is_node_type(node_type):
        if not any(p.field and p.field.endswith("type") for p in problems):
            hint = did_you_mean(node_type, NODE_TYPES) if isinstance(node_type, str) else ""
            problems.append(
                Problem(
                    field=f"{prefix}.type" if prefix else "type",
                    message=f"unknown node type {node_type!r}{hint or '; use one of: ' + ', '.join(NODE_TYPES)}",
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
        problems += _pydantic_problems(exc, prefix=f"{prefix}.config" if prefix else "", model=model, **where)
    return node_id, problems


def _check_edge(index: int, raw: Any) -> tuple[str | None, list[Problem]]:
    if not isinstance(raw, dict):
        return None, [Problem(field=f"edges.{index}", message="edge must be an object")]
    edge_id = raw.get("id") if isinstance(raw.get("id"), str) and raw.get("id") else None
    where = {"edge_id": edge_id} if edge_id else {}
    try:
        Edge.model_validate(raw)
    except ValidationError as exc:
        return edge_id, _pydantic_problems(exc, prefix="" if edge_id else f"edges.{index}", model=Edge, **where)
    return edge_id, []


Declared = dict[str, tuple[str, dict[str, str] | None]]
"""node id -> (what it is: its subtype or type, its declared outputs or None when unknown)."""


def _declared(node_type: Any, config: Any) -> tuple[str, dict[str, str] | None]:
    key = NODE_TYPES[node_type][0] if is_node_type(node_type) else None
    sub = config.get(key) if key and isinstance(config, dict) else None
    return str(sub if isinstance(sub, str) else node_type), outputs_of(node_type, config)


def check_graph(workflow: Workflow, outputs: Declared | None = None) -> list[Problem]:
    """Graph-level rules on a workflow whose nodes and edges are individually valid.

    ``outputs`` overrides what some nodes are and declare (outputs None: unknown, not checked):
    the stand-ins of nodes whose own config is broken are checked as the node they stand for.
    """
    problems: list[Problem] = []
    declared: Declared = {n.id: _declared(n.type, n.config.model_dump()) for n in workflow.nodes}
    declared.update(outputs or {})
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
                hint = did_you_mean(ref, node_types)
                problems.append(
                    Problem(edge_id=edge.id, field=end, message=f"{end} {ref!r} is not a node of this workflow{hint}")
                )
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
                    hint = did_you_mean(ref, node_types)
                    problems.append(
                        Problem(node_id=node.id, field="expression",
                                message=f"nodes.{ref}: no node {ref!r} in this workflow{hint}")
                    )
                elif ref not in ancestors:
                    problems.append(
                        Problem(node_id=node.id, field="expression", message=f"nodes.{ref}: {ref!r} does not run before this condition")
                    )
            problems += _output_problems(node.id, node.config.expression, ancestors, declared)
    return problems


def _output_problems(condition_id: str, expression: str, ancestors: set[str], declared: Declared) -> list[Problem]:
    """``nodes.<id>.<output>`` reads of an upstream node that declares no such output."""
    problems = []
    seen: set[tuple[str, str]] = set()
    for ref in sorted(expressions.referenced_outputs(expression), key=lambda r: (r.line or 0, r.column or 0)):
        kind, outputs = declared.get(ref.node_id, ("", None))
        if ref.node_id not in ancestors or outputs is None or ref.output in outputs or (ref.node_id, ref.output) in seen:
            continue
        seen.add((ref.node_id, ref.output))
        hint = did_you_mean(ref.output, outputs) or f"; its outputs: {', '.join(outputs)}"
        where = f" (line {ref.line}, column {ref.column})" if ref.line is not None else ""
        problems.append(Problem(
            node_id=condition_id, field="expression",
            message=f"nodes.{ref.node_id}.{ref.output}{where}: {kind} node {ref.node_id!r} has no output "
                    f"{ref.output!r}{hint}",
        ))
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
    stand_in_outputs: Declared = {}
    for i, raw in enumerate(nodes_raw):
        _node_id, node_problems = _check_node(i, raw)
        problems += node_problems
        if not node_problems:
            good_nodes.append(raw)
        elif isinstance(raw, dict) and isinstance(raw.get("id"), str) and re.match(NODE_ID_PATTERN, raw["id"]):
            # Keep a placeholder so edges to this node are not reported as dangling as well: one
            # problem per root cause.  A node of an unknown type stands in as the type it most
            # likely meant (a misspelt trigger must not also make "the workflow has no trigger").
            node_type = raw.get("type")
            if not is_node_type(node_type):
                close = difflib.get_close_matches(node_type, list(NODE_TYPES), n=1, cutoff=0.6) if isinstance(
                    node_type, str) else []
                node_type = close[0] if close else "notification"
            good_nodes.append({"id": raw["id"], "type": node_type, "config": _STAND_IN_CONFIGS[node_type]})
            stand_in_outputs[raw["id"]] = _declared(raw.get("type"), raw.get("config"))
    for i, raw in enumerate(edges_raw):
        _edge_id, edge_problems = _check_edge(i, raw)
        problems += edge_problems
        if not edge_problems:
            good_edges.append(raw)
    problems += _partial_graph_problems(good_nodes, good_edges, problems, stand_in_outputs)
    return problems


def _partial_graph_problems(nodes: list[dict], edges: list[dict], known: list[Problem],
                            outputs: Declared) -> list[Problem]:
    """Graph checks on the parts that parsed, so a bad config does not hide a cycle or a dangling edge."""
    try:
        stand_in = Workflow.model_validate({"id": "x", "name": "x", "project": "x", "nodes": nodes, "edges": edges})
    except ValidationError:
        return []
    return [p for p in check_graph(stand_in, outputs) if p not in known]


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
