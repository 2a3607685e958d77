import { describe, expect, it } from "vitest";
import type { WorkflowDiff } from "../api/client";
import { diffLines, shown } from "./versionDiff";

const diff: WorkflowDiff = {
  base: 1,
  head: 3,
  identical: false,
  settings: [{ field: "name", before: "Review", after: "Review v2" }],
  nodes: {
    added: [{ id: "label", type: "action", config: { action: "label_pr" } }],
    removed: [],
    changed: [
      {
        id: "notify",
        fields: ["position", "config"],
        config_keys: ["message", "level"],
        before: { id: "notify", position: { x: 0, y: 0 }, config: { message: "a", level: "info" } },
        after: { id: "notify", position: { x: 10, y: 0 }, config: { message: "b" } },
      },
    ],
  },
  edges: {
    added: [{ id: "e2", source: "gate", target: "label", branch: "false" }],
    removed: [{ id: "e1", source: "start", target: "notify" }],
    changed: [],
  },
};

describe("diffLines", () => {
  it("lists settings, nodes and edges, with each changed config key's values", () => {
    const lines = diffLines(diff);
    expect(lines.map((l) => [l.kind, l.what, l.text])).toEqual([
      ["changed", "setting", 'name: "Review" → "Review v2"'],
      ["added", "node", "label (action)"],
      ["changed", "node", "notify: position, message, level"],
      ["added", "edge", "gate → label (false)"],
      ["removed", "edge", "start → notify"],
    ]);
    expect(lines[2].details).toEqual([
      'position: {"x":0,"y":0} → {"x":10,"y":0}',
      'config.message: "a" → "b"',
      'config.level: "info" → (not set)',
    ]);
  });

  it("says nothing for identical versions and shortens long values", () => {
    const same: WorkflowDiff = { base: 2, head: 2, identical: true, settings: [], nodes: { added: [], removed: [], changed: [] }, edges: { added: [], removed: [], changed: [] } };
    expect(diffLines(same)).toEqual([]);
    expect(shown("x".repeat(200)).length).toBe(80);
  });
});
