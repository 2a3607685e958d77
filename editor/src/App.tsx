/**
 * The workflow editor: palette, canvas, side panel, toolbar and dialogs.
 *
 * All graph edits go through the pure reducer in state/editor.ts; this
 * component wires it to React Flow, the platform API (validate on every
 * change, save with If-Match, versions, templates, runs, dry run), the
 * clipboard, the keyboard and the browser's storage (draft autosave).
 */
import {
  Background,
  Controls,
  MarkerType,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type Connection,
  type Edge,
  type IsValidConnection,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import {
  ApiError,
  api,
  type EditorConfig,
  type NodeTypeSchemas,
  type ProjectOut,
  type TemplateOut,
} from "./api/client";
import { DRAG_MIME, Palette } from "./components/Palette";
import { NodeStatusContext, nodeTypes } from "./components/NodeCard";
import { NodeForm } from "./components/NodeForm";
import { WorkflowPanel, slugify } from "./components/WorkflowPanel";
import { DryRunDialog, ImportDialog, OpenDialog, ProjectDialog, RunDialog, TemplatesDialog, VersionsDialog } from "./components/Dialogs";
import { Modal } from "./components/Modal";
import { type PaletteEntry, defaultLabel, idBase, paletteEntry } from "./model/catalogue";
import { ClipboardError, copySelection, parseFragment, pasteFragment, type Fragment } from "./model/clipboard";
import { type Draft, clearDraft, loadDraft, saveDraft } from "./model/drafts";
import { canRedo, canUndo } from "./model/history";
import { exportFileName, exportWorkflow, type ExportFormat } from "./model/io";
import { NODE_HEIGHT, NODE_WIDTH, autoLayout } from "./model/layout";
import { checkConnection } from "./model/rules";
import type { NodeTypeEntry } from "./model/schema";
import { branchOfHandle, nextNodeId } from "./model/serialize";
import { type ValidationProblem, type Workflow, emptyWorkflow } from "./model/types";
import { currentWorkflow, editorReducer, initialState, isDirty } from "./state/editor";

type DialogName = "open" | "versions" | "templates" | "import" | "dryrun" | "run" | null;

interface Toast {
  id: number;
  text: string;
  kind: "info" | "error";
}

const VALIDATE_DELAY_MS = 300;
const DRAFT_DELAY_MS = 800;

function isEditable(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
}

function urlParams(): { project: string | null; workflow: string | null } {
  const params = new URLSearchParams(window.location.search);
  return { project: params.get("project"), workflow: params.get("workflow") };
}

function setUrl(project: string, workflow: string | null) {
  const params = new URLSearchParams({ project });
  if (workflow) params.set("workflow", workflow);
  window.history.replaceState(null, "", `${window.location.pathname}?${params}`);
}

const draftSlot = (project: string, id: string, saved: boolean) => (saved ? `${project}/${id}` : null);

export function App() {
  return (
    <ReactFlowProvider>
      <Editor />
    </ReactFlowProvider>
  );
}

function Editor() {
  const [state, dispatch] = useReducer(editorReducer, undefined, () => initialState(emptyWorkflow(urlParams().project ?? "default")));
  const stateRef = useRef(state);
  stateRef.current = state;
  const rf = useReactFlow();
  const canvasRef = useRef<HTMLDivElement>(null);

  const [schemas, setSchemas] = useState<NodeTypeSchemas | null>(null);
  const [projects, setProjects] = useState<ProjectOut[]>([]);
  const [config, setConfig] = useState<EditorConfig | null>(null);
  const [problems, setProblems] = useState<ValidationProblem[]>([]);
  const [validation, setValidation] = useState<"idle" | "checking" | "done" | "unavailable">("idle");
  const [dialog, setDialog] = useState<DialogName>(null);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [draftOffer, setDraftOffer] = useState<Draft | null>(null);
  const [draftSavedAt, setDraftSavedAt] = useState<number | null>(null);
  const [runStates, setRunStates] = useState<Map<string, string | null>>(new Map());
  const [saving, setSaving] = useState(false);
  const [conflict, setConflict] = useState<string | null>(null);
  const [hint, setHint] = useState<string | null>(null);
  const [fitRequest, setFitRequest] = useState(0);
  const clipboard = useRef<Fragment | null>(null);

  const workflow = useMemo(() => currentWorkflow(state), [state]);
  const workflowJson = useMemo(() => JSON.stringify(workflow), [workflow]);
  const dirty = isDirty(state);
  const saved = state.etag !== null;
  const role = projects.find((p) => p.slug === state.meta.project)?.role;
  const readOnly = role === "viewer";

  const toast = useCallback((text: string, kind: Toast["kind"] = "info") => {
    const id = Date.now() + Math.random();
    setToasts((t) => [...t, { id, text, kind }]);
    window.setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), kind === "error" ? 8000 : 4000);
  }, []);

  const fail = useCallback((what: string, err: unknown) => toast(`${what}: ${(err as Error).message}`, "error"), [toast]);

  // --- loading -------------------------------------------------------------------------------------

  const offerDraft = useCallback((slot: string | null, baseline: Workflow) => {
    const draft = loadDraft(window.localStorage, slot);
    const strip = (w: Workflow) => JSON.stringify({ ...w, version: 0 });
    if (draft && strip(draft.workflow) !== strip(baseline) && draft.workflow.nodes.length > 0) setDraftOffer(draft);
    else setDraftOffer(null);
  }, []);

  const openWorkflow = useCallback(
    async (project: string, slug: string) => {
      const { workflow: loaded, etag } = await api.getWorkflow(project, slug);
      dispatch({ type: "load", workflow: loaded, etag, saved: true });
      setProblems([]);
      setRunStates(new Map());
      setUrl(loaded.project, loaded.id);
      setFitRequest((n) => n + 1);
      offerDraft(draftSlot(loaded.project, loaded.id, true), loaded);
    },
    [offerDraft],
  );

  useEffect(() => {
    api.nodeTypes().then(setSchemas, (err) => fail("Cannot load node schemas", err));
    api.editorConfig().then(setConfig, () => setConfig(null));
    const { project, workflow: slug } = urlParams();
    api.projects().then(
      (list) => {
        setProjects(list);
        const chosen = project ?? list.find((p) => p.role !== "viewer")?.slug ?? list[0]?.slug ?? "default";
        if (slug) {
          openWorkflow(chosen, slug).catch((err) => fail(`Cannot open ${slug}`, err));
        } else {
          const blank = emptyWorkflow(chosen);
          dispatch({ type: "load", workflow: blank, saved: true, etag: null });
          offerDraft(null, blank);
        }
      },
      (err) => fail("Cannot load your projects", err),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    if (fitRequest > 0) window.setTimeout(() => rf.fitView({ padding: 0.2, duration: 200 }), 50);
  }, [fitRequest, rf]);

  // --- server validation on every change -----------------------------------------------------------

  const validateSeq = useRef(0);
  useEffect(() => {
    const seq = ++validateSeq.current;
    setValidation("checking");
    const timer = window.setTimeout(() => {
      const doc = JSON.parse(workflowJson) as Workflow;
      if (!doc.id) doc.id = slugify(doc.name);
      if (doc.version < 1) doc.version = 1;
      api.validate(doc).then(
        (found) => {
          if (seq !== validateSeq.current) return;
          setProblems(found);
          setValidation("done");
        },
        () => seq === validateSeq.current && setValidation("unavailable"),
      );
    }, VALIDATE_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [workflowJson]);

  const problemsByNode = useMemo(() => {
    const map = new Map<string, ValidationProblem[]>();
    for (const p of problems) if (p.node_id) map.set(p.node_id, [...(map.get(p.node_id) ?? []), p]);
    return map;
  }, [problems]);
  const problemsByEdge = useMemo(() => {
    const map = new Map<string, ValidationProblem[]>();
    for (const p of problems) if (p.edge_id) map.set(p.edge_id, [...(map.get(p.edge_id) ?? []), p]);
    return map;
  }, [problems]);

  const displayEdges = useMemo(
    () =>
      state.edges.map((e) => {
        const bad = problemsByEdge.get(e.id);
        const classes = [e.className, bad ? "edge-problem" : ""].filter(Boolean).join(" ");
        return {
          ...e,
          type: "smoothstep",
          markerEnd: { type: MarkerType.ArrowClosed },
          className: classes || undefined,
          label: bad ? `⚠ ${bad[0].message}` : e.label,
        } satisfies Edge;
      }),
    [state.edges, problemsByEdge],
  );

  // --- draft autosave and the unsaved-changes guard ------------------------------------------------

  useEffect(() => {
    const slot = draftSlot(state.meta.project, state.meta.id, saved);
    if (!dirty) return;
    const timer = window.setTimeout(() => {
      saveDraft(window.localStorage, slot, JSON.parse(workflowJson), stateRef.current.meta.version);
      setDraftSavedAt(Date.now());
    }, DRAFT_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [workflowJson, dirty, saved, state.meta.project, state.meta.id]);

  useEffect(() => {
    const guard = (e: BeforeUnloadEvent) => {
      if (isDirty(stateRef.current)) {
        e.preventDefault();
        e.returnValue = "";
      }
    };
    window.addEventListener("beforeunload", guard);
    return () => window.removeEventListener("beforeunload", guard);
  }, []);

  // Airflow frames the editor in a sandbox without "allow-modals": window.confirm/prompt
  // return at once there, so questions are asked in the editor's own dialog.
  const [question, setQuestion] = useState<{ text: string; yes: string; answer: (ok: boolean) => void } | null>(null);
  const ask = useCallback(
    (text: string, yes: string) => new Promise<boolean>((resolve) => setQuestion({ text, yes, answer: resolve })),
    [],
  );
  const confirmDiscard = useCallback(
    async () =>
      !isDirty(stateRef.current) ||
      (await ask("You have unsaved changes. They stay in this browser as a draft, offered again when you reopen this workflow.", "Leave them")),
    [ask],
  );
  const [projectDialog, setProjectDialog] = useState(false);

  // --- editing -------------------------------------------------------------------------------------

  const addNode = useCallback(
    (entry: PaletteEntry, position?: { x: number; y: number }) => {
      let at = position;
      if (!at) {
        const box = canvasRef.current?.getBoundingClientRect();
        const centre = rf.screenToFlowPosition({ x: (box?.left ?? 0) + (box?.width ?? 800) / 2, y: (box?.top ?? 0) + (box?.height ?? 600) / 2 });
        const n = stateRef.current.nodes.length;
        at = { x: centre.x - NODE_WIDTH / 2 + (n % 5) * 24, y: centre.y - NODE_HEIGHT / 2 + (n % 5) * 24 };
      }
      const id = nextNodeId(idBase(entry), stateRef.current.nodes.map((n) => n.id));
      dispatch({
        type: "addNode",
        node: { id, type: entry.type, label: defaultLabel(entry), position: at, config: structuredClone(entry.config) },
      });
    },
    [rf],
  );

  const onDrop = useCallback(
    (e: React.DragEvent) => {
      e.preventDefault();
      const entry = paletteEntry(e.dataTransfer.getData(DRAG_MIME) || e.dataTransfer.getData("text/plain"));
      if (!entry || readOnly) return;
      const p = rf.screenToFlowPosition({ x: e.clientX, y: e.clientY });
      addNode(entry, { x: Math.round(p.x - NODE_WIDTH / 2), y: Math.round(p.y - NODE_HEIGHT / 2) });
    },
    [rf, addNode, readOnly],
  );

  const isValidConnection: IsValidConnection = useCallback((conn) => {
    const violation = checkConnection(currentWorkflow(stateRef.current), {
      source: conn.source,
      target: conn.target,
      branch: branchOfHandle(conn.sourceHandle),
    });
    const message = violation ? `Cannot connect: ${violation.message}` : null;
    setHint((h) => (h === message ? h : message));
    return violation === null;
  }, []);

  const onConnect = useCallback((conn: Connection) => {
    dispatch({ type: "connect", source: conn.source, target: conn.target, sourceHandle: conn.sourceHandle });
    setHint(null);
  }, []);

  useEffect(() => {
    if (state.rejected) setHint(`Cannot connect: ${state.rejected.message}`);
  }, [state.rejected]);

  useEffect(() => {
    if (!hint) return;
    const timer = window.setTimeout(() => setHint(null), 8000);
    return () => window.clearTimeout(timer);
  }, [hint]);

  const selectedIds = useCallback(() => stateRef.current.nodes.filter((n) => n.selected).map((n) => n.id), []);

  const duplicate = useCallback(() => {
    const ids = selectedIds();
    if (ids.length === 0) return;
    const current = currentWorkflow(stateRef.current);
    const result = pasteFragment(current, copySelection(current, ids));
    dispatch({ type: "replaceGraph", nodes: result.nodes, edges: result.edges, select: result.pastedIds });
  }, [selectedIds]);

  const paste = useCallback(
    (text: string | null) => {
      let fragment: Fragment | null = clipboard.current;
      if (text) {
        try {
          fragment = parseFragment(text);
        } catch (err) {
          if (err instanceof ClipboardError && !clipboard.current) return toast(err.message, "error");
        }
      }
      if (!fragment) return;
      const result = pasteFragment(currentWorkflow(stateRef.current), fragment);
      dispatch({ type: "replaceGraph", nodes: result.nodes, edges: result.edges, select: result.pastedIds });
      toast(`Pasted ${result.pastedIds.length} node(s)`);
    },
    [toast],
  );

  const layout = useCallback(() => {
    const current = currentWorkflow(stateRef.current);
    const positions = autoLayout({ nodes: current.nodes, edges: current.edges });
    dispatch({
      type: "replaceGraph",
      nodes: current.nodes.map((n) => ({ ...n, position: positions.get(n.id) ?? n.position })),
      edges: current.edges,
    });
    setFitRequest((n) => n + 1);
  }, []);

  // --- saving, versions, templates, import/export --------------------------------------------------

  const save = useCallback(async () => {
    const current = stateRef.current;
    if (saving || readOnly) return;
    const sent = currentWorkflow(current);
    if (!sent.id) sent.id = slugify(sent.name);
    if (sent.version < 1) sent.version = 1;
    setSaving(true);
    try {
      const result = current.etag ? await api.updateWorkflow(sent, current.etag) : await api.createWorkflow(sent);
      dispatch({ type: "saved", sent, version: result.workflow.version ?? sent.version, etag: result.etag });
      clearDraft(window.localStorage, draftSlot(sent.project, sent.id, !!current.etag));
      clearDraft(window.localStorage, null);
      setDraftOffer(null);
      setConflict(null);
      setUrl(sent.project, sent.id);
      toast(`Saved version ${result.workflow.version}`);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 409 || err.status === 412)) {
        setConflict(err.message);
      } else if (err instanceof ApiError && err.status === 422 && err.problem.errors) {
        setProblems(err.problems);
        toast(`Not saved: ${err.problems.length} problem(s) to fix`, "error");
      } else {
        fail("Not saved", err);
      }
    } finally {
      setSaving(false);
    }
  }, [saving, readOnly, toast, fail]);

  const restore = useCallback(
    async (version: number) => {
      const current = stateRef.current;
      const { workflow: restored, etag } = await api.restoreVersion(current.meta.project, current.meta.id, version, current.etag);
      dispatch({ type: "load", workflow: restored, etag, saved: true, keepHistory: true });
      setDialog(null);
      setFitRequest((n) => n + 1);
      toast(`Restored version ${version} as version ${restored.version}; Ctrl+Z brings back what you had`);
    },
    [toast],
  );

  const startFromTemplate = useCallback(
    async (template: TemplateOut) => {
      if (!(await confirmDiscard())) return;
      const spec = template.spec;
      const project = stateRef.current.meta.project;
      const fresh: Workflow = { ...spec, format_version: "1", id: slugify(spec.name), project, version: 1, enabled: true };
      dispatch({ type: "load", workflow: emptyWorkflow(project), saved: true, etag: null });
      dispatch({ type: "load", workflow: fresh, saved: false, keepHistory: true });
      setUrl(project, null);
      setDialog(null);
      setDraftOffer(null);
      setFitRequest((n) => n + 1);
      toast(`Started from “${template.name}”: adjust it, then Save`);
    },
    [confirmDiscard, toast],
  );

  const saveAsTemplate = useCallback(async (name: string, description: string, isPublic: boolean) => {
    const current = stateRef.current;
    await api.saveAsTemplate(current.meta.project, current.meta.id, { name, description, is_public: isPublic });
  }, []);

  const importDoc = useCallback(
    async (doc: Workflow) => {
      if (!(await confirmDiscard())) return;
      const project = stateRef.current.meta.project;
      const fresh = { ...doc, project: doc.project && projects.some((p) => p.slug === doc.project) ? doc.project : project, version: 1 };
      if (!fresh.id) fresh.id = slugify(fresh.name);
      dispatch({ type: "load", workflow: emptyWorkflow(fresh.project), saved: true, etag: null });
      dispatch({ type: "load", workflow: fresh, saved: false, keepHistory: true });
      setUrl(fresh.project, null);
      setDialog(null);
      setDraftOffer(null);
      setFitRequest((n) => n + 1);
      toast(`Imported “${fresh.name}” as a new workflow: Save to store it`);
    },
    [confirmDiscard, projects, toast],
  );

  const download = useCallback((format: ExportFormat) => {
    const current = currentWorkflow(stateRef.current);
    const blob = new Blob([exportWorkflow(current, format)], { type: format === "json" ? "application/json" : "application/yaml" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = exportFileName(current, format);
    document.body.appendChild(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }, []);

  const newWorkflow = useCallback(async () => {
    if (!(await confirmDiscard())) return;
    const blank = emptyWorkflow(stateRef.current.meta.project);
    dispatch({ type: "load", workflow: blank, saved: true, etag: null });
    setUrl(blank.project, null);
    setDraftOffer(null);
    setProblems([]);
    setRunStates(new Map());
  }, [confirmDiscard]);

  const createProject = useCallback(async (slug: string, name: string) => {
    const project = await api.createProject(slug, name);
    setProjects(await api.projects());
    dispatch({ type: "setMeta", patch: { project: project.slug } });
    setProjectDialog(false);
  }, []);

  // --- keyboard and clipboard ----------------------------------------------------------------------

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      if (!mod) {
        // Deleting is ours, not React Flow's: it removes nodes and their edges as one undo step.
        if ((e.key === "Delete" || e.key === "Backspace") && !isEditable(e.target) && !dialog && !readOnly) {
          e.preventDefault();
          dispatch({ type: "deleteSelection" });
        }
        return;
      }
      const key = e.key.toLowerCase();
      if (key === "s") {
        e.preventDefault();
        void save();
        return;
      }
      if (isEditable(e.target) || dialog) return; // let inputs keep their own undo/copy
      if (key === "z" && !e.shiftKey) dispatch({ type: "undo" });
      else if ((key === "z" && e.shiftKey) || key === "y") dispatch({ type: "redo" });
      else if (key === "d") duplicate();
      else if (key === "l") layout();
      else return;
      e.preventDefault();
    };
    const onCopy = (e: ClipboardEvent) => {
      if (isEditable(e.target) || dialog) return;
      const ids = selectedIds();
      if (ids.length === 0) return;
      const fragment = copySelection(currentWorkflow(stateRef.current), ids);
      clipboard.current = fragment;
      e.clipboardData?.setData("text/plain", JSON.stringify(fragment, null, 2));
      e.preventDefault();
      toast(`Copied ${ids.length} node(s) as workflow JSON`);
    };
    const onPaste = (e: ClipboardEvent) => {
      if (isEditable(e.target) || dialog || readOnly) return;
      e.preventDefault();
      paste(e.clipboardData?.getData("text/plain") ?? null);
    };
    window.addEventListener("keydown", onKey);
    document.addEventListener("copy", onCopy);
    document.addEventListener("paste", onPaste);
    return () => {
      window.removeEventListener("keydown", onKey);
      document.removeEventListener("copy", onCopy);
      document.removeEventListener("paste", onPaste);
    };
  }, [save, duplicate, layout, paste, selectedIds, toast, dialog, readOnly]);

  // --- rendering -----------------------------------------------------------------------------------

  const selected = state.nodes.filter((n) => n.selected);
  const selectedNode = selected.length === 1 ? selected[0] : null;
  const statusValue = useMemo(() => ({ problems: problemsByNode, runStates }), [problemsByNode, runStates]);
  const needsSaveFirst = !saved || dirty;

  return (
    <NodeStatusContext.Provider value={statusValue}>
      <div className="editor">
        <header className="toolbar" role="toolbar" aria-label="Workflow actions">
          <strong className="title" title={state.meta.id}>
            {state.meta.name || "Untitled"}
            {saved && <span className="version"> v{state.meta.version}</span>}
            {dirty && <span className="dirty" title="Unsaved changes"> ●</span>}
          </strong>
          <button type="button" onClick={newWorkflow}>
            New
          </button>
          <button type="button" onClick={async () => (await confirmDiscard()) && setDialog("open")}>
            Open
          </button>
          <button type="button" onClick={() => setDialog("templates")}>
            Templates
          </button>
          <span className="sep" />
          <button type="button" onClick={() => dispatch({ type: "undo" })} disabled={!canUndo(state.history)} title="Undo (Ctrl+Z)">
            Undo
          </button>
          <button type="button" onClick={() => dispatch({ type: "redo" })} disabled={!canRedo(state.history)} title="Redo (Ctrl+Shift+Z)">
            Redo
          </button>
          <button type="button" onClick={layout} title="Auto-layout (Ctrl+L)">
            Auto-layout
          </button>
          <span className="sep" />
          <button type="button" onClick={() => setDialog("import")}>
            Import
          </button>
          <button type="button" onClick={() => download("yaml")}>
            Export YAML
          </button>
          <button type="button" onClick={() => download("json")}>
            Export JSON
          </button>
          <span className="sep" />
          <button type="button" onClick={() => setDialog("dryrun")} disabled={problems.length > 0} title="Show the DAG the compiler makes">
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

        {draftOffer && (
          <div className="banner" data-testid="draft-banner">
            An unsaved draft from {new Date(draftOffer.savedAt).toLocaleString()} is in this browser.
            <button
              type="button"
              onClick={() => {
                dispatch({ type: "load", workflow: { ...draftOffer.workflow, version: stateRef.current.meta.version }, saved: false, keepHistory: true });
                setDraftOffer(null);
                setFitRequest((n) => n + 1);
              }}
            >
              Restore draft
            </button>
            <button
              type="button"
              onClick={() => {
                clearDraft(window.localStorage, draftSlot(state.meta.project, state.meta.id, saved));
                setDraftOffer(null);
              }}
            >
              Discard
            </button>
          </div>
        )}
        {conflict && (
          <div className="banner error" data-testid="conflict-banner">
            Not saved: {conflict.replace(/\.+$/, "")}. Someone saved this workflow after you opened it; your changes are kept as a draft.
            <button
              type="button"
              onClick={async () => {
                if (!(await confirmDiscard())) return;
                // Keep our edit as a draft right now (autosave is debounced): it is offered back after loading.
                saveDraft(window.localStorage, draftSlot(state.meta.project, state.meta.id, saved), workflow, state.meta.version);
                setConflict(null);
                openWorkflow(state.meta.project, state.meta.id).catch((err) => fail("Reload failed", err));
              }}
            >
              Load their version
            </button>
          </div>
        )}

        <div className="main">
          <Palette onAdd={(entry) => addNode(entry)} disabled={readOnly} />
          <div className="canvas" ref={canvasRef} onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; }} onDrop={onDrop}>
            <ReactFlow
              nodes={state.nodes}
              edges={displayEdges}
              nodeTypes={nodeTypes}
              onNodesChange={(changes) => dispatch({ type: "nodesChange", changes })}
              onEdgesChange={(changes) => dispatch({ type: "edgesChange", changes })}
              onConnect={onConnect}
              isValidConnection={isValidConnection}
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
                onDelete={() => dispatch({ type: "deleteSelection" })}
                onDuplicate={duplicate}
              />
            ) : selected.length > 1 ? (
              <div className="multi">
                <h2>{selected.length} nodes selected</h2>
                <button type="button" onClick={duplicate}>
                  Duplicate
                </button>{" "}
                <button type="button" className="danger" onClick={() => dispatch({ type: "deleteSelection" })}>
                  Delete
                </button>
              </div>
            ) : (
              <WorkflowPanel
                meta={state.meta}
                saved={saved}
                projects={projects}
                problems={problems}
                readOnly={readOnly}
                onMeta={(patch, field) => dispatch({ type: "setMeta", patch, field })}
                onCreateProject={() => setProjectDialog(true)}
                onSelectProblem={(p) => {
                  const edge = p.edge_id ? state.edges.find((e) => e.id === p.edge_id) : undefined;
                  const nodeId = p.node_id ?? edge?.source;
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
            {validation === "unavailable"
              ? "Validation unavailable"
              : validation === "checking"
                ? "Checking…"
                : problems.length
                  ? `${problems.length} problem(s)`
                  : "✓ Valid"}
          </span>
          {hint && <span className="hint-text">{hint}</span>}
          <span className="spacer" />
          {readOnly && <span>Read-only (viewer)</span>}
          <span data-testid="save-status">
            {dirty ? `Unsaved changes${draftSavedAt ? ` · draft kept ${new Date(draftSavedAt).toLocaleTimeString()}` : ""}` : saved ? `Saved · v${state.meta.version}` : "New workflow"}
          </span>
        </footer>

        <div className="toasts" aria-live="polite">
          {toasts.map((t) => (
            <div key={t.id} className={`toast ${t.kind}`}>
              {t.text}
            </div>
          ))}
        </div>

        {question && (
          <Modal
            above
            title="Leave unsaved changes?"
            onClose={() => {
              question.answer(false);
              setQuestion(null);
            }}
          >
            <p>{question.text}</p>
            <div className="row">
              <button
                type="button"
                className="primary"
                data-testid="confirm-yes"
                onClick={() => {
                  question.answer(true);
                  setQuestion(null);
                }}
              >
                {question.yes}
              </button>
              <button
                type="button"
                onClick={() => {
                  question.answer(false);
                  setQuestion(null);
                }}
              >
                Cancel
              </button>
            </div>
          </Modal>
        )}
        {projectDialog && <ProjectDialog onCreate={createProject} onClose={() => setProjectDialog(false)} />}
        {dialog === "open" && (
          <OpenDialog
            project={state.meta.project}
            onClose={() => setDialog(null)}
            onOpen={(slug) => {
              setDialog(null);
              openWorkflow(state.meta.project, slug).catch((err) => fail(`Cannot open ${slug}`, err));
            }}
          />
        )}
        {dialog === "versions" && <VersionsDialog workflow={workflow} onRestore={restore} onClose={() => setDialog(null)} />}
        {dialog === "templates" && (
          <TemplatesDialog canSaveCurrent={saved && !dirty} onUse={startFromTemplate} onSaveCurrent={saveAsTemplate} onClose={() => setDialog(null)} />
        )}
        {dialog === "import" && <ImportDialog onImport={importDoc} onClose={() => setDialog(null)} />}
        {dialog === "dryrun" && <DryRunDialog workflow={{ ...workflow, id: workflow.id || slugify(workflow.name), version: Math.max(1, workflow.version) }} onClose={() => setDialog(null)} />}
        {dialog === "run" && <RunDialog workflow={workflow} config={config} onStates={setRunStates} onClose={() => setDialog(null)} />}
      </div>
    </NodeStatusContext.Provider>
  );
}
