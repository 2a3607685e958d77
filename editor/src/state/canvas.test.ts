import { describe, expect, it } from "vitest";
import { NODE_HEIGHT, NODE_WIDTH } from "../model/layout";
import { nodeOfProblem, placeAtCentre, placeAtDrop } from "./canvas";

describe("placing nodes", () => {
  it("centres a palette node and steps the next ones, every fifth back at the centre", () => {
    const centre = { x: 500, y: 300 };
    const first = placeAtCentre(centre, 0);
    expect(first).toEqual({ x: 500 - NODE_WIDTH / 2, y: 300 - NODE_HEIGHT / 2 });
    expect(placeAtCentre(centre, 1)).toEqual({ x: first.x + 24, y: first.y + 24 });
    expect(placeAtCentre(centre, 5)).toEqual(first);
  });

  it("centres a dropped node on the pointer, on whole pixels", () => {
    const at = placeAtDrop({ x: 400.4, y: 200.6 });
    expect(Number.isInteger(at.x) && Number.isInteger(at.y)).toBe(true);
    expect(at).toEqual({ x: Math.round(400.4 - NODE_WIDTH / 2), y: Math.round(200.6 - NODE_HEIGHT / 2) });
  });
});

describe("nodeOfProblem", () => {
  const edges = [{ id: "e1", source: "a", target: "b" }];
  it("picks the problem's node, else its edge's source", () => {
    expect(nodeOfProblem({ node_id: "b", message: "" }, edges)).toBe("b");
    expect(nodeOfProblem({ edge_id: "e1", message: "" }, edges)).toBe("a");
    expect(nodeOfProblem({ edge_id: "gone", message: "" }, edges)).toBeNull();
    expect(nodeOfProblem({ field: "name", message: "" }, edges)).toBeNull();
  });
});
