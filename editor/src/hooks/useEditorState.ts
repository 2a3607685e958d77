/**
 * The workflow on the canvas: the reducer's state with what is derived from it.
 *
 * Callbacks read `stateRef` rather than `state` so they can stay stable (and
 * event listeners need not be re-attached) while the state changes on every
 * edit.
 */
import { type Dispatch, type RefObject, useMemo, useReducer, useRef } from "react";
import { canRedo, canUndo } from "../model/history";
import type { Workflow } from "../model/types";
import { type EditorAction, type EditorState, currentWorkflow, editorReducer, initialState, isDirty } from "../state/editor";

export interface EditorStore {
  state: EditorState;
  dispatch: Dispatch<EditorAction>;
  /** The latest state, for callbacks that must not change with it. */
  stateRef: RefObject<EditorState>;
  workflow: Workflow;
  /** `workflow` as JSON: a value that changes exactly when the document does. */
  workflowJson: string;
  dirty: boolean;
  /** Whether the workflow is stored on the server (it has an ETag). */
  saved: boolean;
  canUndo: boolean;
  canRedo: boolean;
}

export function useEditorState(initial: () => Workflow): EditorStore {
  const [state, dispatch] = useReducer(editorReducer, undefined, () => initialState(initial()));
  const stateRef = useRef(state);
  stateRef.current = state;
  const workflow = useMemo(() => currentWorkflow(state), [state]);
  const workflowJson = useMemo(() => JSON.stringify(workflow), [workflow]);
  return {
    state,
    dispatch,
    stateRef,
    workflow,
    workflowJson,
    dirty: isDirty(state),
    saved: state.etag !== null,
    canUndo: canUndo(state.history),
    canRedo: canRedo(state.history),
  };
}
