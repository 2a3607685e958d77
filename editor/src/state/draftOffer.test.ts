import { describe, expect, it } from "vitest";
import type { Draft } from "../model/drafts";
import { emptyWorkflow, type Workflow } from "../model/types";
import { draftSlot, worthOffering } from "./draftOffer";

const withNode = (w: Workflow): Workflow => ({
  ...w,
  nodes: [{ id: "t", type: "trigger", label: "T", position: { x: 0, y: 0 }, config: {} }],
});
const draftOf = (workflow: Workflow): Draft => ({ savedAt: 1, baseVersion: 1, workflow });

describe("draftSlot", () => {
  it("keys saved workflows by project and id, and shares one slot for new ones", () => {
    expect(draftSlot("acme", "triage", true)).toBe("acme/triage");
    expect(draftSlot("acme", "triage", false)).toBeNull();
  });
});

describe("worthOffering", () => {
  const baseline = emptyWorkflow("acme");
  it("offers a draft that differs from what was loaded", () => {
    expect(worthOffering(draftOf(withNode(baseline)), baseline)).toBe(true);
  });
  it("does not offer a missing or empty draft", () => {
    expect(worthOffering(null, baseline)).toBe(false);
    expect(worthOffering(draftOf({ ...baseline, name: "renamed" }), baseline)).toBe(false);
  });
  it("does not offer a draft that only differs in version", () => {
    const loaded = withNode({ ...baseline, version: 3 });
    expect(worthOffering(draftOf({ ...loaded, version: 2 }), loaded)).toBe(false);
  });
});
