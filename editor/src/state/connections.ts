/**
 * The `connection_id` picker: Airflow's connections by id (GET /connections: ids and types only),
 * with free text always allowed (a connection may be created after the workflow), and a warning,
 * not an error, for an id Airflow does not have.
 */
import type { components } from "../api/openapi.gen";

export type ConnectionList = components["schemas"]["ConnectionList"];

/** Before the list arrives, or when Airflow cannot say: no picker entries and no warning. */
export const UNKNOWN_CONNECTIONS: ConnectionList = { items: [], available: false, detail: "" };

/** Why `value` may not work, or null: only said when Airflow listed its connections and it is not among them. */
export function connectionWarning(value: unknown, connections: ConnectionList): string | null {
  if (!connections.available || typeof value !== "string" || value.trim() === "") return null;
  if (connections.items.some((c) => c.connection_id === value)) return null;
  const known = connections.items.map((c) => c.connection_id);
  const offer = known.length ? ` Existing: ${known.slice(0, 8).join(", ")}${known.length > 8 ? ", …" : ""}.` : "";
  return `Airflow has no connection “${value}” (yet): the step fails until it is created under Admin → Connections.${offer}`;
}
