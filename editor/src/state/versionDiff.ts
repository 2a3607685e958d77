/**
 * A version diff from the platform (GET …/versions/{version}/diff) as lines a person reads:
 * settings, then nodes, then edges, each added, removed or changed, a changed node with the
 * config keys that differ and their values before and after.
 */
import type { WorkflowDiff } from "../api/client";

export type DiffKind = "added" | "removed" | "changed";

export interface DiffLine {
  kind: DiffKind;
  /** "setting", "node" or "edge", and the id of what changed (or the setting's name). */
  what: "setting" | "node" | "edge";
  id: string;
  text: string;
  /** For a changed node: one "key: before → after" per config key (and label/position/type) that differs. */
  details?: string[];
}

const MAX_VALUE = 80;

/** A value as it would be written in the document, shortened to one readable line. */
export function shown(value: unknown): string {
  const text = value === undefined ? "(not set)" : JSON.stringify(value);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

type Item = Record<string, unknown>;

const change = (key: string, before: unknown, after: unknown) => `${key}: ${shown(before)} → ${shown(after)}`;

function edgeText(edge: Item): string {
  const branch = edge.branch ? ` (${String(edge.branch)})` : "";
  return `${String(edge.source)} → ${String(edge.target)}${branch}`;
}

export function diffLines(diff: WorkflowDiff): DiffLine[] {
  const lines: DiffLine[] = diff.settings.map((s) => ({
    kind: "changed",
    what: "setting",
    id: s.field,
    text: change(s.field, s.before, s.after),
  }));
  const nodes = diff.nodes ?? { added: [], removed: [], changed: [] };
  const edges = diff.edges ?? { added: [], removed: [], changed: [] };
  for (const n of nodes.added ?? []) lines.push({ kind: "added", what: "node", id: String(n.id), text: `${String(n.id)} (${String(n.type)})` });
  for (const n of nodes.removed ?? []) lines.push({ kind: "removed", what: "node", id: String(n.id), text: `${String(n.id)} (${String(n.type)})` });
  for (const c of nodes.changed ?? []) {
    const before = c.before as Item;
    const after = c.after as Item;
    const details = c.fields.flatMap((field) => {
      if (field !== "config") return [change(field, before[field], after[field])];
      const old = (before.config ?? {}) as Item;
      const now = (after.config ?? {}) as Item;
      return c.config_keys.map((key) => change(`config.${key}`, old[key], now[key]));
    });
    const what = [...c.fields.filter((f) => f !== "config"), ...c.config_keys].join(", ");
    lines.push({ kind: "changed", what: "node", id: c.id, text: `${c.id}: ${what}`, details });
  }
  for (const e of edges.added ?? []) lines.push({ kind: "added", what: "edge", id: String(e.id), text: edgeText(e) });
  for (const e of edges.removed ?? []) lines.push({ kind: "removed", what: "edge", id: String(e.id), text: edgeText(e) });
  for (const c of edges.changed ?? []) {
    const before = c.before as Item;
    const after = c.after as Item;
    lines.push({
      kind: "changed",
      what: "edge",
      id: c.id,
      text: `${c.id}: ${edgeText(before)} ⇒ ${edgeText(after)}`,
      details: c.fields.map((f) => change(f, before[f], after[f])),
    });
  }
  return lines;
}
