import { MarkerType } from "@xyflow/react";
import { describe, expect, it } from "vitest";
import type { EditorEdge } from "../model/serialize";
import type { ValidationProblem } from "../model/types";
import { displayEdges, problemsBy, validationLabel } from "./validation";

const problems: ValidationProblem[] = [
  { node_id: "a", message: "first" },
  { node_id: "a", field: "x", message: "second" },
  { edge_id: "e1", message: "loop" },
  { field: "name", message: "workflow-level" },
];

describe("problemsBy", () => {
  it("groups problems by the node or edge they point at, in order", () => {
    const byNode = problemsBy(problems, "node_id");
    expect([...byNode.keys()]).toEqual(["a"]);
    expect(byNode.get("a")!.map((p) => p.message)).toEqual(["first", "second"]);
    expect(problemsBy(problems, "edge_id").get("e1")!.map((p) => p.message)).toEqual(["loop"]);
  });
});

describe("displayEdges", () => {
  const edges: EditorEdge[] = [
    { id: "e1", source: "a", target: "b", className: "branch-true" },
    { id: "e2", source: "b", target: "c", label: "kept" },
  ];
  it("marks and labels an edge with a problem, draws every edge with an arrow", () => {
    const [bad, good] = displayEdges(edges, problemsBy(problems, "edge_id"));
    expect(bad).toMatchObject({ className: "branch-true edge-problem", label: "⚠ loop", type: "smoothstep" });
    expect(good).toMatchObject({ className: undefined, label: "kept", markerEnd: { type: MarkerType.ArrowClosed } });
  });
});

describe("validationLabel", () => {
  it("says what the status bar shows", () => {
    expect(validationLabel("unavailable", 2)).toBe("Validation unavailable");
    expect(validationLabel("checking", 0)).toBe("Checking…");
    expect(validationLabel("done", 2)).toBe("2 problem(s)");
    expect(validationLabel("done", 0)).toBe("✓ Valid");
    expect(validationLabel("idle", 0)).toBe("✓ Valid");
  });
});
