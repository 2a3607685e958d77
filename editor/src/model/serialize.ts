/**
 * Convert between the stored workflow and React Flow's nodes and edges.
 *
 * React Flow needs handles, selection and per-node UI data; the platform
 * needs the plain workflow model.  Keeping the conversion in one pure module
 * means "what you see is what is saved" can be unit-tested: a workflow that
 * goes to the canvas and back comes out unchanged.
 */
import type { Edge, Node } from "@xyflow/react";
import type { Branch, NodeType, ValidationProblem, Workflow, WorkflowEdge, WorkflowNode } from "./types";

/** Handle ids: every node but the trigger has one input; conditions have two outputs. */
export const INPUT_HANDLE = "in";
export const OUTPUT_HANDLE = "out";

export type EditorNodeData = {
  label: string;
  config: Record<string, unknown>;
  problems?: ValidationProblem[];
};

export type EditorNode = Node<EditorNodeData, NodeType>;
export type EditorEdge = Edge<{ label?: string | null; problems?: ValidationProblem[] }>;

/** The workflow's own fields, everything but the graph. */
export type WorkflowMeta = Omit<Workflow, "nodes" | "edges">;

export function metaOf(workflow: Workflow): WorkflowMeta {
  const { nodes: _nodes, edges: _edges, ...meta } = workflow;
  return meta;
}

export function toFlowNode(node: WorkflowNode): EditorNode {
  return {
    id: node.id,
    type: node.type,
    position: { x: node.position.x, y: node.position.y },
    data: { label: node.label, config: structuredClone(node.config) },
  };
}

export function toFlowEdge(edge: WorkflowEdge): EditorEdge {
  const branch = edge.branch ?? null;
  return {
    id: edge.id,
    source: edge.source,
    target: edge.target,
    sourceHandle: branch ?? OUTPUT_HANDLE,
    targetHandle: INPUT_HANDLE,
    label: edge.label ?? branch ?? undefined,
    data: { label: edge.label ?? null },
    className: branch ? `branch-${branch}` : undefined,
  };
}

export function toFlow(workflow: Workflow): { nodes: EditorNode[]; edges: EditorEdge[] } {
  return { nodes: workflow.nodes.map(toFlowNode), edges: workflow.edges.map(toFlowEdge) };
}

/** The branch an edge carries, read from the handle it leaves from. */
export function branchOfHandle(handle: string | null | undefined): Branch | null {
  return handle === "true" || handle === "false" ? handle : null;
}

export function fromFlowNode(node: EditorNode): WorkflowNode {
  return {
    id: node.id,
    type: node.type as NodeType,
    label: node.data.label,
    position: { x: Math.round(node.position.x), y: Math.round(node.position.y) },
    config: structuredClone(node.data.config),
  };
}

export function fromFlowEdge(edge: EditorEdge): WorkflowEdge {
  const out: WorkflowEdge = { id: edge.id, source: edge.source, target: edge.target };
  const label = edge.data?.label;
  if (label) out.label = label;
  const branch = branchOfHandle(edge.sourceHandle);
  if (branch) out.branch = branch;
  return out;
}

export function toWorkflow(meta: WorkflowMeta, nodes: EditorNode[], edges: EditorEdge[]): Workflow {
  return { ...meta, nodes: nodes.map(fromFlowNode), edges: edges.map(fromFlowEdge) };
}

/** A stable id for a new node, readable in Airflow as a task id (e.g. `quality_check_2`). */
export function nextNodeId(base: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  const stem = base.replace(/[^a-zA-Z0-9_]/g, "_").replace(/^([^a-zA-Z])/, "n_$1").toLowerCase();
  if (!used.has(stem)) return stem;
  for (let i = 2; ; i++) {
    const candidate = `${stem}_${i}`;
    if (!used.has(candidate)) return candidate;
  }
}

/** A stable id for a new edge between two nodes. */
export function nextEdgeId(source: string, target: string, branch: Branch | null, taken: Iterable<string>): string {
  return nextNodeId(`e_${source}_${branch ? `${branch}_` : ""}${target}`, taken);
}
