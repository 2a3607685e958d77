import { describe, expect, it } from "vitest";
import type { ProjectOut } from "../api/client";
import { chooseProject, isReadOnly, locationSearch, parseLocation } from "./location";

const project = (slug: string, role: ProjectOut["role"]): ProjectOut => ({
  slug,
  name: slug,
  description: "",
  role,
  created_at: "2026-01-01T00:00:00Z",
  repositories: [],
});

describe("location", () => {
  it("reads project and workflow from the query string", () => {
    expect(parseLocation("?project=acme&workflow=triage")).toEqual({ project: "acme", workflow: "triage" });
    expect(parseLocation("")).toEqual({ project: null, workflow: null });
  });

  it("writes them back, leaving out a workflow not saved yet", () => {
    expect(locationSearch("acme", "triage")).toBe("?project=acme&workflow=triage");
    expect(locationSearch("acme", null)).toBe("?project=acme");
    expect(parseLocation(locationSearch("a b", "c&d"))).toEqual({ project: "a b", workflow: "c&d" });
  });

  it("chooses the requested project, else the first editable one", () => {
    const list = [project("seen", "viewer"), project("mine", "editor")];
    expect(chooseProject("other", list)).toBe("other");
    expect(chooseProject(null, list)).toBe("mine");
    expect(chooseProject(null, [project("seen", "viewer")])).toBe("seen");
    expect(chooseProject(null, [])).toBe("default");
  });

  it("is read-only only for a viewer of the project", () => {
    const list = [project("seen", "viewer"), project("mine", "admin")];
    expect(isReadOnly(list, "seen")).toBe(true);
    expect(isReadOnly(list, "mine")).toBe(false);
    expect(isReadOnly(list, "unknown")).toBe(false);
  });
});
