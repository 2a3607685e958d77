/**
 * Run states: start a run of the saved workflow and poll it until it
 * finishes, handing each poll's node states to the canvas.
 *
 * What counts as finished, how often to poll and when a start is retried
 * are in state/runs.ts.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { api, type RunDetail, type RunOut } from "../api/client";
import {
  POLL_DELAY_MS,
  POLL_RETRY_DELAY_MS,
  START_RETRY_DELAY_MS,
  isFinished,
  nodeStates,
  parseEvent,
  retryStart,
  startErrorText,
} from "../state/runs";

export function useRunPolling(
  workflow: { project: string; id: string },
  onStates: (states: Map<string, string | null>) => void,
  /** A run started or finished: the list of recent runs is out of date. */
  onRunsChanged: () => void,
) {
  const [run, setRun] = useState<RunOut | RunDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);
  const timer = useRef<number | null>(null);
  const { project, id } = workflow;

  const poll = useCallback(
    (runId: string) => {
      api.run(project, id, runId).then(
        (detail) => {
          setRun(detail);
          onStates(nodeStates(detail));
          if (!isFinished(detail.state)) timer.current = window.setTimeout(() => poll(runId), POLL_DELAY_MS);
          else onRunsChanged();
        },
        (err: Error) => {
          setError(err.message);
          timer.current = window.setTimeout(() => poll(runId), POLL_RETRY_DELAY_MS);
        },
      );
    },
    [project, id, onStates, onRunsChanged],
  );
  useEffect(() => () => void (timer.current && clearTimeout(timer.current)), []);

  const start = useCallback(
    async (eventText: string) => {
      const parsed = parseEvent(eventText);
      if ("error" in parsed) {
        setError(parsed.error);
        return;
      }
      setStarting(true);
      setError(null);
      try {
        for (let attempt = 0; ; attempt++) {
          try {
            const started = await api.startRun(project, id, parsed.event);
            setRun(started);
            poll(started.run_id);
            onRunsChanged();
            break;
          } catch (err) {
            if (!retryStart(err, attempt)) throw err;
            setError(`${err.message} (retrying…)`);
            await new Promise((r) => setTimeout(r, START_RETRY_DELAY_MS));
          }
        }
        setError(null);
      } catch (err) {
        setError(startErrorText(err));
      } finally {
        setStarting(false);
      }
    },
    [project, id, poll, onRunsChanged],
  );

  return { run, error, starting, start };
}
