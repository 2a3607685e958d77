/**
 * Which project and workflow the editor shows, as the page address says.
 *
 * The address is the editor's only routing: Airflow links to it with
 * `?project=…&workflow=…`, and the editor rewrites it (without a history
 * entry) whenever another workflow is on the canvas, so a reload reopens it;
 * the browser also keeps it per project (state/startup.ts), so opening the
 * editor without an address reopens it too.
 */
import type { ProjectOut } from "../api/client";
import { rememberLast } from "./startup";

export interface EditorLocation {
  project: string | null;
  workflow: string | null;
}

export function parseLocation(search: string): EditorLocation {
  const params = new URLSearchParams(search);
  return { project: params.get("project"), workflow: params.get("workflow") };
}

export function locationSearch(project: string, workflow: string | null): string {
  const params = new URLSearchParams({ project });
  if (workflow) params.set("workflow", workflow);
  return `?${params}`;
}

/** The project asked for, else the first one the user may edit, else the first one at all. */
export function chooseProject(requested: string | null, projects: ProjectOut[]): string {
  return requested ?? projects.find((p) => p.role !== "viewer")?.slug ?? projects[0]?.slug ?? "default";
}

export function isReadOnly(projects: ProjectOut[], project: string): boolean {
  return projects.find((p) => p.slug === project)?.role === "viewer";
}

/** The editor's location now. */
export function currentLocation(): EditorLocation {
  return parseLocation(window.location.search);
}

/**
 * Show `workflow` of `project` in the address bar, replacing the entry (Back leaves the editor), and
 * remember it as the project's last workflow: the editor reopens on it when the address names none.
 */
export function showLocation(project: string, workflow: string | null): void {
  rememberLast(window.localStorage, project, workflow);
  window.history.replaceState(null, "", `${window.location.pathname}${locationSearch(project, workflow)}`);
}
