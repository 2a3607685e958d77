/**
 * Server validation of every change, debounced.
 *
 * Each change starts a new check; an answer to an older check than the
 * latest is dropped, so a slow reply never overwrites a newer one.
 */
import { useEffect, useMemo, useRef, useState } from "react";
import { api } from "../api/client";
import type { ValidationProblem, Workflow } from "../model/types";
import { complete } from "../state/document";
import { VALIDATE_DELAY_MS, type ValidationStatus, problemsBy } from "../state/validation";

export function useValidation(workflowJson: string) {
  const [problems, setProblems] = useState<ValidationProblem[]>([]);
  const [status, setStatus] = useState<ValidationStatus>("idle");
  const latest = useRef(0);

  useEffect(() => {
    const seq = ++latest.current;
    setStatus("checking");
    const timer = window.setTimeout(() => {
      api.validate(complete(JSON.parse(workflowJson) as Workflow)).then(
        (found) => {
          if (seq !== latest.current) return;
          setProblems(found);
          setStatus("done");
        },
        () => seq === latest.current && setStatus("unavailable"),
      );
    }, VALIDATE_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [workflowJson]);

  const problemsByNode = useMemo(() => problemsBy(problems, "node_id"), [problems]);
  const problemsByEdge = useMemo(() => problemsBy(problems, "edge_id"), [problems]);

  return { problems, setProblems, status, problemsByNode, problemsByEdge };
}

export type Validation = ReturnType<typeof useValidation>;
