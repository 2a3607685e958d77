/**
 * Saving: the first save creates the workflow, later ones update it with
 * the ETag the canvas is based on (If-Match), so a save never overwrites a
 * version saved by someone else in between; that refusal is kept as the
 * conflict for the user to resolve.
 */
import { useCallback, useState } from "react";
import { api } from "../api/client";
import type { ValidationProblem } from "../model/types";
import { complete } from "../state/document";
import { currentWorkflow } from "../state/editor";
import { showLocation } from "../state/location";
import { saveFailure } from "../state/save";
import type { Drafts } from "./useDrafts";
import type { EditorStore } from "./useEditorState";
import type { Notify, NotifyFailure } from "./useToasts";

interface SaveDeps {
  store: EditorStore;
  readOnly: boolean;
  drafts: Drafts;
  /** The server refused the workflow: show its problems. */
  onInvalid: (problems: ValidationProblem[]) => void;
  toast: Notify;
  fail: NotifyFailure;
}

export function useSave({ store: { stateRef, dispatch }, readOnly, drafts: { clearSaved }, onInvalid, toast, fail }: SaveDeps) {
  const [saving, setSaving] = useState(false);
  const [conflict, setConflict] = useState<string | null>(null);

  const save = useCallback(async () => {
    const current = stateRef.current;
    if (saving || readOnly) return;
    const sent = complete(currentWorkflow(current));
    setSaving(true);
    try {
      const result = current.etag ? await api.updateWorkflow(sent, current.etag) : await api.createWorkflow(sent);
      dispatch({ type: "saved", sent, version: result.workflow.version ?? sent.version, etag: result.etag });
      clearSaved(sent.project, sent.id, !!current.etag);
      setConflict(null);
      showLocation(sent.project, sent.id);
      toast(`Saved version ${result.workflow.version}`);
    } catch (err) {
      const failure = saveFailure(err);
      if (failure.kind === "conflict") {
        setConflict(failure.message);
      } else if (failure.kind === "invalid") {
        onInvalid(failure.problems);
        toast(`Not saved: ${failure.problems.length} problem(s) to fix`, "error");
      } else {
        fail("Not saved", err);
      }
    } finally {
      setSaving(false);
    }
  }, [stateRef, dispatch, saving, readOnly, clearSaved, onInvalid, toast, fail]);

  const dismissConflict = useCallback(() => setConflict(null), []);

  /** Store the saved workflow as a template (the dialog offers this only when nothing is unsaved). */
  const saveAsTemplate = useCallback(
    async (name: string, description: string, isPublic: boolean) => {
      const { meta } = stateRef.current;
      await api.saveAsTemplate(meta.project, meta.id, { name, description, is_public: isPublic });
    },
    [stateRef],
  );

  return { save, saving, conflict, dismissConflict, saveAsTemplate };
}
