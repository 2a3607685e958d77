/**
 * The workflow model as the platform stores it (include/workflows/model.py).
 *
 * The editor keeps its own state in React Flow's shapes while the user edits;
 * `serialize.ts` converts between the two so what is saved is exactly this.
 */

export const NODE_TYPES = ["trigger", "action", "condition", "integration", "notification"] as const;
export type NodeType = (typeof NODE_TYPES)[number];

export type Branch = "true" | "false";

export interface Position {
  x: number;
  y: number;
}

export interface WorkflowNode {
  id: string;
  type: NodeType;
  label: string;
  position: Position;
  config: Record<string, unknown>;
}

export interface WorkflowEdge {
  id: string;
  source: string;
  target: string;
  label?: string | null;
  branch?: Branch | null;
}

export interface Workflow {
  format_version: "1";
  id: string;
  name: string;
  description: string;
  project: string;
  version: number;
  enabled: boolean;
  nodes: WorkflowNode[];
  edges: WorkflowEdge[];
}

/** One problem reported by the server's validator (or by the editor's own rules). */
export interface ValidationProblem {
  node_id?: string | null;
  edge_id?: string | null;
  field?: string | null;
  message: string;
}

export function emptyWorkflow(project = "default"): Workflow {
  return {
    format_version: "1",
    id: "untitled-workflow",
    name: "Untitled workflow",
    description: "",
    project,
    version: 1,
    enabled: true,
    nodes: [],
    edges: [],
  };
}
