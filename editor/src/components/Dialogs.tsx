/**
 * The editor's dialogs: open, versions, templates, import, dry run and run.
 * Each loads what it shows from the platform API when it opens.
 */
import { useCallback, useEffect, useState } from "react";
import {
  ApiError,
  api,
  type DryRunOut,
  type EditorConfig,
  type TemplateOut,
  type VersionOut,
  type WorkflowSummary,
} from "../api/client";
import { useRunPolling } from "../hooks/useRunPolling";
import { ImportError, importWorkflow } from "../model/io";
import type { Workflow } from "../model/types";
import { sampleEvent } from "../state/runs";
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

export function OpenDialog({ project, onOpen, onClose }: { project: string; onOpen: (slug: string) => void; onClose: () => void }) {
  const { data, error } = useLoad(() => api.listWorkflows(project), [project]);
  return (
    <Modal title={`Workflows in ${project}`} onClose={onClose}>
      {error && <p className="text-danger">{error}</p>}
      {!data && !error && <p>Loading…</p>}
      {data?.length === 0 && <p>No workflows yet in this project.</p>}
      <ul className="list">
        {data?.map((w: WorkflowSummary) => (
          <li key={w.id}>
            <button type="button" className="link" onClick={() => onOpen(w.id)}>
              {w.name}
            </button>{" "}
            <span className="muted small">
              {w.id} · v{w.current_version} {w.enabled === false ? "· disabled" : ""} · {when(w.updated_at)}
            </span>
          </li>
        ))}
      </ul>
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
  const versions = data ? [...data].sort((a, b) => b.version - a.version) : null;
  return (
    <Modal title={`Version history of ${workflow.name}`} onClose={onClose}>
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
            <tr key={v.version} data-testid={`version-${v.version}`}>
              <td>v{v.version}</td>
              <td>{when(v.created_at)}</td>
              <td>{v.created_by}</td>
              <td>{v.comment}</td>
              <td>
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
      <p className="muted small">Restoring saves the old version's content as a new version; nothing is lost.</p>
    </Modal>
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

export function DryRunDialog({ workflow, onClose }: { workflow: Workflow; onClose: () => void }) {
  const [problems, setProblems] = useState<string[]>([]);
  const { data, error } = useLoad<DryRunOut>(
    () =>
      api.dryRun(workflow).catch((err) => {
        if (err instanceof ApiError) setProblems(err.problems.map((p) => `${p.node_id ?? p.edge_id ?? ""} ${p.field ?? ""}: ${p.message}`));
        throw err;
      }),
    [JSON.stringify(workflow)],
  );
  return (
    <Modal title="Dry run: the DAG Airflow will run" onClose={onClose} wide>
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
    </Modal>
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
  const [eventText, setEventText] = useState(() => JSON.stringify(sampleEvent(trigger?.config.event as string | undefined), null, 2));
  const recent = useLoad(() => api.runs(workflow.project, workflow.id), [workflow.project, workflow.id]);
  const { run, error, starting, start } = useRunPolling(workflow, onStates, recent.reload);

  const dashboard = config?.dashboard_url ? `${config.dashboard_url}/?project=${encodeURIComponent(workflow.project)}` : null;
  return (
    <Modal title={`Run ${workflow.name}`} onClose={onClose} wide>
      <label className="field-label" htmlFor="run-event">
        Event (the run's <code>conf.event</code>; edit the repository and ref to check)
      </label>
      <textarea id="run-event" rows={8} value={eventText} onChange={(e) => setEventText(e.target.value)} className="code" />
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
              {run.nodes.map((n) => (
                <li key={n.node_id}>
                  <code>{n.node_id}</code>: <span className={`state state-${n.state ?? "none"}`}>{n.state ?? "no status"}</span>{" "}
                  <a href={n.url} target="_top">
                    log
                  </a>
                </li>
              ))}
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
