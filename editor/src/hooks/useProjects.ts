/**
 * The projects the user belongs to, with their role in each.
 */
import { useCallback, useState } from "react";
import { api, type ProjectOut } from "../api/client";

export function useProjects() {
  const [projects, setProjects] = useState<ProjectOut[]>([]);

  const reload = useCallback(async () => {
    const list = await api.projects();
    setProjects(list);
    return list;
  }, []);

  const create = useCallback(
    async (slug: string, name: string) => {
      const project = await api.createProject(slug, name);
      await reload();
      return project;
    },
    [reload],
  );

  return { projects, reload, create };
}

export type Projects = ReturnType<typeof useProjects>;
