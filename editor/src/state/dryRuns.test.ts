import { describe, expect, it } from "vitest";
import type { WouldPost } from "../api/client";
import { dryRunSource, writeLines } from "./dryRuns";

const form = { kind: "delivery" as const, delivery: "", pullRequest: "", repository: "", eventText: "" };

describe("dryRunSource", () => {
  it("names the field that is wrong", () => {
    expect(dryRunSource(form)).toEqual({ error: "Delivery: pick a stored delivery" });
    expect(dryRunSource({ ...form, kind: "pull_request", pullRequest: "7", repository: "nope" })).toEqual({ error: 'Repository: "owner/name"' });
    expect(dryRunSource({ ...form, kind: "event", eventText: "[1]" })).toEqual({ error: "Event: a JSON object" });
  });
  it("builds each kind of source", () => {
    expect(dryRunSource({ ...form, delivery: "12" })).toEqual({ source: { delivery: 12 } });
    expect(dryRunSource({ ...form, kind: "pull_request", pullRequest: "7", repository: " acme/app " })).toEqual({
      source: { pull_request: 7, repository: "acme/app" },
    });
    expect(dryRunSource({ ...form, kind: "event", eventText: '{"kind": "manual"}' })).toEqual({ source: { event: { kind: "manual" } } });
  });
});

describe("writeLines", () => {
  it("lists review comments on their lines, the check run, the summary and labels", () => {
    const would: WouldPost = {
      review_comments: [{ node_id: "publish", path: "app/bad.py", line: 7, side: "RIGHT", body: "**critical** · `B602`\n\nshell=True\n\n<!-- autopr:finding 0123 -->" }],
      reviews: [], review_comment_edits: [], comments: [], comment_edits: [], reviewers_requested: [], issues: [], merges: [],
      check_runs: [{ name: "AutoPR review", head_sha: "abc", status: "completed", conclusion: "failure", title: "1 finding(s)", annotations: [{ path: "app/bad.py" }] }],
      summary_comment: { body: "<!-- autopr:summary acme/wf -->\n**AutoPR review** of abc", edit_of: null },
      labels_added: ["needs-work"], labels_removed: [], notifications: [{ channel: "dashboard", message: "done" }], integrations: [], other: [],
    };
    expect(writeLines(would)).toEqual([
      { kind: "review comment", where: "app/bad.py:7 (RIGHT)", text: "**critical** · `B602`" },
      { kind: "check run", where: "AutoPR review", text: "failure · 1 annotation(s)" },
      { kind: "summary comment", where: "new comment", text: "**AutoPR review** of abc" },
      { kind: "labels added", where: "", text: "needs-work" },
      { kind: "notification", where: "dashboard", text: "done" },
    ]);
  });
});
