/**
 * What the editor shows when it opens, and what survives its loading.
 *
 * The address names a workflow, else the editor reopens the workflow last on
 * the canvas in that project (kept in the browser per project, as n8n and
 * Elyra reopen the last file), else a blank one.  Loading takes a moment
 * (projects, then the workflow); whatever the user typed or opened meanwhile
 * wins over the load: edits on the blank canvas are kept, and a dialog
 * opened early stays open.
 */
import type { KeyValueStore } from "../model/drafts";
import type { Workflow } from "../model/types";

const LAST_PREFIX = "autopr-editor-last:";
const LAST_PROJECT = "autopr-editor-last-project";

/** Remember `workflow` (null: a blank one) as the one on the canvas in `project`. */
export function rememberLast(store: KeyValueStore, project: string, workflow: string | null): void {
  try {
    if (workflow) store.setItem(LAST_PREFIX + project, workflow);
    else store.removeItem(LAST_PREFIX + project);
    store.setItem(LAST_PROJECT, project);
  } catch {
    // storage full or denied: the editor merely opens blank next time
  }
}

export function lastWorkflow(store: KeyValueStore, project: string): string | null {
  try {
    return store.getItem(LAST_PREFIX + project);
  } catch {
    return null;
  }
}

export function lastProject(store: KeyValueStore): string | null {
  try {
    return store.getItem(LAST_PROJECT);
  } catch {
    return null;
  }
}

export type StartupPlan = { kind: "open"; project: string; workflow: string; remembered: boolean } | { kind: "blank"; project: string };

/**
 * What to put on the canvas first: the address's workflow, else the one last open in the address's
 * project (or, with no project in the address, in the project last used, if the user still has it).
 */
export function startupPlan(
  address: { project: string | null; workflow: string | null },
  projects: string[],
  store: KeyValueStore,
  chosen: string,
): StartupPlan {
  if (address.workflow) return { kind: "open", project: chosen, workflow: address.workflow, remembered: false };
  let project = chosen;
  if (!address.project) {
    const last = lastProject(store);
    if (last && projects.includes(last)) project = last;
  }
  const remembered = lastWorkflow(store, project);
  return remembered ? { kind: "open", project, workflow: remembered, remembered: true } : { kind: "blank", project };
}

/**
 * The blank workflow of `project`, keeping what the user typed before the editor finished loading
 * (`early`, the canvas's document, when it has unsaved edits).  Its project follows the load unless
 * the user picked one.
 */
export function blankKeeping(blank: Workflow, early: Workflow | null, initialProject: string): Workflow {
  if (!early) return blank;
  return { ...early, project: early.project === initialProject ? blank.project : early.project };
}

/**
 * Whether Dry run can be pressed: not while the placeholder's problems are all there is to go by
 * (the workflow being loaded is what the dialog will compile, once it is there).
 */
export function canDryRun(loading: boolean, problemCount: number): boolean {
  return loading || problemCount === 0;
}
