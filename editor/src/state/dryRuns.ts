/**
 * The dry run on a real event: which event the form names, and the would-be writes as lines to show.
 *
 * The dry-run dialog's first half shows the DAG the workflow compiles to; its
 * second half runs the saved version on a stored delivery, a past pull request
 * or a typed event with every code-host write captured instead of sent
 * (POST …/dry-runs), polls it until it finishes and lists what it would have
 * posted.  This module is the part of that without React.
 */
import type { DryRunSource, WouldPost } from "../api/client";

export type SourceKind = "delivery" | "pull_request" | "event";

export interface SourceForm {
  kind: SourceKind;
  delivery: string;
  pullRequest: string;
  repository: string;
  eventText: string;
}

const REPOSITORY = /^[A-Za-z0-9-]+\/[A-Za-z0-9_.-]+$/;

/** The request body for the form, or what is wrong with it (naming the field). */
export function dryRunSource(form: SourceForm): { source: DryRunSource } | { error: string } {
  if (form.kind === "delivery") {
    const id = Number(form.delivery);
    if (!Number.isInteger(id) || id < 1) return { error: "Delivery: pick a stored delivery" };
    return { source: { delivery: id } };
  }
  if (form.kind === "pull_request") {
    const n = Number(form.pullRequest);
    if (!Number.isInteger(n) || n < 1) return { error: "Pull request: a number such as 7" };
    if (!REPOSITORY.test(form.repository.trim())) return { error: 'Repository: "owner/name"' };
    return { source: { pull_request: n, repository: form.repository.trim() } };
  }
  try {
    const event = JSON.parse(form.eventText) as unknown;
    if (!event || typeof event !== "object" || Array.isArray(event)) return { error: "Event: a JSON object" };
    return { source: { event: event as Record<string, unknown> } };
  } catch (err) {
    return { error: `Event: not JSON (${(err as Error).message})` };
  }
}

export interface WriteLine {
  kind: string;
  where: string;
  text: string;
}

const firstLine = (text: string | null | undefined) => (text ?? "").replace(/<!--.*?-->/g, "").trim().split("\n")[0] ?? "";

/** Every captured write as one line: what kind, where on the pull request, and what it says. */
export function writeLines(would: WouldPost): WriteLine[] {
  const lines: WriteLine[] = [];
  for (const c of would.review_comments) lines.push({ kind: "review comment", where: `${c.path}:${c.line ?? "-"} (${c.side})`, text: firstLine(c.body) });
  for (const e of would.review_comment_edits) lines.push({ kind: "review comment edit", where: `comment ${e.comment_id}`, text: firstLine(e.body) });
  for (const r of would.check_runs) {
    lines.push({ kind: "check run", where: r.name ?? "check", text: `${r.conclusion ?? r.status ?? "?"} · ${r.annotations.length} annotation(s)` });
  }
  if (would.summary_comment) {
    const where = would.summary_comment.edit_of ? `edit of comment ${would.summary_comment.edit_of}` : "new comment";
    lines.push({ kind: "summary comment", where, text: firstLine(would.summary_comment.body) });
  }
  for (const c of would.comments) lines.push({ kind: "comment", where: `#${c.pr_number}`, text: firstLine(c.body) });
  for (const c of would.comment_edits) lines.push({ kind: "comment edit", where: `comment ${c.comment_id}`, text: firstLine(c.body) });
  if (would.labels_added.length) lines.push({ kind: "labels added", where: "", text: would.labels_added.join(", ") });
  if (would.labels_removed.length) lines.push({ kind: "labels removed", where: "", text: would.labels_removed.join(", ") });
  for (const r of would.reviewers_requested) lines.push({ kind: "review request", where: "", text: [...r.reviewers, ...r.team_reviewers].join(", ") });
  for (const i of would.issues) lines.push({ kind: "issue", where: "", text: i.title ?? "" });
  for (const m of would.merges) lines.push({ kind: "merge", where: `#${m.pr_number}`, text: m.merge_method ?? "" });
  for (const n of would.notifications) lines.push({ kind: "notification", where: n.channel, text: n.message });
  for (const i of would.integrations) lines.push({ kind: "integration", where: i.target, text: i.method });
  for (const o of would.other) lines.push({ kind: "other write", where: o.path, text: o.method });
  return lines;
}
