/**
 * What the editor loads once from the platform: the node types' JSON
 * Schemas (the side panel's forms), the editor config (dashboard link) and
 * Airflow's connection ids (the `connection_id` picker; unknown if Airflow
 * cannot say).
 */
import { useEffect, useState } from "react";
import { api, type EditorConfig, type NodeTypeSchemas } from "../api/client";
import { type ConnectionList, UNKNOWN_CONNECTIONS } from "../state/connections";
import type { NotifyFailure } from "./useToasts";

export function useEditorConfig(fail: NotifyFailure) {
  const [schemas, setSchemas] = useState<NodeTypeSchemas | null>(null);
  const [config, setConfig] = useState<EditorConfig | null>(null);
  const [connections, setConnections] = useState<ConnectionList>(UNKNOWN_CONNECTIONS);
  useEffect(() => {
    api.nodeTypes().then(setSchemas, (err) => fail("Cannot load node schemas", err));
    api.editorConfig().then(setConfig, () => setConfig(null));
    api.connections().then(setConnections, () => setConnections(UNKNOWN_CONNECTIONS));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return { schemas, config, connections };
}
