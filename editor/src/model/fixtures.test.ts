/**
 * The shared fixture of invalid graphs (tests/fixtures/invalid_graphs.json):
 * the editor must refuse to draw each offending edge, for the reason the
 * fixture names.  tests/editor/test_shared_rules.py checks that the server's
 * validator rejects the very same graphs.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkConnection, edgeProblems } from "./rules";
import type { Workflow } from "./types";

interface Case {
  name: string;
  rule: string;
  bad_edge: string;
  edges_involved: string[];
  workflow: Workflow;
}

const fixture = JSON.parse(
  readFileSync(new URL("../../../tests/fixtures/invalid_graphs.json", import.meta.url), "utf8"),
) as { valid: Workflow; cases: Case[] };

describe("shared invalid-graph fixture", () => {
  it("has a valid baseline the editor accepts", () => {
    expect(edgeProblems(fixture.valid)).toEqual([]);
    expect(fixture.cases.length).toBeGreaterThanOrEqual(8);
  });

  it.each(fixture.cases.map((c) => [c.name, c] as const))("refuses to draw the offending edge: %s", (_name, c) => {
    const bad = c.workflow.edges.find((e) => e.id === c.bad_edge)!;
    const without = { nodes: c.workflow.nodes, edges: c.workflow.edges.filter((e) => e.id !== c.bad_edge) };
    expect(edgeProblems(without)).toEqual([]);
    const violation = checkConnection(without, bad);
    expect(violation?.rule).toBe(c.rule);
  });

  it.each(fixture.cases.map((c) => [c.name, c] as const))("flags the offending edge in a loaded graph: %s", (_name, c) => {
    const problems = edgeProblems(c.workflow);
    expect(problems.map((p) => p.edge_id)).toEqual([c.bad_edge]);
    expect(problems[0].rule).toBe(c.rule);
  });
});
