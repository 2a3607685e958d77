/**
 * Where nodes land on the canvas and which node a problem is about.
 */
import { NODE_HEIGHT, NODE_WIDTH } from "../model/layout";
import type { EditorEdge } from "../model/serialize";
import type { Position, ValidationProblem } from "../model/types";

/** A node added from the palette lands at the canvas centre, stepped so several do not stack exactly. */
export function placeAtCentre(centre: Position, nodeCount: number): Position {
  const step = (nodeCount % 5) * 24;
  return { x: centre.x - NODE_WIDTH / 2 + step, y: centre.y - NODE_HEIGHT / 2 + step };
}

/** A node dropped on the canvas is centred on the pointer, on whole pixels. */
export function placeAtDrop(pointer: Position): Position {
  return { x: Math.round(pointer.x - NODE_WIDTH / 2), y: Math.round(pointer.y - NODE_HEIGHT / 2) };
}

/** The node to select for a problem: its own node, else the source of its edge. */
export function nodeOfProblem(problem: ValidationProblem, edges: EditorEdge[]): string | null {
  const edge = problem.edge_id ? edges.find((e) => e.id === problem.edge_id) : undefined;
  return problem.node_id ?? edge?.source ?? null;
}
