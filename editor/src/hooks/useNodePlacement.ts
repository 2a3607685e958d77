/**
 * Adding nodes (from the palette by click or by drag and drop) and the
 * auto-layout.
 */
import { type ReactFlowInstance, useReactFlow } from "@xyflow/react";
import { type RefObject, useCallback } from "react";
import { DRAG_MIME } from "../components/Palette";
import { type PaletteEntry, defaultLabel, idBase, paletteEntry } from "../model/catalogue";
import { autoLayout } from "../model/layout";
import { nextNodeId } from "../model/serialize";
import type { Position } from "../model/types";
import { placeAtCentre, placeAtDrop } from "../state/canvas";
import { currentWorkflow } from "../state/editor";
import type { EditorStore } from "./useEditorState";

function canvasCentre(rf: ReactFlowInstance, canvas: HTMLDivElement | null): Position {
  const box = canvas?.getBoundingClientRect();
  return rf.screenToFlowPosition({ x: (box?.left ?? 0) + (box?.width ?? 800) / 2, y: (box?.top ?? 0) + (box?.height ?? 600) / 2 });
}

export function useNodePlacement(
  { stateRef, dispatch }: EditorStore,
  canvasRef: RefObject<HTMLDivElement | null>,
  readOnly: boolean,
  requestFit: () => void,
) {
  const rf = useReactFlow();

  const addNode = useCallback(
    (entry: PaletteEntry, position?: Position) => {
      const at = position ?? placeAtCentre(canvasCentre(rf, canvasRef.current), stateRef.current.nodes.length);
      const id = nextNodeId(idBase(entry), stateRef.current.nodes.map((n) => n.id));
      dispatch({
        type: "addNode",
        node: { id, type: entry.type, label: defaultLabel(entry), position: at, config: structuredClone(entry.config) },
      });
    },
    [rf, canvasRef, stateRef, dispatch],
  );

  const onDragOver = useCallback((e: React.DragEvent) => {
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
  }, []);

  const onDrop = useCallback(
    (e: React.DragEvent) => {
      e.preventDefault();
      const entry = paletteEntry(e.dataTransfer.getData(DRAG_MIME) || e.dataTransfer.getData("text/plain"));
      if (!entry || readOnly) return;
      addNode(entry, placeAtDrop(rf.screenToFlowPosition({ x: e.clientX, y: e.clientY })));
    },
    [rf, addNode, readOnly],
  );

  const layout = useCallback(() => {
    const current = currentWorkflow(stateRef.current);
    const positions = autoLayout({ nodes: current.nodes, edges: current.edges });
    dispatch({
      type: "replaceGraph",
      nodes: current.nodes.map((n) => ({ ...n, position: positions.get(n.id) ?? n.position })),
      edges: current.edges,
    });
    requestFit();
  }, [stateRef, dispatch, requestFit]);

  return { addNode, onDragOver, onDrop, layout };
}
