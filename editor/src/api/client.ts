/**
 * The platform REST API as the editor uses it.
 *
 * Every call goes to the same origin as the Airflow UI with the browser's
 * cookies, so the Airflow UI session (`_token` cookie) authenticates it: the
 * editor holds no credential of its own.  A 401 sends the whole Airflow
 * window to Airflow's login and back.  Errors arrive as RFC 9457
 * problem+json; `ApiError` keeps the per-field `errors` so the editor can
 * show them on nodes and form fields.
 *
 * The shapes of answers come from `openapi.gen.ts`, generated from the
 * platform's OpenAPI document (`npm run api-types`; a test fails when it is
 * stale), so a changed route shows up here as a type error, not at run time.
 */
import { withoutNulls } from "../model/schema";
import type { ValidationProblem, Workflow } from "../model/types";
import type { components } from "./openapi.gen";

type Schemas = components["schemas"];

/** "/autopr/" when the editor is served at "/autopr/editor/". */
export const PLATFORM_BASE = import.meta.env.BASE_URL.replace(/editor\/?$/, "");
/** Airflow's own root ("/" unless Airflow runs under a sub-path). */
export const AIRFLOW_BASE = PLATFORM_BASE.replace(/autopr\/?$/, "");
const API = `${PLATFORM_BASE}api/v1`;

export interface ProblemItem {
  pointer?: string;
  message: string;
  node_id?: string | null;
  edge_id?: string | null;
  field?: string | null;
}

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  errors?: ProblemItem[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail || problem.title || `HTTP ${status}`);
  }

  /** The validation problems the server attached, in the editor's shape. */
  get problems(): ValidationProblem[] {
    return (this.problem.errors ?? []).map(toValidationProblem);
  }
}

export function toValidationProblem(item: ProblemItem): ValidationProblem {
  if (item.node_id || item.edge_id) {
    return { node_id: item.node_id ?? null, edge_id: item.edge_id ?? null, field: item.field ?? null, message: item.message };
  }
  return { field: item.field ?? item.pointer ?? null, message: item.message };
}

/** Send the top-level Airflow window (the editor is an iframe in it) to Airflow's login, then back. */
export function redirectToLogin(): void {
  let target: Window = window;
  try {
    if (window.top && window.top !== window && window.top.location.origin === window.location.origin) target = window.top;
  } catch {
    // cross-origin parent: log in inside the frame
  }
  const next = target.location.pathname + target.location.search + target.location.hash;
  target.location.href = `${AIRFLOW_BASE}api/v2/auth/login?next=${encodeURIComponent(next)}`;
}

export interface Response<T> {
  data: T;
  etag: string | null;
  status: number;
}

async function request<T>(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; text?: string; contentType?: string; accept?: string } = {},
): Promise<Response<T>> {
  const headers: Record<string, string> = { Accept: options.accept ?? "application/json", ...options.headers };
  let body: BodyInit | undefined;
  if (options.text !== undefined) {
    body = options.text;
    headers["Content-Type"] = options.contentType ?? "text/plain";
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["Content-Type"] = "application/json";
  }
  let resp: globalThis.Response;
  try {
    resp = await fetch(API + path, { method, headers, body, credentials: "same-origin" });
  } catch (err) {
    throw new ApiError(0, { status: 0, title: "Network error", detail: `Cannot reach the platform API (${(err as Error).message})` });
  }
  if (resp.status === 401) {
    redirectToLogin();
    throw new ApiError(401, { status: 401, title: "Signed out", detail: "Your Airflow session ended; taking you to the login page." });
  }
  const type = resp.headers.get("content-type") ?? "";
  let data: unknown = null;
  if (resp.status !== 204) {
    data = type.includes("json") ? await resp.json().catch(() => null) : await resp.text();
  }
  if (!resp.ok) {
    const problem: Problem =
      data && typeof data === "object"
        ? { status: resp.status, ...(data as object) }
        : { status: resp.status, title: resp.statusText, detail: typeof data === "string" ? data.slice(0, 500) : undefined };
    throw new ApiError(resp.status, problem);
  }
  return { data: data as T, etag: resp.headers.get("etag"), status: resp.status };
}

// --- shapes -------------------------------------------------------------------------------------

export type ProjectOut = Schemas["ProjectOut"];

export interface WorkflowSummary {
  id: string;
  name: string;
  description?: string;
  project: string;
  current_version: number;
  enabled?: boolean;
  updated_at?: string;
  dag_id?: string;
  airflow_url?: string;
  /** Airflow's import error of the compiled workflow, read when listed: while set, the workflow does not run. */
  import_error?: ImportErrorOut | null;
}

export type ImportErrorOut = Schemas["ImportErrorOut"];

export type VersionOut = Schemas["VersionInfo"];

/** What changed from one version to another (GET …/versions/{version}/diff?against=). */
export type WorkflowDiff = Schemas["WorkflowDiff"];
export type NodeChange = Schemas["NodeChange"];

export interface TemplateOut {
  id: number;
  slug: string;
  name: string;
  description: string;
  category: string;
  is_public: boolean;
  created_by: string;
  spec: Workflow;
}

export interface RunOut {
  dag_id: string;
  run_id: string;
  state?: string | null;
  url: string;
  start_date?: string | null;
  end_date?: string | null;
  queued_at?: string | null;
}

export interface NodeStateOut {
  node_id: string;
  state: string | null;
  url: string;
  duration?: number | null;
  try_number?: number | null;
  /** Why the node failed (the task's error); failed nodes only. */
  reason?: string | null;
  /** The Airflow page of the failed try, opened on its log. */
  log_url?: string | null;
}

export interface RunDetail extends RunOut {
  nodes: NodeStateOut[];
}

export interface DryRunTask {
  task_id: string;
  node_type?: string;
  type?: string;
  operator?: string;
  upstream?: string[];
  downstream?: string[];
  [key: string]: unknown;
}

export interface DryRunOut {
  dag_id: string;
  schedule?: string | null;
  tasks: DryRunTask[];
  branches?: unknown;
  [key: string]: unknown;
}

/** A stored webhook delivery as listed by GET /webhooks/deliveries (what a dry run can replay). */
export interface DeliveryOut {
  id: number;
  delivery_id: string;
  event: string;
  action?: string | null;
  repository: string | null;
  status: string;
  received_at: string;
}

/** What a dry run on a real event would have written, grouped (include/codehost/capture.py `summarize`). */
export interface WouldPost {
  review_comments: { node_id: string | null; path: string; line: number | null; side: string; body: string }[];
  reviews: { pr_number: number; commit_id: string | null; body: string | null }[];
  review_comment_edits: { comment_id: number; body: string | null }[];
  check_runs: {
    name: string | null;
    head_sha: string | null;
    status: string | null;
    conclusion: string | null;
    title: string | null;
    annotations: { path: string; start_line?: number; annotation_level?: string; title?: string; message?: string }[];
  }[];
  summary_comment: { body: string | null; edit_of: number | null } | null;
  comments: { pr_number: number; body: string | null }[];
  comment_edits: { comment_id: number; body: string | null }[];
  labels_added: string[];
  labels_removed: string[];
  reviewers_requested: { reviewers: string[]; team_reviewers: string[] }[];
  issues: { title: string | null }[];
  merges: { pr_number: number; merge_method?: string }[];
  notifications: { channel: string; message: string }[];
  integrations: { method: string; target: string }[];
  other: { method: string; path: string }[];
}

/** One dry run on a real event (POST/GET …/workflows/{id}/dry-runs). */
export interface EventDryRun {
  id: number;
  run_id: string;
  dag_id: string;
  state: string;
  source: Record<string, unknown>;
  event: Record<string, unknown>;
  detail: string;
  writes_count: number;
  url: string;
  nodes?: Record<string, { state: string; error?: string; reason?: string }>;
  would_post?: WouldPost;
}

/** Where a dry run's event comes from: a stored delivery, a past pull request or an event typed by hand. */
export type DryRunSource =
  | { delivery: number }
  | { pull_request: number; repository: string }
  | { event: Record<string, unknown> };

export interface NodeTypeSchemas {
  [type: string]: {
    title: string;
    description: string;
    discriminator: string | null;
    config: Record<string, unknown>;
    subtypes?: Record<string, Record<string, unknown>>;
  };
}

export interface EditorConfig {
  airflow_ui_url: string;
  dashboard_url: string;
}

// --- routes -------------------------------------------------------------------------------------

const wf = (project: string, slug: string) => `/projects/${encodeURIComponent(project)}/workflows/${encodeURIComponent(slug)}`;

/** The API wraps a workflow document in its record ({spec, current_version, revision, ...}). */
export function unwrapWorkflow(data: unknown): Workflow {
  const d = data as Record<string, unknown>;
  const doc = withoutNulls({ ...((d?.spec ?? d) as Workflow) }); // unset fields come back as null
  if (typeof d?.current_version === "number") doc.version = d.current_version;
  return doc;
}

function items<T>(data: unknown): T[] {
  if (Array.isArray(data)) return data as T[];
  const d = data as { items?: T[] };
  return d?.items ?? [];
}

export const api = {
  async editorConfig(): Promise<EditorConfig> {
    const resp = await fetch(`${import.meta.env.BASE_URL}config.json`, { credentials: "same-origin" });
    if (!resp.ok) return { airflow_ui_url: AIRFLOW_BASE.replace(/\/$/, ""), dashboard_url: "" };
    return (await resp.json()) as EditorConfig;
  },
  async projects(): Promise<ProjectOut[]> {
    return (await request<ProjectOut[]>("GET", "/projects")).data;
  },
  async createProject(slug: string, name: string): Promise<ProjectOut> {
    return (await request<ProjectOut>("POST", "/projects", { body: { slug, name } })).data;
  },
  /** Airflow's connections, ids and types only ({available: false} when Airflow cannot say). */
  async connections(): Promise<Schemas["ConnectionList"]> {
    return (await request<Schemas["ConnectionList"]>("GET", "/connections")).data;
  },
  async nodeTypes(): Promise<NodeTypeSchemas> {
    return (await request<NodeTypeSchemas>("GET", "/schemas/node-types")).data;
  },
  async listWorkflows(project: string): Promise<WorkflowSummary[]> {
    return items<WorkflowSummary>((await request("GET", `/workflows?project=${encodeURIComponent(project)}&limit=200`)).data);
  },
  /** The workflows of every project the caller can see (all pages). */
  async listAllWorkflows(): Promise<WorkflowSummary[]> {
    const all: WorkflowSummary[] = [];
    for (let offset = 0; ; offset += 200) {
      const page = (await request<{ items: WorkflowSummary[]; total: number }>("GET", `/workflows?limit=200&offset=${offset}`)).data;
      all.push(...page.items);
      if (page.items.length === 0 || all.length >= page.total) return all;
    }
  },
  async getWorkflow(
    project: string,
    slug: string,
  ): Promise<{ workflow: Workflow; etag: string | null; importError: ImportErrorOut | null }> {
    const r = await request("GET", wf(project, slug));
    const importError = (r.data as { import_error?: ImportErrorOut | null } | null)?.import_error ?? null;
    return { workflow: unwrapWorkflow(r.data), etag: r.etag, importError };
  },
  async createWorkflow(workflow: Workflow): Promise<{ workflow: Workflow; etag: string | null }> {
    const r = await request("POST", `/projects/${encodeURIComponent(workflow.project)}/workflows`, { body: workflow });
    return { workflow: unwrapWorkflow(r.data), etag: r.etag };
  },
  async updateWorkflow(workflow: Workflow, etag: string | null): Promise<{ workflow: Workflow; etag: string | null }> {
    const r = await request("PUT", wf(workflow.project, workflow.id), {
      body: workflow,
      headers: etag ? { "If-Match": etag } : {},
    });
    return { workflow: unwrapWorkflow(r.data), etag: r.etag };
  },
  async validate(workflow: Workflow): Promise<ValidationProblem[]> {
    try {
      const r = await request<{ valid?: boolean; problems?: ProblemItem[]; errors?: ProblemItem[] }>("POST", "/workflows/validate", {
        body: workflow,
      });
      return (r.data?.problems ?? r.data?.errors ?? []).map(toValidationProblem);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 422 || err.status === 400) && err.problem.errors) return err.problems;
      throw err;
    }
  },
  async dryRun(workflow: Workflow): Promise<DryRunOut> {
    return (await request<DryRunOut>("POST", "/workflows/dry-run", { body: workflow })).data;
  },
  async versions(project: string, slug: string): Promise<VersionOut[]> {
    return items<VersionOut>((await request("GET", `${wf(project, slug)}/versions`)).data);
  },
  /** What changed from `version` to `against` (the current version when left out). */
  async versionDiff(project: string, slug: string, version: number, against?: number): Promise<WorkflowDiff> {
    const query = against === undefined ? "" : `?against=${against}`;
    return (await request<WorkflowDiff>("GET", `${wf(project, slug)}/versions/${version}/diff${query}`)).data;
  },
  /** One stored version's document. */
  async version(project: string, slug: string, version: number): Promise<Workflow> {
    return unwrapWorkflow((await request("GET", `${wf(project, slug)}/versions/${version}`)).data);
  },
  /** The platform's export of a document, saved or not: only what differs from the defaults. */
  async exportDocument(workflow: Workflow, format: "yaml" | "json"): Promise<string> {
    const r = await request<unknown>("POST", `/workflows/export?format=${format}`, {
      body: workflow,
      accept: format === "json" ? "application/json" : "application/yaml",
    });
    return typeof r.data === "string" ? r.data : JSON.stringify(r.data, null, 2) + "\n";
  },
  async restoreVersion(project: string, slug: string, version: number, etag: string | null) {
    const r = await request("POST", `${wf(project, slug)}/versions/${version}/restore`, {
      headers: etag ? { "If-Match": etag } : {},
    });
    return { workflow: unwrapWorkflow(r.data), etag: r.etag };
  },
  async templates(): Promise<TemplateOut[]> {
    return items<TemplateOut>((await request("GET", "/templates")).data);
  },
  async template(id: string | number): Promise<TemplateOut> {
    return (await request<TemplateOut>("GET", `/templates/${encodeURIComponent(String(id))}`)).data;
  },
  async saveAsTemplate(project: string, slug: string, body: { name: string; description: string; is_public: boolean }) {
    return (await request<TemplateOut>("POST", `${wf(project, slug)}/template`, { body })).data;
  },
  async startRun(project: string, slug: string, event: Record<string, unknown> | null, note?: string): Promise<RunOut> {
    return (await request<RunOut>("POST", `${wf(project, slug)}/runs`, { body: { event, note } })).data;
  },
  async run(project: string, slug: string, runId: string): Promise<RunDetail> {
    return (await request<RunDetail>("GET", `${wf(project, slug)}/runs/${encodeURIComponent(runId)}`)).data;
  },
  async deliveries(project: string): Promise<DeliveryOut[]> {
    return items<DeliveryOut>((await request("GET", `/webhooks/deliveries?project=${encodeURIComponent(project)}&limit=20`)).data);
  },
  /** One stored delivery with its payload. */
  async delivery(id: number): Promise<DeliveryOut & { payload: unknown }> {
    return (await request<DeliveryOut & { payload: unknown }>("GET", `/webhooks/deliveries/${id}`)).data;
  },
  async startEventDryRun(project: string, slug: string, source: DryRunSource): Promise<EventDryRun> {
    return (await request<EventDryRun>("POST", `${wf(project, slug)}/dry-runs`, { body: source })).data;
  },
  async eventDryRun(project: string, slug: string, runId: string): Promise<EventDryRun> {
    return (await request<EventDryRun>("GET", `${wf(project, slug)}/dry-runs/${encodeURIComponent(runId)}`)).data;
  },
  async runs(project: string, slug: string): Promise<RunOut[]> {
    return items<RunOut>((await request("GET", `${wf(project, slug)}/runs?limit=10`)).data);
  },
};
