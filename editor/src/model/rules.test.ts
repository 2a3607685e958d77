import { describe, expect, it } from "vitest";
import { checkConnection, edgeProblems, reaches, type Graph } from "./rules";

const graph: Graph = {
  nodes: [
    { id: "start", type: "trigger" },
    { id: "check", type: "action" },
    { id: "gate", type: "condition" },
    { id: "comment", type: "action" },
    { id: "notify", type: "notification" },
  ],
  edges: [
    { id: "e1", source: "start", target: "check" },
    { id: "e2", source: "check", target: "gate" },
    { id: "e3", source: "gate", target: "comment", branch: "true" },
  ],
};

describe("checkConnection", () => {
  it("accepts a new edge that breaks no rule", () => {
    expect(checkConnection(graph, { source: "gate", target: "notify", branch: "false" })).toBeNull();
    expect(checkConnection(graph, { source: "comment", target: "notify" })).toBeNull();
  });

  it.each([
    ["self_edge", { source: "check", target: "check" }],
    ["into_trigger", { source: "comment", target: "start" }],
    ["duplicate_edge", { source: "start", target: "check" }],
    ["cycle", { source: "comment", target: "check" }],
    ["branch_required", { source: "gate", target: "notify" }],
    ["branch_not_allowed", { source: "check", target: "notify", branch: "true" as const }],
    ["branch_taken", { source: "gate", target: "notify", branch: "true" as const }],
    ["unknown_node", { source: "check", target: "ghost" }],
    ["unknown_node", { source: "ghost", target: "check" }],
  ])("rejects %s", (rule, conn) => {
    const violation = checkConnection(graph, conn);
    expect(violation?.rule).toBe(rule);
    expect(violation?.message).toMatch(/'/); // names the nodes involved
  });

  it("reports the trigger rule before the cycle it would also make", () => {
    expect(checkConnection(graph, { source: "gate", target: "start", branch: "false" })?.rule).toBe("into_trigger");
  });

  it("finds long cycles, not just two-node loops", () => {
    const chain: Graph = {
      nodes: ["a", "b", "c", "d"].map((id) => ({ id, type: "action" as const })),
      edges: [
        { source: "a", target: "b" },
        { source: "b", target: "c" },
        { source: "c", target: "d" },
      ],
    };
    expect(checkConnection(chain, { source: "d", target: "a" })?.rule).toBe("cycle");
    expect(checkConnection(chain, { source: "a", target: "d" })).toBeNull();
  });
});

describe("reaches", () => {
  it("follows edges forwards only", () => {
    expect(reaches(graph.edges, "start", "comment")).toBe(true);
    expect(reaches(graph.edges, "comment", "start")).toBe(false);
    expect(reaches(graph.edges, "notify", "notify")).toBe(true);
  });
});

describe("edgeProblems", () => {
  it("is empty for a valid graph", () => {
    expect(edgeProblems(graph)).toEqual([]);
  });

  it("reports the later of two duplicates and the edge that closes a cycle", () => {
    const bad: Graph = {
      nodes: graph.nodes,
      edges: [...graph.edges, { id: "dup", source: "start", target: "check" }, { id: "loop", source: "comment", target: "check" }],
    };
    expect(edgeProblems(bad).map((p) => [p.edge_id, p.rule])).toEqual([
      ["dup", "duplicate_edge"],
      ["loop", "cycle"],
    ]);
  });
});
