import { describe, expect, it } from "vitest";
import type { JSONSchema } from "./schema";
import { triggerFormSchema, triggerTakes } from "./triggerFilters";

const schema: JSONSchema = {
  type: "object",
  required: ["event"],
  properties: {
    event: { type: "string", enum: ["pr_opened", "push", "issue_created", "schedule", "manual"] },
    cron: { type: "string" },
    branches: { type: "array", items: { type: "string" } },
    paths: { type: "array", items: { type: "string" } },
    labels: { type: "array", items: { type: "string" } },
  },
};
const fields = (config: Record<string, unknown>) => Object.keys(triggerFormSchema(schema, config).properties ?? {});

describe("the trigger form", () => {
  it("shows a schedule its cron and no filters", () => {
    expect(fields({ event: "schedule", cron: "0 3 * * *" })).toEqual(["event", "cron"]);
    expect(fields({ event: "manual" })).toEqual(["event"]);
  });

  it("shows each code-host event the filters it takes and no cron", () => {
    expect(fields({ event: "pr_opened" })).toEqual(["event", "branches", "paths", "labels"]);
    expect(fields({ event: "push" })).toEqual(["event", "branches", "paths"]);
    expect(fields({ event: "issue_created" })).toEqual(["event", "labels"]);
  });

  it("keeps a refused field that holds a value, so it can be cleared", () => {
    expect(fields({ event: "schedule", cron: "0 3 * * *", branches: ["main"], labels: [] })).toEqual(["event", "cron", "branches"]);
  });

  it("knows the rule per field", () => {
    expect(triggerTakes("schedule", "cron")).toBe(true);
    expect(triggerTakes("push", "cron")).toBe(false);
    expect(triggerTakes("push", "labels")).toBe(false);
    expect(triggerTakes("push", "event")).toBe(true);
  });
});
