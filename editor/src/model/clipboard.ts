/**
 * Copy, paste and duplicate: the clipboard carries workflow JSON.
 *
 * A copied selection is a fragment in the workflow format (nodes plus the
 * edges between them), so it can be pasted into another workflow, another
 * browser tab, or a text editor and back.  Pasting gives every node a fresh
 * id and keeps only edges whose two ends were pasted.
 */
import { nextEdgeId, nextNodeId } from "./serialize";
import type { NodeType, Workflow, WorkflowEdge, WorkflowNode } from "./types";
import { NODE_TYPES } from "./types";

export interface Fragment {
  format_version: "1";
  nodes: WorkflowNode[];
  edges: WorkflowEdge[];
}

export const PASTE_OFFSET = 40;

export function copySelection(workflow: Pick<Workflow, "nodes" | "edges">, selected: Iterable<string>): Fragment {
  const ids = new Set(selected);
  const nodes = workflow.nodes.filter((n) => ids.has(n.id));
  const edges = workflow.edges.filter((e) => ids.has(e.source) && ids.has(e.target));
  return structuredClone({ format_version: "1", nodes, edges });
}

export class ClipboardError extends Error {}

/** Parse clipboard text into a fragment, saying what is wrong when it is not one. */
export function parseFragment(text: string): Fragment {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ClipboardError("The clipboard does not hold workflow JSON.");
  }
  if (typeof data !== "object" || data === null || !Array.isArray((data as Fragment).nodes)) {
    throw new ClipboardError("The clipboard JSON has no 'nodes' list.");
  }
  const raw = data as { nodes: unknown[]; edges?: unknown[] };
  const nodes = raw.nodes.map((n, i) => {
    const node = n as Partial<WorkflowNode>;
    if (typeof node?.id !== "string" || !NODE_TYPES.includes(node.type as NodeType)) {
      throw new ClipboardError(`Clipboard node #${i} needs an 'id' and a 'type' (one of ${NODE_TYPES.join(", ")}).`);
    }
    return {
      id: node.id,
      type: node.type as NodeType,
      label: typeof node.label === "string" ? node.label : node.id,
      position: {
        x: Number(node.position?.x ?? 0),
        y: Number(node.position?.y ?? 0),
      },
      config: typeof node.config === "object" && node.config !== null ? node.config : {},
    } satisfies WorkflowNode;
  });
  const edges = (raw.edges ?? []).filter(
    (e): e is WorkflowEdge =>
      typeof (e as WorkflowEdge)?.source === "string" && typeof (e as WorkflowEdge)?.target === "string",
  );
  return { format_version: "1", nodes, edges };
}

/** Add a fragment to a workflow with fresh ids; returns the new graph and the ids pasted. */
export function pasteFragment(
  workflow: Pick<Workflow, "nodes" | "edges">,
  fragment: Fragment,
  offset = PASTE_OFFSET,
): { nodes: WorkflowNode[]; edges: WorkflowEdge[]; pastedIds: string[] } {
  const nodeIds = new Set(workflow.nodes.map((n) => n.id));
  const edgeIds = new Set(workflow.edges.map((e) => e.id));
  const rename = new Map<string, string>();
  const newNodes: WorkflowNode[] = [];
  for (const node of fragment.nodes) {
    const id = nextNodeId(node.id.replace(/_\d+$/, ""), nodeIds);
    nodeIds.add(id);
    rename.set(node.id, id);
    newNodes.push({
      ...structuredClone(node),
      id,
      position: { x: node.position.x + offset, y: node.position.y + offset },
    });
  }
  const newEdges: WorkflowEdge[] = [];
  for (const edge of fragment.edges) {
    const source = rename.get(edge.source);
    const target = rename.get(edge.target);
    if (!source || !target) continue;
    const id = nextEdgeId(source, target, edge.branch ?? null, edgeIds);
    edgeIds.add(id);
    newEdges.push({ ...structuredClone(edge), id, source, target });
  }
  return {
    nodes: [...workflow.nodes, ...newNodes],
    edges: [...workflow.edges, ...newEdges],
    pastedIds: newNodes.map((n) => n.id),
  };
}
