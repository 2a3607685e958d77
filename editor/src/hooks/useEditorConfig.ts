/**
 * What the editor loads once from the platform: the node types' JSON
 * Schemas (the side panel's forms) and the editor config (dashboard link).
 */
import { useEffect, useState } from "react";
import { api, type EditorConfig, type NodeTypeSchemas } from "../api/client";
import type { NotifyFailure } from "./useToasts";

export function useEditorConfig(fail: NotifyFailure) {
  const [schemas, setSchemas] = useState<NodeTypeSchemas | null>(null);
  const [config, setConfig] = useState<EditorConfig | null>(null);
  useEffect(() => {
    api.nodeTypes().then(setSchemas, (err) => fail("Cannot load node schemas", err));
    api.editorConfig().then(setConfig, () => setConfig(null));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return { schemas, config };
}
