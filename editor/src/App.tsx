/**
 * The workflow editor: palette, canvas, side panel, toolbar and dialogs.
 *
 * This component is layout and wiring.  All graph edits go through the pure
 * reducer in state/editor.ts; each other concern is a hook in hooks/ with
 * its decisions in state/: server validation, local drafts, saving with
 * If-Match, which workflow is open, the keyboard and clipboard, placing and
 * connecting nodes, and (in the run dialog) polling a run's states.
 */
import { Background, Controls, MiniMap, ReactFlow, ReactFlowProvider } from "@xyflow/react";
import { useCallback, useMemo, useRef, useState } from "react";
import { ApiError, api, type ImportErrorOut } from "./api/client";
import { Palette } from "./components/Palette";
import { NodeStatusContext, nodeTypes } from "./components/NodeCard";
import { ConnectionsContext, NodeForm } from "./components/NodeForm";
import { QuestionDialog } from "./components/QuestionDialog";
import { WorkflowPanel } from "./components/WorkflowPanel";
import { DryRunDialog, ImportDialog, OpenDialog, ProjectDialog, RunDialog, TemplatesDialog, VersionsDialog } from "./components/Dialogs";
import { useClipboard } from "./hooks/useClipboard";
import { useConnecting } from "./hooks/useConnecting";
import { useDrafts } from "./hooks/useDrafts";
import { useEditorConfig } from "./hooks/useEditorConfig";
import { useEditorState } from "./hooks/useEditorState";
import { useFitView } from "./hooks/useFitView";
import { useLeaveGuard } from "./hooks/useLeaveGuard";
import { useNodePlacement } from "./hooks/useNodePlacement";
import { useProjects } from "./hooks/useProjects";
import { useQuestion } from "./hooks/useQuestion";
import { useSave } from "./hooks/useSave";
import { useShortcuts } from "./hooks/useShortcuts";
import { useToasts } from "./hooks/useToasts";
import { useValidation } from "./hooks/useValidation";
import { useWorkflowSelection } from "./hooks/useWorkflowSelection";
import { exportFileName, exportWorkflow, type ExportFormat } from "./model/io";
import type { NodeTypeEntry } from "./model/schema";
import { type Workflow, emptyWorkflow } from "./model/types";
import { nodeOfProblem } from "./state/canvas";
import { importErrorSummary } from "./state/runs";
import { complete } from "./state/document";
import { currentLocation, isReadOnly } from "./state/location";
import { canDryRun } from "./state/startup";
import { displayEdges, validationLabel } from "./state/validation";

type DialogName = "open" | "versions" | "templates" | "import" | "dryrun" | "run" | null;

/** Offer `text` as a file download. */
function download(text: string, workflow: Workflow, format: ExportFormat) {
  const blob = new Blob([text], { type: format === "json" ? "application/json" : "application/yaml" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = exportFileName(workflow, format);
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

export function App() {
  return (
    <ReactFlowProvider>
      <Editor />
    </ReactFlowProvider>
  );
}

function Editor() {
  const store = useEditorState(() => emptyWorkflow(currentLocation().project ?? "default"));
  const { state, dispatch, stateRef, workflow, dirty, saved } = store;
  const canvasRef = useRef<HTMLDivElement>(null);

  const { toasts, toast, fail } = useToasts();
  const { question, ask, answer } = useQuestion();
  const confirmDiscard = useLeaveGuard(stateRef, ask);
  const requestFit = useFitView();
  const { schemas, config, connections } = useEditorConfig(fail);
  const projects = useProjects();
  const createProjectNamed = projects.create;
  const readOnly = isReadOnly(projects.projects, state.meta.project);

  const [dialog, setDialog] = useState<DialogName>(null);
  const closeDialog = useCallback(() => setDialog(null), []);
  const [projectDialog, setProjectDialog] = useState(false);
  const [runStates, setRunStates] = useState<Map<string, string | null>>(new Map());

  const validation = useValidation(store.workflowJson);
  const { problems, setProblems, problemsByNode, problemsByEdge } = validation;
  const [importError, setImportError] = useState<ImportErrorOut | null>(null);
  const forgetStatus = useCallback(() => {
    setProblems([]);
    setRunStates(new Map());
    setImportError(null);
  }, [setProblems]);

  const drafts = useDrafts(store, requestFit);
  const selection = useWorkflowSelection({ store, projects, drafts, confirmDiscard, forgetStatus, closeDialog, requestFit, toast, fail, onImportError: setImportError });
  const { save, saving, conflict, dismissConflict, saveAsTemplate } = useSave({ store, readOnly, drafts, onInvalid: setProblems, toast, fail });
  const placement = useNodePlacement(store, canvasRef, readOnly, requestFit);
  const connecting = useConnecting(store);
  const clipboard = useClipboard(store, toast);

  /** Export as the platform does (what differs from the defaults); a workflow it cannot read yet goes out as it is. */
  const exportAs = useCallback(
    async (format: ExportFormat) => {
      const doc = complete(workflow);
      let text: string;
      try {
        text = await api.exportDocument(doc, format);
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 422)) return fail("Export", err);
        text = exportWorkflow(doc, format);
        toast("Exported as it is, every field written out: the workflow has problems, so the platform cannot shorten it");
      }
      download(text, doc, format);
    },
    [workflow, toast, fail],
  );

  const undo = useCallback(() => dispatch({ type: "undo" }), [dispatch]);
  const redo = useCallback(() => dispatch({ type: "redo" }), [dispatch]);
  const deleteSelection = useCallback(() => dispatch({ type: "deleteSelection" }), [dispatch]);
  useShortcuts({
    dialogOpen: dialog !== null,
    readOnly,
    commands: { save: () => void save(), undo, redo, duplicate: clipboard.duplicate, layout: placement.layout, deleteSelection },
    copy: clipboard.copy,
    paste: clipboard.paste,
  });

  const createProject = useCallback(
    async (slug: string, name: string) => {
      const project = await createProjectNamed(slug, name);
      dispatch({ type: "setMeta", patch: { project: project.slug } });
      setProjectDialog(false);
    },
    [createProjectNamed, dispatch],
  );

  /** Resolve a save conflict by loading the stored version, keeping the canvas as a draft offered back. */
  const loadTheirs = async () => {
    if (!(await confirmDiscard())) return;
    drafts.keepNow();
    dismissConflict();
    selection.open(state.meta.project, state.meta.id).catch((err) => fail("Reload failed", err));
  };

  const edges = useMemo(() => displayEdges(state.edges, problemsByEdge), [state.edges, problemsByEdge]);
  const selected = state.nodes.filter((n) => n.selected);
  const selectedNode = selected.length === 1 ? selected[0] : null;
  const statusValue = useMemo(() => ({ problems: problemsByNode, runStates }), [problemsByNode, runStates]);
  const needsSaveFirst = !saved || dirty;

  return (
    <NodeStatusContext.Provider value={statusValue}>
      <ConnectionsContext.Provider value={connections}>
      <div className="editor">
        <header className="toolbar" role="toolbar" aria-label="Workflow actions">
          <strong className="title" title={state.meta.id}>
            {state.meta.name || "Untitled"}
            {saved && <span className="version"> v{state.meta.version}</span>}
            {dirty && <span className="dirty" title="Unsaved changes"> ●</span>}
          </strong>
          <button type="button" onClick={selection.startNew}>
            New
          </button>
          <button type="button" onClick={async () => (await confirmDiscard()) && setDialog("open")}>
            Open
          </button>
          <button type="button" onClick={() => setDialog("templates")}>
            Templates
          </button>
          <span className="sep" />
          <button type="button" onClick={undo} disabled={!store.canUndo} title="Undo (Ctrl+Z)">
            Undo
          </button>
          <button type="button" onClick={redo} disabled={!store.canRedo} title="Redo (Ctrl+Shift+Z)">
            Redo
          </button>
          <button type="button" onClick={placement.layout} title="Auto-layout (Ctrl+L)">
            Auto-layout
          </button>
          <span className="sep" />
          <button type="button" onClick={() => setDialog("import")}>
            Import
          </button>
          <button type="button" onClick={() => void exportAs("yaml")}>
            Export YAML
          </button>
          <button type="button" onClick={() => void exportAs("json")}>
            Export JSON
          </button>
          <span className="sep" />
          <button type="button" onClick={() => setDialog("dryrun")} disabled={!canDryRun(selection.loading, problems.length)} title="Show the DAG the compiler makes, and what the saved version would post on a real event">
            Dry run
          </button>
          <button type="button" onClick={() => setDialog("versions")} disabled={!saved}>
            Versions
          </button>
          <button
            type="button"
            onClick={() => setDialog("run")}
            disabled={needsSaveFirst}
            title={needsSaveFirst ? "Save first: runs use the saved version" : "Run the saved workflow"}
          >
            Run
          </button>
          <button type="button" className="primary" onClick={() => void save()} disabled={saving || readOnly || (!dirty && saved)} title="Save (Ctrl+S)">
            {saving ? "Saving…" : "Save"}
          </button>
        </header>

        {drafts.offer && (
          <div className="banner" data-testid="draft-banner">
            An unsaved draft from {new Date(drafts.offer.savedAt).toLocaleString()} is in this browser.
            <button type="button" onClick={drafts.restore}>
              Restore draft
            </button>
            <button type="button" onClick={drafts.discard}>
              Discard
            </button>
          </div>
        )}
        {importError && (
          <div className="banner error" data-testid="import-error-banner">
            Airflow cannot load this workflow ({importErrorSummary(importError.message)}): it does not run and webhooks cannot
            start it until a fixed version is saved.
            <details>
              <summary>{importError.filename}</summary>
              <pre className="code small">{importError.message}</pre>
            </details>
          </div>
        )}
        {conflict && (
          <div className="banner error" data-testid="conflict-banner">
            Not saved: {conflict.replace(/\.+$/, "")}. Someone saved this workflow after you opened it; your changes are kept as a draft.
            <button type="button" onClick={loadTheirs}>
              Load their version
            </button>
          </div>
        )}

        <div className="main">
          <Palette onAdd={(entry) => placement.addNode(entry)} disabled={readOnly} />
          <div className="canvas" ref={canvasRef} onDragOver={placement.onDragOver} onDrop={placement.onDrop}>
            <ReactFlow
              nodes={state.nodes}
              edges={edges}
              nodeTypes={nodeTypes}
              onNodesChange={(changes) => dispatch({ type: "nodesChange", changes })}
              onEdgesChange={(changes) => dispatch({ type: "edgesChange", changes })}
              onConnect={connecting.onConnect}
              isValidConnection={connecting.isValidConnection}
              deleteKeyCode={null}
              nodesDraggable={!readOnly}
              nodesConnectable={!readOnly}
              minZoom={0.2}
              maxZoom={2}
              proOptions={{ hideAttribution: true }}
            >
              <Background gap={16} />
              <MiniMap pannable zoomable nodeStrokeWidth={3} />
              <Controls />
            </ReactFlow>
            {state.nodes.length === 0 && (
              <div className="empty-hint">Drag a trigger from the palette to start, or open the template gallery.</div>
            )}
          </div>
          <aside className="side" aria-label="Properties">
            {selectedNode ? (
              <NodeForm
                key={selectedNode.id}
                node={selectedNode}
                typeEntry={schemas?.[selectedNode.type!] as NodeTypeEntry | undefined}
                problems={problemsByNode.get(selectedNode.id) ?? []}
                readOnly={readOnly}
                onConfig={(config, field) => dispatch({ type: "updateNode", id: selectedNode.id, config, field })}
                onLabel={(label) => dispatch({ type: "updateNode", id: selectedNode.id, label })}
                onDelete={deleteSelection}
                onDuplicate={clipboard.duplicate}
              />
            ) : selected.length > 1 ? (
              <div className="multi">
                <h2>{selected.length} nodes selected</h2>
                <button type="button" onClick={clipboard.duplicate}>
                  Duplicate
                </button>{" "}
                <button type="button" className="danger" onClick={deleteSelection}>
                  Delete
                </button>
              </div>
            ) : (
              <WorkflowPanel
                meta={state.meta}
                saved={saved}
                projects={projects.projects}
                problems={problems}
                readOnly={readOnly}
                onMeta={(patch, field) => dispatch({ type: "setMeta", patch, field })}
                onCreateProject={() => setProjectDialog(true)}
                onSelectProblem={(p) => {
                  const nodeId = nodeOfProblem(p, state.edges);
                  if (!nodeId) return;
                  dispatch({
                    type: "nodesChange",
                    changes: state.nodes.map((n) => ({ type: "select" as const, id: n.id, selected: n.id === nodeId })),
                  });
                }}
              />
            )}
          </aside>
        </div>

        <footer className="status" data-testid="status">
          <span data-testid="validation-status" className={problems.length ? "bad" : "good"}>
            {validationLabel(validation.status, problems.length)}
          </span>
          {connecting.hint && <span className="hint-text">{connecting.hint}</span>}
          <span className="spacer" />
          {readOnly && <span>Read-only (viewer)</span>}
          <span data-testid="save-status">
            {dirty ? `Unsaved changes${drafts.savedAt ? ` · draft kept ${new Date(drafts.savedAt).toLocaleTimeString()}` : ""}` : saved ? `Saved · v${state.meta.version}` : "New workflow"}
          </span>
        </footer>

        <div className="toasts" aria-live="polite">
          {toasts.map((t) => (
            <div key={t.id} className={`toast ${t.kind}`}>
              {t.text}
            </div>
          ))}
        </div>

        {question && <QuestionDialog question={question} onAnswer={answer} />}
        {projectDialog && <ProjectDialog onCreate={createProject} onClose={() => setProjectDialog(false)} />}
        {dialog === "open" && (
          <OpenDialog
            project={state.meta.project}
            projects={projects.projects}
            onClose={closeDialog}
            onOpen={(project, slug) => {
              closeDialog();
              selection.open(project, slug).catch((err) => fail(`Cannot open ${slug}`, err));
            }}
          />
        )}
        {dialog === "versions" && <VersionsDialog workflow={workflow} onRestore={selection.restore} onClose={closeDialog} />}
        {dialog === "templates" && (
          <TemplatesDialog canSaveCurrent={saved && !dirty} onUse={selection.startFromTemplate} onSaveCurrent={saveAsTemplate} onClose={closeDialog} />
        )}
        {dialog === "import" && <ImportDialog onImport={selection.importDoc} onClose={closeDialog} />}
        {dialog === "dryrun" && <DryRunDialog workflow={complete(workflow)} saved={saved && !dirty} loading={selection.loading} onClose={closeDialog} />}
        {dialog === "run" && <RunDialog workflow={workflow} config={config} onStates={setRunStates} onClose={closeDialog} />}
      </div>
      </ConnectionsContext.Provider>
    </NodeStatusContext.Provider>
  );
}
