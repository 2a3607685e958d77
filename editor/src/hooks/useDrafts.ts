/**
 * Local drafts: unsaved edits autosaved in the browser, offered back when
 * the workflow is opened again, cleared when it is saved.
 */
import { useCallback, useEffect, useState } from "react";
import { type Draft, clearDraft, loadDraft, saveDraft } from "../model/drafts";
import type { Workflow } from "../model/types";
import { DRAFT_DELAY_MS, draftSlot, worthOffering } from "../state/draftOffer";
import type { EditorStore } from "./useEditorState";

export function useDrafts({ state, dispatch, stateRef, workflow, workflowJson, dirty, saved }: EditorStore, onRestored: () => void) {
  const [offer, setOffer] = useState<Draft | null>(null);
  const [savedAt, setSavedAt] = useState<number | null>(null);
  const { project, id } = state.meta;
  const slot = draftSlot(project, id, saved);

  useEffect(() => {
    if (!dirty) return;
    const timer = window.setTimeout(() => {
      saveDraft(window.localStorage, slot, JSON.parse(workflowJson), stateRef.current.meta.version);
      setSavedAt(Date.now());
    }, DRAFT_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [workflowJson, dirty, slot, stateRef]);

  /** Offer the draft kept in `loadedSlot` if it differs from `baseline`, the workflow just loaded. */
  const offerFor = useCallback((loadedSlot: string | null, baseline: Workflow) => {
    const draft = loadDraft(window.localStorage, loadedSlot);
    setOffer(worthOffering(draft, baseline) ? draft : null);
  }, []);

  const dismiss = useCallback(() => setOffer(null), []);

  /** Put the offered draft on the canvas, on top of the loaded version (undo brings that back). */
  const restore = useCallback(() => {
    if (!offer) return;
    dispatch({ type: "load", workflow: { ...offer.workflow, version: stateRef.current.meta.version }, saved: false, keepHistory: true });
    setOffer(null);
    onRestored();
  }, [offer, dispatch, stateRef, onRestored]);

  const discard = useCallback(() => {
    clearDraft(window.localStorage, slot);
    setOffer(null);
  }, [slot]);

  /** Keep the canvas as a draft right now (autosave is debounced), e.g. before loading another version over it. */
  const keepNow = useCallback(() => saveDraft(window.localStorage, slot, workflow, state.meta.version), [slot, workflow, state.meta.version]);

  /** After a save: the saved workflow's draft and the new-workflow draft are both done with. */
  const clearSaved = useCallback((savedProject: string, savedId: string, wasStored: boolean) => {
    clearDraft(window.localStorage, draftSlot(savedProject, savedId, wasStored));
    clearDraft(window.localStorage, null);
    setOffer(null);
  }, []);

  return { offer, savedAt, offerFor, dismiss, restore, discard, keepNow, clearSaved };
}

export type Drafts = ReturnType<typeof useDrafts>;
