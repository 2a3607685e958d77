import { describe, expect, it } from "vitest";
import { NODE_WIDTH, autoLayout, placedForCanvas, unplaced } from "./layout";

describe("dagre auto-layout", () => {
  it("places each node right of the nodes it depends on, without overlaps", () => {
    const positions = autoLayout({
      nodes: [{ id: "t" }, { id: "a" }, { id: "c" }, { id: "yes" }, { id: "no" }],
      edges: [
        { source: "t", target: "a" },
        { source: "a", target: "c" },
        { source: "c", target: "yes" },
        { source: "c", target: "no" },
      ],
    });
    const x = (id: string) => positions.get(id)!.x;
    expect(x("a")).toBeGreaterThanOrEqual(x("t") + NODE_WIDTH);
    expect(x("c")).toBeGreaterThanOrEqual(x("a") + NODE_WIDTH);
    expect(x("yes")).toBe(x("no"));
    expect(positions.get("yes")!.y).not.toBe(positions.get("no")!.y);
  });

  it("ignores edges to nodes that are not laid out", () => {
    const positions = autoLayout({ nodes: [{ id: "a" }], edges: [{ source: "a", target: "gone" }] });
    expect([...positions.keys()]).toEqual(["a"]);
  });
});

describe("placedForCanvas", () => {
  const at = (id: string, x: number, y: number) => ({ id, position: { x, y } });
  const edges = [{ source: "t", target: "a" }];

  it("lays out a workflow whose nodes all sit at 0,0 (written without positions)", () => {
    const placed = placedForCanvas({ nodes: [at("t", 0, 0), at("a", 0, 0)], edges });
    expect(placed.nodes[1].position.x).toBeGreaterThanOrEqual(placed.nodes[0].position.x + NODE_WIDTH);
  });

  it("leaves a drawn workflow, and a lone node, as they are", () => {
    const drawn = { nodes: [at("t", 0, 0), at("a", 300, 0)], edges };
    expect(placedForCanvas(drawn)).toBe(drawn);
    const lone = { nodes: [at("t", 0, 0)], edges: [] };
    expect(placedForCanvas(lone)).toBe(lone);
    expect(unplaced([{ position: null }, {}])).toBe(true);
  });
});
