/**
 * Connection rules, enforced while the user draws an edge.
 *
 * Pure functions over the workflow shape so that the very same rules run in
 * the canvas (`isValidConnection`), in unit tests, and against the shared
 * fixture of invalid graphs that the server's validator must also reject
 * (tests/fixtures/invalid_graphs.json).
 */
import type { Branch, NodeType } from "./types";

export type RuleName =
  | "unknown_node"
  | "self_edge"
  | "into_trigger"
  | "duplicate_edge"
  | "cycle"
  | "branch_required"
  | "branch_not_allowed"
  | "branch_taken";

export interface RuleViolation {
  rule: RuleName;
  message: string;
}

export interface GraphNode {
  id: string;
  type: NodeType;
}

export interface GraphEdge {
  id?: string;
  source: string;
  target: string;
  branch?: Branch | null;
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface Connection {
  source: string;
  target: string;
  branch?: Branch | null;
}

/** True when `to` can be reached from `from` by following edges forwards. */
export function reaches(edges: GraphEdge[], from: string, to: string): boolean {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    const list = next.get(e.source) ?? [];
    list.push(e.target);
    next.set(e.source, list);
  }
  const seen = new Set<string>([from]);
  const stack = [from];
  while (stack.length > 0) {
    const current = stack.pop()!;
    if (current === to) return true;
    for (const n of next.get(current) ?? []) {
      if (!seen.has(n)) {
        seen.add(n);
        stack.push(n);
      }
    }
  }
  return false;
}

/**
 * Why `conn` may not be added to `graph`, or null when it may.
 *
 * Checked in the order a user would want to hear about them: a missing node,
 * then the shape of the edge itself, then its relation to existing edges.
 */
export function checkConnection(graph: Graph, conn: Connection): RuleViolation | null {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const source = byId.get(conn.source);
  const target = byId.get(conn.target);
  if (!source) return { rule: "unknown_node", message: `source node '${conn.source}' does not exist` };
  if (!target) return { rule: "unknown_node", message: `target node '${conn.target}' does not exist` };
  if (conn.source === conn.target) {
    return { rule: "self_edge", message: `a node cannot connect to itself ('${conn.source}')` };
  }
  if (target.type === "trigger") {
    return { rule: "into_trigger", message: `the trigger '${target.id}' starts the workflow; no edge may lead into it` };
  }
  const branch = conn.branch ?? null;
  if (source.type === "condition" && branch === null) {
    return {
      rule: "branch_required",
      message: `edges out of condition '${source.id}' must leave from its 'true' or 'false' handle`,
    };
  }
  if (source.type !== "condition" && branch !== null) {
    return {
      rule: "branch_not_allowed",
      message: `only condition nodes have branches; '${source.id}' is a ${source.type}`,
    };
  }
  if (graph.edges.some((e) => e.source === conn.source && e.target === conn.target)) {
    return { rule: "duplicate_edge", message: `'${conn.source}' is already connected to '${conn.target}'` };
  }
  if (branch !== null && graph.edges.some((e) => e.source === conn.source && (e.branch ?? null) === branch)) {
    return {
      rule: "branch_taken",
      message: `the '${branch}' branch of '${conn.source}' already has an edge; each branch leads to one node`,
    };
  }
  if (reaches(graph.edges, conn.target, conn.source)) {
    return {
      rule: "cycle",
      message: `connecting '${conn.source}' to '${conn.target}' would create a cycle`,
    };
  }
  return null;
}

export interface EdgeProblem extends RuleViolation {
  edge_id: string;
}

/**
 * Every edge of a finished graph that breaks a connection rule.
 *
 * Edges are replayed in order as if the user drew them one by one, so of two
 * duplicates the second is reported, and of a cycle the edge that closes it.
 */
export function edgeProblems(graph: Graph): EdgeProblem[] {
  const problems: EdgeProblem[] = [];
  const accepted: GraphEdge[] = [];
  graph.edges.forEach((edge, index) => {
    const violation = checkConnection({ nodes: graph.nodes, edges: accepted }, edge);
    if (violation) problems.push({ ...violation, edge_id: edge.id ?? `#${index}` });
    else accepted.push(edge);
  });
  return problems;
}
