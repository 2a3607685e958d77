import { describe, expect, it } from "vitest";
import { configFormSchema, listEntryLabel, nodeFormSchema, problemsToErrorSchema, simplify, subtypes, untypedFields, withoutNulls, type JSONSchema } from "./schema";

// Shapes exactly as pydantic 2 writes them for include/workflows/nodes.py.
const trigger: JSONSchema = {
  additionalProperties: false,
  properties: {
    event: { enum: ["pr_opened", "schedule", "manual"], title: "Event", type: "string" },
    cron: { anyOf: [{ type: "string" }, { type: "null" }], default: null, description: "Cron (UTC)", title: "Cron" },
    branches: { items: { type: "string", minLength: 1 }, title: "Branches", type: "array" },
  },
  required: ["event"],
  title: "TriggerConfig",
  type: "object",
};

const action: JSONSchema = {
  $defs: {
    QualityCheckConfig: {
      additionalProperties: false,
      properties: {
        retries: { default: 2, maximum: 10, minimum: 0, title: "Retries", type: "integer" },
        action: { const: "quality_check", title: "Action", type: "string" },
        mode: { default: "fast", enum: ["fast", "full"], title: "Mode", type: "string" },
        analyzers: { items: { $ref: "#/$defs/Analyzer" }, minItems: 1, title: "Analyzers", type: "array" },
      },
      required: ["action"],
      title: "QualityCheckConfig",
      type: "object",
    },
    PostCommentConfig: {
      additionalProperties: false,
      properties: {
        action: { const: "post_comment", title: "Action", type: "string" },
        template: { maxLength: 65536, minLength: 1, title: "Template", type: "string" },
      },
      required: ["action", "template"],
      title: "PostCommentConfig",
      type: "object",
    },
    Analyzer: { enum: ["ruff", "bandit", "radon"], type: "string" },
  },
  discriminator: {
    mapping: { post_comment: "#/$defs/PostCommentConfig", quality_check: "#/$defs/QualityCheckConfig" },
    propertyName: "action",
  },
  oneOf: [{ $ref: "#/$defs/QualityCheckConfig" }, { $ref: "#/$defs/PostCommentConfig" }],
};

describe("form schemas from the platform's JSON Schemas", () => {
  it("renders Optional fields as plain optional inputs", () => {
    const form = configFormSchema(trigger, { event: "schedule" })!;
    expect(form.properties!.cron).toEqual({ type: "string", description: "Cron (UTC)", title: "Cron" });
    expect(form.required).toEqual(["event"]);
  });

  it("picks the discriminated-union branch of the node's subtype", () => {
    const form = configFormSchema(action, { action: "post_comment" })!;
    expect(form.title).toBe("PostCommentConfig");
    expect(form.required).toEqual(["action", "template"]);
    expect(configFormSchema(action, { action: "quality_check" })!.title).toBe("QualityCheckConfig");
    expect(configFormSchema(action, { action: "dance" })).toBeNull();
  });

  it("inlines $refs so the form needs no definitions", () => {
    const form = configFormSchema(action, { action: "quality_check" })!;
    expect(form.properties!.analyzers.items).toEqual({ enum: ["ruff", "bandit", "radon"], type: "string" });
    expect(JSON.stringify(form)).not.toContain("$ref");
    expect(form).not.toHaveProperty("$defs");
  });

  it("lists the subtypes a union offers", () => {
    expect(subtypes(action)).toEqual(["quality_check", "post_comment"]);
  });

  it("leaves real unions alone", () => {
    const s = simplify({ anyOf: [{ type: "string" }, { type: "integer" }] });
    expect(s.anyOf).toHaveLength(2);
  });

  it("drops nulls from config values so optional inputs start empty", () => {
    expect(withoutNulls({ event: "push", cron: null, branches: ["main", null, undefined], nested: { a: null, b: 1 } })).toEqual({
      event: "push",
      branches: ["main"],
      nested: { b: 1 },
    });
  });

  it("finds fields of any JSON type", () => {
    expect(untypedFields({ properties: { body: { default: null, title: "Body" }, method: { type: "string" } } })).toEqual(["body"]);
  });
});

describe("server problems on form fields", () => {
  it("puts config field problems on their fields and keeps the rest for the node", () => {
    const form = configFormSchema(action, { action: "quality_check" })!;
    const { errorSchema, other } = problemsToErrorSchema(
      [
        { node_id: "qc", field: "retries", message: "must be <= 10" },
        { node_id: "qc", field: "analyzers.1", message: "bad analyzer" },
        { node_id: "qc", field: "config.mode", message: "bad mode" },
        { node_id: "qc", field: null, message: "not reachable from the trigger" },
        { node_id: "qc", field: "label", message: "too long" },
      ],
      form,
    );
    expect(errorSchema).toEqual({
      retries: { __errors: ["must be <= 10"] },
      analyzers: { 1: { __errors: ["bad analyzer"] } },
      mode: { __errors: ["bad mode"] },
    });
    expect(other.map((p) => p.message)).toEqual(["not reachable from the trigger", "too long"]);
  });
});

describe("node form schema from the node-types endpoint", () => {
  it("uses the subtype's schema and drops the 2020-12 dialect marker", () => {
    const entry = {
      discriminator: "action",
      config: action,
      subtypes: { post_comment: { $schema: "https://json-schema.org/draft/2020-12/schema", ...action.$defs!.PostCommentConfig } },
    };
    const form = nodeFormSchema(entry, { action: "post_comment" })!;
    expect(form.title).toBe("PostCommentConfig");
    expect(form).not.toHaveProperty("$schema");
    expect(nodeFormSchema(entry, { action: "nope" })).toBeNull();
    expect(nodeFormSchema({ discriminator: null, config: trigger }, { event: "push" })!.title).toBe("TriggerConfig");
    expect(nodeFormSchema(undefined, {})).toBeNull();
  });
});

describe("listEntryLabel", () => {
  it("names a list entry by its list and position", () => {
    expect(listEntryLabel("Labels-1")).toBe("Labels 1");
    expect(listEntryLabel("Required Checks-12")).toBe("Required Checks 12");
    expect(listEntryLabel("Labels")).toBe("Labels");
    expect(listEntryLabel(undefined)).toBeUndefined();
  });
});
