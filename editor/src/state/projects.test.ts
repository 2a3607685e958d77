import { describe, expect, it } from "vitest";
import type { ProjectOut, WorkflowSummary } from "../api/client";
import { groupByProject, projectLabel } from "./projects";

const project = (slug: string, name: string): ProjectOut => ({
  slug,
  name,
  description: "",
  role: "editor",
  created_at: "2026-01-01T00:00:00Z",
  repositories: [],
});
const wf = (project: string, id: string, name = id): WorkflowSummary => ({ id, name, project, current_version: 1 });

describe("projectLabel", () => {
  it("shows the name and the slug", () => {
    expect(projectLabel(project("acme", "Acme"))).toBe("Acme (acme)");
    expect(projectLabel(project("demo", "demo"))).toBe("demo");
    expect(projectLabel(undefined, "gone")).toBe("gone");
  });
});

describe("groupByProject", () => {
  it("groups every project's workflows, the current project first", () => {
    const projects = [project("acme", "Acme"), project("beta", "Beta"), project("zed", "Zed")];
    const groups = groupByProject([wf("zed", "z1"), wf("acme", "b", "B"), wf("beta", "x"), wf("acme", "a", "A")], projects, "zed");
    expect(groups.map((g) => g.label)).toEqual(["Zed (zed)", "Acme (acme)", "Beta (beta)"]);
    expect(groups[1].workflows.map((w) => w.id)).toEqual(["a", "b"]);
  });

  it("names a project the list does not know by its slug", () => {
    expect(groupByProject([wf("other", "o")], [], "acme")[0]).toMatchObject({ slug: "other", label: "other" });
  });
});
