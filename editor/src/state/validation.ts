/**
 * What the server's validator said about the canvas, in the shapes the
 * canvas, the side panel and the status bar show it.
 *
 * The server is the one judge of a workflow (the editor's own rules only
 * refuse connections early); its problems point at nodes and edges by id.
 */
import { MarkerType, type Edge } from "@xyflow/react";
import type { EditorEdge } from "../model/serialize";
import type { ValidationProblem } from "../model/types";

export type ValidationStatus = "idle" | "checking" | "done" | "unavailable";

/** Wait this long after the last edit before asking the server, so typing is one request. */
export const VALIDATE_DELAY_MS = 300;

/** The problems that point at a node (or an edge), by its id. */
export function problemsBy(problems: ValidationProblem[], key: "node_id" | "edge_id"): Map<string, ValidationProblem[]> {
  const map = new Map<string, ValidationProblem[]>();
  for (const p of problems) {
    const id = p[key];
    if (id) map.set(id, [...(map.get(id) ?? []), p]);
  }
  return map;
}

/** The canvas's edges, drawn with arrows; an edge with a problem is marked and labelled with it. */
export function displayEdges(edges: EditorEdge[], problemsByEdge: Map<string, ValidationProblem[]>): Edge[] {
  return edges.map((e) => {
    const bad = problemsByEdge.get(e.id);
    const classes = [e.className, bad ? "edge-problem" : ""].filter(Boolean).join(" ");
    return {
      ...e,
      type: "smoothstep",
      markerEnd: { type: MarkerType.ArrowClosed },
      className: classes || undefined,
      label: bad ? `⚠ ${bad[0].message}` : e.label,
    } satisfies Edge;
  });
}

export function validationLabel(status: ValidationStatus, problemCount: number): string {
  if (status === "unavailable") return "Validation unavailable";
  if (status === "checking") return "Checking…";
  return problemCount ? `${problemCount} problem(s)` : "✓ Valid";
}
