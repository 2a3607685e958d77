/**
 * Starting a run of the saved workflow and following its state.
 *
 * A run is started with an event (the DAG run's `conf.event`) and polled
 * until Airflow says it finished; each poll's node states colour the canvas.
 * Right after a save Airflow may not have parsed the new version yet, which
 * the platform answers with 503: the start is retried for a while.
 */
import { ApiError, type RunDetail } from "../api/client";

const FINISHED = new Set(["success", "failed"]);

export const POLL_DELAY_MS = 2000;
/** Poll more slowly after a failed poll (the API server may be restarting). */
export const POLL_RETRY_DELAY_MS = 4000;
export const START_RETRY_DELAY_MS = 3000;
const START_ATTEMPTS = 20;

export function isFinished(state: string | null | undefined): boolean {
  return FINISHED.has(state ?? "");
}

/** Each node's task state in the run, by node id. */
export function nodeStates(detail: RunDetail): Map<string, string | null> {
  return new Map(detail.nodes.map((n) => [n.node_id, n.state]));
}

/** The first line of an Airflow import error (its stack trace ends with the exception; the last line names it). */
export function importErrorSummary(message: string): string {
  const lines = message.split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.length ? lines[lines.length - 1] : "Airflow could not import this workflow's DAG file";
}

/** What the run view says about a node: its state, and for a failed node why and where its log is. */
export function nodeLine(n: RunDetail["nodes"][number]): { state: string; reason: string | null; log: string } {
  return { state: n.state ?? "no status", reason: n.reason ?? null, log: n.log_url ?? n.url };
}

/** An example event of the trigger's kind, for the run dialog to start from. */
export function sampleEvent(triggerEvent: string | undefined): Record<string, unknown> {
  const kind = triggerEvent ?? "manual";
  if (kind === "pr_opened" || kind === "pr_updated") {
    return { kind, repository: "owner/repo", clone_url: "https://github.com/owner/repo.git", ref: "feature", base_ref: "main", pr_number: 1 };
  }
  if (kind === "push") return { kind, repository: "owner/repo", clone_url: "https://github.com/owner/repo.git", ref: "main" };
  if (kind === "issue_created") return { kind, repository: "owner/repo", issue_number: 1, title: "Example issue" };
  return { kind };
}

const PR_KINDS = new Set(["pr_opened", "pr_updated"]);

/** Whether a run of a workflow with this trigger reads a pull request (the run dialog offers a real one). */
export function readsPullRequest(triggerEvent: string | undefined): boolean {
  return PR_KINDS.has(triggerEvent ?? "");
}

/** The newest stored delivery about a pull request (deliveries come newest first). */
export function newestPullRequestDelivery<D extends { event: string }>(deliveries: D[]): D | null {
  return deliveries.find((d) => d.event === "pull_request") ?? null;
}

const str = (v: unknown) => (typeof v === "string" && v ? v : undefined);

/**
 * A stored GitHub `pull_request` delivery as the event a run of `kind` gets, normalised as the
 * platform does (include/codehost/events.py `from_github`): head branch and commit, base branch, the
 * head repository's clone URL.  Null when the payload is not a pull request.
 */
export function eventFromPullRequest(payload: unknown, kind: string, deliveryId?: string): Record<string, unknown> | null {
  const p = payload as Record<string, any> | null;
  const pr = p?.pull_request;
  const repository = str(p?.repository?.full_name);
  if (!pr || typeof pr !== "object" || !repository) return null;
  const number = typeof pr.number === "number" ? pr.number : typeof p?.number === "number" ? p.number : undefined;
  if (!number) return null;
  const event: Record<string, unknown> = {
    kind,
    repository,
    clone_url: str(pr.head?.repo?.clone_url) ?? str(p?.repository?.clone_url),
    ref: str(pr.head?.ref),
    sha: str(pr.head?.sha),
    base_ref: str(pr.base?.ref),
    pr_number: number,
    title: str(pr.title),
    author: str(pr.user?.login) ?? str(p?.sender?.login),
    labels: Array.isArray(pr.labels) ? pr.labels.map((l: { name?: string }) => l?.name).filter((n: unknown) => typeof n === "string") : [],
    delivery_id: deliveryId,
  };
  return Object.fromEntries(Object.entries(event).filter(([, v]) => v !== undefined));
}

/** The event typed in the dialog: none when blank, else its JSON, else why it is not JSON. */
export function parseEvent(text: string): { event: Record<string, unknown> | null } | { error: string } {
  if (!text.trim()) return { event: null };
  try {
    return { event: JSON.parse(text) };
  } catch (err) {
    return { error: `The event is not valid JSON: ${(err as Error).message}` };
  }
}

/** Whether a failed start is worth another attempt: Airflow has not loaded the DAG yet. */
export function retryStart(err: unknown, attempt: number): err is ApiError {
  return err instanceof ApiError && err.status === 503 && attempt < START_ATTEMPTS;
}

/** Why a run did not start, with the server's validation problems when it named them. */
export function startErrorText(err: unknown): string {
  if (err instanceof ApiError && err.problem.errors) {
    return `${err.message}: ${err.problems.map((p) => `${p.field ?? ""} ${p.message}`).join("; ")}`;
  }
  return (err as Error).message;
}
