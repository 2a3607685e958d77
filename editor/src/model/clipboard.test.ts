import { describe, expect, it } from "vitest";
import { ClipboardError, copySelection, parseFragment, pasteFragment } from "./clipboard";
import type { Workflow } from "./types";

const graph: Pick<Workflow, "nodes" | "edges"> = {
  nodes: [
    { id: "trigger", type: "trigger", label: "PR", position: { x: 0, y: 0 }, config: { event: "pr_opened" } },
    { id: "gate", type: "condition", label: "Gate", position: { x: 100, y: 0 }, config: { expression: "true" } },
    { id: "comment", type: "action", label: "Comment", position: { x: 200, y: 0 }, config: { action: "post_comment" } },
  ],
  edges: [
    { id: "e1", source: "trigger", target: "gate" },
    { id: "e2", source: "gate", target: "comment", branch: "true" },
  ],
};

describe("copy / paste / duplicate", () => {
  it("copies the selected nodes and only the edges between them", () => {
    const fragment = copySelection(graph, ["gate", "comment"]);
    expect(fragment.nodes.map((n) => n.id)).toEqual(["gate", "comment"]);
    expect(fragment.edges.map((e) => e.id)).toEqual(["e2"]);
  });

  it("pastes with fresh ids, offset positions and remapped edges", () => {
    const text = JSON.stringify(copySelection(graph, ["gate", "comment"]));
    const result = pasteFragment(graph, parseFragment(text));
    expect(result.pastedIds).toEqual(["gate_2", "comment_2"]);
    expect(result.nodes).toHaveLength(5);
    const pasted = result.nodes.find((n) => n.id === "comment_2")!;
    expect(pasted.position).toEqual({ x: 240, y: 40 });
    expect(pasted.config).toEqual({ action: "post_comment" });
    const newEdge = result.edges[2];
    expect(newEdge).toMatchObject({ source: "gate_2", target: "comment_2", branch: "true" });
    expect(new Set(result.edges.map((e) => e.id)).size).toBe(3);
  });

  it("keeps the copied config independent of the original", () => {
    const fragment = copySelection(graph, ["trigger"]);
    fragment.nodes[0].config.event = "push";
    expect(graph.nodes[0].config.event).toBe("pr_opened");
  });

  it("pastes a whole exported workflow", () => {
    const text = JSON.stringify({ ...graph, name: "other", format_version: "1" });
    const result = pasteFragment({ nodes: [], edges: [] }, parseFragment(text), 0);
    expect(result.nodes.map((n) => n.id)).toEqual(["trigger", "gate", "comment"]);
    expect(result.edges).toHaveLength(2);
  });

  it("explains what is wrong with clipboard text that is not workflow JSON", () => {
    expect(() => parseFragment("hello")).toThrow(ClipboardError);
    expect(() => parseFragment('{"a": 1}')).toThrow(/nodes/);
    expect(() => parseFragment('{"nodes": [{"id": "x", "type": "robot"}]}')).toThrow(/type/);
  });
});
