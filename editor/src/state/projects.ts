/**
 * How projects are named in the editor: by name and slug (two projects may share a name, and the
 * slug is what the API, the address and the DAG id use), and the Open list grouped by project.
 */
import type { ProjectOut, WorkflowSummary } from "../api/client";

/** "Acme (acme)": the name, and the slug it is addressed by. */
export function projectLabel(project: Pick<ProjectOut, "name" | "slug"> | undefined, slug?: string): string {
  if (!project) return slug ?? "";
  return project.name && project.name !== project.slug ? `${project.name} (${project.slug})` : project.slug;
}

export interface ProjectGroup {
  slug: string;
  label: string;
  workflows: WorkflowSummary[];
}

/**
 * The workflows of every project the user can see, one group per project: the current project
 * first, then the others by label; each group by workflow name.
 */
export function groupByProject(workflows: WorkflowSummary[], projects: ProjectOut[], current: string): ProjectGroup[] {
  const groups = new Map<string, ProjectGroup>();
  for (const w of workflows) {
    let group = groups.get(w.project);
    if (!group) {
      group = { slug: w.project, label: projectLabel(projects.find((p) => p.slug === w.project), w.project), workflows: [] };
      groups.set(w.project, group);
    }
    group.workflows.push(w);
  }
  for (const g of groups.values()) g.workflows.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  return [...groups.values()].sort((a, b) => Number(b.slug === current) - Number(a.slug === current) || a.label.localeCompare(b.label));
}
