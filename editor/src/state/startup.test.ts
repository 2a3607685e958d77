import { describe, expect, it } from "vitest";
import type { KeyValueStore } from "../model/drafts";
import { emptyWorkflow } from "../model/types";
import { blankKeeping, canDryRun, lastProject, lastWorkflow, rememberLast, startupPlan } from "./startup";

function memory(): KeyValueStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

describe("the last workflow per project", () => {
  it("is remembered per project and forgotten when a blank one is shown", () => {
    const store = memory();
    rememberLast(store, "acme", "review");
    rememberLast(store, "demo", "triage");
    expect(lastWorkflow(store, "acme")).toBe("review");
    expect(lastWorkflow(store, "demo")).toBe("triage");
    expect(lastProject(store)).toBe("demo");
    rememberLast(store, "acme", null);
    expect(lastWorkflow(store, "acme")).toBeNull();
    expect(lastProject(store)).toBe("acme");
  });

  it("survives a storage that refuses", () => {
    const broken: KeyValueStore = {
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("full");
      },
      removeItem: () => {
        throw new Error("denied");
      },
    };
    expect(() => rememberLast(broken, "acme", "review")).not.toThrow();
    expect(lastWorkflow(broken, "acme")).toBeNull();
  });
});

describe("startupPlan", () => {
  it("opens the workflow the address names", () => {
    const store = memory();
    rememberLast(store, "acme", "other");
    expect(startupPlan({ project: "acme", workflow: "review" }, ["acme"], store, "acme")).toEqual({
      kind: "open",
      project: "acme",
      workflow: "review",
      remembered: false,
    });
  });

  it("reopens the project's last workflow when the address names none", () => {
    const store = memory();
    rememberLast(store, "acme", "review");
    rememberLast(store, "demo", "triage");
    expect(startupPlan({ project: "acme", workflow: null }, ["acme", "demo"], store, "acme")).toMatchObject({ kind: "open", project: "acme", workflow: "review" });
    // no project in the address: the project last used, if the user still has it
    expect(startupPlan({ project: null, workflow: null }, ["acme", "demo"], store, "acme")).toMatchObject({ project: "demo", workflow: "triage", remembered: true });
    expect(startupPlan({ project: null, workflow: null }, ["acme"], store, "acme")).toMatchObject({ project: "acme", workflow: "review" });
  });

  it("starts blank when nothing is remembered", () => {
    expect(startupPlan({ project: null, workflow: null }, ["acme"], memory(), "acme")).toEqual({ kind: "blank", project: "acme" });
  });
});

describe("blankKeeping", () => {
  it("keeps what was typed before the load, in the loaded project unless one was picked", () => {
    const blank = emptyWorkflow("acme");
    const early = { ...emptyWorkflow("default"), name: "Typed early", id: "typed-early" };
    expect(blankKeeping(blank, null, "default")).toBe(blank);
    expect(blankKeeping(blank, early, "default")).toEqual({ ...early, project: "acme" });
    expect(blankKeeping(blank, { ...early, project: "team" }, "default").project).toBe("team");
  });
});

describe("canDryRun", () => {
  it("is offered while the first workflow loads, whatever the placeholder's problems", () => {
    expect(canDryRun(true, 3)).toBe(true);
    expect(canDryRun(false, 3)).toBe(false);
    expect(canDryRun(false, 0)).toBe(true);
  });
});
