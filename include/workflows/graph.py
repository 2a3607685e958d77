"""The intermediate graph between a workflow document and an Airflow DAG.

Like astronomer-cosmos (parse -> graph -> render), compilation first turns the
document into a plain graph — topological order, parents and children,
ancestors, which nodes sit behind a condition — and only then renders
Airflow objects from it.  Validation reuses the same graph for cycle and
reachability checks, and the editor's dry run can show it without Airflow.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from include.workflows.model import AnyNode, Workflow


def find_cycle(nodes: Iterable[str], edges: Iterable[tuple[str, str, str]]) -> list[tuple[str, str, str]] | None:
    """One cycle as a list of (source, target, edge_id), or None when the graph is acyclic."""
    out: dict[str, list[tuple[str, str]]] = {n: [] for n in nodes}
    for src, dst, eid in edges:
        out.setdefault(src, []).append((dst, eid))
        out.setdefault(dst, [])
    done: set[str] = set()
    for start in out:
        if start in done:
            continue
        # iterative DFS; path_edges[k] is the edge from stack[k] to stack[k + 1]
        stack: list[list] = [[start, 0]]
        on_path = {start: 0}
        path_edges: list[tuple[str, str, str]] = []
        while stack:
            frame = stack[-1]
            node, i = frame
            if i < len(out[node]):
                frame[1] += 1
                nxt, eid = out[node][i]
                if nxt in on_path:
                    return path_edges[on_path[nxt] :] + [(node, nxt, eid)]
                if nxt not in done:
                    on_path[nxt] = len(stack)
                    path_edges.append((node, nxt, eid))
                    stack.append([nxt, 0])
            else:
                stack.pop()
                del on_path[node]
                done.add(node)
                if path_edges:
                    path_edges.pop()
    return None


@dataclass
class WorkflowGraph:
    """Adjacency of a DAG of node ids with the queries the compiler and validator need."""

    nodes: list[str]
    up: dict[str, list[str]] = field(default_factory=dict)
    down: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> WorkflowGraph:
        g = cls(nodes=list(nodes))
        for n in g.nodes:
            g.up[n], g.down[n] = [], []
        for src, dst in edges:
            g.down[src].append(dst)
            g.up[dst].append(src)
        return g

    def parents(self, node: str) -> list[str]:
        return self.up[node]

    def children(self, node: str) -> list[str]:
        return self.down[node]

    def descendants(self, node: str) -> set[str]:
        return self._walk(node, self.down)

    def ancestors(self, node: str) -> set[str]:
        return self._walk(node, self.up)

    @staticmethod
    def _walk(start: str, adjacency: dict[str, list[str]]) -> set[str]:
        seen: set[str] = set()
        queue = deque(adjacency[start])
        while queue:
            n = queue.popleft()
            if n not in seen:
                seen.add(n)
                queue.extend(adjacency[n])
        return seen

    @cached_property
    def order(self) -> list[str]:
        """Topological order (Kahn), stable with respect to the document's node order."""
        indegree = {n: len(self.up[n]) for n in self.nodes}
        ready = deque(n for n in self.nodes if indegree[n] == 0)
        order: list[str] = []
        while ready:
            n = ready.popleft()
            order.append(n)
            for c in self.down[n]:
                indegree[c] -= 1
                if indegree[c] == 0:
                    ready.append(c)
        if len(order) != len(self.nodes):
            raise ValueError("graph has a cycle")
        return order


@dataclass
class CompiledGraph:
    """A validated workflow as the DAG renderer sees it."""

    workflow: Workflow
    graph: WorkflowGraph
    nodes: dict[str, AnyNode]
    #: condition id -> {"true": [target ids], "false": [target ids]}
    branches: dict[str, dict[str, list[str]]]
    #: nodes that may be skipped by a condition (they need a join-friendly trigger rule)
    behind_condition: set[str]

    @classmethod
    def from_workflow(cls, workflow: Workflow) -> CompiledGraph:
        graph = WorkflowGraph.build([n.id for n in workflow.nodes], [(e.source, e.target) for e in workflow.edges])
        nodes = {n.id: n for n in workflow.nodes}
        branches: dict[str, dict[str, list[str]]] = {}
        for e in workflow.edges:
            if e.branch is not None:
                branches.setdefault(e.source, {"true": [], "false": []})[e.branch].append(e.target)
        behind: set[str] = set()
        for cond in branches:
            behind |= graph.descendants(cond)
        return cls(workflow=workflow, graph=graph, nodes=nodes, branches=branches, behind_condition=behind)

    @property
    def order(self) -> list[str]:
        return self.graph.order

    def ancestors(self, node_id: str) -> list[str]:
        """Ancestors in topological order (what a task reads from XCom)."""
        anc = self.graph.ancestors(node_id)
        return [n for n in self.order if n in anc]

    def mermaid(self) -> str:
        """The workflow as a Mermaid flowchart (shown in the DAG's docs)."""
        shapes = {
            "trigger": ("([", "])"),
            "condition": ("{", "}"),
            "action": ("[", "]"),
            "integration": ("[/", "/]"),
            "notification": ("[[", "]]"),
        }
        lines = ["flowchart TD"]
        for nid in self.order:
            node = self.nodes[nid]
            left, right = shapes[node.type]
            text = f"{node.display_name} · {subtype(node)}".replace('"', "'")
            lines.append(f'    {_mid(nid)}{left}"{text}"{right}')
        for e in self.workflow.edges:
            label = e.branch or e.label
            arrow = f" -->|{label}| " if label else " --> "
            lines.append(f"    {_mid(e.source)}{arrow}{_mid(e.target)}")
        return "\n".join(lines)


def _mid(node_id: str) -> str:
    return "n_" + node_id.replace("-", "_")


def subtype(node: AnyNode) -> str:
    """The node's subtype for display: quality_check, slack, pr_opened, ..."""
    cfg = node.config
    for key in ("action", "channel", "event"):
        value = getattr(cfg, key, None)
        if isinstance(value, str):
            return value
    if node.type == "integration":
        return f"{cfg.method} {cfg.connection_id}"
    return node.type
