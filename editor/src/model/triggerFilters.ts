/**
 * Which trigger fields each event takes, as the platform's validator decides
 * (include/workflows/nodes.py `TRIGGER_FILTERS` and the cron rule;
 * tests/editor/test_trigger_filters_match.py fails when the two differ).
 *
 * The published JSON Schema cannot say "branches only for these events", so
 * the trigger form drops the fields the chosen event refuses: a Schedule
 * trigger shows its cron line and no branch, path or label filter.  A field
 * that already holds a value stays, so the validator's message about it has
 * a place and the user can clear it.
 */
import type { JSONSchema } from "./schema";

export const TRIGGER_FILTERS: Record<string, readonly string[]> = {
  pr_opened: ["branches", "paths", "labels"],
  pr_updated: ["branches", "paths", "labels"],
  push: ["branches", "paths"],
  issue_created: ["labels"],
  webhook: ["branches", "paths", "labels"],
  schedule: [],
  manual: [],
};

const FILTERS = ["branches", "paths", "labels"];

/** Whether a trigger of `event` may have `field` set (event itself always). */
export function triggerTakes(event: string, field: string): boolean {
  if (field === "cron") return event === "schedule";
  if (!FILTERS.includes(field)) return true;
  return (TRIGGER_FILTERS[event] ?? FILTERS).includes(field);
}

const hasValue = (v: unknown) => v !== undefined && v !== null && v !== "" && !(Array.isArray(v) && v.length === 0);

/** The trigger form's schema for `config`: without the fields its event refuses (unless they hold a value). */
export function triggerFormSchema(schema: JSONSchema, config: Record<string, unknown>): JSONSchema {
  const event = String(config.event ?? "");
  const properties = Object.fromEntries(
    Object.entries(schema.properties ?? {}).filter(([field]) => triggerTakes(event, field) || hasValue(config[field])),
  );
  const required = schema.required?.filter((f) => f in properties);
  return { ...schema, properties, ...(required ? { required } : {}) };
}
