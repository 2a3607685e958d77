import { describe, expect, it } from "vitest";
import type { ProjectOut, TemplateOut } from "../api/client";
import { emptyWorkflow } from "../model/types";
import { complete, fromImport, fromTemplate } from "./document";

const projects: ProjectOut[] = [
  { slug: "acme", name: "Acme", description: "", role: "editor", created_at: "2026-01-01T00:00:00Z", repositories: [] },
];

describe("complete", () => {
  it("gives a workflow without id the id of its name and at least version 1", () => {
    const drawn = { ...emptyWorkflow("acme"), id: "", name: "Label PRs", version: 0 };
    expect(complete(drawn)).toMatchObject({ id: "label-prs", version: 1 });
    expect(drawn.id).toBe(""); // the canvas's copy is left alone
  });
  it("keeps an id and a version that are set", () => {
    expect(complete({ ...emptyWorkflow(), id: "kept", version: 7 })).toMatchObject({ id: "kept", version: 7 });
  });
});

describe("fromTemplate", () => {
  it("makes a new version-1 workflow in the current project, disabled even when the template was enabled", () => {
    const template = { name: "T", spec: { ...emptyWorkflow("elsewhere"), name: "Triage bot", version: 9, enabled: true } } as TemplateOut;
    expect(fromTemplate(template, "acme")).toMatchObject({ id: "triage-bot", project: "acme", version: 1, enabled: false });
  });
});

describe("fromImport", () => {
  it("keeps the document's project only if the user has it", () => {
    expect(fromImport({ ...emptyWorkflow("acme"), version: 4 }, projects, "default")).toMatchObject({ project: "acme", version: 1 });
    expect(fromImport(emptyWorkflow("secret"), projects, "default").project).toBe("default");
  });
  it("names a document without id after its name", () => {
    expect(fromImport({ ...emptyWorkflow(), id: "", name: "Nightly" }, projects, "acme").id).toBe("nightly");
  });
});
