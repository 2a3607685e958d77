/**
 * Copying, pasting and duplicating nodes.
 *
 * A copy goes to the system clipboard as workflow JSON (so it can be pasted
 * into another editor tab or a file) and is kept here too, so a paste still
 * works when the system clipboard holds something else.
 */
import { useCallback, useRef } from "react";
import { ClipboardError, copySelection, parseFragment, pasteFragment, type Fragment } from "../model/clipboard";
import { currentWorkflow } from "../state/editor";
import type { EditorStore } from "./useEditorState";
import type { Notify } from "./useToasts";

export function useClipboard({ stateRef, dispatch }: EditorStore, toast: Notify) {
  const kept = useRef<Fragment | null>(null);

  const selectedIds = useCallback(() => stateRef.current.nodes.filter((n) => n.selected).map((n) => n.id), [stateRef]);

  const insert = useCallback(
    (fragment: Fragment) => {
      const result = pasteFragment(currentWorkflow(stateRef.current), fragment);
      dispatch({ type: "replaceGraph", nodes: result.nodes, edges: result.edges, select: result.pastedIds });
      return result.pastedIds.length;
    },
    [stateRef, dispatch],
  );

  const duplicate = useCallback(() => {
    const ids = selectedIds();
    if (ids.length > 0) insert(copySelection(currentWorkflow(stateRef.current), ids));
  }, [selectedIds, insert, stateRef]);

  /** Copy the selected nodes; false when nothing is selected (the browser copies as usual). */
  const copy = useCallback(
    (data: DataTransfer | null) => {
      const ids = selectedIds();
      if (ids.length === 0) return false;
      const fragment = copySelection(currentWorkflow(stateRef.current), ids);
      kept.current = fragment;
      data?.setData("text/plain", JSON.stringify(fragment, null, 2));
      toast(`Copied ${ids.length} node(s) as workflow JSON`);
      return true;
    },
    [selectedIds, stateRef, toast],
  );

  /** Paste the system clipboard's text if it is a fragment, else the one kept from the last copy. */
  const paste = useCallback(
    (text: string | null) => {
      let fragment: Fragment | null = kept.current;
      if (text) {
        try {
          fragment = parseFragment(text);
        } catch (err) {
          if (err instanceof ClipboardError && !kept.current) return toast(err.message, "error");
        }
      }
      if (!fragment) return;
      toast(`Pasted ${insert(fragment)} node(s)`);
    },
    [insert, toast],
  );

  return { duplicate, copy, paste };
}
