/**
 * What a refused save means for the editor.
 *
 * Saves send the ETag they are based on (If-Match): a 409 or 412 says someone
 * saved after this copy was loaded, which the editor shows as a conflict to
 * resolve rather than an error; a 422 carries the validator's problems.
 */
import { ApiError } from "../api/client";
import type { ValidationProblem } from "../model/types";

export type SaveFailure =
  | { kind: "conflict"; message: string }
  | { kind: "invalid"; problems: ValidationProblem[] }
  | { kind: "error" };

export function saveFailure(err: unknown): SaveFailure {
  if (err instanceof ApiError && (err.status === 409 || err.status === 412)) return { kind: "conflict", message: err.message };
  if (err instanceof ApiError && err.status === 422 && err.problem.errors) return { kind: "invalid", problems: err.problems };
  return { kind: "error" };
}

