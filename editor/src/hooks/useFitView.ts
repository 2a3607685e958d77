/**
 * Fit the canvas to the workflow after it was replaced or laid out.
 *
 * The fit waits a moment so React Flow has measured the new nodes first.
 */
import { useReactFlow } from "@xyflow/react";
import { useCallback, useEffect, useState } from "react";

export function useFitView(): () => void {
  const rf = useReactFlow();
  const [requests, setRequests] = useState(0);
  useEffect(() => {
    if (requests > 0) window.setTimeout(() => rf.fitView({ padding: 0.2, duration: 200 }), 50);
  }, [requests, rf]);
  return useCallback(() => setRequests((n) => n + 1), []);
}
