/**
 * Import and export of workflow documents as YAML or JSON.
 *
 * YAML is a superset of JSON, so one parser reads both.  The editor's Export
 * asks the platform for its export form (POST /workflows/export: only what
 * differs from the defaults, which only the platform knows); `exportWorkflow`
 * writes a document as it is, every field, for one the platform cannot read
 * yet (a draft with problems).  Either imports back through the API.
 */
import YAML from "yaml";
import { autoLayout } from "./layout";
import type { Workflow, WorkflowEdge, WorkflowNode } from "./types";

export type ExportFormat = "yaml" | "json";

export class ImportError extends Error {}

export function exportWorkflow(workflow: Workflow, format: ExportFormat): string {
  if (format === "json") return JSON.stringify(workflow, null, 2) + "\n";
  return YAML.stringify(workflow, { sortMapEntries: false, lineWidth: 0 });
}

/** Parse a YAML or JSON document into a workflow-shaped object (the server validates it). */
export function importWorkflow(text: string): Workflow {
  let data: unknown;
  try {
    data = YAML.parse(text);
  } catch (err) {
    throw new ImportError(`Not valid YAML or JSON: ${(err as Error).message}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new ImportError("A workflow document must be a mapping with 'nodes' and 'edges'.");
  }
  const doc = data as Partial<Workflow>;
  if (!Array.isArray(doc.nodes)) throw new ImportError("The document has no 'nodes' list.");
  if (doc.edges !== undefined && !Array.isArray(doc.edges)) throw new ImportError("'edges' must be a list.");
  const edges = doc.edges ?? [];
  return {
    format_version: "1",
    id: typeof doc.id === "string" ? doc.id : "",
    name: typeof doc.name === "string" ? doc.name : "Imported workflow",
    description: typeof doc.description === "string" ? doc.description : "",
    project: typeof doc.project === "string" ? doc.project : "default",
    version: typeof doc.version === "number" ? doc.version : 0,
    enabled: typeof doc.enabled === "boolean" ? doc.enabled : true,
    nodes: withNodeDefaults(doc.nodes, edges),
    edges,
  };
}

/**
 * Nodes with the fields an export leaves out at their defaults: no label is "", no position is 0,0
 * (as the platform reads it).  A document in which no node has a position was written without the
 * canvas in mind (by hand, or through the API), so its nodes are laid out instead of stacked at 0,0.
 */
function withNodeDefaults(nodes: Partial<WorkflowNode>[], edges: WorkflowEdge[]): WorkflowNode[] {
  const placed = nodes.some((n) => n && typeof n === "object" && n.position);
  const laidOut = placed ? null : autoLayout({ nodes: nodes.map((n) => ({ id: String(n?.id) })), edges });
  return nodes.map((n) => ({
    ...n,
    label: typeof n?.label === "string" ? n.label : "",
    position: n?.position ?? laidOut?.get(String(n?.id)) ?? { x: 0, y: 0 },
    config: n?.config ?? {},
  })) as WorkflowNode[];
}

export function exportFileName(workflow: Pick<Workflow, "id" | "name">, format: ExportFormat): string {
  const stem = (workflow.id || workflow.name || "workflow").replace(/[^a-zA-Z0-9_-]+/g, "_");
  return `${stem}.${format === "yaml" ? "yaml" : "json"}`;
}
