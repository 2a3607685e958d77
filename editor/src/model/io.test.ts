import { describe, expect, it } from "vitest";
import { ImportError, exportFileName, exportWorkflow, importWorkflow } from "./io";
import type { Workflow } from "./types";

const workflow: Workflow = {
  format_version: "1",
  id: "wf-9",
  name: "PR Review Automation",
  description: "multi-line\ndescription: with a colon",
  project: "demo",
  version: 2,
  enabled: false,
  nodes: [
    { id: "trigger", type: "trigger", label: "Nightly", position: { x: 0, y: 0 }, config: { event: "schedule", cron: "0 3 * * *" } },
    { id: "gate", type: "condition", label: "Gate", position: { x: 1, y: 2 }, config: { expression: "size(issues) > 0 && 'yes' != \"no\"" } },
  ],
  edges: [{ id: "e1", source: "trigger", target: "gate" }],
};

describe("import / export", () => {
  it.each(["yaml", "json"] as const)("round-trips through %s losslessly", (format) => {
    expect(importWorkflow(exportWorkflow(workflow, format))).toEqual(workflow);
  });

  it("writes YAML with plain string enums", () => {
    const text = exportWorkflow(workflow, "yaml");
    expect(text).toContain("type: trigger");
    expect(text).toContain('format_version: "1"');
  });

  it("fills the workflow fields a hand-written document leaves out", () => {
    const wf = importWorkflow("nodes: []\n");
    expect(wf).toMatchObject({ format_version: "1", name: "Imported workflow", edges: [], enabled: true });
  });

  it("reads the platform's export form: no label is empty, no position is 0,0", () => {
    const wf = importWorkflow(
      "id: x\nname: X\nproject: demo\nnodes:\n- {id: t, type: trigger, config: {event: manual}}\n" +
        "- {id: n, type: notification, position: {x: 300, y: 40}, config: {channel: dashboard, message: hi}}\n" +
        "edges:\n- {id: e, source: t, target: n}\n",
    );
    expect(wf.nodes.map((n) => [n.id, n.label, n.position])).toEqual([
      ["t", "", { x: 0, y: 0 }],
      ["n", "", { x: 300, y: 40 }],
    ]);
  });

  it("lays out a document in which no node has a position instead of stacking them", () => {
    const wf = importWorkflow(
      "nodes:\n- {id: t, type: trigger, config: {event: manual}}\n- {id: n, type: notification, config: {}}\n" +
        "edges:\n- {id: e, source: t, target: n}\n",
    );
    const [t, n] = wf.nodes.map((node) => node.position);
    expect(n.x).toBeGreaterThan(t.x); // left to right, one after the other
  });

  it("rejects documents that are not workflows with a clear reason", () => {
    expect(() => importWorkflow("- a\n- b\n")).toThrow(ImportError);
    expect(() => importWorkflow("name: x\n")).toThrow(/nodes/);
    expect(() => importWorkflow("nodes: [\n")).toThrow(/YAML or JSON/);
  });

  it("names exported files after the workflow", () => {
    expect(exportFileName(workflow, "yaml")).toBe("wf-9.yaml");
    expect(exportFileName({ id: "", name: "My flow / v2" }, "json")).toBe("My_flow_v2.json");
  });
});
