/**
 * The editor's state and every edit as a pure reducer.
 *
 * React Flow is used in controlled mode: the canvas renders `nodes` and
 * `edges` from here and reports changes back as actions.  After each action
 * the workflow it produced is recorded in the undo history (whole snapshots,
 * see model/history.ts), except while a node is being dragged — the drag's
 * end is one step — and typing in a form, which coalesces into one step per
 * field.  Keeping this pure lets vitest drive the editor without a browser.
 */
import { applyEdgeChanges, applyNodeChanges, type EdgeChange, type NodeChange } from "@xyflow/react";
import { checkConnection, type RuleViolation } from "../model/rules";
import { type History, record, redo, startHistory, undo } from "../model/history";
import {
  type EditorEdge,
  type EditorNode,
  type WorkflowMeta,
  metaOf,
  nextEdgeId,
  toFlow,
  toFlowEdge,
  toFlowNode,
  toWorkflow,
} from "../model/serialize";
import type { Branch, Workflow, WorkflowEdge, WorkflowNode } from "../model/types";
import { emptyWorkflow } from "../model/types";

export interface EditorState {
  meta: WorkflowMeta;
  nodes: EditorNode[];
  edges: EditorEdge[];
  history: History<Workflow>;
  /** The workflow as last loaded from or saved to the server (or the blank one it started as). */
  savedJson: string;
  /** The ETag of the stored version the canvas is based on (for If-Match). */
  etag: string | null;
  /** Key of the last coalescable edit (node id + field), so typing is one undo step. */
  lastEditKey: string | null;
  /** Why the last connection attempt was refused, for the status bar. */
  rejected: RuleViolation | null;
}

export type EditorAction =
  | { type: "load"; workflow: Workflow; etag?: string | null; saved: boolean; keepHistory?: boolean }
  | { type: "saved"; sent: Workflow; version: number; etag: string | null }
  | { type: "nodesChange"; changes: NodeChange<EditorNode>[] }
  | { type: "edgesChange"; changes: EdgeChange<EditorEdge>[] }
  | { type: "connect"; source: string; target: string; sourceHandle?: string | null }
  | { type: "addNode"; node: WorkflowNode }
  | { type: "updateNode"; id: string; label?: string; config?: Record<string, unknown>; field?: string }
  | { type: "setMeta"; patch: Partial<WorkflowMeta>; field?: string }
  | { type: "replaceGraph"; nodes: WorkflowNode[]; edges: WorkflowEdge[]; select?: string[] }
  | { type: "deleteSelection" }
  | { type: "undo" }
  | { type: "redo" };

export function currentWorkflow(state: Pick<EditorState, "meta" | "nodes" | "edges">): Workflow {
  return toWorkflow(state.meta, state.nodes, state.edges);
}

/** The workflow without what changes on every save (version), to tell "unsaved changes". */
function comparable(workflow: Workflow): string {
  const { version: _version, ...rest } = workflow;
  return JSON.stringify(rest);
}

export function isDirty(state: EditorState): boolean {
  return comparable(currentWorkflow(state)) !== state.savedJson;
}

export function initialState(workflow: Workflow = emptyWorkflow()): EditorState {
  const { nodes, edges } = toFlow(workflow);
  return {
    meta: metaOf(workflow),
    nodes,
    edges,
    history: startHistory(workflow),
    savedJson: comparable(workflow),
    etag: null,
    lastEditKey: null,
    rejected: null,
  };
}

/** Put a snapshot on the canvas, keeping the selection of nodes that still exist. */
function show(state: EditorState, workflow: Workflow, select?: string[]): EditorState {
  const selected = new Set(select ?? state.nodes.filter((n) => n.selected).map((n) => n.id));
  const flow = toFlow(workflow);
  return {
    ...state,
    meta: metaOf(workflow),
    nodes: flow.nodes.map((n) => (selected.has(n.id) ? { ...n, selected: true } : n)),
    edges: flow.edges,
  };
}

function commit(state: EditorState, editKey: string | null = null): EditorState {
  const coalesce = editKey !== null && editKey === state.lastEditKey;
  return {
    ...state,
    history: record(state.history, currentWorkflow(state), { coalesce }),
    lastEditKey: editKey,
  };
}

export function editorReducer(state: EditorState, action: EditorAction): EditorState {
  switch (action.type) {
    case "load": {
      const shown = show({ ...state, rejected: null }, action.workflow, []);
      // The baseline is the document as the canvas holds it (the server may spell unset
      // fields as null, which the canvas leaves out): opening a workflow is not an edit.
      const held = currentWorkflow(shown);
      return {
        ...shown,
        history: action.keepHistory ? record(state.history, held) : startHistory(held),
        savedJson: action.saved ? comparable(held) : state.savedJson,
        etag: action.saved ? (action.etag ?? null) : state.etag,
        lastEditKey: null,
      };
    }
    case "saved": {
      // What was sent is now the baseline.  The canvas is left alone: the user
      // may have kept editing while the request was in flight.
      return {
        ...state,
        meta: { ...state.meta, id: action.sent.id, version: action.version },
        savedJson: comparable(action.sent),
        etag: action.etag,
        lastEditKey: null,
      };
    }
    case "nodesChange": {
      const nodes = applyNodeChanges(action.changes, state.nodes);
      const next = { ...state, nodes };
      const dragging = action.changes.some((c) => c.type === "position" && c.dragging);
      const structural = action.changes.some((c) => c.type !== "select" && c.type !== "dimensions");
      if (dragging || !structural) return next;
      // Removing nodes also removes their edges (React Flow reports those separately; be safe).
      const ids = new Set(nodes.map((n) => n.id));
      next.edges = state.edges.filter((e) => ids.has(e.source) && ids.has(e.target));
      return commit(next);
    }
    case "edgesChange": {
      const edges = applyEdgeChanges(action.changes, state.edges);
      const structural = action.changes.some((c) => c.type !== "select");
      const next = { ...state, edges };
      return structural ? commit(next) : next;
    }
    case "connect": {
      const branch: Branch | null =
        action.sourceHandle === "true" || action.sourceHandle === "false" ? action.sourceHandle : null;
      const workflow = currentWorkflow(state);
      const violation = checkConnection(workflow, { source: action.source, target: action.target, branch });
      if (violation) return { ...state, rejected: violation };
      const id = nextEdgeId(action.source, action.target, branch, state.edges.map((e) => e.id));
      const edge: WorkflowEdge = { id, source: action.source, target: action.target };
      if (branch) edge.branch = branch;
      return commit({ ...state, edges: [...state.edges, toFlowEdge(edge)], rejected: null });
    }
    case "addNode": {
      const node = { ...toFlowNode(action.node), selected: true };
      const nodes = state.nodes.map((n) => (n.selected ? { ...n, selected: false } : n));
      return commit({ ...state, nodes: [...nodes, node] });
    }
    case "updateNode": {
      const nodes = state.nodes.map((n) =>
        n.id === action.id
          ? {
              ...n,
              data: {
                ...n.data,
                label: action.label ?? n.data.label,
                config: action.config ? structuredClone(action.config) : n.data.config,
              },
            }
          : n,
      );
      return commit({ ...state, nodes }, `node:${action.id}:${action.field ?? (action.label !== undefined ? "label" : "config")}`);
    }
    case "setMeta":
      return commit({ ...state, meta: { ...state.meta, ...action.patch } }, action.field ? `meta:${action.field}` : null);
    case "replaceGraph": {
      const workflow = { ...currentWorkflow(state), nodes: action.nodes, edges: action.edges };
      return commit(show(state, workflow, action.select));
    }
    case "deleteSelection": {
      const gone = new Set(state.nodes.filter((n) => n.selected).map((n) => n.id));
      const nodes = state.nodes.filter((n) => !gone.has(n.id));
      const edges = state.edges.filter((e) => !e.selected && !gone.has(e.source) && !gone.has(e.target));
      return commit({ ...state, nodes, edges });
    }
    case "undo":
    case "redo": {
      const history = action.type === "undo" ? undo(state.history) : redo(state.history);
      if (history === state.history) return state;
      // Undo changes the graph, not which stored version the canvas is based on.
      // Nor, once saved, the workflow's address (id and project).
      const snapshot = {
        ...history.present,
        version: state.meta.version,
        ...(state.etag ? { id: state.meta.id, project: state.meta.project } : {}),
      };
      return { ...show(state, snapshot), history, lastEditKey: null };
    }
  }
}
