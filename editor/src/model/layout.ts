/**
 * Auto-layout with dagre: a left-to-right layered drawing of the workflow.
 *
 * dagre is small and synchronous (ELK is far heavier), which is all a
 * workflow of a few dozen nodes needs.  Positions are React Flow's top-left
 * corners, so dagre's centre points are shifted by half a node.
 */
import dagre from "@dagrejs/dagre";
import type { Position } from "./types";

export const NODE_WIDTH = 220;
export const NODE_HEIGHT = 76;

export interface LayoutInput {
  nodes: { id: string; width?: number; height?: number }[];
  edges: { source: string; target: string }[];
}

export function autoLayout(graph: LayoutInput, direction: "LR" | "TB" = "LR"): Map<string, Position> {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: direction, nodesep: 40, ranksep: 80, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of graph.nodes) {
    g.setNode(node.id, { width: node.width ?? NODE_WIDTH, height: node.height ?? NODE_HEIGHT });
  }
  const ids = new Set(graph.nodes.map((n) => n.id));
  for (const edge of graph.edges) {
    if (ids.has(edge.source) && ids.has(edge.target)) g.setEdge(edge.source, edge.target);
  }
  dagre.layout(g);
  const positions = new Map<string, Position>();
  for (const node of graph.nodes) {
    const placed = g.node(node.id);
    positions.set(node.id, {
      x: Math.round(placed.x - (node.width ?? NODE_WIDTH) / 2),
      y: Math.round(placed.y - (node.height ?? NODE_HEIGHT) / 2),
    });
  }
  return positions;
}

/** Whether a workflow's nodes carry no drawing: more than one node and every one at 0,0 (the platform's default). */
export function unplaced(nodes: { position?: Position | null }[]): boolean {
  return nodes.length > 1 && nodes.every((n) => !n.position || (n.position.x === 0 && n.position.y === 0));
}

/**
 * The workflow as the canvas should first show it: laid out when it was written without positions
 * (through the API or by hand, where they are optional), else as it is.
 */
export function placedForCanvas<W extends { nodes: { id: string; position: Position }[]; edges: { source: string; target: string }[] }>(
  workflow: W,
): W {
  if (!unplaced(workflow.nodes)) return workflow;
  const positions = autoLayout({ nodes: workflow.nodes.map((n) => ({ id: n.id })), edges: workflow.edges });
  return { ...workflow, nodes: workflow.nodes.map((n) => ({ ...n, position: positions.get(n.id) ?? n.position })) };
}
