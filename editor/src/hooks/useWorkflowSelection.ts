/**
 * Which workflow is on the canvas: the one the address names when the
 * editor opens, then whatever the user opens, starts anew, starts from a
 * template, imports or restores from a version.
 *
 * Replacing the canvas asks first when there are unsaved changes, keeps the
 * address in step (and the browser's memory of the last workflow, so the
 * editor reopens on it), and refits the view.  The first load never undoes
 * what the user did while it was under way (state/startup.ts): edits typed
 * on the blank canvas are kept and an open dialog stays open.  Opening a workflow offers its
 * local draft; a workflow started from a template or an import is unsaved,
 * loaded over a blank one so that "unsaved changes" and undo treat the whole
 * document as the edit.
 */
import { useCallback, useEffect, useState } from "react";
import { ApiError, api, type ImportErrorOut, type TemplateOut } from "../api/client";
import { placedForCanvas } from "../model/layout";
import { type Workflow, emptyWorkflow } from "../model/types";
import { fromImport, fromTemplate } from "../state/document";
import { currentWorkflow, isDirty } from "../state/editor";
import { blankKeeping, rememberLast, startupPlan } from "../state/startup";
import { draftSlot } from "../state/draftOffer";
import { chooseProject, currentLocation, showLocation } from "../state/location";
import type { Drafts } from "./useDrafts";
import type { EditorStore } from "./useEditorState";
import type { Projects } from "./useProjects";
import type { Notify, NotifyFailure } from "./useToasts";

interface SelectionDeps {
  store: EditorStore;
  projects: Projects;
  drafts: Drafts;
  confirmDiscard: () => Promise<boolean>;
  /** Forget what was shown about the previous workflow (its problems and run states). */
  forgetStatus: () => void;
  closeDialog: () => void;
  requestFit: () => void;
  toast: Notify;
  fail: NotifyFailure;
  /** What Airflow says is wrong with the opened workflow's compiled DAG (null: nothing). */
  onImportError?: (error: ImportErrorOut | null) => void;
}

export function useWorkflowSelection(deps: SelectionDeps) {
  const { store, projects, drafts, confirmDiscard, forgetStatus, closeDialog, requestFit, toast, fail, onImportError } = deps;
  const { dispatch, stateRef } = store;
  const { offerFor, dismiss } = drafts;

  /** Put a workflow just read from the platform on the canvas (dialogs stay as they are). */
  const show = useCallback(
    ({ workflow: stored, etag, importError }: Awaited<ReturnType<typeof api.getWorkflow>>) => {
      // Written through the API or by hand, positions are optional: lay such a workflow out as it opens.
      const loaded = placedForCanvas(stored);
      dispatch({ type: "load", workflow: loaded, etag, saved: true });
      forgetStatus();
      onImportError?.(importError);
      showLocation(loaded.project, loaded.id);
      requestFit();
      offerFor(draftSlot(loaded.project, loaded.id, true), loaded);
    },
    [dispatch, forgetStatus, requestFit, offerFor, onImportError],
  );

  const open = useCallback(async (project: string, slug: string) => show(await api.getWorkflow(project, slug)), [show]);

  /** Until the first workflow is on the canvas (projects, then the one the address or the browser names), it shows a placeholder. */
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    const address = currentLocation();
    const initialProject = stateRef.current.meta.project;
    /** The canvas's document if the user edited it while the editor was loading, else null. */
    const earlyEdits = () => (isDirty(stateRef.current) ? currentWorkflow(stateRef.current) : null);
    const showBlank = (project: string) => {
      const blank = emptyWorkflow(project);
      const early = earlyEdits();
      dispatch({ type: "load", workflow: blank, saved: true, etag: null });
      if (early) {
        const kept = blankKeeping(blank, early, initialProject);
        dispatch({ type: "load", workflow: kept, saved: false, keepHistory: true });
        showLocation(kept.project, null);
      } else {
        offerFor(null, blank);
      }
    };
    projects.reload().then(
      (list) => {
        const chosen = chooseProject(address.project, list);
        const plan = startupPlan(address, list.map((p) => p.slug), window.localStorage, chosen);
        if (plan.kind === "blank") {
          setLoading(false);
          return showBlank(plan.project);
        }
        setLoading(true);
        api.getWorkflow(plan.project, plan.workflow).then(
          (loaded) => {
            if (earlyEdits()) {
              // What the user typed meanwhile wins over a workflow they did not ask for in this tab.
              toast(`Kept what you typed while the editor was loading; ${plan.workflow} is under Open`);
              showBlank(plan.project);
            } else {
              show(loaded);
            }
            setLoading(false);
          },
          (err) => {
            setLoading(false);
            if (plan.remembered && err instanceof ApiError && err.status === 404) {
              rememberLast(window.localStorage, plan.project, null); // deleted since: start blank
              return showBlank(plan.project);
            }
            fail(`Cannot open ${plan.workflow}`, err);
          },
        );
      },
      (err) => {
        setLoading(false);
        fail("Cannot load your projects", err);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const startNew = useCallback(async () => {
    if (!(await confirmDiscard())) return;
    const blank = emptyWorkflow(stateRef.current.meta.project);
    dispatch({ type: "load", workflow: blank, saved: true, etag: null });
    showLocation(blank.project, null);
    dismiss();
    forgetStatus();
  }, [confirmDiscard, stateRef, dispatch, dismiss, forgetStatus]);

  /** Put an unsaved document on the canvas, as the whole of one edit on a blank workflow. */
  const loadUnsaved = useCallback(
    (fresh: Workflow, news: string) => {
      dispatch({ type: "load", workflow: emptyWorkflow(fresh.project), saved: true, etag: null });
      dispatch({ type: "load", workflow: fresh, saved: false, keepHistory: true });
      showLocation(fresh.project, null);
      closeDialog();
      dismiss();
      requestFit();
      toast(news);
    },
    [dispatch, closeDialog, dismiss, requestFit, toast],
  );

  const startFromTemplate = useCallback(
    async (template: TemplateOut) => {
      if (!(await confirmDiscard())) return;
      loadUnsaved(fromTemplate(template, stateRef.current.meta.project), `Started from “${template.name}” (disabled): adjust it, Save, try a Dry run, then tick Enabled`);
    },
    [confirmDiscard, loadUnsaved, stateRef],
  );

  const importDoc = useCallback(
    async (doc: Workflow) => {
      if (!(await confirmDiscard())) return;
      const fresh = fromImport(doc, projects.projects, stateRef.current.meta.project);
      loadUnsaved(fresh, `Imported “${fresh.name}” as a new workflow: Save to store it`);
    },
    [confirmDiscard, loadUnsaved, projects.projects, stateRef],
  );

  const restore = useCallback(
    async (version: number) => {
      const current = stateRef.current;
      const { workflow: restored, etag } = await api.restoreVersion(current.meta.project, current.meta.id, version, current.etag);
      dispatch({ type: "load", workflow: restored, etag, saved: true, keepHistory: true });
      closeDialog();
      requestFit();
      toast(`Restored version ${version} as version ${restored.version}; Ctrl+Z brings back what you had`);
    },
    [stateRef, dispatch, closeDialog, requestFit, toast],
  );

  return { loading, open, startNew, startFromTemplate, importDoc, restore };
}
