/**
 * The side-panel form of the selected node, generated from its JSON Schema.
 *
 * react-jsonschema-form renders the node type's (or subtype's) schema as
 * published by the platform.  The form does not validate on its own: the
 * server's validator is the single source of truth, and its problems are
 * passed in as `extraErrors` so they appear under the field they concern
 * (problems that are not about a config field are listed above the form).
 */
import Form, { getDefaultRegistry } from "@rjsf/core";
import type { BaseInputTemplateProps, FieldProps, RJSFSchema, UiSchema, WidgetProps } from "@rjsf/utils";
import validator from "@rjsf/validator-ajv8";
import { createContext, useContext, useEffect, useMemo, useState } from "react";
import { entryOf, SUBTYPE_FIELD } from "../model/catalogue";
import { type JSONSchema, type NodeTypeEntry, listEntryLabel, nodeFormSchema, problemsToErrorSchema, untypedFields, withoutNulls } from "../model/schema";
import type { EditorNode } from "../model/serialize";
import { triggerFormSchema } from "../model/triggerFilters";
import { type ConnectionList, UNKNOWN_CONNECTIONS, connectionWarning } from "../state/connections";

/** Airflow's connections, for the `connection_id` fields (App loads them once). */
export const ConnectionsContext = createContext<ConnectionList>(UNKNOWN_CONNECTIONS);
import type { ValidationProblem } from "../model/types";

const RETRY_FIELDS = ["retries", "retry_delay_seconds", "exponential_backoff", "timeout_seconds"];
const LONG_TEXT = new Set(["template", "message", "body_template", "expression"]);

/** Any-JSON values (an HTTP body) edited as JSON text. */
function JsonField(props: FieldProps) {
  const { formData, onChange, fieldPathId, schema, name } = props;
  const [text, setText] = useState(() => (formData === undefined ? "" : JSON.stringify(formData, null, 2)));
  const [error, setError] = useState<string | null>(null);
  return (
    <div className="form-group field json-field">
      <label htmlFor={fieldPathId.$id}>{schema.title ?? name} (JSON)</label>
      <textarea
        id={fieldPathId.$id}
        rows={4}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value.trim() === "") {
            setError(null);
            onChange(undefined, fieldPathId.path);
            return;
          }
          try {
            onChange(JSON.parse(e.target.value), fieldPathId.path);
            setError(null);
          } catch (err) {
            setError(`Not valid JSON yet: ${(err as Error).message}`);
          }
        }}
      />
      {schema.description && <p className="field-description">{schema.description}</p>}
      {error && <p className="text-danger">{error}</p>}
    </div>
  );
}

/** `connection_id`: pick one of Airflow's connections or type any id; an unknown one is a warning. */
function ConnectionWidget(props: WidgetProps) {
  const { id, value, onChange, onBlur, onFocus, disabled, readonly, placeholder } = props;
  const connections = useContext(ConnectionsContext);
  const warning = connectionWarning(value, connections);
  const listId = `${id}__connections`;
  return (
    <>
      <input
        id={id}
        name={id}
        className="form-control"
        list={listId}
        value={typeof value === "string" ? value : ""}
        placeholder={placeholder || (connections.available ? "pick or type a connection id" : "Airflow connection id")}
        disabled={disabled || readonly}
        autoComplete="off"
        onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}
        onBlur={(e) => onBlur(id, e.target.value)}
        onFocus={(e) => onFocus(id, e.target.value)}
      />
      <datalist id={listId} data-testid="connection-options">
        {connections.items.map((c) => (
          <option key={c.connection_id} value={c.connection_id}>
            {c.conn_type ?? ""}
          </option>
        ))}
      </datalist>
      {warning && (
        <p className="text-warning small" data-testid="connection-warning">
          {warning}
        </p>
      )}
    </>
  );
}

const DefaultInput = getDefaultRegistry().templates.BaseInputTemplate;

/** rjsf's input; one without a caption of its own (a list entry) is named for screen readers and tests. */
function NamedInput(props: BaseInputTemplateProps) {
  return <DefaultInput {...props} aria-label={props.hideLabel ? listEntryLabel(props.label) : undefined} />;
}

function uiSchemaFor(schema: JSONSchema, discriminator: string | null): UiSchema {
  const ui: UiSchema = { "ui:submitButtonOptions": { norender: true } };
  const props = Object.keys(schema.properties ?? {});
  ui["ui:order"] = [...props.filter((p) => !RETRY_FIELDS.includes(p)), ...props.filter((p) => RETRY_FIELDS.includes(p))];
  if (discriminator && props.includes(discriminator) && schema.properties![discriminator].const !== undefined) {
    ui[discriminator] = { "ui:widget": "hidden" };
  }
  for (const p of props) {
    if (LONG_TEXT.has(p)) ui[p] = { "ui:widget": "textarea", "ui:options": { rows: p === "expression" ? 2 : 4 } };
  }
  for (const p of props) {
    // A list entry needs no "Labels-1" caption of its own: the list's title says what it holds.
    if (schema.properties![p].type === "array") ui[p] = { ...(ui[p] as object), items: { "ui:label": false } };
  }
  if (props.includes("connection_id")) ui.connection_id = { "ui:widget": "connection" };
  for (const p of untypedFields(schema)) ui[p] = { "ui:field": "json" };
  return ui;
}

export interface NodeFormProps {
  node: EditorNode;
  typeEntry: NodeTypeEntry | undefined;
  problems: ValidationProblem[];
  readOnly?: boolean;
  onConfig: (config: Record<string, unknown>, field: string) => void;
  onLabel: (label: string) => void;
  onDelete: () => void;
  onDuplicate: () => void;
}

export function NodeForm({ node, typeEntry, problems, readOnly, onConfig, onLabel, onDelete, onDuplicate }: NodeFormProps) {
  const config = node.data.config;
  const nodeType = node.type!;
  const schema = useMemo(() => {
    const full = nodeFormSchema(typeEntry, config);
    return full && nodeType === "trigger" ? triggerFormSchema(full, config) : full;
  }, [typeEntry, config, nodeType]);
  const discriminator = SUBTYPE_FIELD[nodeType];
  const uiSchema = useMemo(() => (schema ? uiSchemaFor(schema, discriminator) : {}), [schema, discriminator]);
  const { errorSchema, other } = useMemo(() => problemsToErrorSchema(problems, schema), [problems, schema]);
  const formData = useMemo(() => withoutNulls(config), [config]);
  const entry = entryOf(nodeType, config);
  const [label, setLabel] = useState(node.data.label);
  useEffect(() => setLabel(node.data.label), [node.id, node.data.label]);

  return (
    <div className="node-form" data-testid="node-form">
      <div className="panel-head">
        <h2>{entry?.title ?? nodeType}</h2>
        <div className="panel-actions">
          <button type="button" onClick={onDuplicate} disabled={readOnly} title="Duplicate (Ctrl+D)">
            Duplicate
          </button>
          <button type="button" className="danger" onClick={onDelete} disabled={readOnly} title="Delete (Del)">
            Delete
          </button>
        </div>
      </div>
      <p className="muted">{entry?.description ?? typeEntry?.description}</p>
      <label className="field-label" htmlFor="node-label">
        Label
      </label>
      <input
        id="node-label"
        value={label}
        disabled={readOnly}
        onChange={(e) => {
          setLabel(e.target.value);
          onLabel(e.target.value);
        }}
      />
      <p className="muted small">
        Node id <code>{node.id}</code> (the Airflow task id; conditions refer to it as <code>nodes.{node.id}</code>)
      </p>
      {other.length > 0 && (
        <ul className="problems node-problems" aria-label="Node problems">
          {other.map((p, i) => (
            <li key={i}>
              {p.field ? <code>{p.field}</code> : null} {p.message}
            </li>
          ))}
        </ul>
      )}
      {schema ? (
        <Form
          key={`${node.id}:${String(discriminator ? config[discriminator] : "")}`}
          schema={schema as RJSFSchema}
          uiSchema={uiSchema}
          formData={formData}
          validator={validator}
          extraErrors={errorSchema as never}
          showErrorList={false}
          noHtml5Validate
          disabled={readOnly}
          fields={{ json: JsonField }}
          templates={{ BaseInputTemplate: NamedInput }}
          widgets={{ connection: ConnectionWidget }}
          experimental_defaultFormStateBehavior={{ arrayMinItems: { populate: "requiredOnly" } }}
          onChange={(e, id) => {
            // rjsf also reports the defaults it derives when a form opens (no field id): that is
            // not an edit, and recording it would make merely selecting a node an undo step.
            if (id === undefined) return;
            onConfig(withoutNulls(e.formData ?? {}), id);
          }}
        >
          <></>
        </Form>
      ) : (
        <p className="problems">
          {typeEntry ? `Unknown ${discriminator ?? "subtype"} — pick one from the palette.` : "Loading node schemas…"}
        </p>
      )}
    </div>
  );
}
