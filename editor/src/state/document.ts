/**
 * The documents the editor puts on the canvas or sends, other than edits.
 *
 * A workflow being drawn may have no id yet (it follows the name until the
 * first save) and version 0; the server's validator, the dry run and a save
 * all need a complete document, so each is sent through `complete`.
 */
import type { ProjectOut, TemplateOut } from "../api/client";
import { slugify } from "../model/slug";
import type { Workflow } from "../model/types";

/** The workflow with the id its name gives when it has none and at least version 1. */
export function complete(workflow: Workflow): Workflow {
  return { ...workflow, id: workflow.id || slugify(workflow.name), version: workflow.version < 1 ? 1 : workflow.version };
}

/**
 * A new, unsaved workflow in `project` made from a template's spec.  It starts disabled, as the
 * API's instantiate does: nothing reaches a pull request until the user has tried it (Dry run)
 * and ticked Enabled.
 */
export function fromTemplate(template: TemplateOut, project: string): Workflow {
  const spec = template.spec;
  return { ...spec, format_version: "1", id: slugify(spec.name), project, version: 1, enabled: false };
}

/** An imported document as a new workflow: it keeps its project only if the user has that project. */
export function fromImport(doc: Workflow, projects: ProjectOut[], currentProject: string): Workflow {
  const project = doc.project && projects.some((p) => p.slug === doc.project) ? doc.project : currentProject;
  const fresh = { ...doc, project, version: 1 };
  if (!fresh.id) fresh.id = slugify(fresh.name);
  return fresh;
}
