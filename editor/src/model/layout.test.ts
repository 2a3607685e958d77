import { describe, expect, it } from "vitest";
import { NODE_WIDTH, autoLayout } from "./layout";

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
