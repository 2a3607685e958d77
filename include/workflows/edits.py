"""Graph edits on a workflow document: add, replace, move or remove one node or edge.

Each edit changes a document (the dict form of a spec, ``to_dict``) in place
and validates nothing: the edited document is saved like any other, through
:mod:`include.workflows.service`, and validation there decides whether it is a
workflow.  That is why adding a node can also connect it (``after``): every
saved version must be a valid graph, and a lone new node is not reachable from
the trigger.  An edit raises :class:`ItemNotFound` for an id the document does
not hold and :class:`ItemExists` for one it already holds.
"""

from __future__ import annotations

from typing import Any

Document = dict[str, Any]


class EditError(Exception):
    """An edit that cannot apply to this document; ``pointer`` is the JSON pointer of the offending input."""

    pointer: str | None = None


class ItemNotFound(EditError):
    pass


class ItemExists(EditError):
    pointer = "/id"


def _index(items: list[dict[str, Any]], item_id: str, what: str) -> int:
    for i, item in enumerate(items):
        if item.get("id") == item_id:
            return i
    raise ItemNotFound(f"{what} {item_id!r} not found")


def add_node(doc: Document, node: dict[str, Any], after: str | None = None, branch: str | None = None) -> None:
    """Add ``node``; with ``after``, also an edge from that node (out of its ``branch`` when it is a condition)."""
    node_id = node.get("id")
    if any(n.get("id") == node_id for n in doc["nodes"]):
        raise ItemExists(f"Node {node_id!r} already exists")
    doc["nodes"].append(node)
    if after is not None:
        _index(doc["nodes"], after, "Node")
        edge: dict[str, Any] = {"id": f"{after}-{node_id}", "source": after, "target": node_id}
        if branch is not None:
            edge["branch"] = branch
        doc["edges"].append(edge)


def replace_node(doc: Document, node: dict[str, Any]) -> None:
    doc["nodes"][_index(doc["nodes"], node["id"], "Node")] = node


def move_node(doc: Document, node_id: str, position: dict[str, float]) -> None:
    doc["nodes"][_index(doc["nodes"], node_id, "Node")]["position"] = position


def remove_node(doc: Document, node_id: str, reconnect: bool = False) -> None:
    """Remove a node and its edges; ``reconnect`` joins each predecessor to each successor (once per pair)."""
    del doc["nodes"][_index(doc["nodes"], node_id, "Node")]
    incoming = [e for e in doc["edges"] if e.get("target") == node_id]
    outgoing = [e for e in doc["edges"] if e.get("source") == node_id]
    doc["edges"] = [e for e in doc["edges"] if node_id not in (e.get("source"), e.get("target"))]
    if not reconnect:
        return
    existing = {(e.get("source"), e.get("target")) for e in doc["edges"]}
    for inc in incoming:
        for out in outgoing:
            if (inc["source"], out["target"]) not in existing:
                bridged = {"id": f"{inc['source']}-{out['target']}", "source": inc["source"], "target": out["target"]}
                if inc.get("branch"):
                    bridged["branch"] = inc["branch"]
                doc["edges"].append(bridged)
                existing.add((inc["source"], out["target"]))


def add_edge(doc: Document, edge: dict[str, Any]) -> None:
    if any(e.get("id") == edge.get("id") for e in doc["edges"]):
        raise ItemExists(f"Edge {edge.get('id')!r} already exists")
    doc["edges"].append(edge)


def replace_edge(doc: Document, edge: dict[str, Any]) -> None:
    doc["edges"][_index(doc["edges"], edge["id"], "Edge")] = edge


def remove_edge(doc: Document, edge_id: str) -> None:
    del doc["edges"][_index(doc["edges"], edge_id, "Edge")]
