import { describe, expect, it } from "vitest";
import { clearDraft, draftKey, loadDraft, saveDraft, type KeyValueStore } from "./drafts";
import { emptyWorkflow } from "./types";

function memoryStore(): KeyValueStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

describe("draft autosave", () => {
  it("saves, loads and clears a draft per workflow", () => {
    const store = memoryStore();
    const wf = { ...emptyWorkflow("demo"), id: "wf-1", name: "Draft" };
    saveDraft(store, "wf-1", wf, 4, 1000);
    expect(loadDraft(store, "wf-1")).toEqual({ savedAt: 1000, baseVersion: 4, workflow: wf });
    expect(loadDraft(store, "wf-2")).toBeNull();
    clearDraft(store, "wf-1");
    expect(loadDraft(store, "wf-1")).toBeNull();
  });

  it("keeps unsaved new workflows under one key", () => {
    expect(draftKey("")).toBe(draftKey(null));
  });

  it("ignores corrupt drafts and full storage", () => {
    const store = memoryStore();
    store.setItem(draftKey("x"), "{not json");
    expect(loadDraft(store, "x")).toBeNull();
    const full: KeyValueStore = { ...store, setItem: () => { throw new Error("QuotaExceededError"); } };
    expect(() => saveDraft(full, null, emptyWorkflow(), 0)).not.toThrow();
  });
});
