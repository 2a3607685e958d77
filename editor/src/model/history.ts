/**
 * Undo/redo over whole-workflow snapshots.
 *
 * Snapshots (not inverse operations) keep this trivially correct: every edit
 * the editor makes — drop, connect, delete, form change, paste, layout,
 * restore — records the workflow it produced.  Workflows are small, so a
 * hundred snapshots cost nothing.  Consecutive identical snapshots are
 * dropped, so a click that changes nothing does not become an undo step.
 */
export interface History<T> {
  past: T[];
  present: T;
  future: T[];
}

export const HISTORY_LIMIT = 100;

export function startHistory<T>(present: T): History<T> {
  return { past: [], present, future: [] };
}

/**
 * Make `next` the present.  With `coalesce`, it replaces the present instead
 * of adding an undo step: typing a word into a form field is one step, not
 * one per keystroke.
 */
export function record<T>(
  h: History<T>,
  next: T,
  { coalesce = false, same = jsonEqual }: { coalesce?: boolean; same?: (a: T, b: T) => boolean } = {},
): History<T> {
  if (same(h.present, next)) return h;
  if (coalesce && h.past.length > 0) return { past: h.past, present: next, future: [] };
  const past = [...h.past, h.present].slice(-HISTORY_LIMIT);
  return { past, present: next, future: [] };
}

export function undo<T>(h: History<T>): History<T> {
  if (h.past.length === 0) return h;
  const previous = h.past[h.past.length - 1];
  return { past: h.past.slice(0, -1), present: previous, future: [h.present, ...h.future] };
}

export function redo<T>(h: History<T>): History<T> {
  if (h.future.length === 0) return h;
  const [next, ...rest] = h.future;
  return { past: [...h.past, h.present], present: next, future: rest };
}

export function canUndo<T>(h: History<T>): boolean {
  return h.past.length > 0;
}

export function canRedo<T>(h: History<T>): boolean {
  return h.future.length > 0;
}

export function jsonEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
