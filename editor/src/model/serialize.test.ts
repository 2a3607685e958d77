import { describe, expect, it } from "vitest";
import { metaOf, nextEdgeId, nextNodeId, toFlow, toWorkflow } from "./serialize";
import type { Workflow } from "./types";

const workflow: Workflow = {
  format_version: "1",
  id: "wf-1",
  name: "Basic Quality Check",
  description: "Run analysers on every PR",
  project: "demo",
  version: 3,
  enabled: true,
  nodes: [
    { id: "trigger", type: "trigger", label: "PR opened", position: { x: 0, y: 0 }, config: { event: "pr_opened", branches: ["main"] } },
    { id: "quality_check", type: "action", label: "Quality", position: { x: 300, y: 0 }, config: { action: "quality_check", mode: "fast" } },
    { id: "gate", type: "condition", label: "Any issues?", position: { x: 600, y: 0 }, config: { expression: "issues_count > 0" } },
    { id: "comment", type: "action", label: "Comment", position: { x: 900, y: -80 }, config: { action: "post_comment", template: "{issues_count} issues" } },
    { id: "notify", type: "notification", label: "Tell the team", position: { x: 900, y: 80 }, config: { channel: "dashboard" } },
  ],
  edges: [
    { id: "e1", source: "trigger", target: "quality_check" },
    { id: "e2", source: "quality_check", target: "gate", label: "results" },
    { id: "e3", source: "gate", target: "comment", branch: "true" },
    { id: "e4", source: "gate", target: "notify", branch: "false" },
  ],
};

describe("graph <-> workflow serialisation", () => {
  it("round-trips a workflow unchanged", () => {
    const { nodes, edges } = toFlow(workflow);
    expect(toWorkflow(metaOf(workflow), nodes, edges)).toEqual(workflow);
  });

  it("puts condition branches on the true/false handles and back", () => {
    const { edges } = toFlow(workflow);
    const e3 = edges.find((e) => e.id === "e3")!;
    expect(e3.sourceHandle).toBe("true");
    expect(edges.find((e) => e.id === "e1")!.sourceHandle).toBe("out");
    e3.sourceHandle = "false";
    const back = toWorkflow(metaOf(workflow), toFlow(workflow).nodes, edges);
    expect(back.edges.find((e) => e.id === "e3")!.branch).toBe("false");
    expect(back.edges.find((e) => e.id === "e1")).not.toHaveProperty("branch");
  });

  it("rounds dragged positions to whole pixels", () => {
    const { nodes, edges } = toFlow(workflow);
    nodes[0].position = { x: 10.6, y: -3.2 };
    expect(toWorkflow(metaOf(workflow), nodes, edges).nodes[0].position).toEqual({ x: 11, y: -3 });
  });

  it("does not share config objects between the canvas and the saved workflow", () => {
    const { nodes, edges } = toFlow(workflow);
    (nodes[0].data.config.branches as string[]).push("dev");
    expect(workflow.nodes[0].config.branches).toEqual(["main"]);
    const saved = toWorkflow(metaOf(workflow), nodes, edges);
    (saved.nodes[0].config.branches as string[]).push("x");
    expect(nodes[0].data.config.branches).toEqual(["main", "dev"]);
  });

  it("drops UI-only state such as selection and validation problems", () => {
    const { nodes, edges } = toFlow(workflow);
    nodes[1].selected = true;
    nodes[1].data.problems = [{ node_id: "quality_check", message: "bad" }];
    const saved = toWorkflow(metaOf(workflow), nodes, edges);
    expect(saved.nodes[1]).toEqual(workflow.nodes[1]);
  });
});

describe("ids", () => {
  it("makes task-id friendly node ids that do not collide", () => {
    expect(nextNodeId("quality_check", [])).toBe("quality_check");
    expect(nextNodeId("quality_check", ["quality_check", "quality_check_2"])).toBe("quality_check_3");
    expect(nextNodeId("Post comment!", [])).toBe("post_comment_");
    expect(nextNodeId("1st", [])).toBe("n_1st");
  });

  it("makes edge ids from their ends", () => {
    expect(nextEdgeId("gate", "comment", "true", [])).toBe("e_gate_true_comment");
    expect(nextEdgeId("a", "b", null, ["e_a_b"])).toBe("e_a_b_2");
  });
});
