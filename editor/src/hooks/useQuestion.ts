/**
 * Yes/no questions asked in the editor's own dialog.
 *
 * Airflow frames the editor in a sandbox without "allow-modals":
 * window.confirm returns at once there, so the editor cannot use it.
 */
import { useCallback, useState } from "react";

export interface Question {
  text: string;
  /** The label of the button that answers yes. */
  yes: string;
}

export function useQuestion() {
  const [pending, setPending] = useState<(Question & { resolve: (ok: boolean) => void }) | null>(null);

  const ask = useCallback(
    (text: string, yes: string) => new Promise<boolean>((resolve) => setPending({ text, yes, resolve })),
    [],
  );

  const answer = useCallback(
    (ok: boolean) => {
      pending?.resolve(ok);
      setPending(null);
    },
    [pending],
  );

  const question: Question | null = pending && { text: pending.text, yes: pending.yes };
  return { question, ask, answer };
}

export type Ask = ReturnType<typeof useQuestion>["ask"];
