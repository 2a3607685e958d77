/**
 * The unsaved-changes guard: leaving the page or replacing the workflow on
 * the canvas asks first when there are unsaved changes.
 */
import { type RefObject, useCallback, useEffect } from "react";
import { type EditorState, isDirty } from "../state/editor";
import type { Ask } from "./useQuestion";

const LEAVE_QUESTION =
  "You have unsaved changes. They stay in this browser as a draft, offered again when you reopen this workflow.";

/** Returns `confirmDiscard`: resolves true when there is nothing to lose or the user agrees to leave it. */
export function useLeaveGuard(stateRef: RefObject<EditorState>, ask: Ask): () => Promise<boolean> {
  useEffect(() => {
    const guard = (e: BeforeUnloadEvent) => {
      if (isDirty(stateRef.current)) {
        e.preventDefault();
        e.returnValue = "";
      }
    };
    window.addEventListener("beforeunload", guard);
    return () => window.removeEventListener("beforeunload", guard);
  }, [stateRef]);

  return useCallback(async () => !isDirty(stateRef.current) || (await ask(LEAVE_QUESTION, "Leave them")), [stateRef, ask]);
}
