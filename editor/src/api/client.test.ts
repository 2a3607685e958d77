import { describe, expect, it } from "vitest";
import { AIRFLOW_BASE, ApiError, PLATFORM_BASE, toValidationProblem, unwrapWorkflow } from "./client";

describe("platform API client helpers", () => {
  it("derives the API and Airflow roots from where the editor is served", () => {
    expect(PLATFORM_BASE).toBe("/autopr/");
    expect(AIRFLOW_BASE).toBe("/");
  });

  it("unwraps a workflow record into the document, with the current version and no nulls", () => {
    const record = {
      project: "demo",
      id: "wf",
      current_version: 4,
      revision: 6,
      spec: {
        format_version: "1",
        id: "wf",
        name: "W",
        description: "",
        project: "demo",
        version: 3,
        enabled: true,
        nodes: [{ id: "t", type: "trigger", label: "", position: { x: 0, y: 0 }, config: { event: "push", cron: null } }],
        edges: [{ id: "e", source: "t", target: "a", label: null, branch: null }],
      },
    };
    const wf = unwrapWorkflow(record);
    expect(wf.version).toBe(4);
    expect(wf.nodes[0].config).toEqual({ event: "push" });
    expect(wf.edges[0]).toEqual({ id: "e", source: "t", target: "a" });
  });

  it("keeps node, edge and field of problem+json items", () => {
    expect(toValidationProblem({ pointer: "/nodes/2/config/cron", message: "bad", node_id: "t", field: "cron" })).toEqual({
      node_id: "t",
      edge_id: null,
      field: "cron",
      message: "bad",
    });
    expect(toValidationProblem({ pointer: "/name", message: "required", field: "name" })).toEqual({ field: "name", message: "required" });
    const err = new ApiError(422, { status: 422, detail: "Workflow has 1 problem(s)", errors: [{ pointer: "/edges/0", edge_id: "e", message: "cycle" }] });
    expect(err.message).toBe("Workflow has 1 problem(s)");
    expect(err.problems).toEqual([{ node_id: null, edge_id: "e", field: null, message: "cycle" }]);
  });
});
