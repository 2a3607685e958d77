/**
 * The palette: every node type and subtype a user can drag onto the canvas.
 *
 * Each entry carries the starting config of a new node.  Starting configs
 * hold only the subtype discriminator and what a newcomer would otherwise
 * have to look up (a cron line, a message mentioning the findings); the
 * server's schema fills in every other default, and required fields left
 * empty show up as validation errors on the node and in its form.
 */
import type { NodeType } from "./types";

export interface PaletteEntry {
  /** Unique key, e.g. "action:quality_check". */
  key: string;
  type: NodeType;
  /** The subtype value (event / action / channel) or null for single-model types. */
  subtype: string | null;
  title: string;
  description: string;
  config: Record<string, unknown>;
}

export interface PaletteGroup {
  type: NodeType;
  title: string;
  entries: PaletteEntry[];
}

/** Which config field names a node's subtype, per node type. */
export const SUBTYPE_FIELD: Record<NodeType, string | null> = {
  trigger: "event",
  action: "action",
  condition: null,
  integration: null,
  notification: "channel",
};

const entry = (
  type: NodeType,
  subtype: string | null,
  title: string,
  description: string,
  config: Record<string, unknown>,
): PaletteEntry => ({ key: subtype ? `${type}:${subtype}` : type, type, subtype, title, description, config });

export const PALETTE: PaletteGroup[] = [
  {
    type: "trigger",
    title: "Triggers",
    entries: [
      entry("trigger", "pr_opened", "PR opened", "A pull request is opened", { event: "pr_opened" }),
      entry("trigger", "pr_updated", "PR updated", "New commits are pushed to a pull request", { event: "pr_updated" }),
      entry("trigger", "push", "Push", "Commits are pushed to a branch", { event: "push" }),
      entry("trigger", "issue_created", "Issue created", "An issue is opened", { event: "issue_created" }),
      entry("trigger", "schedule", "Schedule", "On a cron schedule (UTC)", { event: "schedule", cron: "0 3 * * *" }),
      entry("trigger", "webhook", "Webhook", "A signed webhook delivery arrives", { event: "webhook" }),
      entry("trigger", "manual", "Manual", "Someone presses Run", { event: "manual" }),
    ],
  },
  {
    type: "action",
    title: "Actions",
    entries: [
      entry("action", "quality_check", "Quality check", "Run ruff, bandit and radon on a checkout", { action: "quality_check" }),
      entry("action", "code_review", "Code review", "Review issues with severity and confidence", { action: "code_review" }),
      entry("action", "create_issue", "Create issue", "Open an issue on the code host", { action: "create_issue" }),
      entry("action", "post_comment", "Post comment", "Comment on the pull request", { action: "post_comment" }),
      entry("action", "label_pr", "Label PR", "Add or remove labels", { action: "label_pr" }),
      entry("action", "request_review", "Request review", "Ask people or teams to review", { action: "request_review" }),
      entry("action", "merge_pr", "Merge PR", "Merge once checks passed", { action: "merge_pr" }),
      entry("action", "publish_review", "Publish review", "Comments on the changed lines, a check run, one summary", { action: "publish_review" }),
    ],
  },
  {
    type: "condition",
    title: "Logic",
    entries: [entry("condition", null, "Condition", "Branch on a CEL expression (true / false)", {})],
  },
  {
    type: "integration",
    title: "Integrations",
    entries: [entry("integration", null, "HTTP call", "Call an API through an Airflow connection", {})],
  },
  {
    type: "notification",
    title: "Notifications",
    entries: [
      entry("notification", "slack", "Slack", "Post to a Slack webhook", { channel: "slack" }),
      entry("notification", "email", "Email", "Send an email through Airflow's SMTP", { channel: "email" }),
      entry("notification", "dashboard", "Dashboard", "Show a message on the live dashboard", { channel: "dashboard" }),
    ],
  },
];

export const PALETTE_ENTRIES: PaletteEntry[] = PALETTE.flatMap((g) => g.entries);

export function paletteEntry(key: string): PaletteEntry | undefined {
  return PALETTE_ENTRIES.find((e) => e.key === key);
}

/** The palette entry a node belongs to (by its type and subtype). */
export function entryOf(type: NodeType, config: Record<string, unknown>): PaletteEntry | undefined {
  const field = SUBTYPE_FIELD[type];
  const subtype = field ? config[field] : null;
  return PALETTE_ENTRIES.find((e) => e.type === type && (field ? e.subtype === subtype : true));
}

/** The label a newly dropped node gets. */
export function defaultLabel(entry: PaletteEntry): string {
  return entry.title;
}

/** The id base of a newly dropped node: the subtype for actions, else the type. */
export function idBase(entry: PaletteEntry): string {
  if (entry.type === "trigger") return "trigger";
  if (entry.type === "notification") return `notify_${entry.subtype}`;
  return entry.subtype ?? entry.type;
}
