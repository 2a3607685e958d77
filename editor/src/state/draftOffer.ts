/**
 * When the editor autosaves a draft and when it offers one back.
 *
 * model/drafts.ts stores drafts; this decides which slot a workflow's draft
 * lives in and whether a stored draft is worth a banner.
 */
import type { Draft } from "../model/drafts";
import type { Workflow } from "../model/types";

/** Wait this long after the last edit before writing the draft. */
export const DRAFT_DELAY_MS = 800;

/** A saved workflow's draft is kept per "project/id"; every never-saved workflow shares one slot. */
export function draftSlot(project: string, id: string, saved: boolean): string | null {
  return saved ? `${project}/${id}` : null;
}

/** Offer a draft only if it has nodes and differs from what was loaded (the version aside). */
export function worthOffering(draft: Draft | null, baseline: Workflow): draft is Draft {
  const strip = (w: Workflow) => JSON.stringify({ ...w, version: 0 });
  return !!draft && draft.workflow.nodes.length > 0 && strip(draft.workflow) !== strip(baseline);
}
