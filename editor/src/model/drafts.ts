/**
 * Draft autosave in localStorage.
 *
 * Every edit is written to the browser's storage (debounced by the caller),
 * keyed by workflow id, together with the version it was based on.  Opening
 * the editor again offers to restore a draft that is newer than what was
 * saved; saving clears it.  Nothing is sent to the server until Save.
 */
import type { Workflow } from "./types";

export interface Draft {
  savedAt: number;
  baseVersion: number;
  workflow: Workflow;
}

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const PREFIX = "autopr-editor-draft:";

/** Drafts of saved workflows are kept per "project/id"; a never-saved workflow has one "new" slot. */
export function draftKey(workflowId: string | null | undefined): string {
  return PREFIX + (workflowId || "new");
}

export function saveDraft(store: KeyValueStore, key: string | null, workflow: Workflow, baseVersion: number, now = Date.now()): void {
  const draft: Draft = { savedAt: now, baseVersion, workflow };
  try {
    store.setItem(draftKey(key), JSON.stringify(draft));
  } catch {
    // Storage full or disabled (private mode): autosave is a comfort, never an error.
  }
}

export function loadDraft(store: KeyValueStore, workflowId: string | null | undefined): Draft | null {
  const raw = store.getItem(draftKey(workflowId));
  if (!raw) return null;
  try {
    const draft = JSON.parse(raw) as Draft;
    if (typeof draft.savedAt !== "number" || !Array.isArray(draft.workflow?.nodes)) return null;
    return draft;
  } catch {
    return null;
  }
}

export function clearDraft(store: KeyValueStore, workflowId: string | null | undefined): void {
  store.removeItem(draftKey(workflowId));
}
