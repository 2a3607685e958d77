/**
 * Keyboard and clipboard shortcuts, attached to the window once.
 *
 * Which key does what is decided in state/shortcuts.ts; this hook only
 * listens and calls the latest handlers (kept in a ref, so listeners are
 * not re-attached on every change).
 */
import { useEffect, useRef } from "react";
import { type Command, type ShortcutContext, commandFor, isEditable, ownsClipboard } from "../state/shortcuts";

export interface ShortcutHandlers extends ShortcutContext {
  commands: Record<Command, () => void>;
  /** Copy the selection into the clipboard data; false when there was nothing to copy. */
  copy: (data: DataTransfer | null) => boolean;
  paste: (text: string | null) => void;
}

export function useShortcuts(handlers: ShortcutHandlers): void {
  const latest = useRef(handlers);
  latest.current = handlers;

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const { commands, ...context } = latest.current;
      const press = { key: e.key, ctrlKey: e.ctrlKey, metaKey: e.metaKey, shiftKey: e.shiftKey, inEditable: isEditable(e.target) };
      const command = commandFor(press, context);
      if (!command) return;
      e.preventDefault();
      commands[command]();
    };
    const onCopy = (e: ClipboardEvent) => {
      if (!ownsClipboard("copy", isEditable(e.target), latest.current)) return;
      if (latest.current.copy(e.clipboardData)) e.preventDefault();
    };
    const onPaste = (e: ClipboardEvent) => {
      if (!ownsClipboard("paste", isEditable(e.target), latest.current)) return;
      e.preventDefault();
      latest.current.paste(e.clipboardData?.getData("text/plain") ?? null);
    };
    window.addEventListener("keydown", onKey);
    document.addEventListener("copy", onCopy);
    document.addEventListener("paste", onPaste);
    return () => {
      window.removeEventListener("keydown", onKey);
      document.removeEventListener("copy", onCopy);
      document.removeEventListener("paste", onPaste);
    };
  }, []);
}
