/**
 * The editor's keyboard and clipboard shortcuts, decided without a DOM.
 *
 * Inputs keep their own undo and copy, and an open dialog owns the keyboard,
 * except Ctrl+S which saves from anywhere and Ctrl+L (auto-layout), which a
 * text field has no use for, so it lays out while a form field has focus.  Deleting is the editor's, not
 * React Flow's, so nodes and their edges go as one undo step.
 */

export type Command = "save" | "undo" | "redo" | "duplicate" | "layout" | "deleteSelection";

export interface KeyPress {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  /** The key went to a text field, a select or an editable element. */
  inEditable: boolean;
}

export interface ShortcutContext {
  dialogOpen: boolean;
  readOnly: boolean;
}

/** Whether an event target edits text itself (its own undo, copy and paste). */
export function isEditable(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
}

/** The command a key press means here, or null to let the browser have it. */
export function commandFor(press: KeyPress, { dialogOpen, readOnly }: ShortcutContext): Command | null {
  if (!(press.ctrlKey || press.metaKey)) {
    const deleting = press.key === "Delete" || press.key === "Backspace";
    return deleting && !press.inEditable && !dialogOpen && !readOnly ? "deleteSelection" : null;
  }
  const key = press.key.toLowerCase();
  if (key === "s") return "save";
  if (dialogOpen) return null;
  if (key === "l") return "layout";
  if (press.inEditable) return null;
  if (key === "z") return press.shiftKey ? "redo" : "undo";
  if (key === "y") return "redo";
  if (key === "d") return "duplicate";
  return null;
}

/** Whether the editor copies the selected nodes (or pastes onto the canvas) rather than the browser. */
export function ownsClipboard(kind: "copy" | "paste", inEditable: boolean, { dialogOpen, readOnly }: ShortcutContext): boolean {
  if (inEditable || dialogOpen) return false;
  return kind === "copy" || !readOnly;
}
