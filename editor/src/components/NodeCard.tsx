/**
 * How a node looks on the canvas: its type, subtype, label and handles.
 *
 * Handles are typed: every node but the trigger has one input on the left;
 * conditions have a `true` and a `false` output, every other node one
 * output.  Problems from the validator turn the card red and are listed in
 * its tooltip, so an error is visible without opening the side panel.
 */
import { Handle, Position, type NodeProps } from "@xyflow/react";
import { createContext, memo, useContext } from "react";
import { entryOf } from "../model/catalogue";
import type { EditorNode } from "../model/serialize";
import { INPUT_HANDLE, OUTPUT_HANDLE } from "../model/serialize";
import type { ValidationProblem } from "../model/types";

/** Problems per node id and node run states, provided by the editor (not part of the saved model). */
export const NodeStatusContext = createContext<{
  problems: Map<string, ValidationProblem[]>;
  runStates: Map<string, string | null>;
}>({ problems: new Map(), runStates: new Map() });

export const TYPE_ICONS: Record<string, string> = {
  trigger: "⚡",
  action: "⚙",
  condition: "◇",
  integration: "⇄",
  notification: "✉",
};

function NodeCardImpl({ id, type, data, selected }: NodeProps<EditorNode>) {
  const { problems, runStates } = useContext(NodeStatusContext);
  const mine = problems.get(id) ?? [];
  const runState = runStates.get(id);
  const entry = entryOf(type, data.config);
  const classes = ["node-card", `node-${type}`];
  if (selected) classes.push("selected");
  if (mine.length) classes.push("has-problems");
  if (runState) classes.push(`run-${runState}`);
  return (
    <div className={classes.join(" ")} title={mine.map((p) => p.message).join("\n") || undefined} data-testid={`node-${id}`}>
      {type !== "trigger" && <Handle type="target" position={Position.Left} id={INPUT_HANDLE} className="handle-in" />}
      <div className="node-head">
        <span className="node-icon" aria-hidden>
          {TYPE_ICONS[type]}
        </span>
        <span className="node-kind">{entry?.title ?? type}</span>
        {mine.length > 0 && (
          <span className="node-badge" aria-label={`${mine.length} problem(s)`}>
            {mine.length}
          </span>
        )}
        {runState && <span className={`node-run run-${runState}`}>{runState}</span>}
      </div>
      <div className="node-label">{data.label || id}</div>
      <div className="node-id">{id}</div>
      {mine.length > 0 && <div className="node-problem">{mine[0].message}</div>}
      {type === "condition" ? (
        <>
          <Handle type="source" position={Position.Right} id="true" className="handle-true" style={{ top: "35%" }} />
          <span className="handle-label handle-label-true">true</span>
          <Handle type="source" position={Position.Right} id="false" className="handle-false" style={{ top: "75%" }} />
          <span className="handle-label handle-label-false">false</span>
        </>
      ) : (
        <Handle type="source" position={Position.Right} id={OUTPUT_HANDLE} className="handle-out" />
      )}
    </div>
  );
}

export const NodeCard = memo(NodeCardImpl);

export const nodeTypes = {
  trigger: NodeCard,
  action: NodeCard,
  condition: NodeCard,
  integration: NodeCard,
  notification: NodeCard,
};
