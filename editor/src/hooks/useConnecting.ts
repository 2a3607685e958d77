/**
 * Drawing edges: React Flow asks before each connection, the editor's rules
 * (model/rules.ts, shared with the server) answer, and why a connection is
 * refused is shown as a hint in the status bar for a while.
 */
import type { Connection, IsValidConnection } from "@xyflow/react";
import { useCallback, useEffect, useState } from "react";
import { checkConnection } from "../model/rules";
import { branchOfHandle } from "../model/serialize";
import { currentWorkflow } from "../state/editor";
import type { EditorStore } from "./useEditorState";

const HINT_MS = 8000;

export function useConnecting({ state, stateRef, dispatch }: EditorStore) {
  const [hint, setHint] = useState<string | null>(null);

  const isValidConnection: IsValidConnection = useCallback(
    (conn) => {
      const violation = checkConnection(currentWorkflow(stateRef.current), {
        source: conn.source,
        target: conn.target,
        branch: branchOfHandle(conn.sourceHandle),
      });
      const message = violation ? `Cannot connect: ${violation.message}` : null;
      setHint((h) => (h === message ? h : message));
      return violation === null;
    },
    [stateRef],
  );

  const onConnect = useCallback(
    (conn: Connection) => {
      dispatch({ type: "connect", source: conn.source, target: conn.target, sourceHandle: conn.sourceHandle });
      setHint(null);
    },
    [dispatch],
  );

  useEffect(() => {
    if (state.rejected) setHint(`Cannot connect: ${state.rejected.message}`);
  }, [state.rejected]);

  useEffect(() => {
    if (!hint) return;
    const timer = window.setTimeout(() => setHint(null), HINT_MS);
    return () => window.clearTimeout(timer);
  }, [hint]);

  return { hint, isValidConnection, onConnect };
}
