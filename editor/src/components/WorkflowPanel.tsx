/**
 * The side panel when no node is selected: the workflow's own fields and
 * every problem the validator found (click one to select its node).
 */
import type { ProjectOut } from "../api/client";
import type { WorkflowMeta } from "../model/serialize";
import { slugify } from "../model/slug";
import { projectLabel } from "../state/projects";
import type { ValidationProblem } from "../model/types";

export interface WorkflowPanelProps {
  meta: WorkflowMeta;
  saved: boolean;
  projects: ProjectOut[];
  problems: ValidationProblem[];
  readOnly?: boolean;
  onMeta: (patch: Partial<WorkflowMeta>, field: string) => void;
  onSelectProblem: (p: ValidationProblem) => void;
  onCreateProject: () => void;
}

export function WorkflowPanel({ meta, saved, projects, problems, readOnly, onMeta, onSelectProblem, onCreateProject }: WorkflowPanelProps) {
  const headerProblems = (field: string) => problems.filter((p) => !p.node_id && !p.edge_id && p.field === field);
  const fieldError = (field: string) =>
    headerProblems(field).map((p, i) => (
      <p key={i} className="text-danger small">
        {p.message}
      </p>
    ));
  return (
    <div className="workflow-panel" data-testid="workflow-panel">
      <h2>Workflow</h2>
      <label className="field-label" htmlFor="wf-name">
        Name
      </label>
      <input
        id="wf-name"
        value={meta.name}
        disabled={readOnly}
        onChange={(e) => {
          const name = e.target.value;
          const patch: Partial<WorkflowMeta> = { name };
          // Until the first save the id follows the name; afterwards it is the workflow's address.
          if (!saved && (meta.id === "" || meta.id === slugify(meta.name))) patch.id = slugify(name);
          onMeta(patch, "name");
        }}
      />
      {fieldError("name")}
      <label className="field-label" htmlFor="wf-id">
        Id
      </label>
      <input
        id="wf-id"
        value={meta.id}
        disabled={readOnly || saved}
        title={saved ? "The id of a saved workflow is its address and cannot change" : "lower-case letters, digits, '-' and '_'"}
        onChange={(e) => onMeta({ id: e.target.value }, "id")}
      />
      {fieldError("id")}
      <label className="field-label" htmlFor="wf-project">
        Project
      </label>
      <div className="row">
        <select
          id="wf-project"
          value={meta.project}
          disabled={readOnly || saved}
          onChange={(e) => onMeta({ project: e.target.value }, "project")}
        >
          {!projects.some((p) => p.slug === meta.project) && <option value={meta.project}>{meta.project}</option>}
          {projects.map((p) => (
            <option key={p.slug} value={p.slug} disabled={p.role === "viewer"}>
              {projectLabel(p)} · {p.role}
            </option>
          ))}
        </select>
        {!saved && (
          <button type="button" onClick={onCreateProject} disabled={readOnly}>
            New…
          </button>
        )}
      </div>
      {fieldError("project")}
      <label className="field-label" htmlFor="wf-description">
        Description
      </label>
      <textarea
        id="wf-description"
        rows={3}
        value={meta.description}
        disabled={readOnly}
        onChange={(e) => onMeta({ description: e.target.value }, "description")}
      />
      <label className="checkbox">
        <input type="checkbox" checked={meta.enabled} disabled={readOnly} onChange={(e) => onMeta({ enabled: e.target.checked }, "enabled")} />
        Enabled (runs on its trigger)
      </label>

      <h3>Problems</h3>
      {problems.length === 0 ? (
        <p className="ok" data-testid="no-problems">
          ✓ No problems
        </p>
      ) : (
        <ul className="problems" data-testid="problem-list">
          {problems.map((p, i) => (
            <li key={i}>
              <button type="button" className="link" onClick={() => onSelectProblem(p)}>
                {p.node_id ? `node ${p.node_id}` : p.edge_id ? `edge ${p.edge_id}` : "workflow"}
                {p.field ? ` · ${p.field}` : ""}
              </button>
              : {p.message}
            </li>
          ))}
        </ul>
      )}

      <h3>Keyboard</h3>
      <dl className="shortcuts">
        <dt>Ctrl+S</dt>
        <dd>Save</dd>
        <dt>Ctrl+Z / Ctrl+Shift+Z</dt>
        <dd>Undo / redo</dd>
        <dt>Ctrl+C / Ctrl+V / Ctrl+D</dt>
        <dd>Copy / paste / duplicate</dd>
        <dt>Del</dt>
        <dd>Delete selection</dd>
        <dt>Ctrl+L</dt>
        <dd>Auto-layout</dd>
      </dl>
    </div>
  );
}
