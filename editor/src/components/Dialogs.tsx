/**
 * The editor's dialogs: open, versions (view one, and what changed from it to the current one), templates,
 * import, dry run (the DAG, and the saved version on a real event with nothing posted) and run.
 * Each loads what it shows from the platform API when it opens.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import {
  ApiError,
  api,
  type DeliveryOut,
  type DryRunOut,
  type EditorConfig,
  type EventDryRun,
  type ProjectOut,
  type TemplateOut,
  type VersionOut,
  type WorkflowDiff,
  type WorkflowSummary,
} from "../api/client";
import { useRunPolling } from "../hooks/useRunPolling";
import { ImportError, importWorkflow } from "../model/io";
import type { Workflow } from "../model/types";
import { type SourceForm, type SourceKind, dryRunSource, writeLines } from "../state/dryRuns";
import {
  POLL_DELAY_MS,
  eventFromPullRequest,
  importErrorSummary,
  isFinished,
  newestPullRequestDelivery,
  nodeLine,
  readsPullRequest,
  sampleEvent,
} from "../state/runs";
import { groupByProject } from "../state/projects";
import { diffLines } from "../state/versionDiff";
import { Modal } from "./Modal";

function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reload = useCallback(() => {
    setError(null);
    load().then(setData, (err: Error) => setError(err.message));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(reload, [reload]);
  return { data, error, reload };
}

const when = (iso?: string | null) => (iso ? new Date(iso).toLocaleString() : "");

// --- open -----------------------------------------------------------------------------------------

export function OpenDialog({
  project,
  projects,
  onOpen,
  onClose,
}: {
  project: string;
  projects: ProjectOut[];
  onOpen: (project: string, slug: string) => void;
  onClose: () => void;
}) {
  const { data, error } = useLoad(() => api.listAllWorkflows(), []);
  const groups = data ? groupByProject(data, projects, project) : null;
  return (
    <Modal title="Open a workflow" onClose={onClose}>
      {error && <p className="text-danger">{error}</p>}
      {!data && !error && <p>Loading…</p>}
      {groups?.length === 0 && <p>No workflows yet in your projects.</p>}
      {groups?.map((g) => (
        <section key={g.slug} data-testid={`open-project-${g.slug}`}>
          <h3>{g.label}</h3>
          <ul className="list">
            {g.workflows.map((w: WorkflowSummary) => (
              <li key={w.id}>
                <button type="button" className="link" onClick={() => onOpen(g.slug, w.id)}>
                  {w.name}
                </button>{" "}
                <span className="muted small">
                  {w.id} · v{w.current_version} {w.enabled === false ? "· disabled" : ""} · {when(w.updated_at)}
                </span>
                {w.import_error && (
                  <span className="badge error" title={w.import_error.message} data-testid="import-error-badge">
                    import error: {importErrorSummary(w.import_error.message)}
                  </span>
                )}
              </li>
            ))}
          </ul>
        </section>
      ))}
    </Modal>
  );
}

// --- new project ---------------------------------------------------------------------------------

export function ProjectDialog({ onCreate, onClose }: { onCreate: (slug: string, name: string) => Promise<void>; onClose: () => void }) {
  const [slug, setSlug] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  return (
    <Modal title="New project" onClose={onClose}>
      <p className="muted small">You become the project's admin and can add members through the API.</p>
      <label className="field-label" htmlFor="project-slug">
        Id (lower-case letters, digits, "-" and "_")
      </label>
      <input id="project-slug" value={slug} onChange={(e) => setSlug(e.target.value)} />
      <label className="field-label" htmlFor="project-name">
        Name
      </label>
      <input id="project-name" value={name} onChange={(e) => setName(e.target.value)} />
      {error && <p className="text-danger">{error}</p>}
      <p>
        <button
          type="button"
          className="primary"
          disabled={!slug.trim()}
          onClick={() => onCreate(slug.trim(), name.trim() || slug.trim()).catch((err: Error) => setError(err.message))}
        >
          Create project
        </button>
      </p>
    </Modal>
  );
}

// --- versions -------------------------------------------------------------------------------------

export function VersionsDialog({
  workflow,
  onRestore,
  onClose,
}: {
  workflow: Workflow;
  onRestore: (version: number) => Promise<void>;
  onClose: () => void;
}) {
  const { data, error } = useLoad(() => api.versions(workflow.project, workflow.id), [workflow.project, workflow.id]);
  const [busy, setBusy] = useState<number | null>(null);
  const [restoreError, setRestoreError] = useState<string | null>(null);
  const [viewing, setViewing] = useState<number | null>(null);
  const versions = data ? [...data].sort((a, b) => b.version - a.version) : null;
  return (
    <Modal title={`Version history of ${workflow.name}`} onClose={onClose} wide>
      {error && <p className="text-danger">{error}</p>}
      {restoreError && <p className="text-danger">{restoreError}</p>}
      {!versions && !error && <p>Loading…</p>}
      <table className="table" data-testid="versions">
        <thead>
          <tr>
            <th>Version</th>
            <th>Saved</th>
            <th>By</th>
            <th>Note</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {versions?.map((v: VersionOut) => (
            <tr key={v.version} data-testid={`version-${v.version}`} className={viewing === v.version ? "selected" : undefined}>
              <td>v{v.version}</td>
              <td>{when(v.created_at)}</td>
              <td>{v.created_by}</td>
              <td>{v.comment}</td>
              <td className="actions">
                <button type="button" onClick={() => setViewing(viewing === v.version ? null : v.version)}>
                  {viewing === v.version ? "Hide" : v.version === workflow.version ? "View" : "View & compare"}
                </button>
                {v.version === workflow.version ? (
                  <span className="muted">current</span>
                ) : (
                  <button
                    type="button"
                    disabled={busy !== null}
                    onClick={async () => {
                      setBusy(v.version);
                      setRestoreError(null);
                      try {
                        await onRestore(v.version);
                      } catch (err) {
                        setRestoreError((err as Error).message);
                      } finally {
                        setBusy(null);
                      }
                    }}
                  >
                    {busy === v.version ? "Restoring…" : `Restore v${v.version}`}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {viewing !== null && <VersionView workflow={workflow} version={viewing} />}
      <p className="muted small">Restoring saves the old version's content as a new version; nothing is lost.</p>
    </Modal>
  );
}

/** One stored version: what changed from it to the current version, and its document as exported. */
function VersionView({ workflow, version }: { workflow: Workflow; version: number }) {
  const { project, id } = workflow;
  const current = workflow.version;
  const { data, error } = useLoad(async (): Promise<{ diff: WorkflowDiff | null; text: string }> => {
    const spec = await api.version(project, id, version);
    const [diff, text] = await Promise.all([
      version === current ? null : api.versionDiff(project, id, version),
      api.exportDocument(spec, "yaml"),
    ]);
    return { diff, text };
  }, [project, id, version, current]);
  const lines = data?.diff ? diffLines(data.diff) : [];
  return (
    <section className="version-view" data-testid="version-view">
      <h3>{version === current ? `v${version} (the current version)` : `From v${version} to the current v${current}`}</h3>
      {error && <p className="text-danger">{error}</p>}
      {!data && !error && <p>Loading…</p>}
      {data?.diff && lines.length === 0 && <p data-testid="diff-identical">The same workflow as the current version.</p>}
      {lines.length > 0 && (
        <ul className="diff" data-testid="diff">
          {lines.map((line) => (
            <li key={`${line.what}-${line.kind}-${line.id}`} className={`diff-${line.kind}`} data-testid={`diff-${line.what}-${line.id}`}>
              <span className="diff-sign">{line.kind === "added" ? "+" : line.kind === "removed" ? "−" : "~"}</span> {line.what}{" "}
              {line.text}
              {line.details && line.details.length > 0 && (
                <ul>
                  {line.details.map((d) => (
                    <li key={d}>{d}</li>
                  ))}
                </ul>
              )}
            </li>
          ))}
        </ul>
      )}
      {data && (
        <details open={version === current}>
          <summary>Document of v{version}</summary>
          <pre className="version-doc" data-testid="version-doc">
            {data.text}
          </pre>
        </details>
      )}
    </section>
  );
}

// --- templates ------------------------------------------------------------------------------------

export function TemplatesDialog({
  canSaveCurrent,
  onUse,
  onSaveCurrent,
  onClose,
}: {
  canSaveCurrent: boolean;
  onUse: (template: TemplateOut) => Promise<void>;
  onSaveCurrent: (name: string, description: string, isPublic: boolean) => Promise<void>;
  onClose: () => void;
}) {
  const { data, error, reload } = useLoad(() => api.templates(), []);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [isPublic, setPublic] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  return (
    <Modal title="Template gallery" onClose={onClose} wide>
      {error && <p className="text-danger">{error}</p>}
      {!data && !error && <p>Loading…</p>}
      <div className="gallery">
        {data?.map((t) => (
          <div key={t.id} className="template-card" data-testid={`template-${t.slug}`}>
            <h3>{t.name}</h3>
            <p className="muted">{t.description}</p>
            <p className="small">
              {t.is_public ? "Public" : `Private · ${t.created_by}`} · {t.category} · {t.spec.nodes.length} nodes
            </p>
            <button type="button" onClick={() => onUse(t).catch((err: Error) => setMessage(err.message))}>
              Use template
            </button>
          </div>
        ))}
        {data?.length === 0 && <p>No templates yet.</p>}
      </div>
      <h3>Save the current workflow as a template</h3>
      {!canSaveCurrent && <p className="muted small">Save the workflow first.</p>}
      <div className="row">
        <input placeholder="Template name" value={name} onChange={(e) => setName(e.target.value)} disabled={!canSaveCurrent} />
        <input placeholder="Description" value={description} onChange={(e) => setDescription(e.target.value)} disabled={!canSaveCurrent} />
        <label className="checkbox">
          <input type="checkbox" checked={isPublic} onChange={(e) => setPublic(e.target.checked)} disabled={!canSaveCurrent} /> Public
        </label>
        <button
          type="button"
          disabled={!canSaveCurrent || !name.trim()}
          onClick={() =>
            onSaveCurrent(name.trim(), description, isPublic).then(
              () => {
                setMessage(`Saved template “${name.trim()}”.`);
                setName("");
                reload();
              },
              (err: Error) => setMessage(err.message),
            )
          }
        >
          Save as template
        </button>
      </div>
      {message && <p className="small">{message}</p>}
    </Modal>
  );
}

// --- import ---------------------------------------------------------------------------------------

export function ImportDialog({ onImport, onClose }: { onImport: (workflow: Workflow) => void; onClose: () => void }) {
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const tryImport = (source: string) => {
    try {
      onImport(importWorkflow(source));
    } catch (err) {
      setError(err instanceof ImportError ? err.message : String(err));
    }
  };
  return (
    <Modal title="Import a workflow (YAML or JSON)" onClose={onClose}>
      <input
        type="file"
        accept=".yaml,.yml,.json,application/json,text/yaml"
        data-testid="import-file"
        onChange={async (e) => {
          const file = e.target.files?.[0];
          if (file) tryImport(await file.text());
        }}
      />
      <p className="muted small">…or paste the document:</p>
      <textarea rows={12} value={text} onChange={(e) => setText(e.target.value)} data-testid="import-text" />
      {error && <p className="text-danger">{error}</p>}
      <button type="button" disabled={!text.trim()} onClick={() => tryImport(text)}>
        Import
      </button>
    </Modal>
  );
}

// --- dry run --------------------------------------------------------------------------------------

export function DryRunDialog({
  workflow,
  saved = false,
  loading = false,
  onClose,
}: {
  workflow: Workflow;
  saved?: boolean;
  /** The workflow the editor opens on is still loading: wait for it instead of compiling the placeholder. */
  loading?: boolean;
  onClose: () => void;
}) {
  if (loading) {
    return (
      <Modal title="Dry run: the DAG Airflow will run, and what it would post" onClose={onClose} wide>
        <p data-testid="dry-run-waiting">Loading the workflow…</p>
      </Modal>
    );
  }
  return <LoadedDryRunDialog workflow={workflow} saved={saved} onClose={onClose} />;
}

function LoadedDryRunDialog({ workflow, saved, onClose }: { workflow: Workflow; saved: boolean; onClose: () => void }) {
  const [problems, setProblems] = useState<string[]>([]);
  const { data, error } = useLoad<DryRunOut>(() => {
    setProblems([]); // the last compile's problems are not this one's
    return api.dryRun(workflow).catch((err) => {
      if (err instanceof ApiError) setProblems(err.problems.map((p) => `${p.node_id ?? p.edge_id ?? ""} ${p.field ?? ""}: ${p.message}`));
      throw err;
    });
  }, [JSON.stringify(workflow)]);
  return (
    <Modal title="Dry run: the DAG Airflow will run, and what it would post" onClose={onClose} wide>
      {error && <p className="text-danger">{error}</p>}
      {problems.length > 0 && (
        <ul className="problems">
          {problems.map((p, i) => (
            <li key={i}>{p}</li>
          ))}
        </ul>
      )}
      {!data && !error && <p>Compiling…</p>}
      {data && <DryRunView result={data} />}
      <h3>On a real event</h3>
      {saved ? (
        <EventDryRunPanel workflow={workflow} />
      ) : (
        <p className="muted small">Save the workflow first: a dry run on an event runs the saved version.</p>
      )}
    </Modal>
  );
}

/**
 * The saved version on a stored delivery, a past pull request or a typed event, enabled or not:
 * every code-host write is captured instead of sent, and listed here once the dry run finishes.
 */
export function EventDryRunPanel({ workflow }: { workflow: Workflow }) {
  const trigger = workflow.nodes.find((n) => n.type === "trigger");
  const [form, setForm] = useState<SourceForm>(() => ({
    kind: "delivery",
    delivery: "",
    pullRequest: "",
    repository: "",
    eventText: JSON.stringify(sampleEvent(trigger?.config.event as string | undefined), null, 2),
  }));
  const deliveries = useLoad(() => api.deliveries(workflow.project), [workflow.project]);
  const [dry, setDry] = useState<EventDryRun | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);

  useEffect(() => {
    if (!dry || isFinished(dry.state)) return;
    const timer = setTimeout(() => {
      api.eventDryRun(workflow.project, workflow.id, dry.run_id).then(setDry, (err: Error) => setError(err.message));
    }, POLL_DELAY_MS);
    return () => clearTimeout(timer);
  }, [dry, workflow.project, workflow.id]);

  const start = async () => {
    const parsed = dryRunSource(form);
    if ("error" in parsed) return setError(parsed.error);
    setError(null);
    setStarting(true);
    try {
      setDry(await api.startEventDryRun(workflow.project, workflow.id, parsed.source));
    } catch (err) {
      const problems = err instanceof ApiError ? err.problems.map((p) => p.message).join("; ") : "";
      setError(problems || (err as Error).message);
    } finally {
      setStarting(false);
    }
  };
  const set = (patch: Partial<SourceForm>) => setForm((f) => ({ ...f, ...patch }));
  return (
    <div data-testid="event-dry-run">
      <p className="muted small">
        Runs the saved version, enabled or not: reads from the code host are real, every write is captured and shown here, nothing is
        posted.
      </p>
      <div className="row">
        <select value={form.kind} onChange={(e) => set({ kind: e.target.value as SourceKind })} data-testid="dry-run-kind">
          <option value="delivery">Stored delivery</option>
          <option value="pull_request">Past pull request</option>
          <option value="event">Event (JSON)</option>
        </select>
        {form.kind === "delivery" && (
          <select value={form.delivery} onChange={(e) => set({ delivery: e.target.value })} data-testid="dry-run-delivery">
            <option value="">{deliveries.data?.length === 0 ? "No stored deliveries" : "Pick a delivery…"}</option>
            {deliveries.data?.map((d) => (
              <option key={d.id} value={String(d.id)}>
                #{d.id} {d.event}
                {d.action ? `.${d.action}` : ""} {d.repository ?? ""} · {when(d.received_at)}
              </option>
            ))}
          </select>
        )}
        {form.kind === "pull_request" && (
          <>
            <input placeholder="owner/name" value={form.repository} onChange={(e) => set({ repository: e.target.value })} data-testid="dry-run-repository" />
            <input placeholder="PR number" value={form.pullRequest} onChange={(e) => set({ pullRequest: e.target.value })} data-testid="dry-run-pr" />
          </>
        )}
        <button type="button" className="primary" onClick={() => void start()} disabled={starting || (!!dry && !isFinished(dry.state))} data-testid="start-dry-run">
          {starting ? "Starting…" : "Dry run on this event"}
        </button>
      </div>
      {form.kind === "event" && (
        <textarea rows={6} className="code" value={form.eventText} onChange={(e) => set({ eventText: e.target.value })} data-testid="dry-run-event" />
      )}
      {deliveries.error && <p className="text-danger small">{deliveries.error}</p>}
      {error && <p className="text-danger" data-testid="dry-run-error">{error}</p>}
      {dry && <EventDryRunView dry={dry} order={workflow.nodes.map((n) => n.id)} />}
    </div>
  );
}

export function EventDryRunView({ dry, order = [] }: { dry: EventDryRun; order?: string[] }) {
  const lines = dry.would_post ? writeLines(dry.would_post) : [];
  const rank = (id: string) => (order.includes(id) ? order.indexOf(id) : order.length);
  const nodes = Object.entries(dry.nodes ?? {}).sort(([a], [b]) => rank(a) - rank(b)); // the database keeps no key order
  return (
    <div className="run" data-testid="event-dry-run-result">
      <p>
        Dry run <code>{dry.run_id}</code>:{" "}
        <strong className={`state state-${dry.state}`} data-testid="event-dry-run-state">
          {dry.state}
        </strong>{" "}
        · {dry.writes_count} write(s) captured, none sent{" "}
        <a href={dry.url} target="_top">
          Open in the Airflow grid
        </a>
      </p>
      {dry.detail && <p className="small muted">{dry.detail}</p>}
      {nodes.length > 0 && (
        <ul className="list small">
          {nodes.map(([id, n]) => (
            <li key={id}>
              <code>{id}</code>: <span className={`state state-${n.state}`}>{n.state}</span>
              {n.error ? ` — ${n.error}` : n.reason ? ` — ${n.reason}` : ""}
            </li>
          ))}
        </ul>
      )}
      {isFinished(dry.state) && (
        <>
          <h3>Would have posted</h3>
          {lines.length === 0 ? (
            <p className="muted">Nothing: this run would have written nothing to the code host.</p>
          ) : (
            <table className="table" data-testid="would-post">
              <thead>
                <tr>
                  <th>What</th>
                  <th>Where</th>
                  <th>Says</th>
                </tr>
              </thead>
              <tbody>
                {lines.map((l, i) => (
                  <tr key={i}>
                    <td>{l.kind}</td>
                    <td>
                      <code>{l.where}</code>
                    </td>
                    <td className="small">{l.text}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </div>
  );
}

export function DryRunView({ result }: { result: DryRunOut }) {
  const { dag_id, schedule, tasks, ...rest } = result;
  const extras = Object.entries(rest).filter(([k]) => !["branches"].includes(k));
  return (
    <div data-testid="dry-run">
      <p>
        DAG <code>{dag_id}</code> · schedule <code>{schedule ?? "none (runs when triggered)"}</code>
      </p>
      <table className="table">
        <thead>
          <tr>
            <th>Task</th>
            <th>Kind</th>
            <th>Runs after</th>
            <th>Details</th>
          </tr>
        </thead>
        <tbody>
          {tasks.map((t) => {
            const { task_id, node_type, type, operator, upstream, downstream: _d, ...details } = t;
            return (
              <tr key={task_id}>
                <td>
                  <code>{task_id}</code>
                </td>
                <td>{[node_type ?? type, operator].filter(Boolean).join(" · ")}</td>
                <td>{(upstream ?? []).join(", ")}</td>
                <td className="small">
                  {Object.entries(details)
                    .filter(([, v]) => v !== null && v !== undefined && v !== "")
                    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
                    .join(" · ")}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {result.branches !== undefined && (
        <>
          <h3>Branches</h3>
          <pre className="code">{JSON.stringify(result.branches, null, 2)}</pre>
        </>
      )}
      {extras.length > 0 && <pre className="code small">{JSON.stringify(Object.fromEntries(extras), null, 2)}</pre>}
    </div>
  );
}

// --- run ------------------------------------------------------------------------------------------

export function RunDialog({
  workflow,
  config,
  onStates,
  onClose,
}: {
  workflow: Workflow;
  config: EditorConfig | null;
  onStates: (states: Map<string, string | null>) => void;
  onClose: () => void;
}) {
  const trigger = workflow.nodes.find((n) => n.type === "trigger");
  const triggerEvent = trigger?.config.event as string | undefined;
  const [eventText, setEventText] = useState(() => JSON.stringify(sampleEvent(triggerEvent), null, 2));
  const [prefill, setPrefill] = useState<DeliveryOut | null>(null);
  const edited = useRef(false);
  useEffect(() => {
    // A pull-request workflow starts from the project's newest stored pull-request delivery, if any.
    if (!readsPullRequest(triggerEvent)) return;
    let gone = false;
    api
      .deliveries(workflow.project)
      .then((list) => {
        const newest = newestPullRequestDelivery(list);
        return newest ? api.delivery(newest.id) : null;
      })
      .then(
        (detail) => {
          const event = detail && eventFromPullRequest(detail.payload, triggerEvent!, detail.delivery_id);
          if (gone || !detail || !event || edited.current) return;
          setEventText(JSON.stringify(event, null, 2));
          setPrefill(detail);
        },
        () => undefined, // no deliveries to read: the example stays
      );
    return () => {
      gone = true;
    };
  }, [workflow.project, triggerEvent]);
  const recent = useLoad(() => api.runs(workflow.project, workflow.id), [workflow.project, workflow.id]);
  const { run, error, starting, start } = useRunPolling(workflow, onStates, recent.reload);

  const dashboard = config?.dashboard_url ? `${config.dashboard_url}/?project=${encodeURIComponent(workflow.project)}` : null;
  return (
    <Modal title={`Run ${workflow.name}`} onClose={onClose} wide>
      <label className="field-label" htmlFor="run-event">
        Event (the run's <code>conf.event</code>; edit the repository and ref to check)
      </label>
      <textarea
        id="run-event"
        rows={8}
        value={eventText}
        onChange={(e) => {
          edited.current = true;
          setEventText(e.target.value);
        }}
        className="code"
      />
      {prefill ? (
        <p className="muted small" data-testid="run-event-source">
          From the newest stored pull-request delivery: #{prefill.id} {prefill.event}
          {prefill.action ? `.${prefill.action}` : ""} {prefill.repository ?? ""} · {when(prefill.received_at)}
        </p>
      ) : (
        readsPullRequest(triggerEvent) && <p className="muted small">An example: no pull-request delivery is stored for this project yet.</p>
      )}
      <div className="row">
        <button type="button" className="primary" onClick={() => void start(eventText)} disabled={starting} data-testid="start-run">
          {starting ? "Starting…" : "Start run"}
        </button>
        {dashboard && (
          <a href={dashboard} target="_blank" rel="noreferrer">
            Live dashboard ↗
          </a>
        )}
      </div>
      {error && <p className="text-danger">{error}</p>}
      {run && (
        <div className="run" data-testid="run-status">
          <p>
            Run <code>{run.run_id}</code> of DAG <code>{run.dag_id}</code>:{" "}
            <strong className={`state state-${run.state ?? "queued"}`} data-testid="run-state">
              {run.state ?? "queued"}
            </strong>{" "}
            <a href={run.url} target="_top" data-testid="run-grid-link">
              Open in the Airflow grid
            </a>
          </p>
          {"nodes" in run && (
            <ul className="list">
              {run.nodes.map((n) => {
                const line = nodeLine(n);
                return (
                  <li key={n.node_id}>
                    <code>{n.node_id}</code>: <span className={`state state-${n.state ?? "none"}`}>{line.state}</span>{" "}
                    <a href={line.log} target="_top" data-testid={`node-log-${n.node_id}`}>
                      log
                    </a>
                    {line.reason && (
                      <pre className="code small text-danger" data-testid={`node-reason-${n.node_id}`}>
                        {line.reason}
                      </pre>
                    )}
                  </li>
                );
              })}
            </ul>
          )}
        </div>
      )}
      <h3>Recent runs</h3>
      {recent.error && <p className="text-danger small">{recent.error}</p>}
      <ul className="list small">
        {recent.data?.map((r) => (
          <li key={r.run_id}>
            <a href={r.url} target="_top">
              {r.run_id}
            </a>{" "}
            <span className={`state state-${r.state}`}>{r.state}</span> {when(r.start_date ?? r.queued_at)}
          </li>
        ))}
        {recent.data?.length === 0 && <li className="muted">No runs yet.</li>}
      </ul>
    </Modal>
  );
}
