import { describe, expect, it } from "vitest";
import { ApiError, type RunDetail } from "../api/client";
import { importErrorSummary, isFinished, nodeLine, nodeStates, parseEvent, retryStart, sampleEvent, startErrorText, eventFromPullRequest, newestPullRequestDelivery, readsPullRequest } from "./runs";

describe("run states", () => {
  it("knows when a run is over", () => {
    expect(isFinished("success")).toBe(true);
    expect(isFinished("failed")).toBe(true);
    expect(isFinished("running")).toBe(false);
    expect(isFinished(null)).toBe(false);
  });

  it("maps node ids to their task state", () => {
    const detail = { nodes: [{ node_id: "a", state: "success", url: "" }, { node_id: "b", state: null, url: "" }] } as unknown as RunDetail;
    expect(nodeStates(detail)).toEqual(new Map([["a", "success"], ["b", null]]));
  });
});

describe("the run's event", () => {
  it("starts from an example of the trigger's kind", () => {
    expect(sampleEvent("pr_opened")).toMatchObject({ kind: "pr_opened", pr_number: 1, base_ref: "main" });
    expect(sampleEvent("push")).toMatchObject({ kind: "push", ref: "main" });
    expect(sampleEvent("issue_created")).toMatchObject({ issue_number: 1 });
    expect(sampleEvent(undefined)).toEqual({ kind: "manual" });
  });

  it("is none when blank and refused when not JSON", () => {
    expect(parseEvent("  ")).toEqual({ event: null });
    expect(parseEvent('{"kind": "push"}')).toEqual({ event: { kind: "push" } });
    expect(parseEvent("{oops")).toMatchObject({ error: expect.stringMatching(/^The event is not valid JSON: /) });
  });
});

describe("starting", () => {
  it("retries only while Airflow has not loaded the DAG, a bounded number of times", () => {
    const notLoaded = new ApiError(503, { status: 503, detail: "not parsed yet" });
    expect(retryStart(notLoaded, 0)).toBe(true);
    expect(retryStart(notLoaded, 19)).toBe(true);
    expect(retryStart(notLoaded, 20)).toBe(false);
    expect(retryStart(new ApiError(404, { status: 404 }), 0)).toBe(false);
  });

  it("names the fields the server refused", () => {
    const err = new ApiError(422, { status: 422, detail: "Bad event", errors: [{ field: "event.ref", message: "required" }] });
    expect(startErrorText(err)).toBe("Bad event: event.ref required");
    expect(startErrorText(new Error("offline"))).toBe("offline");
  });
});

describe("failure reasons and import errors", () => {
  it("shows a failed node's reason and links its failed try's log", () => {
    const line = nodeLine({
      node_id: "bad",
      state: "failed",
      url: "http://af/dags/d/runs/r/tasks/bad",
      try_number: 2,
      reason: "RuntimeError: node 'bad': code-host connection 'github_default': No access token",
      log_url: "http://af/dags/d/runs/r/tasks/bad?try_number=2",
    });
    expect(line).toEqual({
      state: "failed",
      reason: "RuntimeError: node 'bad': code-host connection 'github_default': No access token",
      log: "http://af/dags/d/runs/r/tasks/bad?try_number=2",
    });
  });

  it("falls back to the task page for nodes without a failure", () => {
    expect(nodeLine({ node_id: "ok", state: null, url: "http://af/t" })).toEqual({ state: "no status", reason: null, log: "http://af/t" });
  });

  it("summarises an import error by its last line", () => {
    const trace = 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: workflow acme/prw is invalid\n';
    expect(importErrorSummary(trace)).toBe("ValueError: workflow acme/prw is invalid");
    expect(importErrorSummary("")).toMatch(/could not import/);
  });
});

describe("a real pull request for the run dialog", () => {
  const payload = {
    action: "opened",
    number: 7,
    pull_request: {
      number: 7,
      title: "Risky change",
      user: { login: "octocat" },
      labels: [{ name: "bug" }],
      head: { ref: "feature", sha: "c".repeat(40), repo: { full_name: "fork/app", clone_url: "https://example.test/fork/app.git" } },
      base: { ref: "main", repo: { full_name: "acme/app" } },
    },
    repository: { full_name: "acme/app", clone_url: "https://example.test/acme/app.git" },
    sender: { login: "someone" },
  };

  it("normalises a stored pull_request delivery as the platform does, with the workflow's kind", () => {
    expect(eventFromPullRequest(payload, "pr_updated", "d-1")).toEqual({
      kind: "pr_updated",
      repository: "acme/app",
      clone_url: "https://example.test/fork/app.git",
      ref: "feature",
      sha: "c".repeat(40),
      base_ref: "main",
      pr_number: 7,
      title: "Risky change",
      author: "octocat",
      labels: ["bug"],
      delivery_id: "d-1",
    });
  });

  it("refuses what is not a pull request", () => {
    expect(eventFromPullRequest({ ref: "refs/heads/main", repository: { full_name: "acme/app" } }, "pr_opened")).toBeNull();
    expect(eventFromPullRequest(null, "pr_opened")).toBeNull();
  });

  it("picks the newest pull-request delivery, only for pull-request triggers", () => {
    const list = [{ id: 3, event: "push" }, { id: 2, event: "pull_request" }, { id: 1, event: "pull_request" }];
    expect(newestPullRequestDelivery(list)?.id).toBe(2);
    expect(newestPullRequestDelivery([{ id: 1, event: "issues" }])).toBeNull();
    expect(readsPullRequest("pr_opened")).toBe(true);
    expect(readsPullRequest("push")).toBe(false);
    expect(readsPullRequest(undefined)).toBe(false);
  });
});
