/**
 * Turn the platform's node JSON Schemas (pydantic output) into form schemas.
 *
 * pydantic writes `Optional[X]` as `anyOf: [X, {type: null}]` with
 * `default: null`; a form library shows that as a "pick one of two schemas"
 * dropdown.  Users expect a plain input that may stay empty, so these helpers
 * unwrap such unions, drop null defaults, pick the one branch of a
 * discriminated union (action / channel) that the node's subtype selects,
 * and map the server validator's `field` paths onto form fields.
 */
import type { ValidationProblem } from "./types";

export type JSONSchema = {
  [key: string]: unknown;
  type?: string | string[];
  properties?: Record<string, JSONSchema>;
  required?: string[];
  anyOf?: JSONSchema[];
  oneOf?: JSONSchema[];
  items?: JSONSchema | JSONSchema[];
  additionalProperties?: boolean | JSONSchema;
  $ref?: string;
  $defs?: Record<string, JSONSchema>;
  definitions?: Record<string, JSONSchema>;
  const?: unknown;
  enum?: unknown[];
  default?: unknown;
  discriminator?: { propertyName: string; mapping?: Record<string, string> };
};

/** Follow a local `#/...` reference inside `root`. */
export function resolveRef(root: JSONSchema, ref: string): JSONSchema {
  if (!ref.startsWith("#/")) throw new Error(`only local $refs are supported, got ${ref}`);
  let current: unknown = root;
  for (const raw of ref.slice(2).split("/")) {
    const part = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    current = (current as Record<string, unknown> | undefined)?.[part];
  }
  if (!current || typeof current !== "object") throw new Error(`unresolvable $ref ${ref}`);
  return current as JSONSchema;
}

const isNullSchema = (s: JSONSchema) => s.type === "null";

/**
 * Inline every $ref and unwrap `anyOf [X, null]` into X, recursively.
 * The result is self-contained (no $defs), which keeps the form library simple.
 */
export function simplify(schema: JSONSchema, root: JSONSchema = schema, depth = 0): JSONSchema {
  if (depth > 32) return {};
  let s: JSONSchema = schema;
  if (s.$ref) {
    const { $ref, ...rest } = s;
    s = { ...resolveRef(root, $ref), ...rest };
  }
  const { $defs: _defs, definitions: _definitions, $schema: _dialect, ...out } = s;
  if (out.anyOf) {
    const nonNull = out.anyOf.filter((b) => !isNullSchema(b));
    if (nonNull.length === 1 && nonNull.length < out.anyOf.length) {
      const { anyOf: _anyOf, ...meta } = out;
      const inner = simplify(nonNull[0], root, depth + 1);
      return dropNullDefault({ ...inner, ...meta });
    }
    out.anyOf = out.anyOf.map((b) => simplify(b, root, depth + 1));
  }
  if (out.oneOf) out.oneOf = out.oneOf.map((b) => simplify(b, root, depth + 1));
  if (out.properties) {
    out.properties = Object.fromEntries(
      Object.entries(out.properties).map(([k, v]) => [k, simplify(v, root, depth + 1)]),
    );
  }
  if (out.items && !Array.isArray(out.items)) out.items = simplify(out.items, root, depth + 1);
  if (out.additionalProperties && typeof out.additionalProperties === "object") {
    out.additionalProperties = simplify(out.additionalProperties, root, depth + 1);
  }
  return dropNullDefault(out);
}

function dropNullDefault(s: JSONSchema): JSONSchema {
  if (s.default === null) {
    const { default: _default, ...rest } = s;
    return rest;
  }
  return s;
}

/** The value a union branch's discriminator property must have (pydantic writes `const`). */
function discriminatorValue(branch: JSONSchema, property: string): unknown {
  const prop = branch.properties?.[property];
  if (!prop) return undefined;
  if (prop.const !== undefined) return prop.const;
  if (Array.isArray(prop.enum) && prop.enum.length === 1) return prop.enum[0];
  return undefined;
}

/**
 * The form schema for one node's config: the discriminated-union branch its
 * subtype selects (or the whole schema for single-model types), simplified.
 * Returns null when the subtype matches no branch (the server says why).
 */
export function configFormSchema(typeSchema: JSONSchema, config: Record<string, unknown>): JSONSchema | null {
  const union = typeSchema.oneOf ?? (typeSchema.discriminator ? typeSchema.anyOf : undefined);
  if (!union) return simplify(typeSchema);
  const property = typeSchema.discriminator?.propertyName ?? guessDiscriminator(typeSchema, union);
  if (!property) return simplify(typeSchema);
  const wanted = config[property];
  for (const raw of union) {
    const branch = raw.$ref ? resolveRef(typeSchema, raw.$ref) : raw;
    if (discriminatorValue(branch, property) === wanted) return simplify(branch, typeSchema);
  }
  return null;
}

function guessDiscriminator(root: JSONSchema, union: JSONSchema[]): string | undefined {
  const first = union[0]?.$ref ? resolveRef(root, union[0].$ref!) : union[0];
  return Object.keys(first?.properties ?? {}).find((k) => first.properties![k].const !== undefined);
}

/** Values of the subtype discriminator, per union branch (for listing what exists). */
export function subtypes(typeSchema: JSONSchema): string[] {
  const union = typeSchema.oneOf ?? typeSchema.anyOf;
  const property = typeSchema.discriminator?.propertyName;
  if (!union || !property) return [];
  return union
    .map((raw) => discriminatorValue(raw.$ref ? resolveRef(typeSchema, raw.$ref) : raw, property))
    .filter((v): v is string => typeof v === "string");
}

/** Config as the form should see it: nulls (unset optionals, empty list slots) become absent. */
export function withoutNulls<T>(value: T): T {
  if (Array.isArray(value)) return value.filter((v) => v !== null && v !== undefined).map(withoutNulls) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => [k, withoutNulls(v)]),
    ) as T;
  }
  return value;
}

/** Fields whose schema says nothing about type (e.g. an HTTP body: any JSON) get a JSON text box. */
export function untypedFields(schema: JSONSchema): string[] {
  return Object.entries(schema.properties ?? {})
    .filter(([, s]) => s.type === undefined && !s.enum && s.const === undefined && !s.anyOf && !s.oneOf)
    .map(([k]) => k);
}

export interface ErrorSchema {
  [key: string]: ErrorSchema | string[] | undefined;
  __errors?: string[];
}

/**
 * Split a node's problems into errors on form fields (rjsf's `extraErrors`
 * shape: `{cron: {__errors: [...]}}`, `{analyzers: {0: {__errors}}}`) and the
 * rest (shown on the node: graph problems, label, id...).
 */
export function problemsToErrorSchema(
  problems: ValidationProblem[],
  formSchema: JSONSchema | null,
): { errorSchema: ErrorSchema; other: ValidationProblem[] } {
  const errorSchema: ErrorSchema = {};
  const other: ValidationProblem[] = [];
  const fields = new Set(Object.keys(formSchema?.properties ?? {}));
  for (const problem of problems) {
    const path = (problem.field ?? "").replace(/^config\./, "").split(".").filter(Boolean);
    if (path.length === 0 || !fields.has(path[0])) {
      other.push(problem);
      continue;
    }
    let cursor = errorSchema;
    for (const part of path) {
      cursor[part] ??= {};
      cursor = cursor[part] as ErrorSchema;
    }
    cursor.__errors = [...(cursor.__errors ?? []), problem.message];
  }
  return { errorSchema, other };
}

/** The platform's `GET /schemas/node-types` entry for one node type. */
export interface NodeTypeEntry {
  title?: string;
  description?: string;
  discriminator: string | null;
  config: JSONSchema;
  subtypes?: Record<string, JSONSchema>;
  /** What `nodes.<id>.<output>` may read of a node of this type (types without subtypes): name -> meaning. */
  outputs?: Record<string, string>;
  /** The same per subtype (actions, notifications). */
  subtype_outputs?: Record<string, Record<string, string>>;
}

/**
 * The form schema for a node from the platform's node-type entry: the
 * subtype's own schema when the type has subtypes (actions, notifications),
 * else the type's config schema.  Null when the subtype is unknown.
 */
export function nodeFormSchema(entry: NodeTypeEntry | undefined, config: Record<string, unknown>): JSONSchema | null {
  if (!entry) return null;
  if (entry.discriminator && entry.subtypes) {
    const sub = entry.subtypes[String(config[entry.discriminator])];
    return sub ? simplify(sub) : null;
  }
  return configFormSchema(entry.config, config);
}

/**
 * The accessible name of one entry of a list field: rjsf calls the entries "Labels-1", "Labels-2"
 * and shows no caption for them (the list's legend says what it holds); screen readers and
 * `getByLabel` get "Labels 1".
 */
export function listEntryLabel(label: string | undefined): string | undefined {
  if (!label) return undefined;
  return label.replace(/-(\d+)$/, " $1");
}
