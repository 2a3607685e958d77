/**
 * Short messages in the corner: errors stay longer than news.
 */
import { useCallback, useState } from "react";

export interface Toast {
  id: number;
  text: string;
  kind: "info" | "error";
}

const SHOWN_MS: Record<Toast["kind"], number> = { info: 4000, error: 8000 };

export function useToasts() {
  const [toasts, setToasts] = useState<Toast[]>([]);

  const toast = useCallback((text: string, kind: Toast["kind"] = "info") => {
    const id = Date.now() + Math.random();
    setToasts((t) => [...t, { id, text, kind }]);
    window.setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), SHOWN_MS[kind]);
  }, []);

  /** Report a failed request: what the editor tried, and why it failed. */
  const fail = useCallback((what: string, err: unknown) => toast(`${what}: ${(err as Error).message}`, "error"), [toast]);

  return { toasts, toast, fail };
}

export type Notify = ReturnType<typeof useToasts>["toast"];
export type NotifyFailure = ReturnType<typeof useToasts>["fail"];
