import { describe, expect, it } from "vitest";
import type { WorkflowNode } from "../model/types";
import { currentWorkflow, editorReducer, initialState, isDirty, type EditorAction, type EditorState } from "./editor";

function run(state: EditorState, ...actions: EditorAction[]): EditorState {
  return actions.reduce(editorReducer, state);
}

const node = (id: string, type: WorkflowNode["type"], config: Record<string, unknown> = {}): WorkflowNode => ({
  id,
  type,
  label: id,
  position: { x: 0, y: 0 },
  config,
});

const built = run(
  initialState(),
  { type: "addNode", node: node("trigger", "trigger", { event: "pr_opened" }) },
  { type: "addNode", node: node("quality_check", "action", { action: "quality_check" }) },
  { type: "addNode", node: node("gate", "condition", { expression: "true" }) },
  { type: "connect", source: "trigger", target: "quality_check", sourceHandle: "out" },
  { type: "connect", source: "quality_check", target: "gate", sourceHandle: "out" },
);

describe("editor reducer", () => {
  it("builds a workflow from palette drops and connections", () => {
    const wf = currentWorkflow(built);
    expect(wf.nodes.map((n) => n.id)).toEqual(["trigger", "quality_check", "gate"]);
    expect(wf.edges).toEqual([
      { id: "e_trigger_quality_check", source: "trigger", target: "quality_check" },
      { id: "e_quality_check_gate", source: "quality_check", target: "gate" },
    ]);
    expect(built.nodes.filter((n) => n.selected).map((n) => n.id)).toEqual(["gate"]);
  });

  it("records the branch of a condition's handle", () => {
    const s = run(built, { type: "addNode", node: node("comment", "action") }, {
      type: "connect",
      source: "gate",
      target: "comment",
      sourceHandle: "true",
    });
    expect(currentWorkflow(s).edges.at(-1)).toEqual({ id: "e_gate_true_comment", source: "gate", target: "comment", branch: "true" });
  });

  it("refuses connections that break a rule and says why, without an undo step", () => {
    const s = run(built, { type: "connect", source: "gate", target: "trigger", sourceHandle: "true" });
    expect(s.rejected?.rule).toBe("into_trigger");
    expect(s.edges).toHaveLength(2);
    expect(s.history).toBe(built.history);
    const cycle = run(built, { type: "connect", source: "gate", target: "quality_check", sourceHandle: "false" });
    expect(cycle.rejected?.rule).toBe("cycle");
  });

  it("makes a whole drag one undo step", () => {
    const s = run(
      built,
      { type: "nodesChange", changes: [{ type: "position", id: "gate", position: { x: 5, y: 5 }, dragging: true }] },
      { type: "nodesChange", changes: [{ type: "position", id: "gate", position: { x: 50, y: 60 }, dragging: true }] },
      { type: "nodesChange", changes: [{ type: "position", id: "gate", position: { x: 100, y: 120 }, dragging: false }] },
    );
    expect(currentWorkflow(s).nodes[2].position).toEqual({ x: 100, y: 120 });
    const back = editorReducer(s, { type: "undo" });
    expect(currentWorkflow(back).nodes[2].position).toEqual({ x: 0, y: 0 });
  });

  it("does not record selection changes", () => {
    const s = run(built, { type: "nodesChange", changes: [{ type: "select", id: "trigger", selected: true }] });
    expect(s.history).toBe(built.history);
  });

  it("makes typing into one field one undo step", () => {
    const s = run(
      built,
      { type: "updateNode", id: "gate", config: { expression: "n" }, field: "expression" },
      { type: "updateNode", id: "gate", config: { expression: "no" }, field: "expression" },
      { type: "updateNode", id: "gate", config: { expression: "now" }, field: "expression" },
      { type: "updateNode", id: "gate", label: "Gate" },
    );
    expect(currentWorkflow(s).nodes[2]).toMatchObject({ label: "Gate", config: { expression: "now" } });
    const once = editorReducer(s, { type: "undo" });
    expect(currentWorkflow(once).nodes[2]).toMatchObject({ label: "gate", config: { expression: "now" } });
    const twice = editorReducer(once, { type: "undo" });
    expect(currentWorkflow(twice).nodes[2].config).toEqual({ expression: "true" });
    const redone = run(twice, { type: "redo" }, { type: "redo" });
    expect(currentWorkflow(redone)).toEqual(currentWorkflow(s));
  });

  it("deletes the selection with its edges, undoably", () => {
    const selected = run(built, { type: "nodesChange", changes: [{ type: "select", id: "quality_check", selected: true }, { type: "select", id: "gate", selected: false }] });
    const s = editorReducer(selected, { type: "deleteSelection" });
    expect(currentWorkflow(s).nodes.map((n) => n.id)).toEqual(["trigger", "gate"]);
    expect(s.edges).toEqual([]);
    expect(currentWorkflow(editorReducer(s, { type: "undo" }))).toEqual(currentWorkflow(built));
  });

  it("tracks unsaved changes against the last save", () => {
    expect(isDirty(initialState())).toBe(false);
    expect(isDirty(built)).toBe(true);
    const sent = { ...currentWorkflow(built), id: "wf-1" };
    const saved = editorReducer(built, { type: "saved", sent, version: 1, etag: '"1"' });
    expect(isDirty(saved)).toBe(false);
    expect(saved.etag).toBe('"1"');
    expect(saved.meta).toMatchObject({ id: "wf-1", version: 1 });
    // undo after a save changes the graph but not the stored version it is based on
    const undone = editorReducer(saved, { type: "undo" });
    expect(undone.meta).toMatchObject({ id: "wf-1", version: 1 });
    expect(isDirty(undone)).toBe(true);
    expect(isDirty(editorReducer(saved, { type: "setMeta", patch: { name: "Renamed" } }))).toBe(true);
  });

  it("can load a restored version as an undoable step", () => {
    const restored = { ...currentWorkflow(built), nodes: [], edges: [], version: 3 };
    const s = editorReducer(built, { type: "load", workflow: restored, saved: true, etag: '"3"', keepHistory: true });
    expect(s.nodes).toEqual([]);
    expect(isDirty(s)).toBe(false);
    const back = editorReducer(s, { type: "undo" });
    expect(back.nodes).toHaveLength(3);
    expect(isDirty(back)).toBe(true);
  });

  it("does not count the server's nulls for unset fields as changes", () => {
    const stored = {
      ...currentWorkflow(built),
      id: "wf-1",
      version: 2,
      edges: currentWorkflow(built).edges.map((e) => ({ ...e, label: null, branch: null })),
    };
    const s = editorReducer(built, { type: "load", workflow: stored, saved: true, etag: '"2"' });
    expect(isDirty(s)).toBe(false);
    const deleted = editorReducer(
      editorReducer(s, { type: "nodesChange", changes: [{ type: "select", id: "gate", selected: true }] }),
      { type: "deleteSelection" },
    );
    expect(isDirty(deleted)).toBe(true);
    expect(isDirty(editorReducer(deleted, { type: "undo" }))).toBe(false);
  });
});
